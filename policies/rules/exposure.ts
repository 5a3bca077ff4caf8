/**
 * Exposure rules: a LoadBalancer is only ever open to named source ranges,
 * and a Docker container publishes only the ports its role declares, on the
 * addresses where that is safe.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { isNginxImage } from "../lib/imageRef";
import { configOf, configSchemaOf, forTypes } from "../lib/policyKit";
import { ondemandPublishIp, stackEnvironment } from "../lib/stackSource";
import { asArray, asRecord, asString, get, strings, type Props } from "../lib/values";
import { DOCKER_CONTAINER, dockerPorts, isPostgresDockerContainer, K8S_SERVICE } from "../lib/workloads";
import { API_PORT, POSTGRES_PORT } from "../../contracts/ports";

const SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges";

/** True for a CIDR that admits every address (`0.0.0.0/0`, `::/0`, any `/0`). */
export function isOpenRange(cidr: string): boolean {
    const text = cidr.trim();
    if (!text.includes("/")) return text === "0.0.0.0" || text === "::";
    try {
        return ipaddr.parseCIDR(text)[1] === 0;
    } catch {
        return /\/0$/.test(text);
    }
}

export const loadBalancerSourceRanges: ResourceValidationPolicy = {
    name: "loadbalancer-source-ranges",
    description: "A LoadBalancer Service lists loadBalancerSourceRanges, and none of them is 0.0.0.0/0 or ::/0.",
    enforcementLevel: "mandatory",
    validateResource: forTypes([K8S_SERVICE], (props, args, report) => {
        if (asString(get(props, "spec", "type")) !== "LoadBalancer") args.notApplicable("not a LoadBalancer Service");
        const fromField = strings(get(props, "spec", "loadBalancerSourceRanges"));
        const annotation = asString(get(props, "metadata", "annotations", SOURCE_RANGES_ANNOTATION));
        // Kubernetes reads the annotation only when the field is empty.
        const ranges = fromField.length > 0 ? fromField : (annotation ?? "").split(",").map((r) => r.trim()).filter((r) => r !== "");
        if (ranges.length === 0) {
            report("the LoadBalancer has no loadBalancerSourceRanges and is open to the Internet: list the client CIDRs (the request's source_ranges), or use type ClusterIP.");
        }
        const open = ranges.filter(isOpenRange);
        if (open.length > 0) report(`loadBalancerSourceRanges contains ${open.join(", ")}, which admits every address: list the client CIDRs instead.`);
    }),
};

const portsConfig = z.object({
    nginxPorts: z.array(z.number().int().min(1).max(65535)).default([80, 443])
        .describe("Container ports an nginx container may publish (HTTP and HTTPS)."),
    postgresPublishAddresses: z.array(z.string()).default(["127.0.0.1", "::1"])
        .describe("Host addresses a PostgreSQL container may publish 5432 on, besides the on-demand spec's target.publish_ip. Loopback is always allowed."),
});

type Role = "nginx" | "postgres" | "other";

/** nginx by its image or by the config file uploaded into it (when the image is an ID). */
export function dockerRole(props: Props): Role {
    const image = asString(props.image) ?? "";
    const uploadsNginxConf = asArray(props.uploads).some((u) => (asString(asRecord(u)?.file) ?? "").startsWith("/etc/nginx/"));
    if (isNginxImage(image) || uploadsNginxConf) return "nginx";
    if (isPostgresDockerContainer(props)) return "postgres";
    return "other";
}

/** Address class of a host IP as written in `ports[].ip` (absent = Docker's default, every interface). */
function addressKind(ip: string | undefined): "unspecified" | "loopback" | "other" {
    if (ip === undefined || ip.trim() === "") return "unspecified";
    try {
        const range = ipaddr.parse(ip.trim()).range();
        return range === "unspecified" ? "unspecified" : range === "loopback" ? "loopback" : "other";
    } catch {
        return "other";
    }
}

export const dockerPublishedPorts: ResourceValidationPolicy = {
    name: "docker-published-ports",
    description: `Docker containers publish only their declared ports: nginx 80/443; PostgreSQL ${POSTGRES_PORT} on loopback or the configured address; nothing else (the API's ${API_PORT} is reached through nginx).`,
    enforcementLevel: "mandatory",
    configSchema: configSchemaOf(portsConfig),
    validateResource: forTypes([DOCKER_CONTAINER], (props, args, report) => {
        const { nginxPorts, postgresPublishAddresses } = configOf(dockerPublishedPorts.name, portsConfig, args.getConfig());
        if (props.publishAllPorts === true) report("publishAllPorts publishes every EXPOSEd port on all interfaces: remove it and list the ports.");
        const role = dockerRole(props);
        const specIp = ondemandPublishIp(stackEnvironment());
        const allowedAddresses = new Set([...postgresPublishAddresses, ...(specIp ? [specIp] : [])].map((a) => a.trim()));
        for (const port of dockerPorts(props)) {
            const label = `port ${port.internal ?? "?"}/${port.protocol}`;
            if (role === "nginx") {
                if (port.internal === undefined || !nginxPorts.includes(port.internal)) {
                    report(`${label} is published but nginx declares only ${nginxPorts.join(", ")}: remove it.`);
                }
            } else if (role === "postgres") {
                if (port.internal !== POSTGRES_PORT) report(`${label} is published but PostgreSQL declares only ${POSTGRES_PORT}: remove it.`);
                const kind = addressKind(port.ip);
                if (kind === "unspecified") {
                    report(`${label} is published on every host interface (ip ${port.ip ?? "not set"}): set ip to 127.0.0.1 or the configured publish address.`);
                } else if (kind === "other" && !allowedAddresses.has((port.ip ?? "").trim())) {
                    report(`${label} is published on ${port.ip ?? "?"}, which is neither loopback nor a configured address (${[...allowedAddresses].join(", ")}).`);
                }
            } else {
                report(`${label} is published by a container that declares no published ports (only nginx and PostgreSQL publish): remove it; other services are reached through nginx or the Docker network.`);
            }
        }
    }),
};

export const exposurePolicies = [loadBalancerSourceRanges, dockerPublishedPorts];
