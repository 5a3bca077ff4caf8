/**
 * The docker target (dev): one Postgres container of the catalog image on the
 * configured Docker host, a named volume, a memory limit, the password from
 * stack config as a file (POSTGRES_PASSWORD_FILE, never an env value), the port
 * published on `publish_ip` with a host port Docker picks, and owner/expiry
 * labels. With a backup, a one-shot fetch container downloads it into the
 * volume first; the Postgres container's init hook restores it, and Pulumi
 * waits until the healthcheck (restore marker + pg_isready) passes.
 * With `target.clone_from` (the API's cache candidate, docs/cache.md) the
 * fetch step also sees the golden volume read-only and decides against the
 * live backup; on a hit a one-shot clone container of the database's own
 * image copies the golden data directory and gives it this database's name and
 * password before the server starts (the server then skips initdb and restore).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
    DATA_MOUNT, DatabaseEndpoint, DATABASE_USER, databaseLabels, dockerLabels, dockerObjectName, FETCH_SCRIPT_FILE, fetchEnv, fetchFailure,
    fetchResources, INITDB_DIR, INITDB_FILE, initdbScript, PGDATA, publishedHost, readinessCommand, restoreEnv, SCRIPT_DIR,
    SCRIPT_FILE,
} from "../components/ondemand";
import { programFailure } from "./failure";
import { readFetchScript, readRestoreScript } from "./restore";
import { DatabaseSpec, DockerTarget } from "../contracts/database";
import { POSTGRES_PORT } from "../contracts/ports";
import { POSTGRES_UID } from "../contracts/catalog";
import { RESTORE_CA_FILE, RESTORE_DIR, RESTORE_MARKER } from "../contracts/restore";
import { GOLDEN_MOUNT, parseFetchReport, type RestoreReport } from "../contracts/cache";
import { cacheFetchEnv, cacheFetchScript, cloneScript } from "../contracts/cacheScripts";

/** Where the password file is uploaded inside the container. */
const PASSWORD_FILE = "/run/dbaas/postgres-password";
/** Margin on top of the restore's own time cap for initdb and the server's start. */
const START_MARGIN_SECONDS = 300;

const envList = (vars: Record<string, string>): string[] => Object.entries(vars).map(([k, v]) => `${k}=${v}`);

/** Why the clone step failed, or undefined when it succeeded (or has not run yet, in preview). */
export function cloneFailure(exitCode: number | undefined, logs: string | undefined): string | undefined {
    if (exitCode === undefined || exitCode === 0) return undefined;
    const last = (logs ?? "").trim().split("\n").pop()?.trim() ?? "";
    return `cloning the cached restore failed (exit ${exitCode}): ${last || "no output; see docker logs of the clone container"}; create with "fresh": true to restore instead`;
}

