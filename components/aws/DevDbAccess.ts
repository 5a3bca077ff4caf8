import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    admissionResourceRules,
    DEVDB_ADMISSION_POLICY,
    devDbMatchCondition,
    devDbValidations,
    namespacePrefixProblem,
    POD_SECURITY_ENFORCE_LABEL,
    POD_SECURITY_LEVEL,
} from "./admission";
import { tokenFromSecretData, tokenKubeconfig, type ClusterEndpoint } from "./kubeconfig";
import { DEVDB_DATABASE_RULES, DEVDB_ROLE_RULES, findRbacViolations, type PolicyRule } from "./rbac";
import { LABELS, MANAGED_BY } from "../../contracts/labels";
import { DEVDB_CLUSTER_ROLE, DEVDB_DATABASE_ROLE, DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";

/**
 * What the DBaaS API is on EKS: namespace `devdb` (Pod Security restricted),
 * ServiceAccount `devdb`, ClusterRole `devdb-role` with exactly the reviewed
 * rules of rbac.ts and its binding, ClusterRole `devdb-database` (the Secrets of
 * one database namespace; bound there by the on-demand program, never
 * cluster-wide), a ValidatingAdmissionPolicy that confines
 * the ServiceAccount's writes to namespaces with the on-demand prefix, and,
 * when the API runs outside the cluster, its kubeconfig (the ServiceAccount's
 * token), a secret; in the cluster the pod's projected token replaces it.
 */
export interface DevDbAccessArgs {
    /** Kubernetes provider of the cluster (see eksConnection); every object goes there. */
    provider: k8s.Provider;
    /** The cluster as the API's kubeconfig names it: name, endpoint, CA data. */
    cluster: pulumi.Input<ClusterEndpoint>;
    /** Prefix of on-demand database namespaces (stack config `ondemand.namespacePrefix`, default "devdb-"). */
    namespacePrefix: string;
    /**
     * How the API proves it is the ServiceAccount. `tokenSecret`: it runs outside the
     * cluster (Docker host) with a kubeconfig holding a long-lived token Secret's token.
     * `projected`: it runs in the cluster as the ServiceAccount, with the bound token the
     * kubelet projects into its pod; no token Secret and no kubeconfig exist.
     * Default: "tokenSecret".
     */
    apiCredential?: "tokenSecret" | "projected";
    /** Annotations of the ServiceAccount, e.g. the IRSA role (`eks.amazonaws.com/role-arn`). Default: none. */
    serviceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Adopt the namespace and ServiceAccount an earlier `kubectl apply` made
     * (`import` resource options) instead of creating them. Default: false.
     */
    adoptExisting?: boolean;
}

/** A reviewed rule as the ClusterRole takes it (resourceNames only where the rule names them). */
function k8sRule(r: PolicyRule): { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] } {
    return { apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs], ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}) };
}

/** Name of the long-lived token Secret of the ServiceAccount. */
export const DEVDB_TOKEN_SECRET = `${DEVDB_SERVICE_ACCOUNT}-token`;

export class DevDbAccess extends pulumi.ComponentResource {
    /** Kubeconfig that authenticates as system:serviceaccount:devdb:devdb; a secret, handed to ApiService. Undefined with `apiCredential: "projected"`. */
    readonly apiKubeconfig: pulumi.Output<string> | undefined;
    /** The namespace's name, once it exists (`devdb`). */
    readonly namespaceName: pulumi.Output<string>;
    /** The ServiceAccount's name, once it exists (`devdb`). */
    readonly serviceAccountName: pulumi.Output<string>;
    /** The admission policy's binding: whatever runs as the ServiceAccount depends on it, so the identity is confined before it is used. */
    readonly admissionBinding: pulumi.Resource;

