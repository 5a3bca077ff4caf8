import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { apiImageBuildArgs, type ApiImageBuild } from "./imageTag";

/**
 * The API image, built from the repository's Dockerfile with a content tag:
 * pushed to a registry (ECR) when one is given, else kept on the Docker host
 * (`skipPush`). One function for both platform targets, so the container
 * replicas (ApiService) and the Deployment (ApiDeployment) run the same build.
 */
export interface ApiImageArgs {
    /** How to build the image. */
    build: ApiImageBuild & {
        /** Build context: the repository root. */
        context: string;
        /** Default: `<context>/Dockerfile`. */
        dockerfile?: string;
        /** Content tag, never `latest`: `contentTag(readSourceFiles(context), apiImageBuildArgs(build))`. */
        tag: string;
        /** Default: "linux/amd64". */
        platform?: string;
        /** Network of the build's RUN steps, e.g. "host" where only the host reaches the package registries. Default: Docker's. */
        network?: string;
    };
    /** Image repository name without a registry (e.g. `dbaas-api`); ignored when `registry` is set. */
    imageName: string;
    /** Push to this registry (ECR). Default: none, the image stays on the Docker host (`skipPush`). */
    registry?: {
        /** Full repository URL, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/dbaas-api`. */
        repositoryUrl: pulumi.Input<string>;
        server: pulumi.Input<string>;
        username: pulumi.Input<string>;
        /** Registry password/token; a secret. */
        password: pulumi.Input<string>;
    };
}

/** Declares the `docker.Image` `name` (build, and push when `registry` is set). */
export function apiImage(name: string, args: ApiImageArgs, opts: pulumi.CustomResourceOptions): docker.Image {
    const repository = args.registry ? pulumi.output(args.registry.repositoryUrl) : pulumi.output(args.imageName);
    return new docker.Image(name, {
        imageName: pulumi.interpolate`${repository}:${args.build.tag}`,
        build: {
            context: args.build.context,
            dockerfile: args.build.dockerfile ?? `${args.build.context}/Dockerfile`,
            platform: args.build.platform ?? "linux/amd64",
            args: apiImageBuildArgs(args.build),
            ...(args.build.network === undefined ? {} : { network: args.build.network }),
        },
        ...(args.registry
            ? { registry: { server: args.registry.server, username: args.registry.username, password: pulumi.secret(args.registry.password) } }
            : { skipPush: true }),
    }, opts);
}
