/**
 * Decisions of the docker target that need no Pulumi: container names,
 * labels in the provider's list shape, and which host address clients use.
 * No Pulumi imports.
 */

export { dockerObjectName } from "../../contracts/labels";

/** A label map as the docker provider's `[{label, value}]` list, sorted for stable diffs. */
export function dockerLabels(labels: Record<string, string>): { label: string; value: string }[] {
    return Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([label, value]) => ({ label, value }));
}

/**
 * The address clients connect to: the publish address, unless it is a
 * wildcard, then the Docker host's own name (from a tcp:// or ssh:// URL), or
 * localhost for a local socket.
 */
export function publishedHost(dockerHost: string, publishIp: string): string {
    if (publishIp !== "0.0.0.0" && publishIp !== "::") return publishIp;
    if (dockerHost.startsWith("unix://") || dockerHost.startsWith("npipe://")) return "localhost";
    try {
        const host = new URL(dockerHost).hostname;
        return host === "" ? "localhost" : host.replace(/^\[|\]$/g, "");
    } catch {
        return "localhost";
    }
}

/**
 * Why the Docker fetch step failed, or undefined when it succeeded (or has not
 * run yet, in preview). The script's one-line reason is its last line of output.
 */
export function fetchFailure(exitCode: number | undefined, logs: string | undefined): string | undefined {
    if (exitCode === undefined || exitCode === 0) return undefined;
    const last = (logs ?? "").trim().split("\n").pop()?.trim() ?? "";
    return `fetching backup_location failed (exit ${exitCode}): ${last || "no output; see docker logs of the fetch container"}`;
}