    constructor(name: string, args: DevDbAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        // Bad arguments stop here, before anything is registered.
        const prefixProblem = namespacePrefixProblem(args.namespacePrefix);
        if (prefixProblem) throw new Error(`ondemand.namespacePrefix: ${prefixProblem}. Fix: pulumi config set --path 'dbaas:ondemand.namespacePrefix' devdb-`);
        // The constant is reviewed by hand and by tests; this stops an edit that slipped past both.
        const violations = [...findRbacViolations(DEVDB_ROLE_RULES), ...findRbacViolations(DEVDB_DATABASE_RULES)];
        if (violations.length > 0) throw new Error(`ClusterRole ${DEVDB_CLUSTER_ROLE} is not least privilege:\n  - ${violations.join("\n  - ")}`);
        super("dbaas:aws:DevDbAccess", name, {}, { ...opts, providers: [args.provider] });

        const managed = { [LABELS.managedBy]: MANAGED_BY };
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: {
                name: DEVDB_NAMESPACE,
                labels: {
                    ...managed,
                    [POD_SECURITY_ENFORCE_LABEL]: POD_SECURITY_LEVEL,
                    "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
                    "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
                },
            },
        }, { parent: this, ...(args.adoptExisting === true ? { import: DEVDB_NAMESPACE } : {}) });
        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-service-account`, {
            metadata: {
                name: DEVDB_SERVICE_ACCOUNT,
                namespace: namespace.metadata.name,
                labels: managed,
                ...(args.serviceAccountAnnotations === undefined ? {} : { annotations: args.serviceAccountAnnotations }),
            },
            // Never mounted by default: the API's pod declares its projected token itself, and no other pod gets it.
            automountServiceAccountToken: false,
        }, { parent: this, ...(args.adoptExisting === true ? { import: `${DEVDB_NAMESPACE}/${DEVDB_SERVICE_ACCOUNT}` } : {}) });
        this.namespaceName = namespace.metadata.name;
        this.serviceAccountName = serviceAccount.metadata.name;
        const role = new k8s.rbac.v1.ClusterRole(`${name}-role`, {
            metadata: { name: DEVDB_CLUSTER_ROLE, labels: managed },
            rules: DEVDB_ROLE_RULES.map(k8sRule),
        }, { parent: this });
        // Bound only per database namespace, by the on-demand program's RoleBinding (the namespaced grant).
        new k8s.rbac.v1.ClusterRole(`${name}-database-role`, {
            metadata: { name: DEVDB_DATABASE_ROLE, labels: managed },
            rules: DEVDB_DATABASE_RULES.map(k8sRule),
        }, { parent: this });
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-role-binding`, {
            metadata: { name: DEVDB_CLUSTER_ROLE, labels: managed },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
            subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: serviceAccount.metadata.namespace }],
        }, { parent: this });

        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-admission-policy`, {
            metadata: { name: DEVDB_ADMISSION_POLICY, labels: managed },
            spec: {
                failurePolicy: "Fail",
                matchConstraints: { resourceRules: admissionResourceRules(DEVDB_ROLE_RULES) },
                matchConditions: [devDbMatchCondition()],
                validations: devDbValidations(args.namespacePrefix),
            },
        }, { parent: this });
        const policyBinding = new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-admission-binding`, {
            metadata: { name: DEVDB_ADMISSION_POLICY, labels: managed },
            spec: { policyName: policy.metadata.name, validationActions: ["Deny"] },
        }, { parent: this });

        this.admissionBinding = policyBinding;
        if (args.apiCredential === "projected") {
            // The pod's projected token is the credential; it exists only in pods of the ServiceAccount.
            this.apiKubeconfig = undefined;
            this.registerOutputs({ namespaceName: this.namespaceName, serviceAccountName: this.serviceAccountName });
            return;
        }
        // The credential exists only once the admission policy guards what it can do.
        const tokenSecret = new k8s.core.v1.Secret(`${name}-token`, {
            metadata: {
                name: DEVDB_TOKEN_SECRET,
                namespace: namespace.metadata.name,
                labels: managed,
                annotations: { "kubernetes.io/service-account.name": serviceAccount.metadata.name },
            },
            type: "kubernetes.io/service-account-token",
        }, { parent: this, dependsOn: [policyBinding] });

        const user = `${DEVDB_NAMESPACE}-${DEVDB_SERVICE_ACCOUNT}`;
        this.apiKubeconfig = pulumi.secret(
            pulumi.all([args.cluster, tokenSecret.data]).apply(([cluster, data]) => tokenKubeconfig(cluster, user, tokenFromSecretData(data))),
        );
        this.registerOutputs({ apiKubeconfig: this.apiKubeconfig, namespaceName: this.namespaceName, serviceAccountName: this.serviceAccountName });
    }
}
