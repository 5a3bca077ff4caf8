/**
 * Turns a failed Pulumi CLI run into one of the engine's typed errors, and
 * makes CLI text safe for logs and for users. Pure; no Pulumi imports (the
 * SDK's `CommandError` is recognised by its `name`, since the text is all we
 * classify on).
 */
import {
    ConcurrentUpdateError,
    EngineError,
    EngineUnavailableError,
    OperationAbortedError,
    ProgramError,
    StackNotFoundError,
} from "./types";

/** Longest reason stored on a database row and shown to its owner. */
export const REASON_MAX = 300;
/** Longest CLI output written to the server log per failure. */
export const LOG_OUTPUT_MAX = 8000;

/** Shortens `text` to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
    return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Removes terminal colour codes and Pulumi's `<{%reset%}>` colour markup. */
export function stripColor(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").replace(/<\{%[a-z-]*%\}>/g, "");
}

const REDACTIONS: readonly [RegExp, string][] = [
    // userinfo in any URI: postgresql://user:password@host, https://token@host
    [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(:[^\s/@]*)?@/gi, "$1***@"],
    // key=value / key: value for secret-looking keys (password, token, secret, signature, credential, passphrase, key)
    [/\b([\w.-]*(?:password|passwd|pwd|token|secret|signature|credential|passphrase|api[_-]?key|access[_-]?key)[\w.-]*)(["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi, "$1$2***"],
    // Authorization headers
    [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, "$1 ***"],
    // AWS access key ids
    [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, "***"],
];

/** Masks credentials that may appear in CLI output (URI userinfo, password=..., tokens, signed-URL parameters). */
export function redact(text: string): string {
    return REDACTIONS.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text);
}

/** Text of a CLI failure safe for the server log: colour-free, redacted, truncated. */
export function logSafeOutput(text: string): string {
    return truncate(redact(stripColor(text)), LOG_OUTPUT_MAX);
}

const CONCURRENT = [/\[409\] Conflict: Another update is currently in progress/i, /the stack is currently locked by/i];
const NOT_FOUND = [/no stack named '?[^'\s]*'? found/i, /stack '[^']*' not found/i];
const UNAVAILABLE = [
    /failed to load checkpoint/i,
    /connection refused/i,
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND/,
    /no such host/i,
    /i\/o timeout/i,
    /TLS handshake timeout/i,
    /Cannot connect to the Docker daemon/i,
    /error during connect/i,
    /\[5\d\d\] /,
    /(401|403)[^\n]*(Unauthorized|Forbidden)|PULUMI_ACCESS_TOKEN|getting user info/i,
    /NoCredentialProviders|no valid credential sources|ExpiredToken/i,
    /failed to (download|install) plugin/i,
    /pulumi CLI not found|spawn .*pulumi ENOENT|ENOENT.*pulumi/i,
    /passphrase must be set|incorrect passphrase|PULUMI_CONFIG_PASSPHRASE/i,
];
/** Lines that say only that something failed, not what. */
const GENERIC = /^(error: )?(update failed|destroy failed|refresh failed|preview failed|an error occurred while advancing the preview|\d+ errors? occurred:?)$/i;

/**
 * A program's own failure is told without the SDK's "error serializing
 * property" preface. The Kubernetes provider's refusals open with the resource's whole URN and
 * an admission refusal names the policy's binding before the policy's own
 * message, which is what the user can act on. Both are shortened (the URN to
 * its type and name, the binding dropped) so the message fits in the reason.
 */
function compactReason(line: string): string {
    return line
        // A failure thrown in an apply (ondemand/failure.ts) reaches the CLI through an input's serialization.
        .replace(/^(<ref \*\d+> )?(Error: )?error serializing property "[^"]*": /, "")
        .replace(/resource "urn:pulumi:[^":]*::[^":]*::([^"]*?)::([^"]+)" was not successfully (created|updated|deleted) by the Kubernetes API server: /,
            (_all, type: string, name: string, verb: string) => `${type.slice(type.lastIndexOf("$") + 1)} "${name}" was not ${verb}: `)
        .replace(/(ValidatingAdmissionPolicy '[^']*') with binding '[^']*' denied request: /, "$1 denied the request: ");
}

/**
 * The most useful single line of a program failure: the first specific
 * `error:` diagnostic (from engine events when there were any, else from the
 * CLI text), colour-free, redacted and at most `REASON_MAX` characters.
 */
export function programFailureReason(diagnostics: readonly string[], output: string): string {
    const candidates: string[] = [];
    for (const d of diagnostics) candidates.push(...d.split("\n"));
    for (const line of output.split("\n")) {
        const m = /^\s*(?:error: |Error: )(.*)$/.exec(line);
        if (m?.[1] !== undefined) candidates.push(m[1]);
    }
    const specific = candidates
        .map((c) => stripColor(c).replace(/^\s*(error: |Error: )/, "").replace(/^\s*\*\s*/, "").trim())
        .filter((c) => c.length > 0 && !GENERIC.test(c) && !/^Running program '.*' failed with an unhandled exception:?$/.test(c));
    const first = specific[0] ?? "the Pulumi program failed (details in the server log)";
    return truncate(redact(compactReason(first)), REASON_MAX);
}

/** A mandatory policy violation, as the CLI reports it in a policy event (or its `Policies:` output). */
export interface PolicyViolation {
    /** Policy name, e.g. `memory-limits`. */
    readonly policy: string;
    /** URN of the resource, when the policy is about one (stack policies may name none). */
    readonly urn?: string;
    /** Resource `type: name` when only the CLI text was available. */
    readonly resource?: string;
    /** The policy's description and violation message. */
    readonly message: string;
}

/** `type "name"` of a URN (`urn:pulumi:<stack>::<project>::<parent$type>::<name>`). */
function resourceOfUrn(urn: string): string {
    const parts = urn.split("::");
    const name = parts[parts.length - 1] ?? urn;
    const type = (parts[parts.length - 2] ?? "").split("$").pop() ?? "";
    return type === "" ? JSON.stringify(name) : `${type} ${JSON.stringify(name)}`;
}

/**
 * The short reason of an update that a mandatory policy stopped: the policy,
 * the resource and the policy's message, redacted (the message may quote a
 * resource's input) and at most `REASON_MAX` characters.
 */
export function policyViolationReason(violations: readonly PolicyViolation[]): string {
    const [first] = violations;
    if (first === undefined) return "blocked by a policy (details in the server log)";
    const resource = first.urn !== undefined ? ` on ${resourceOfUrn(first.urn)}` : first.resource !== undefined ? ` on ${first.resource}` : "";
    const message = stripColor(first.message).split("\n").map((l) => l.trim()).filter((l) => l.length > 0).join(" ");
    const more = violations.length > 1 ? ` (and ${violations.length - 1} more violation${violations.length > 2 ? "s" : ""})` : "";
    return truncate(redact(`policy ${first.policy} blocked the update${resource}: ${message}${more}`), REASON_MAX);
}

/**
 * Mandatory violations in the CLI's `Policies:` block, for when no policy
 * events arrived:
 *     - [mandatory]  memory-limits  (docker:index/container:Container: db1)
 *       Containers set a memory limit.
 *       container "db1" has no memory limit
 */
export function policyViolationsInOutput(output: string): PolicyViolation[] {
    const lines = output.split("\n");
    const found: PolicyViolation[] = [];
    lines.forEach((line, i) => {
        const m = /^(\s*)- \[mandatory\]\s+(\S+)(?:\s+\((.+)\))?\s*$/.exec(line);
        if (m === null) return;
        const indent = (m[1] ?? "").length;
        const message: string[] = [];
        for (const next of lines.slice(i + 1)) {
            const depth = /^\s*/.exec(next)?.[0].length ?? 0;
            if (next.trim() === "" || depth <= indent || /^\s*- \[/.test(next)) break;
            message.push(next.trim());
        }
        found.push({ policy: m[2] ?? "", ...(m[3] === undefined ? {} : { resource: m[3] }), message: message.join("\n") });
    });
    return found;
}

export interface CliFailure {
    /** The stack (database name) the command ran on. */
    readonly stackName: string;
    /** The thrown error (usually the SDK's `CommandError`). */
    readonly error: unknown;
    /** Why the operation's signal fired, when it did. */
    readonly abortReason?: unknown;
    /** Error diagnostics seen as engine events during the run. */
    readonly diagnostics?: readonly string[];
    /** Mandatory policy violations seen as engine events during the run. */
    readonly policyViolations?: readonly PolicyViolation[];
}

/** Text of whatever was thrown. */
export function errorText(error: unknown): string {
    if (error instanceof Error) return error.message;
    return typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
}

/**
 * Maps a CLI failure to the engine's error classes. Order matters: an aborted
 * run is reported as aborted whatever the CLI printed while dying; a
 * mandatory policy violation is the program's fault and names the policy
 * (whatever else the output says, a retry would be refused again); a lock held
 * by someone else is retryable; a missing stack is permanent; an unreachable
 * backend or target is retryable; anything else is the program's fault.
 */
export function classifyCliFailure(failure: CliFailure): EngineError {
    if (failure.error instanceof EngineError) return failure.error;
    const text = stripColor(errorText(failure.error));
    const cause = { cause: failure.error };
    if (failure.abortReason !== undefined) {
        return new OperationAbortedError(`the operation was aborted: ${abortReasonText(failure.abortReason)}`);
    }
    const violations = failure.policyViolations !== undefined && failure.policyViolations.length > 0 ? failure.policyViolations : policyViolationsInOutput(text);
    if (violations.length > 0) return new ProgramError(policyViolationReason(violations), { ...cause, detail: logSafeOutput(text) });
    if (CONCURRENT.some((r) => r.test(text))) return new ConcurrentUpdateError(failure.stackName);
    if (NOT_FOUND.some((r) => r.test(text))) return new StackNotFoundError(failure.stackName);
    const unavailable = UNAVAILABLE.find((r) => r.test(text));
    if (unavailable !== undefined) {
        const line = text.split("\n").find((l) => unavailable.test(l)) ?? text;
        return new EngineUnavailableError(truncate(redact(line.trim()), REASON_MAX));
    }
    return new ProgramError(programFailureReason(failure.diagnostics ?? [], text), { ...cause, detail: logSafeOutput(text) });
}

/** A short description of an abort reason (`TimeoutError`, a cancel by a user, shutdown, ...). */
export function abortReasonText(reason: unknown): string {
    if (reason instanceof DOMException && reason.name === "TimeoutError") return "timed out";
    if (reason instanceof Error) return truncate(reason.message, 200);
    return typeof reason === "string" ? truncate(reason, 200) : "cancelled";
}
