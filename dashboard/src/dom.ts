/** A few DOM helpers: the dashboard builds its elements with these instead of HTML strings, so no text is ever parsed as markup. */

type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;
type Child = Node | string | number | null | undefined | false;

/** `h("button", { type: "button", onclick: f }, "Save")`. `on*` functions become listeners; `false`/`undefined` attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === false) continue;
        if (typeof v === "function") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
    }
    append(el, ...children);
    return el;
}

export function append(el: Node, ...children: Child[]): void {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
}

export function byId<T extends HTMLElement>(id: string): T {
    const el = document.getElementById(id);
    if (el === null) throw new Error(`#${id} is missing from index.html`);
    return el as T;
}

/** Says `text` to screen readers through the page's polite live region. */
export function announce(text: string): void {
    const region = byId("announce");
    region.textContent = "";
    // A fresh text node after a tick is announced even when the text repeats.
    setTimeout(() => (region.textContent = text), 50);
}

/** Local date and time, short; the ISO value stays in a <time> element for machines and tooltips. */
export function when(iso: string): HTMLTimeElement {
    const d = new Date(iso);
    const text = Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    return h("time", { datetime: iso, title: iso }, text);
}

/** "in 3 h", "12 min ago": how far an instant is from now. */
export function relative(iso: string, now = Date.now()): string {
    const ms = new Date(iso).getTime() - now;
    const abs = Math.abs(ms);
    const [n, unit] = abs >= 86_400_000 ? [abs / 86_400_000, "d"] : abs >= 3_600_000 ? [abs / 3_600_000, "h"] : [abs / 60_000, "min"];
    const text = `${Math.round(n)} ${unit}`;
    return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** Bytes as a short text: 1.5 GiB, 800 MiB, 12 KiB. */
export function bytes(n: number | null): string {
    if (n === null) return "unknown";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = n;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i] ?? "B"}`;
}

/** A state badge; the colour is decoration, the word carries the meaning. */
export function stateBadge(state: string): HTMLSpanElement {
    return h("span", { class: `badge state-${state}` }, state);
}

/** Copies text; falls back to selecting it when the clipboard is not available (non-secure origins). */
export async function copyText(text: string, fallback: HTMLElement): Promise<boolean> {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch {
        const range = document.createRange();
        range.selectNodeContents(fallback);
        const sel = window.getSelection();
        sel?.removeAllRanges();
        sel?.addRange(range);
        return false;
    }
}

/** A button that copies what `value()` returns and says so. */
export function copyButton(label: string, value: () => string, target: HTMLElement): HTMLButtonElement {
    const btn = h("button", { type: "button", class: "small", "aria-label": `Copy ${label}` }, "Copy");
    btn.addEventListener("click", () => {
        void copyText(value(), target).then((ok) => announce(ok ? `${label} copied` : `${label} selected; press Ctrl+C to copy`));
    });
    return btn;
}
