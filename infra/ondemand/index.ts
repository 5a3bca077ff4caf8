/**
 * The on-demand database program: one stack of project `dbaas-db` per
 * database, run only by the API through the Automation API. The whole spec
 * comes from the stack config key `dbaas-db:database` and is validated with
 * the schema the API shares (`spec.ts`); a bad spec stops the program with
 * the field that is wrong. The target (docker or kubernetes) is part of it.
 */
import * as pulumi from "@pulumi/pulumi";
import { connectionUri, DatabaseEndpoint } from "../../components/ondemand";
import { ONDEMAND_PROJECT, ONDEMAND_SPEC_KEY } from "../names";
import { deployDocker } from "./docker";
import { deployKubernetes } from "./kubernetes";
import { parseDatabaseSpec } from "./spec";

const specKey = ONDEMAND_SPEC_KEY.slice(ONDEMAND_PROJECT.length + 1);
const spec = parseDatabaseSpec(new pulumi.Config(ONDEMAND_PROJECT).requireObject<unknown>(specKey));

const endpoint: DatabaseEndpoint = spec.target.kind === "docker"
    ? deployDocker(spec, spec.target)
    : deployKubernetes(spec, spec.target);

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
