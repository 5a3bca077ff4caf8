/**
 * The REPLAY's contract, pure: which inputs of each resource type the replay
 * carries out (and how a docker.Container's inputs become a Docker Engine API
 * create body). The replay is not the Pulumi docker/tls/random/postgresql
 * providers: those cannot be built on these machines (docs/e2e-docker.md), so
 * test/e2e/replay/replay.ts runs the platform program under Pulumi's mocks and
 * carries out each registered resource itself. Every input path the program
 * sets must be listed here, or the replay refuses the resource: an input it
 * silently dropped would make the replay test something other than the graph.
 * test/infra/replayMapping.test.ts checks the dev and e2e graphs against it.
 */

/** Input paths (dots for nesting; array elements share their array's path) the replay carries out, per type. */
export const MAPPED_INPUTS: Readonly<Record<string, readonly string[]>> = {
    "pulumi:providers:docker": ["host"],
    "pulumi:providers:postgresql": ["host", "port", "username", "password", "database", "sslmode", "superuser", "connectTimeout"],
    "docker:index/network:Network": ["name", "driver"],
    "docker:index/volume:Volume": ["name", "labels", "labels.label", "labels.value"],
    "docker:index/remoteImage:RemoteImage": ["name", "keepLocally"],
    // buildOnPreview: the SDK's default; the replay never previews.
    "docker:index/image:Image": ["imageName", "skipPush", "buildOnPreview", "build", "build.context", "build.dockerfile", "build.platform", "build.args", "build.args.*", "build.network"],
    "docker:index/container:Container": [
        "name", "image", "restart", "memory", "memorySwap", "shmSize", "envs", "command", "user", "groupAdds", "securityOpts",
        "capabilities", "capabilities.drops", "capabilities.adds", "readOnly",
        "uploads", "uploads.file", "uploads.content", "uploads.owner", "uploads.group", "uploads.permissions",
        "volumes", "volumes.volumeName", "volumes.hostPath", "volumes.containerPath", "volumes.readOnly",
        "networksAdvanced", "networksAdvanced.name", "networksAdvanced.aliases",
        "ports", "ports.internal", "ports.external", "ports.ip", "ports.protocol",
        "healthcheck", "healthcheck.tests", "healthcheck.interval", "healthcheck.timeout", "healthcheck.retries", "healthcheck.startPeriod",
        "labels", "labels.label", "labels.value", "wait", "waitTimeout",
    ],
    "tls:index/privateKey:PrivateKey": ["algorithm", "ecdsaCurve"],
    "tls:index/selfSignedCert:SelfSignedCert": ["privateKeyPem", "isCaCertificate", "subject", "subject.*", "validityPeriodHours", "earlyRenewalHours", "allowedUses"],
    "tls:index/certRequest:CertRequest": ["privateKeyPem", "subject", "subject.*", "dnsNames", "ipAddresses"],
    "tls:index/locallySignedCert:LocallySignedCert": ["certRequestPem", "caPrivateKeyPem", "caCertPem", "validityPeriodHours", "earlyRenewalHours", "allowedUses"],
    "random:index/randomPassword:RandomPassword": ["length", "special"],
    "postgresql:index/role:Role": ["name", "login", "password"],
    "postgresql:index/database:Database": ["name", "owner"],
    "postgresql:index/grant:Grant": ["database", "role", "objectType", "schema", "privileges"],
    "postgresql:index/defaultPrivileges:DefaultPrivileges": ["database", "owner", "role", "objectType", "schema", "privileges"],
};

/** Input paths of `inputs` the replay does not carry out for `type` (all of them when the type is not replayed). */
export function unmappedInputs(type: string, inputs: Record<string, unknown>): string[] {
    const mapped = MAPPED_INPUTS[type];
    if (mapped === undefined) return [`${type} (the replay does not carry out this type)`];
    const allowed = new Set(mapped);
    const out = new Set<string>();
    const walk = (value: unknown, at: string): void => {
        if (value === undefined || value === null) return;
        if (at !== "" && !allowed.has(at) && !allowed.has(`${at.slice(0, at.lastIndexOf(".") + 1)}*`)) {
            out.add(at);
            return;
        }
        const items = Array.isArray(value) ? value : [value];
        for (const item of items) {
            if (item === null || typeof item !== "object" || Array.isArray(item)) continue;
            // Leaf maps (`build.args.*`, `subject.*`) are carried out whole.
            if (allowed.has(`${at}.*`)) continue;
            for (const [k, v] of Object.entries(item as Record<string, unknown>)) walk(v, at === "" ? k : `${at}.${k}`);
        }
    };
    walk(inputs, "");
    return [...out].sort();
}

/** A Go duration as the docker provider takes it ("10s", "1m30s", "500ms") in nanoseconds. */
export function durationNs(text: string): number {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`replay: ${JSON.stringify(text)} is not a duration such as 10s or 1m30s`);
    const unit: Record<string, number> = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
    return Math.round(parts.reduce((ns, p) => ns + Number(p[1]) * (unit[p[2] ?? "s"] ?? 0), 0));
}

