/** Sign-in: paste a token; it is checked against the API and kept in this tab's sessionStorage only. */
import { ApiError } from "./api";
import type { Screen } from "./context";
import { append, h } from "./dom";

export function signInScreen(main: HTMLElement, signIn: (token: string) => Promise<void>, message?: string): Screen {
    const input = h("input", {
        id: "token", name: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true,
        "aria-describedby": "token-help token-error",
    });
    const error = h("p", { id: "token-error", class: "field-error", role: "alert" }, message ?? "");
    const button = h("button", { type: "submit" }, "Sign in");
    const form = h("form", { class: "card narrow", novalidate: true },
        h("div", { class: "field" },
            h("label", { for: "token" }, "API token"),
            input,
            h("p", { id: "token-help", class: "help" },
                "Paste the bearer token you were given (", h("code", {}, "npm run token -- <subject> <role>"),
                " prints one). It stays in this browser tab only and is forgotten when the tab closes.")),
        error,
        button);
    form.addEventListener("submit", (e) => {
        e.preventDefault();
        const token = input.value.trim();
        if (token === "") {
            error.textContent = "Paste a token first.";
            input.setAttribute("aria-invalid", "true");
            input.focus();
            return;
        }
        button.disabled = true;
        error.textContent = "";
        signIn(token).catch((err: unknown) => {
            button.disabled = false;
            input.setAttribute("aria-invalid", "true");
            error.textContent = err instanceof ApiError && err.problem.status === 401
                ? "That token is not accepted. Check it was copied whole."
                : `Signing in failed: ${err instanceof Error ? err.message : String(err)}`;
            input.focus();
        });
    });
    append(main, h("h1", {}, "Sign in"), form);
    return { dispose: () => undefined };
}