/** `password`: the superuser password (secret stack config `dbaas-db:password`). */
export function deployDocker(spec: DatabaseSpec, target: DockerTarget, password: pulumi.Input<string>): DatabaseEndpoint & { restore: pulumi.Output<RestoreReport | undefined> } {
    const name = spec.name;
    const provider = new docker.Provider(`${name}-docker`, { host: target.docker_host });
    const labels = dockerLabels(databaseLabels(spec));
    const owner = String(POSTGRES_UID);

    // keepLocally: the catalog images are shared by every database on the host.
    const image = new docker.RemoteImage(`${name}-image`, { name: spec.image, keepLocally: true }, { provider });
    const volume = new docker.Volume(`${name}-data`, { name: dockerObjectName(name, "data"), labels }, { provider });
    const secretPassword = pulumi.secret(password);
    const dataMount = { type: "volume", source: volume.name, target: DATA_MOUNT };
    const script = spec.backup_location === undefined ? undefined : readRestoreScript();
    const scriptUpload = script === undefined ? [] : [{ file: `${SCRIPT_DIR}/${SCRIPT_FILE}`, content: script, permissions: "0444" }];

    // The fetch container runs to completion during `up` (attach); the server is
    // only created once it exited 0, so a failed download stops the update with its reason.
    let fetched: pulumi.Output<string[]> = pulumi.output([]);
    let restore: pulumi.Output<RestoreReport | undefined> = pulumi.output(undefined);
    const clone = target.clone_from;
    const goldenMount = clone === undefined ? [] : [{ type: "volume", source: clone.volume, target: GOLDEN_MOUNT, readOnly: true }];
    if (spec.backup_location !== undefined) {
        const fetchImage = new docker.RemoteImage(`${name}-fetch-image`, { name: target.fetch_image, keepLocally: true }, { provider });
        const fetch = new docker.Container(`${name}-fetch`, {
            name: dockerObjectName(name, "fetch"),
            image: fetchImage.imageId,
            user: "0:0",
            capabilities: { drops: ["ALL"], adds: ["CHOWN"] },
            securityOpts: ["no-new-privileges:true"],
            command: ["sh", "-c", cacheFetchScript(POSTGRES_UID)],
            envs: envList({ ...fetchEnv(spec.backup_location, RESTORE_MARKER, target), ...cacheFetchEnv(clone) }),
            mounts: [dataMount, ...goldenMount],
            uploads: [
                { file: `${SCRIPT_DIR}/${FETCH_SCRIPT_FILE}`, content: readFetchScript(), permissions: "0444" },
                ...(target.restore_ca_pem === undefined ? [] : [{ file: RESTORE_CA_FILE, content: target.restore_ca_pem, permissions: "0444" }]),
            ],
            // A backup server reachable only on one network: the step joins it instead of the default bridge.
            ...(target.fetch_network === undefined ? {} : { networkMode: target.fetch_network, networksAdvanced: [{ name: target.fetch_network }] }),
            memory: fetchResources({ memory_mb: target.memory_mb, cpu_millicores: 1000 }).memory_mb,
            labels,
            attach: true,
            logs: true,
            mustRun: false,
        }, { provider });
        const afterFetch = pulumi.all([fetch.exitCode, fetch.containerLogs]).apply(([code, logs]) => {
            const failure = fetchFailure(code, logs);
            if (failure !== undefined) throw programFailure(failure);
            return envList(restoreEnv(RESTORE_MARKER, target));
        });
        restore = fetch.containerLogs.apply((logs) => parseFetchReport(logs));
        fetched = afterFetch;
        if (clone !== undefined) {
            // Does nothing unless the fetch step left its hit flag; no network, the database's own image and uid.
            // It starts as root only to drop to the image's postgres user at once (setpriv, util-linux):
            // with a container `user`, Docker 20.10 resolves the uploads' owner in the host's passwd
            // (where postgres is not uid 999), and the 0400 password file became unreadable.
            const cloneStep = new docker.Container(`${name}-clone`, {
                name: dockerObjectName(name, "clone"),
                image: image.imageId,
                entrypoints: ["setpriv", `--reuid=${owner}`, `--regid=${owner}`, "--clear-groups", "sh", "-c"],
                command: [cloneScript()],
                networkMode: "none",
                capabilities: { drops: ["ALL"], adds: ["SETUID", "SETGID"] },
                securityOpts: ["no-new-privileges:true"],
                envs: afterFetch.apply(() => envList({
                    PGDATA, GOLDEN_PGDATA: `${GOLDEN_MOUNT}/pgdata`, RESTORE_MARKER_DIR: RESTORE_DIR, RESTORE_MARKER,
                    DATABASE_NAME: name, DATABASE_USER, PASSWORD_FILE,
                })),
                mounts: [dataMount, ...goldenMount],
                uploads: [{ file: PASSWORD_FILE, content: secretPassword, owner, group: owner, permissions: "0400" }],
                memory: target.memory_mb,
                labels,
                attach: true,
                logs: true,
                mustRun: false,
            }, { provider, dependsOn: [fetch], additionalSecretOutputs: ["uploads"] });
            fetched = pulumi.all([afterFetch, cloneStep.exitCode, cloneStep.containerLogs]).apply(([env, code, logs]) => {
                const failure = cloneFailure(code, logs);
                if (failure !== undefined) throw programFailure(failure);
                return env;
            });
        }
    }

    // deleteBeforeReplace: the container has a fixed name, which Docker will not give to a second
    // container, so a replacement (a restart, a new image) must remove the old one first.
    const container = new docker.Container(name, {
        name: dockerObjectName(name),
        image: image.imageId,
        restart: "unless-stopped",
        securityOpts: ["no-new-privileges:true"],
        memory: target.memory_mb,
        envs: fetched.apply((restore) => [
            `POSTGRES_USER=${DATABASE_USER}`,
            `POSTGRES_DB=${name}`,
            `PGDATA=${PGDATA}`,
            `POSTGRES_PASSWORD_FILE=${PASSWORD_FILE}`,
            ...restore,
        ]),
        mounts: [dataMount],
        uploads: [
            { file: PASSWORD_FILE, content: secretPassword, owner, group: owner, permissions: "0400" },
            ...scriptUpload,
            ...(script === undefined ? [] : [{ file: `${INITDB_DIR}/${INITDB_FILE}`, content: initdbScript(), permissions: "0555" }]),
        ],
        // Docker picks a free host port; it is read back from `ports` below.
        ports: [{ internal: POSTGRES_PORT, ip: target.publish_ip }],
        labels,
        healthcheck: {
            tests: ["CMD", ...readinessCommand(script === undefined ? undefined : RESTORE_MARKER)],
            // Polled every 2 s: Pulumi's wait and the API's readiness see a restored database within
            // 2 s rather than 10; 15 failures in a row (30 s) after the start period mark it unhealthy.
            interval: "2s",
            timeout: "5s",
            retries: 15,
            startPeriod: `${target.restore_max_seconds + START_MARGIN_SECONDS}s`,
        },
        wait: true,
        waitTimeout: target.restore_max_seconds + START_MARGIN_SECONDS,
    }, { provider, additionalSecretOutputs: ["uploads"], deleteBeforeReplace: true });

    return {
        host: pulumi.output(publishedHost(target.docker_host, target.publish_ip)),
        port: container.ports.apply((ports) => {
            const external = ports?.[0]?.external;
            if (external === undefined) throw programFailure(`Docker reported no published port for ${dockerObjectName(name)}; check that publish_ip ${target.publish_ip} exists on the Docker host`);
            return external;
        }),
        database: name,
        user: DATABASE_USER,
        password: secretPassword,
        restore,
    };
}
