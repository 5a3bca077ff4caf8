/**
 * The Postgres version catalog: label + image pairs, the first one the
 * default. It lives in the platform stack config (`dbaas:postgres.versions`)
 * and reaches the API as JSON; the API, the on-demand program and the policies
 * all read it through this module, so nothing else hard-codes a version.
 * No Pulumi imports: this module is loaded by the API too.
 */
import { z } from "zod";

export interface PostgresVersion {
    /** What users pick, e.g. "PostgreSQL 17". Unique within the catalog. */
    readonly label: string;
    /** Image reference, e.g. `postgres:17.2` or `registry/x/postgres@sha256:...`. */
    readonly image: string;
}

/** Non-empty, first entry = default. */
export type VersionCatalog = readonly [PostgresVersion, ...PostgresVersion[]];

// An image reference as Docker reads it (the distribution/reference grammar):
// `[registry[:port]/]path[:tag][@algorithm:hex]`. The one grammar of the
// project: the catalog check below and the policy pack (policies/lib/imageRef.ts) use it.
const component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const registry = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?";
const tag = "[\\w][\\w.-]{0,127}";
const digest = "[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}";
const IMAGE_REFERENCE = new RegExp(`^(${registry}${component}(?:/${component})*)(?::(${tag}))?(?:@(${digest}))?$`);
/** The only digest a catalog entry may pin: sha256, lowercase hex. */
const CATALOG_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** An image reference split into its parts (nothing normalised). */
export interface ImageReferenceParts {
    /** Registry (when given) and path, e.g. `ghcr.io/x/pg`. */
    readonly name: string;
    readonly tag?: string;
    readonly digest?: string;
}

/** The parts of `ref`, or undefined when it is not an image reference. */
export function parseImageReference(ref: string): ImageReferenceParts | undefined {
    const m = IMAGE_REFERENCE.exec(ref);
    if (!m) return undefined;
    const [, name = "", tagPart, digestPart] = m;
    return { name, ...(tagPart === undefined ? {} : { tag: tagPart }), ...(digestPart === undefined ? {} : { digest: digestPart }) };
}

/** True for `postgres:17`, `postgres:17.2-alpine`, `ghcr.io/x/pg:16`, `postgres@sha256:<64 hex>`. */
export function isValidImageReference(ref: string): boolean {
    const parts = parseImageReference(ref);
    if (parts === undefined) return false;
    if (parts.digest !== undefined && !CATALOG_DIGEST.test(parts.digest)) return false;
    // A catalog image must say which build it is: a tag, a digest or both.
    if (parts.tag === undefined && parts.digest === undefined) return false;
    return parts.tag !== "latest";
}

/** The image's tag, or undefined when pinned by digest only. */
export function imageTag(ref: string): string | undefined {
    return parseImageReference(ref)?.tag;
}

/** The major version read from a tag like `17`, `17.2` or `16.4-alpine`, when it has one. */
export function postgresMajor(ref: string): number | undefined {
    const t = imageTag(ref);
    const m = t === undefined ? null : /^(\d+)(?:\.\d+)?(?:[-_].*)?$/.exec(t);
    return m ? Number(m[1]) : undefined;
}

export const IMAGE_REFERENCE_HINT =
    "an image with a tag or digest, e.g. postgres:17, postgres:17.2, registry.example.com/team/postgres:16 or postgres@sha256:<64 hex digits> (not :latest)";

export const postgresVersionSchema = z.object({
    label: z.string().trim().min(1, "a non-empty label such as \"PostgreSQL 17\"").max(64, "a label of at most 64 characters"),
    image: z.string().refine(isValidImageReference, { message: IMAGE_REFERENCE_HINT }),
}).strict();

export const versionCatalogSchema = z
    .array(postgresVersionSchema)
    .min(1, "at least one version (the first is the default)")
    .superRefine((versions, ctx) => {
        const seen = new Map<string, number>();
        versions.forEach((v, i) => {
            const first = seen.get(v.label);
            if (first !== undefined) {
                ctx.addIssue({
                    code: "custom",
                    path: [i, "label"],
                    input: v.label,
                    message: `a unique label; "${v.label}" is already used by entry ${first}`,
                });
            } else {
                seen.set(v.label, i);
            }
        });
    })
    .transform((v) => v as unknown as VersionCatalog);

/** The default version: the first entry. */
export function defaultVersion(catalog: VersionCatalog): PostgresVersion {
    return catalog[0];
}

/** Finds a version by label (what users send) or by image; undefined when absent. */
export function findVersion(catalog: VersionCatalog, labelOrImage: string): PostgresVersion | undefined {
    return catalog.find((v) => v.label === labelOrImage) ?? catalog.find((v) => v.image === labelOrImage);
}

/** Every distinct image of the catalog, in catalog order. */
export function catalogImages(catalog: VersionCatalog): string[] {
    return [...new Set(catalog.map((v) => v.image))];
}

/** Parses a catalog handed over as JSON (the API's `DBAAS_CATALOG` / catalog file). */
export function parseCatalogJson(json: string): VersionCatalog {
    let raw: unknown;
    try {
        raw = JSON.parse(json);
    } catch (e) {
        throw new Error(`version catalog is not valid JSON: ${(e as Error).message}`);
    }
    const result = versionCatalogSchema.safeParse(raw);
    if (!result.success) {
        const first = result.error.issues[0];
        const where = first ? first.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("") : "";
        throw new Error(`version catalog${where}: expected ${first?.message ?? "a valid catalog"}`);
    }
    return result.data;
}

/** Unprivileged uid/gid of the `postgres` user in the official images. */
export const POSTGRES_UID = 999;
