/** Browser stand-in for node:path (see web/vite.config.ts): only join, for a path that is computed but never used. */
export function join(...parts: string[]): string {
    return parts.join("/").replace(/\/+/g, "/");
}
