/**
 * Small building blocks shared by the rule modules: a validator limited to
 * some resource types (reporting "not applicable" for the rest, as
 * `validateResourceOfType` does, without loading the provider SDKs into the
 * pack), and policy config declared once with zod, from which both the JSON
 * schema the CLI validates against and the typed, defaulted value are derived.
 */
import type { PolicyConfigSchema, ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import { z } from "zod";
import type { Props } from "./values";

/** A validation of one resource's props. */
export type PropsValidation = (props: Props, args: ResourceValidationArgs, report: ReportViolation) => void;

/**
 * A `validateResource` that runs `validate` for the given types and marks the
 * policy not applicable for every other type.
 */
export function forTypes(types: readonly string[], validate: PropsValidation): ResourceValidation {
    const accepted = new Set(types);
    const validation: ResourceValidation = (args, report) => {
        if (!accepted.has(args.type)) {
            args.notApplicable(`Policy only applies to resources of type ${types.map((t) => `'${t}'`).join(", ")}`);
        }
        validate(args.props as Props, args, report);
    };
    // The policy server skips a policy without calling it when the validator
    // names its one type this way (see getPulumiType in @pulumi/policy).
    if (types.length === 1) (validation as { __pulumiType?: string }).__pulumiType = types[0];
    return validation;
}

/**
 * The `configSchema` of a policy, from a zod object whose fields all have
 * defaults or are optional (the CLI fills top-level defaults before the pack
 * sees the config).
 */
export function configSchemaOf(schema: z.ZodObject): PolicyConfigSchema {
    const json = z.toJSONSchema(schema, { target: "draft-7", io: "input" }) as { properties?: PolicyConfigSchema["properties"] };
    return { properties: json.properties ?? {} };
}

/**
 * The policy's config, parsed (and defaulted) with its zod schema. A bad value
 * throws with the policy name, so `--policy-pack-config` mistakes are plain.
 */
export function configOf<S extends z.ZodObject>(policyName: string, schema: S, raw: object): z.output<S> {
    const result = schema.safeParse(raw);
    if (!result.success) {
        const issue = result.error.issues[0];
        throw new Error(`policy config of "${policyName}" is invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "unknown problem"}`);
    }
    return result.data;
}