interface ContainerInputs {
    name: string;
    image: string;
    restart?: string;
    memory?: number;
    memorySwap?: number;
    shmSize?: number;
    envs?: string[];
    command?: string[];
    user?: string;
    groupAdds?: string[];
    securityOpts?: string[];
    capabilities?: { drops?: string[]; adds?: string[] };
    readOnly?: boolean;
    volumes?: { volumeName?: string; hostPath?: string; containerPath: string; readOnly?: boolean }[];
    networksAdvanced?: { name: string; aliases?: string[] }[];
    ports?: { internal: number; external?: number; ip?: string; protocol?: string }[];
    healthcheck?: { tests: string[]; interval?: string; timeout?: string; retries?: number; startPeriod?: string };
    labels?: { label: string; value: string }[];
}

const MIB = 1024 * 1024;

/**
 * The Docker Engine API body of `POST /containers/create` for a docker.Container's
 * inputs, as the provider builds it (memory in MiB; ports default to tcp on 0.0.0.0;
 * the first network at create, the others connected after). Uploads, `wait` and
 * the networks after the first are carried out by the replay after the create.
 */
export function containerCreateBody(raw: Record<string, unknown>): Record<string, unknown> {
    const c = raw as unknown as ContainerInputs;
    const [first] = c.networksAdvanced ?? [];
    const port = (p: { internal: number; protocol?: string }) => `${p.internal}/${p.protocol ?? "tcp"}`;
    const h = c.healthcheck;
    return {
        Image: c.image,
        ...(c.command === undefined ? {} : { Cmd: c.command }),
        Env: c.envs ?? [],
        ...(c.user === undefined ? {} : { User: c.user }),
        Labels: Object.fromEntries((c.labels ?? []).map((l) => [l.label, l.value])),
        ExposedPorts: Object.fromEntries((c.ports ?? []).map((p) => [port(p), {}])),
        ...(h === undefined ? {} : {
            Healthcheck: {
                Test: h.tests,
                ...(h.interval === undefined ? {} : { Interval: durationNs(h.interval) }),
                ...(h.timeout === undefined ? {} : { Timeout: durationNs(h.timeout) }),
                ...(h.retries === undefined ? {} : { Retries: h.retries }),
                ...(h.startPeriod === undefined ? {} : { StartPeriod: durationNs(h.startPeriod) }),
            },
        }),
        HostConfig: {
            RestartPolicy: { Name: c.restart ?? "no" },
            ...(c.memory === undefined ? {} : { Memory: c.memory * MIB }),
            ...(c.memorySwap === undefined ? {} : { MemorySwap: c.memorySwap * MIB }),
            ...(c.shmSize === undefined ? {} : { ShmSize: c.shmSize * MIB }),
            Binds: (c.volumes ?? []).map((v) => `${v.volumeName ?? v.hostPath ?? ""}:${v.containerPath}${v.readOnly === true ? ":ro" : ""}`),
            PortBindings: Object.fromEntries((c.ports ?? []).map((p) => [port(p), [{ HostIp: p.ip ?? "0.0.0.0", HostPort: String(p.external ?? p.internal) }]])),
            ...(c.groupAdds === undefined ? {} : { GroupAdd: c.groupAdds }),
            ...(c.securityOpts === undefined ? {} : { SecurityOpt: c.securityOpts }),
            ...(c.capabilities?.drops === undefined ? {} : { CapDrop: c.capabilities.drops }),
            ...(c.capabilities?.adds === undefined ? {} : { CapAdd: c.capabilities.adds }),
            ReadonlyRootfs: c.readOnly === true,
            ...(first === undefined ? {} : { NetworkMode: first.name }),
        },
        ...(first === undefined ? {} : { NetworkingConfig: { EndpointsConfig: { [first.name]: { Aliases: first.aliases ?? [] } } } }),
    };
}

/** An X.509 subject as the tls provider takes it, as an openssl `-subj` argument. */
export function opensslSubject(subject: Record<string, unknown>): string {
    const keys: Record<string, string> = { country: "C", province: "ST", locality: "L", organization: "O", organizationalUnit: "OU", commonName: "CN", serialNumber: "serialNumber" };
    const parts: string[] = [];
    for (const [k, v] of Object.entries(subject)) {
        const short = keys[k];
        if (short === undefined) throw new Error(`replay: tls subject field ${k} is not mapped`);
        const values = Array.isArray(v) ? v : [v];
        for (const value of values) if (typeof value === "string" && value !== "") parts.push(`/${short}=${value.replace(/[/\\]/g, "\\$&")}`);
    }
    return parts.join("");
}

/** The tls provider's allowed uses as openssl extensions (keyUsage, extendedKeyUsage). */
export function opensslUsages(uses: readonly string[], ca: boolean): string[] {
    const key: Record<string, string> = { digital_signature: "digitalSignature", key_encipherment: "keyEncipherment", cert_signing: "keyCertSign", crl_signing: "cRLSign" };
    const ext: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };
    const unknown = uses.filter((u) => key[u] === undefined && ext[u] === undefined);
    if (unknown.length > 0) throw new Error(`replay: tls allowed uses ${unknown.join(", ")} are not mapped`);
    const ku = uses.flatMap((u) => key[u] ?? []);
    const eku = uses.flatMap((u) => ext[u] ?? []);
    return [
        `basicConstraints=critical,CA:${ca ? "TRUE" : "FALSE"}`,
        ...(ku.length === 0 ? [] : [`keyUsage=critical,${ku.join(",")}`]),
        ...(eku.length === 0 ? [] : [`extendedKeyUsage=${eku.join(",")}`]),
    ];
}
