/**
 * Pulumi engine events → the API's compact progress events. Pure. The SDK
 * types are imported as types only (erased at compile time), so the API still
 * loads without the Pulumi runtime.
 *
 * Kept: resource steps that change something (start, done, failed), warning
 * and error diagnostics, policy violations (as diagnostics: error when
 * mandatory, warning when advisory), the summary. Dropped: `same` steps and planning
 * events (noise), the prelude (it echoes the stack config), program stdout
 * (the program may print anything), ephemeral and debug diagnostics.
 */
import type { EngineEvent as PulumiEngineEvent } from "@pulumi/pulumi/automation";
import { redact, stripColor, truncate } from "./errors";
import type { EngineEvent } from "./types";

/** Longest message of one progress event. */
export const EVENT_MESSAGE_MAX = 500;

/** The resource name: the last `::` segment of a URN. */
export function urnName(urn: string): string {
    const i = urn.lastIndexOf("::");
    return i < 0 ? urn : urn.slice(i + 2);
}

function instant(e: PulumiEngineEvent): string {
    const ms = typeof e.timestamp === "number" && e.timestamp > 0 ? e.timestamp * 1000 : Date.now();
    return new Date(ms).toISOString();
}

/** A message safe to store and show: colour-free, redacted, trimmed, at most `EVENT_MESSAGE_MAX` characters. */
export function safeMessage(text: string): string {
    return truncate(redact(stripColor(text)).trim(), EVENT_MESSAGE_MAX);
}

const SEVERITY: Record<string, EngineEvent["severity"]> = {
    error: "error",
    warning: "warning",
    info: "info",
    "info#err": "info",
    debug: "debug",
};

/** Summary text such as `create 3, update 1 (12s)`, from the step counts. */
export function summaryMessage(changes: Readonly<Record<string, number | undefined>>, durationSeconds: number): string {
    const parts = Object.entries(changes)
        .filter(([op, n]) => op !== "same" && n !== undefined && n > 0)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([op, n]) => `${op} ${n}`);
    const unchanged = changes.same ?? 0;
    const body = parts.length > 0 ? parts.join(", ") : "no changes";
    return `${body}${unchanged > 0 ? `, ${unchanged} unchanged` : ""} (${Math.round(durationSeconds)}s)`;
}

/** The compact event for one engine event, or undefined when it is not worth storing. */
export function toProgressEvent(e: PulumiEngineEvent): EngineEvent | undefined {
    const at = instant(e);
    const step = e.resourcePreEvent ?? e.resOutputsEvent ?? e.resOpFailedEvent;
    if (step !== undefined) {
        if ("planning" in step && step.planning === true) return undefined;
        const m = step.metadata;
        const kind = e.resourcePreEvent ? "resource-start" : e.resOutputsEvent ? "resource-done" : "resource-failed";
        if (m.op === "same" && kind !== "resource-failed") return undefined;
        // The root stack resource is bookkeeping, not a resource of the database.
        if (m.type === "pulumi:pulumi:Stack" && kind !== "resource-failed") return undefined;
        return {
            kind,
            urn: m.urn,
            type: m.type,
            name: urnName(m.urn),
            op: m.op,
            ...(kind === "resource-failed" ? { severity: "error" as const } : {}),
            at,
        };
    }
    if (e.diagnosticEvent !== undefined) {
        const d = e.diagnosticEvent;
        const severity = SEVERITY[d.severity] ?? "info";
        if (d.ephemeral === true || severity === "debug") return undefined;
        const message = safeMessage(d.message);
        if (message.length === 0) return undefined;
        return {
            kind: "diagnostic",
            severity,
            message,
            ...(d.urn !== undefined && d.urn !== "" ? { urn: d.urn, name: urnName(d.urn) } : {}),
            at,
        };
    }
    if (e.policyEvent !== undefined) {
        const p = e.policyEvent;
        const level = p.enforcementLevel === "mandatory" ? "mandatory" : "advisory";
        const message = safeMessage(`[${level}] ${p.policyName}: ${stripColor(p.message).split("\n").map((l) => l.trim()).filter((l) => l.length > 0).join(" ")}`);
        return {
            kind: "diagnostic",
            severity: level === "mandatory" ? "error" : "warning",
            message,
            ...(p.resourceUrn !== undefined && p.resourceUrn !== "" ? { urn: p.resourceUrn, name: urnName(p.resourceUrn) } : {}),
            at,
        };
    }
    if (e.summaryEvent !== undefined) {
        const s = e.summaryEvent;
        return {
            kind: "summary",
            severity: s.maybeCorrupt ? "warning" : "info",
            message: safeMessage(summaryMessage(s.resourceChanges, s.durationSeconds)),
            at,
        };
    }
    return undefined;
}
