import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { VersionCatalog } from "../../contracts/catalog";
import { catalogImageNames } from "./images";

/**
 * Pulls every image of the version catalog onto the Docker host and keeps it
 * there (`keepLocally`), so creating a database never waits for a pull and
 * removing a version from the catalog does not delete an image a running
 * database still uses.
 */
export interface CatalogImagesArgs {
    /** The version catalog (config `postgres.versions`); one pull per distinct image. */
    catalog: VersionCatalog;
    /** Docker provider of the host that runs the databases. */
    dockerProvider: docker.Provider;
}

export class CatalogImages extends pulumi.ComponentResource {
    /** The catalog as JSON, as the API reads it (`parseCatalogJson`). */
    readonly catalogJson: string;
    /** Pulled image id by catalog image reference. */
    readonly imageIds: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(name: string, args: CatalogImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:postgres:CatalogImages", name, {}, opts);
        const ids: Record<string, pulumi.Output<string>> = {};
        for (const { image, resourceName } of catalogImageNames(args.catalog)) {
            // Names come from the image, not `name`, so a config edit maps to exactly one resource.
            const pulled = new docker.RemoteImage(resourceName, { name: image, keepLocally: true }, { parent: this, provider: args.dockerProvider });
            ids[image] = pulled.imageId;
        }
        this.imageIds = ids;
        this.catalogJson = JSON.stringify(args.catalog);
        this.registerOutputs({ imageIds: this.imageIds });
    }

    /** The pulled image id of a catalog image; throws for an image not in the catalog. */
    imageFor(image: string): pulumi.Output<string> {
        const id = this.imageIds[image];
        if (id === undefined) throw new Error(`image ${image} is not in the version catalog`);
        return id;
    }
}
