/** What a secret shows until the user asks to see it (the same length whatever the secret, so it tells nothing). */
export const MASK = "••••••••••••";
