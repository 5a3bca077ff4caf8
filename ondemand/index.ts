/**
 * The on-demand database program: one stack of project `dbaas-db` per
 * database, run only by the API through the Automation API. The whole spec
 * comes from the stack config key `dbaas-db:database` and is validated with
 * the schema the API shares (`spec.ts`); a bad spec stops the program with
 * the field that is wrong. The target (docker or kubernetes) is part of it.
 * The superuser password comes from the secret key `dbaas-db:password`, which
 * the API sets before the first `up` (the program never generates one).
 */
import * as pulumi from "@pulumi/pulumi";
import { connectionUri, DatabaseEndpoint } from "../components/ondemand";
import { ONDEMAND_PASSWORD_KEY, ONDEMAND_PROJECT, ONDEMAND_SPEC_KEY } from "../contracts/database";
import { deployDocker } from "./docker";
import { deployKubernetes } from "./kubernetes";
import { parseDatabaseSpec } from "../contracts/database";
import type { GoldenSnapshot, RestoreReport } from "../contracts/cache";

const config = new pulumi.Config(ONDEMAND_PROJECT);
const bareKey = (key: string): string => key.slice(ONDEMAND_PROJECT.length + 1);
const spec = parseDatabaseSpec(config.requireObject<unknown>(bareKey(ONDEMAND_SPEC_KEY)));
const superuserPassword = config.requireSecret(bareKey(ONDEMAND_PASSWORD_KEY));

const endpoint: DatabaseEndpoint & { restore?: pulumi.Output<RestoreReport | undefined>; cacheSnapshot?: pulumi.Output<GoldenSnapshot | undefined> } = spec.target.kind === "docker"
    ? deployDocker(spec, spec.target, superuserPassword)
    : deployKubernetes(spec, spec.target, superuserPassword);

export const host = endpoint.host;
export const port = endpoint.port;
export const database = endpoint.database;
export const user = endpoint.user;
export const password = pulumi.secret(endpoint.password);
export const uri = pulumi.secret(
    pulumi.all([endpoint.host, endpoint.port, endpoint.password])
        .apply(([h, p, pw]) => connectionUri({ user: endpoint.user, password: pw, host: h, port: p, database: endpoint.database })),
);
export const version = spec.version;
export const expiresAt = spec.expires_at;
/** How the data got there: `{made: restored|cloned, identity}` (a backup, docker or kubernetes with the cache; docs/cache.md). */
export const restore = endpoint.restore;
/** kubernetes with cache_fill: the golden VolumeSnapshot of this restore (its content's driver and handle). */
export const cache_snapshot = endpoint.cacheSnapshot;
