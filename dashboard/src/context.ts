/** What every screen gets: the API client, who is signed in, and a way to leave. */
import type { Api, Identity } from "./api";

export interface Screen {
    /** Stops timers and streams when the user leaves the screen. */
    readonly dispose: () => void;
}

export interface Context {
    readonly api: Api;
    readonly identity: Identity;
    /** Goes to a hash route, e.g. `#/databases/app-db`. */
    navigate(hash: string): void;
    /** The token stopped working: back to sign-in with a message. */
    signOut(message?: string): void;
}
