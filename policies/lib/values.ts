/**
 * Narrowing helpers for resource properties. Policies receive props as
 * untyped JSON (whatever the program sent, or nothing), so every read goes
 * through these instead of trusting a shape. No Pulumi imports.
 */

export type Props = Readonly<Record<string, unknown>>;

/** The value as an object, or undefined when it is not a plain object. */
export function asRecord(value: unknown): Props | undefined {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Props) : undefined;
}

/** The value as an array, or [] when absent or not an array. */
export function asArray(value: unknown): readonly unknown[] {
    return Array.isArray(value) ? (value as unknown[]) : [];
}

/** The value as a string, or undefined. */
export function asString(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** The value as a finite number (numeric strings included), or undefined. */
export function asNumber(value: unknown): number | undefined {
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
    return undefined;
}

/** Reads a nested property by path (`get(props, "spec", "template", "spec")`). */
export function get(value: unknown, ...path: readonly string[]): unknown {
    let current: unknown = value;
    for (const key of path) {
        const rec = asRecord(current);
        if (!rec) return undefined;
        current = rec[key];
    }
    return current;
}

/** Strings of an array, skipping anything else. */
export function strings(value: unknown): string[] {
    return asArray(value).filter((v): v is string => typeof v === "string");
}
