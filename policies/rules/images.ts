/**
 * Image rules: every image is pinned to a build, and every PostgreSQL server
 * runs an image from the version catalog (the platform stack's
 * `postgres.versions`), so a database never runs a version nobody reviewed.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { z } from "zod";
import { inCatalog, isDigestPinned, isPostgresImage, parseImage, unpinnedReason } from "../lib/imageRef";
import { configOf, configSchemaOf, forTypes } from "../lib/policyKit";
import { resolveCatalog, stackEnvironment, type CatalogResolution } from "../lib/stackSource";
import { asString, type Props } from "../lib/values";
import {
    describeContainer, DOCKER_CONTAINER, DOCKER_IMAGE, DOCKER_REMOTE_IMAGE, isPostgresDockerContainer,
    isPostgresPodContainer, K8S_WORKLOAD_TYPES, podContainers, podSpecOf,
} from "../lib/workloads";

/** Every image string a resource names, with where it sits (for messages). */
export function imagesOf(type: string, props: Props): { where: string; image: string; postgres: boolean }[] {
    if (type === DOCKER_CONTAINER) {
        const image = asString(props.image);
        return image === undefined ? [] : [{ where: "image", image, postgres: isPostgresDockerContainer(props) }];
    }
    if (type === DOCKER_REMOTE_IMAGE) {
        const image = asString(props.name);
        return image === undefined ? [] : [{ where: "name", image, postgres: isPostgresImage(image) }];
    }
    if (type === DOCKER_IMAGE) {
        const image = asString(props.imageName);
        return image === undefined ? [] : [{ where: "imageName", image, postgres: false }];
    }
    const podSpec = podSpecOf(type, props);
    if (!podSpec) return [];
    return podContainers(podSpec).flatMap((c) =>
        c.image === undefined ? [] : [{ where: describeContainer(c), image: c.image, postgres: isPostgresPodContainer(c) }],
    );
}

const IMAGE_TYPES = [DOCKER_CONTAINER, DOCKER_REMOTE_IMAGE, DOCKER_IMAGE, ...K8S_WORKLOAD_TYPES];

export const imagesPinned: ResourceValidationPolicy = {
    name: "images-pinned",
    description: "Every image names one build: a tag other than latest, a digest, or an image ID.",
    enforcementLevel: "mandatory",
    validateResource: forTypes(IMAGE_TYPES, (props, args, report) => {
        for (const { where, image } of imagesOf(args.type, props)) {
            const reason = unpinnedReason(image);
            if (reason) report(`${where}: ${reason}. Use a fixed tag (postgres:17.2, nginx:1.27.3-alpine) or a digest.`);
        }
    }),
};

const catalogConfig = z.object({
    allowedImages: z.array(z.string()).default([])
        .describe("The version catalog's images. Empty: read the catalog from the stack config or the repository's Pulumi.<stack>.yaml files."),
});

/** The catalog a policy checks against, resolved per run (see lib/stackSource.ts). */
function catalogFor(policyName: string, raw: object): CatalogResolution {
    const { allowedImages } = configOf(policyName, catalogConfig, raw);
    return resolveCatalog(allowedImages, stackEnvironment());
}

function notInCatalog(image: string, catalog: CatalogResolution): string {
    const list = catalog.images.length > 0 ? catalog.images.join(", ") : "(empty)";
    return `"${image}" is not in the version catalog from ${catalog.source}: ${list}. Add it to postgres.versions in the platform stack config, or use a catalog image.`;
}

export const postgresImageFromCatalog: ResourceValidationPolicy = {
    name: "postgres-image-from-catalog",
    description: "PostgreSQL containers, pods and pulled images use an image from the version catalog.",
    enforcementLevel: "mandatory",
    configSchema: configSchemaOf(catalogConfig),
    validateResource: forTypes(IMAGE_TYPES, (props, args, report) => {
        // Content IDs say nothing about the repository; the stack policy
        // postgres-image-id-from-catalog resolves them through the pulled images.
        const postgres = imagesOf(args.type, props).filter((i) => i.postgres && parseImage(i.image).kind !== "id");
        if (postgres.length === 0) args.notApplicable("no PostgreSQL image by reference");
        const catalog = catalogFor(postgresImageFromCatalog.name, args.getConfig());
        for (const { where, image } of postgres) {
            if (!inCatalog(image, catalog.images)) report(`${where}: ${notInCatalog(image, catalog)}`);
        }
    }),
};

export const postgresImageIdFromCatalog: StackValidationPolicy = {
    name: "postgres-image-id-from-catalog",
    description: "A PostgreSQL container that runs an image ID runs the ID of a pulled catalog image.",
    enforcementLevel: "mandatory",
    configSchema: configSchemaOf(catalogConfig),
    validateStack: (args, report) => {
        const byId = new Map<string, string>();
        for (const r of args.resources.filter((r) => r.type === DOCKER_REMOTE_IMAGE || r.type === DOCKER_IMAGE)) {
            const name = asString(r.props.name) ?? asString(r.props.imageName);
            for (const key of ["imageId", "repoDigest"]) {
                const id = asString(r.props[key]);
                if (id !== undefined && name !== undefined) byId.set(id, name);
            }
        }
        const containers = args.resources.filter((r) => {
            if (r.type !== DOCKER_CONTAINER) return false;
            const image = asString(r.props.image);
            return image !== undefined && parseImage(image).kind === "id";
        });
        if (containers.length === 0) args.notApplicable("no Docker container runs an image ID");
        const catalog = catalogFor(postgresImageIdFromCatalog.name, args.getConfig());
        for (const c of containers) {
            const id = asString(c.props.image) ?? "";
            const name = byId.get(id);
            if (name === undefined) {
                if (isPostgresDockerContainer(c.props as Props)) {
                    report(`container "${c.name}" runs image ID ${id}, which no docker.RemoteImage of this stack pulled, so it cannot be checked against the catalog. Pull the catalog image with docker.RemoteImage and use its imageId.`, c.urn);
                }
            } else if (isPostgresImage(name) && !inCatalog(name, catalog.images)) {
                report(`container "${c.name}" runs ${name}: ${notInCatalog(name, catalog)}`, c.urn);
            }
        }
    },
};

export const imagesPinnedByDigest: ResourceValidationPolicy = {
    name: "images-pinned-by-digest",
    description: "Images are pinned by digest (or image ID), so a re-pushed tag cannot change what runs.",
    enforcementLevel: "advisory",
    validateResource: forTypes(IMAGE_TYPES, (props, args, report) => {
        for (const { where, image } of imagesOf(args.type, props)) {
            if (args.type !== DOCKER_IMAGE && unpinnedReason(image) === undefined && !isDigestPinned(image)) {
                report(`${where}: "${image}" is pinned by tag only; prefer ${image}@sha256:<digest> or a pulled image's imageId.`);
            }
        }
    }),
};

export const imagePolicies = [imagesPinned, postgresImageFromCatalog, postgresImageIdFromCatalog, imagesPinnedByDigest];
