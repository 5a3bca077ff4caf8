/**
 * Kubernetes resource quantities (`512Mi`, `1Gi`, `500m`, `1.5`, `2e3`) as
 * numbers, so `1Gi` and `1024Mi` compare equal the way the API server sees
 * them. No Pulumi imports.
 */

const SUFFIX: Readonly<Record<string, number>> = {
    n: 1e-9, u: 1e-6, m: 1e-3, "": 1,
    k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** The quantity's value in base units (bytes, cores), or undefined when it is not a quantity. */
export function parseQuantity(value: unknown): number | undefined {
    if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
    if (typeof value !== "string") return undefined;
    const m = QUANTITY.exec(value.trim());
    if (!m) return undefined;
    const [, num = "", exponent, suffix = ""] = m;
    const base = Number(num);
    const scale = exponent !== undefined ? 10 ** Number(exponent.slice(1)) : SUFFIX[suffix];
    return scale === undefined ? undefined : base * scale;
}

/** True when both are quantities of the same value (relative tolerance absorbs float rounding). */
export function sameQuantity(a: unknown, b: unknown): boolean {
    const x = parseQuantity(a);
    const y = parseQuantity(b);
    if (x === undefined || y === undefined) return false;
    return Math.abs(x - y) <= Math.max(Math.abs(x), Math.abs(y)) * 1e-12;
}
