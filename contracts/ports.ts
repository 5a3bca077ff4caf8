/** The ports the API, nginx, the databases and the policies agree on. */

/** Port the API listens on inside its container; nginx proxies to it. */
export const API_PORT = 5000;

/** PostgreSQL's port inside every container and pod. */
export const POSTGRES_PORT = 5432;
