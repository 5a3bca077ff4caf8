/**
 * Prints the policy pack config of a platform stack, read from its stack file:
 *   npx tsx policies/config.ts Pulumi.prod.yaml > policies/config.prod.json
 *   pulumi preview --stack prod --policy-pack policies --policy-pack-config policies/config.prod.json
 */
import * as path from "node:path";
import { policyPackConfigFromStackFile } from "./packConfig";

const [file] = process.argv.slice(2);
if (file === undefined || file.startsWith("-")) {
    console.error("usage: npx tsx policies/config.ts Pulumi.<stack>.yaml > policies/config.<stack>.json");
    process.exit(2);
}
try {
    process.stdout.write(`${JSON.stringify(policyPackConfigFromStackFile(path.resolve(file)), null, 2)}\n`);
} catch (e) {
    console.error(`policies/config.ts: ${(e as Error).message}`);
    process.exit(1);
}
