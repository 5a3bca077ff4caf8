/**
 * Label rules: an on-demand database's namespace says who owns it and when
 * it expires, so the reaper and the admission policy can act on it and a
 * person can tell whom to ask. Keys come from contracts/labels.ts (LABELS).
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { z } from "zod";
import { configOf, configSchemaOf, forTypes } from "../lib/policyKit";
import { DEFAULT_NAMESPACE_PREFIX } from "../lib/stackSource";
import { asRecord, asString, get } from "../lib/values";
import { K8S_NAMESPACE } from "../lib/workloads";
import { LABELS } from "../../contracts/labels";

/** The shape `expiryLabelValue` produces: `2026-11-23T16-00-00Z`. */
export const EXPIRY_LABEL_VALUE = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/;

const labelsConfig = z.object({
    namespacePrefix: z.string().min(1).default(DEFAULT_NAMESPACE_PREFIX)
        .describe("Prefix of on-demand database namespaces (the platform stack's ondemand.namespacePrefix)."),
});

/** The namespace's name: metadata.name, or the resource name Pulumi auto-names from. */
function namespaceName(props: Record<string, unknown>, resourceName: string): string {
    return asString(get(props, "metadata", "name")) ?? resourceName;
}

export const ondemandNamespaceLabels: ResourceValidationPolicy = {
    name: "ondemand-namespace-labels",
    description: `Every on-demand database namespace carries the owner (${LABELS.owner}) and expiry (${LABELS.expiresAt}) labels.`,
    enforcementLevel: "mandatory",
    configSchema: configSchemaOf(labelsConfig),
    validateResource: forTypes([K8S_NAMESPACE], (props, args, report) => {
        const { namespacePrefix } = configOf(ondemandNamespaceLabels.name, labelsConfig, args.getConfig());
        const name = namespaceName(props, args.name);
        if (!name.startsWith(namespacePrefix)) args.notApplicable(`namespace "${name}" does not start with ${namespacePrefix}`);
        const labels = asRecord(get(props, "metadata", "labels")) ?? {};
        const owner = asString(labels[LABELS.owner]);
        const expiry = asString(labels[LABELS.expiresAt]);
        if (!owner) report(`namespace "${name}" has no ${LABELS.owner} label: label it with the requesting owner.`);
        if (!expiry) {
            report(`namespace "${name}" has no ${LABELS.expiresAt} label: label it with expiryLabelValue(expiresAt).`);
        } else if (!EXPIRY_LABEL_VALUE.test(expiry)) {
            report(`namespace "${name}" has ${LABELS.expiresAt}="${expiry}", not an instant like 2026-11-23T16-00-00Z (expiryLabelValue).`);
        }
    }),
};

export const labelPolicies = [ondemandNamespaceLabels];
