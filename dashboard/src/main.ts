/**
 * The dashboard: sign in with a token (kept in sessionStorage only), then
 * hash routes: `#/` the database list, `#/new` the create form,
 * `#/databases/<name>` one database, `#/reports` the reports, `#/contacts` the contacts (admins),
 * `#/rollouts` and `#/rollouts/<id>` the rolling patches (admins). Each route renders into <main> and
 * moves focus to its heading, so keyboard and screen-reader users land on
 * the new content.
 */
import "./style.css";
import { Api, ApiError, type Identity } from "./api";
import type { Context, Screen } from "./context";
import { contactsScreen } from "./contacts";
import { createScreen } from "./create";
import { databaseScreen } from "./database";
import { append, byId, h } from "./dom";
import { listScreen } from "./list";
import { reportsScreen } from "./reports";
import { rolloutsScreen } from "./rollouts";
import { signInScreen } from "./signin";

const TOKEN_KEY = "dbaas.token";

let current: Screen | undefined;
let ctx: Context | undefined;

function renderWho(identity: Identity | undefined): void {
    const who = byId("who");
    who.replaceChildren();
    if (identity === undefined) return;
    append(who,
        h("span", {}, "Signed in as ", h("strong", { "data-testid": "subject" }, identity.subject)),
        " · role ", h("strong", { "data-testid": "role" }, identity.role), " ",
        h("button", { type: "button", class: "small", onclick: () => signOut() }, "Sign out"));
}

function show(screen: Screen): void {
    current?.dispose();
    current = screen;
    const heading = byId("main").querySelector("h1");
    if (heading !== null) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
        document.title = `${heading.textContent ?? ""} — dbaas`;
    }
}

function route(): void {
    const main = byId("main");
    main.replaceChildren();
    if (ctx === undefined) {
        show(signInScreen(main, signIn));
        return;
    }
    const hash = location.hash.replace(/^#/, "") || "/";
    const db = /^\/databases\/([a-z0-9-]+)$/.exec(hash);
    if (hash === "/new" || hash.startsWith("/new?")) show(createScreen(main, ctx));
    else if (hash === "/contacts") show(contactsScreen(main, ctx));
    else if (hash === "/reports") show(reportsScreen(main, ctx));
    else if (hash === "/rollouts") show(rolloutsScreen(main, ctx));
    else if (/^\/rollouts\/[1-9][0-9]{0,15}$/.test(hash)) show(rolloutsScreen(main, ctx, Number(hash.slice("/rollouts/".length))));
    else if (db?.[1] !== undefined) show(databaseScreen(main, ctx, db[1]));
    else show(listScreen(main, ctx));
}

function signOut(message?: string): void {
    sessionStorage.removeItem(TOKEN_KEY);
    // The next person starts at the list, not at a database of the previous token.
    history.replaceState(null, "", location.pathname + location.search);
    ctx = undefined;
    renderWho(undefined);
    current?.dispose();
    current = undefined;
    const main = byId("main");
    main.replaceChildren();
    show(signInScreen(main, signIn, message));
}

/** Checks the token against the API; on success keeps it for this tab and opens the list. */
async function signIn(token: string): Promise<void> {
    const api = new Api(token);
    const identity = await api.identify();
    sessionStorage.setItem(TOKEN_KEY, token);
    ctx = {
        api,
        identity,
        navigate(hash) {
            if (location.hash === hash) route();
            else location.hash = hash;
        },
        signOut,
    };
    renderWho(identity);
    route();
}

window.addEventListener("hashchange", route);
// The skip link must not change the hash: the hash is the route.
document.querySelector(".skip")?.addEventListener("click", (e) => {
    e.preventDefault();
    byId("main").focus();
});
window.addEventListener("unhandledrejection", (e: PromiseRejectionEvent) => {
    // A token revoked while the page is open: every call answers 401; go back to sign-in once.
    if (e.reason instanceof ApiError && e.reason.problem.status === 401 && ctx !== undefined) signOut("The token is no longer accepted; sign in again.");
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved === null) route();
else {
    signIn(saved).catch(() => signOut("The saved token is no longer accepted; sign in again."));
}
