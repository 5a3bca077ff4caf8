/**
 * Names of the pulled catalog images. A resource is named after its image
 * reference, never its position, so adding a catalog entry adds exactly one
 * resource and removing one removes exactly that one (an index-based name
 * would rename every later entry). No Pulumi imports.
 */
import { catalogImages, type VersionCatalog } from "../../contracts/catalog";

/** `postgres:17.2` → `pg-image-postgres-17.2`; a digest is shortened to 12 hex digits. */
export function imageResourceName(ref: string): string {
    const shortened = ref.replace(/@sha256:([a-f0-9]{12})[a-f0-9]*$/, "@sha256-$1");
    return `pg-image-${shortened.replace(/[^A-Za-z0-9._-]+/g, "-")}`;
}

/** One resource name per distinct image of the catalog, in catalog order. Throws if two images map to one name. */
export function catalogImageNames(catalog: VersionCatalog): { image: string; resourceName: string }[] {
    const seen = new Map<string, string>();
    return catalogImages(catalog).map((image) => {
        const resourceName = imageResourceName(image);
        const other = seen.get(resourceName);
        if (other !== undefined) {
            throw new Error(`catalog images "${other}" and "${image}" would both be pulled as resource ${resourceName}; pin one of them differently in dbaas:postgres.versions`);
        }
        seen.set(resourceName, image);
        return { image, resourceName };
    });
}
