/**
 * The check the Pulumi CLI makes of stack files against the `config:` section
 * of Pulumi.yaml (the CLI is not available here, so a test makes it): every
 * key is declared, values have the declared type (string, integer, boolean,
 * object, array of items), secret keys hold encrypted (`secure:`) values, and
 * required keys (declared without a default) are present.
 */
import { parse as parseYaml } from "yaml";

interface ItemsType {
    type: string;
    items?: ItemsType;
}
export interface ConfigDeclaration {
    type?: string;
    items?: ItemsType;
    default?: unknown;
    secret?: boolean;
    description?: string;
}
export interface ProjectFile {
    name: string;
    config?: Record<string, ConfigDeclaration>;
}

/** Same rules as the CLI's ValidateConfigValue. */
export function valueHasType(type: string, items: ItemsType | undefined, value: unknown): boolean {
    switch (type) {
        case "string":
            return typeof value === "string";
        case "integer":
            return (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^-?\d+$/.test(value));
        case "boolean":
            return typeof value === "boolean" || value === "true" || value === "false";
        case "object":
            return typeof value === "object" && value !== null && !Array.isArray(value);
        case "array":
            return Array.isArray(value) && items !== undefined && value.every((v) => valueHasType(items.type, items.items, v));
        default:
            return false;
    }
}

function isSecure(value: unknown): boolean {
    return typeof value === "object" && value !== null && typeof (value as { secure?: unknown }).secure === "string";
}

/**
 * Problems of one stack file, one line each; empty when it is valid.
 * `requireAll` = required keys must be present (true for the committed stacks;
 * secret keys are exempt because they are set with `pulumi config set --secret`).
 */
export function checkStackFile(projectYaml: string, stackYaml: string, stackName: string): string[] {
    const project = parseYaml(projectYaml) as ProjectFile;
    const declared = project.config ?? {};
    const stack = (parseYaml(stackYaml) as { config?: Record<string, unknown> } | null)?.config ?? {};
    const problems: string[] = [];
    const qualify = (k: string) => (k.includes(":") ? k : `${project.name}:${k}`);
    const decls = new Map(Object.entries(declared).map(([k, d]) => [qualify(k), d]));
    for (const [key, value] of Object.entries(stack)) {
        const decl = decls.get(qualify(key));
        if (!key.startsWith(`${project.name}:`)) continue; // provider keys (aws:region, ...) belong to their packages
        if (!decl) {
            problems.push(`Pulumi.${stackName}.yaml: ${key} is not declared in Pulumi.yaml`);
            continue;
        }
        if (decl.secret) {
            if (!isSecure(value)) problems.push(`Pulumi.${stackName}.yaml: ${key} is secret; set it with pulumi config set --secret`);
            continue;
        }
        if (decl.type && !valueHasType(decl.type, decl.items, value)) {
            const t = decl.items ? `array<${decl.items.type}>` : decl.type;
            problems.push(`Pulumi.${stackName}.yaml: ${key} should be of type ${t}, got ${JSON.stringify(value)}`);
        }
    }
    for (const [key, decl] of decls) {
        if (decl.default === undefined && !decl.secret && !(key in stack) && !(key.replace(`${project.name}:`, "") in stack)) {
            problems.push(`Pulumi.${stackName}.yaml: required key ${key} is missing`);
        }
    }
    return problems;
}
