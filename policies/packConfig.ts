/**
 * The policy pack config for one platform stack, derived from its stack file
 * so the catalog, the namespace prefix and the ACME directory have one source: `Pulumi.<stack>.yaml`.
 * Used by config.ts (the command) and the tests.
 */
import type { PolicyPackConfig } from "@pulumi/policy";
import { postgresImageFromCatalog, postgresImageIdFromCatalog } from "./rules/images";
import { ondemandNamespaceLabels } from "./rules/labels";
import { noHostAccess } from "./rules/podSecurity";
import { acmeChallengeDirsOfStackConfig, catalogOfStackConfig, namespacePrefixOfStackConfig, readStackFileConfig } from "./lib/stackSource";

/** The `--policy-pack-config` document for the platform stack whose file is `stackFile`. */
export function policyPackConfigFromStackFile(stackFile: string): PolicyPackConfig {
    const config = readStackFileConfig(stackFile);
    const allowedImages = catalogOfStackConfig(config);
    if (!allowedImages) {
        throw new Error(`${stackFile} has no valid dbaas:postgres.versions catalog; fix it first (see contracts/catalog.ts).`);
    }
    return {
        [postgresImageFromCatalog.name]: { allowedImages },
        [postgresImageIdFromCatalog.name]: { allowedImages },
        [ondemandNamespaceLabels.name]: { namespacePrefix: namespacePrefixOfStackConfig(config) },
        [noHostAccess.name]: { readOnlyDockerHostPaths: acmeChallengeDirsOfStackConfig(config) ?? [] },
    };
}
