/**
 * The Service in front of one database: a LoadBalancer limited to the spec's
 * source ranges, or — with no ranges — a ClusterIP Service, so the database is
 * never reachable from outside the cluster by default.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FIELD_MANAGER_ANNOTATIONS, SERVICE_NAME } from "./naming";
import { serviceAnnotations, serviceSpec } from "./serviceSpec";
import { POSTGRES_PORT } from "../../contracts/ports";

export interface DatabaseServiceArgs {
    /** Namespace the Service lives in. Required. */
    readonly namespace: pulumi.Input<string>;
    /** Labels selecting the database's pods. Required. */
    readonly selector: Record<string, string>;
    /** Labels on the Service. Default none. */
    readonly labels?: Record<string, string>;
    /** CIDRs allowed through the load balancer; empty = ClusterIP only. Default []. */
    readonly sourceRanges?: readonly string[];
}

export class DatabaseService extends pulumi.ComponentResource {
    /** Load balancer hostname/IP, or the in-cluster DNS name when not exposed. */
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    /** The Service's name (the StatefulSet's governing service). */
    readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: DatabaseServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:ondemand:DatabaseService", name, {}, opts);
        const ranges = args.sourceRanges ?? [];

        const service = new k8s.core.v1.Service(name, {
            metadata: { name: SERVICE_NAME, namespace: args.namespace, labels: args.labels ?? {}, annotations: { ...serviceAnnotations(ranges), ...FIELD_MANAGER_ANNOTATIONS } },
            spec: serviceSpec(ranges, args.selector),
        }, { parent: this });

        this.serviceName = service.metadata.name;
        this.port = pulumi.output(POSTGRES_PORT);
        this.host = ranges.length === 0
            ? pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`
            : service.status.loadBalancer.ingress.apply((ingress) => ingress?.[0]?.hostname ?? ingress?.[0]?.ip ?? "");

        this.registerOutputs({ host: this.host, port: this.port, serviceName: this.serviceName });
    }
}
