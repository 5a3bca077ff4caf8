/**
 * The NetworkPolicy of one database: ingress to 5432 only from the spec's
 * source ranges; egress only DNS, plus HTTPS to public addresses while a
 * backup is to be fetched (rules in `networkPolicy.ts`).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FIELD_MANAGER_ANNOTATIONS } from "./naming";
import { networkPolicySpec } from "./networkPolicy";

export interface DatabaseNetworkPolicyArgs {
    /** Namespace of the database. Required. */
    readonly namespace: pulumi.Input<string>;
    /** Labels selecting the database's pods. Required. */
    readonly podSelector: Record<string, string>;
    /** CIDRs allowed to connect; empty = no ingress at all. Default []. */
    readonly sourceRanges?: readonly string[];
    /** Whether the pod downloads a backup (allows HTTPS egress). Default false. */
    readonly fetchesBackup?: boolean;
    /** Labels on the policy. Default none. */
    readonly labels?: Record<string, string>;
}

export class DatabaseNetworkPolicy extends pulumi.ComponentResource {
    constructor(name: string, args: DatabaseNetworkPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:ondemand:DatabaseNetworkPolicy", name, {}, opts);

        new k8s.networking.v1.NetworkPolicy(name, {
            metadata: { name: "database", namespace: args.namespace, labels: args.labels ?? {}, annotations: FIELD_MANAGER_ANNOTATIONS },
            spec: networkPolicySpec({
                podSelector: args.podSelector,
                sourceRanges: args.sourceRanges ?? [],
                fetchesBackup: args.fetchesBackup ?? false,
            }),
        }, { parent: this });

        this.registerOutputs({});
    }
}
