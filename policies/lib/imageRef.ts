/**
 * Container image references as the policies judge them: a content ID
 * (`sha256:<64 hex>`, what `docker.RemoteImage.imageId` holds) or a reference
 * `[registry/]path[:tag][@digest]` in the grammar of contracts/catalog.ts.
 * No Pulumi imports.
 */
import { parseImageReference } from "../../contracts/catalog";

export interface ImageReference {
    /** Registry and path, normalised: `docker.io/library/postgres` and `library/postgres` become `postgres`. */
    readonly repository: string;
    readonly tag?: string;
    readonly digest?: string;
}

export type ParsedImage =
    | { readonly kind: "id"; readonly id: string }
    | { readonly kind: "reference"; readonly ref: ImageReference }
    | { readonly kind: "invalid"; readonly text: string };

const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;

/** Docker Hub's implicit prefixes carry no meaning: `docker.io/library/postgres` is `postgres`. */
function normalizeRepository(repository: string): string {
    return repository.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, "").replace(/^library\//, "");
}

/** Splits an image string into ID / reference; anything unparseable is `invalid`. */
export function parseImage(image: string): ParsedImage {
    const text = image.trim();
    if (IMAGE_ID.test(text)) return { kind: "id", id: text };
    const parts = parseImageReference(text);
    if (parts === undefined) return { kind: "invalid", text };
    const { name, tag, digest } = parts;
    return {
        kind: "reference",
        ref: {
            repository: normalizeRepository(name),
            ...(tag === undefined ? {} : { tag }),
            ...(digest === undefined ? {} : { digest: digest.toLowerCase() }),
        },
    };
}

/**
 * Why an image is not pinned to a build, or undefined when it is: a content
 * ID, a digest, or a tag other than `latest`. `latest` is refused even next
 * to a digest, because the tag then lies about what runs.
 */
export function unpinnedReason(image: string): string | undefined {
    const parsed = parseImage(image);
    if (parsed.kind === "id") return undefined;
    if (parsed.kind === "invalid") return `"${image}" is not a valid image reference`;
    const { tag, digest } = parsed.ref;
    if (tag === "latest") return `"${image}" uses the tag "latest", which names a different build over time`;
    if (tag === undefined && digest === undefined) return `"${image}" has no tag or digest, so Docker pulls "latest"`;
    return undefined;
}

/** True when the reference carries a digest or is a content ID. */
export function isDigestPinned(image: string): boolean {
    const parsed = parseImage(image);
    return parsed.kind === "id" || (parsed.kind === "reference" && parsed.ref.digest !== undefined);
}

/** Last path segment of the repository (`registry/team/postgres` -> `postgres`). */
export function repositoryBaseName(image: string): string | undefined {
    const parsed = parseImage(image);
    if (parsed.kind !== "reference") return undefined;
    const parts = parsed.ref.repository.split("/");
    return parts[parts.length - 1];
}

/** `postgres`, `postgresql`, `team/postgres-custom`, `bitnami/postgresql`: a PostgreSQL server image. */
export function isPostgresImage(image: string): boolean {
    const base = repositoryBaseName(image);
    return base !== undefined && /^postgres(?:ql)?(?:$|[-_.])/.test(base);
}

/** `nginx`, `nginxinc/nginx-unprivileged`: an nginx image. */
export function isNginxImage(image: string): boolean {
    const base = repositoryBaseName(image);
    return base !== undefined && /^nginx(?:$|[-_.])/.test(base);
}

/**
 * True when `image` is the catalog entry `entry`: the same repository and,
 * when the entry has a digest, the same digest; otherwise the same tag. So a
 * catalog `postgres:17.2` admits `postgres:17.2@sha256:...` (the same tag,
 * pinned further), and a catalog `postgres@sha256:X` admits only digest X.
 */
export function matchesCatalogEntry(image: string, entry: string): boolean {
    const a = parseImage(image);
    const b = parseImage(entry);
    if (a.kind === "id" || b.kind === "id") return a.kind === b.kind && image.trim() === entry.trim();
    if (a.kind !== "reference" || b.kind !== "reference") return false;
    if (a.ref.repository !== b.ref.repository) return false;
    if (b.ref.digest !== undefined) return a.ref.digest === b.ref.digest;
    return b.ref.tag !== undefined && a.ref.tag === b.ref.tag;
}

/** True when the image is one of the catalog's entries (see `matchesCatalogEntry`). */
export function inCatalog(image: string, catalog: readonly string[]): boolean {
    return catalog.some((entry) => matchesCatalogEntry(image, entry));
}
