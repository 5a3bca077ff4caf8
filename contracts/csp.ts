
/**
 * CSP for a JSON API plus the small dashboard served at `/` from the same
 * origin: only same-origin scripts, styles, images (and data: icons) and
 * fetch/EventSource; no framing, no plugins, no foreign forms.
 */
export const CONTENT_SECURITY_POLICY = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
].join("; ");
