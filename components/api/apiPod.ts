/**
 * The API's pod on Kubernetes, as plain objects: where its files come from
 * (the admin database URL from a Secret, the trusted CA from a ConfigMap, the
 * ServiceAccount token from a projected volume, scratch space from emptyDirs),
 * its probes and its labels. The environment itself is `apiEnvironment`
 * (contracts/apiEnv.ts), the same contract the Docker containers get. No
 * Pulumi imports: tested directly.
 */
import { API_DATA_DIR, SECRET_FILES, SECRETS_DIR, STACK_CA_FILE, type SecretFileKey } from "../../contracts/apiEnv";
import { API_PORT } from "../../contracts/ports";

/** Labels of the API's pods (selector of the Deployment, Service, budget and spread). */
export const API_POD_LABELS = { "app.kubernetes.io/name": "dbaas-api", "app.kubernetes.io/part-of": "dbaas" } as const;

/** Where the kubelet puts a ServiceAccount's token, and where every Kubernetes client looks for it (in-cluster config). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/**
 * Lifetime asked for the projected token; the kubelet renews it at 80% and the
 * clients re-read the file. A stolen copy is worthless within the hour, and
 * the API server refuses it at once when the pod is deleted (bound token).
 */
export const SERVICE_ACCOUNT_TOKEN_SECONDS = 3600;

/** `NAME=value` (apiEnvironment's form) as Kubernetes env entries. */
export function k8sEnv(entries: readonly string[]): { name: string; value: string }[] {
    return entries.map((e) => {
        const eq = e.indexOf("=");
        if (eq < 1) throw new Error(`environment entry ${JSON.stringify(e.split("=")[0])} is not NAME=value`);
        return { name: e.slice(0, eq), value: e.slice(eq + 1) };
    });
}

/** The key of a secret in the API's Secret, which is also its file name under SECRETS_DIR (`database-url`). */
export function secretFileName(key: SecretFileKey): string {
    return SECRET_FILES[key].file.slice(SECRETS_DIR.length + 1);
}

/** The items of the API's Secret volume: one file per secret under SECRETS_DIR, keyed by its file name. */
export function secretItems(keys: readonly SecretFileKey[]): { key: string; path: string }[] {
    return keys.map((k) => {
        const name = secretFileName(k);
        return { key: name, path: name };
    });
}

/** A file of a Secret or ConfigMap volume. */
export interface KeyToPath {
    readonly key: string;
    readonly path: string;
}

/** The volume kinds the API's pod uses, as the pod spec takes them. */
export interface PodVolume {
    readonly name: string;
    readonly emptyDir?: Record<string, never>;
    readonly secret?: { readonly secretName: string; readonly defaultMode: number; readonly items: KeyToPath[] };
    readonly configMap?: { readonly name: string; readonly items: KeyToPath[] };
    readonly projected?: {
        readonly defaultMode: number;
        readonly sources: {
            readonly serviceAccountToken?: { readonly path: string; readonly expirationSeconds: number };
            readonly configMap?: { readonly name: string; readonly items: KeyToPath[] };
            readonly downwardAPI?: { readonly items: { readonly path: string; readonly fieldRef: { readonly apiVersion: string; readonly fieldPath: string } }[] };
        }[];
    };
}

export interface PodVolumeMount {
    readonly name: string;
    readonly mountPath: string;
    readonly subPath?: string;
    readonly readOnly?: boolean;
}

/** The volumes of the API's pod and where each is mounted. */
export function apiVolumes(opts: { secretName: string; secretKeys: readonly SecretFileKey[]; caConfigMapName?: string }): {
    volumes: PodVolume[];
    mounts: PodVolumeMount[];
} {
    const volumes: PodVolume[] = [
        // Work dirs of the on-demand stacks (their state is in the backend, not here) and the CLI's plugins.
        { name: "data", emptyDir: {} },
        { name: "tmp", emptyDir: {} },
        // 0440 with the pod's fsGroup: readable by the API's group, no one else.
        { name: "secrets", secret: { secretName: opts.secretName, defaultMode: 0o440, items: secretItems(opts.secretKeys) } },
        {
            // What automountServiceAccountToken would mount, declared here so it is reviewed: a bound,
            // short-lived token (no long-lived token Secret), the cluster CA, the namespace.
            name: "kube-api-access",
            projected: {
                defaultMode: 0o444,
                sources: [
                    { serviceAccountToken: { path: "token", expirationSeconds: SERVICE_ACCOUNT_TOKEN_SECONDS } },
                    { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
                    { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
                ],
            },
        },
    ];
    const mounts: PodVolumeMount[] = [
        { name: "data", mountPath: API_DATA_DIR },
        { name: "tmp", mountPath: "/tmp" },
        { name: "secrets", mountPath: SECRETS_DIR, readOnly: true },
        { name: "kube-api-access", mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
    ];
    if (opts.caConfigMapName !== undefined) {
        const file = STACK_CA_FILE.slice(STACK_CA_FILE.lastIndexOf("/") + 1);
        volumes.push({ name: "trusted-ca", configMap: { name: opts.caConfigMapName, items: [{ key: file, path: file }] } });
        mounts.push({ name: "trusted-ca", mountPath: STACK_CA_FILE, subPath: file, readOnly: true });
    }
    return { volumes, mounts };
}

/**
 * Liveness asks /healthz (the process serves HTTP), readiness /readyz (the
 * admin database and the engine are usable), as the Docker health check does.
 * A replica that is not ready leaves the Service's endpoints but is not
 * restarted; only a hung process is.
 */
export function apiProbes(): { livenessProbe: Record<string, unknown>; readinessProbe: Record<string, unknown>; startupProbe: Record<string, unknown> } {
    const get = (path: string) => ({ httpGet: { path, port: API_PORT, scheme: "HTTP" } });
    return {
        startupProbe: { ...get("/healthz"), periodSeconds: 5, failureThreshold: 24, timeoutSeconds: 5 },
        livenessProbe: { ...get("/healthz"), periodSeconds: 15, failureThreshold: 3, timeoutSeconds: 5 },
        readinessProbe: { ...get("/readyz"), periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
    };
}

/** Name of the API's Service in its namespace; nginx's upstream is `<name>.<namespace>.svc:<port>`. */
export const API_SERVICE_NAME = "dbaas-api";

/** The nginx upstream for the API behind its Service (kube-proxy spreads the connections over the ready pods). */
export function apiServiceUpstream(namespace: string): string {
    return `${API_SERVICE_NAME}.${namespace}.svc.cluster.local:${API_PORT}`;
}
