/**
 * What each target hands back to the program: where and how to connect. The
 * deploy-time form of contracts/api.ts `Endpoint` (host and port are known
 * once the resources exist), plus the secret password.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Endpoint } from "../../contracts/api";

export interface DatabaseEndpoint extends Pick<Endpoint, "database" | "user"> {
    readonly host: pulumi.Output<Endpoint["host"]>;
    readonly port: pulumi.Output<Endpoint["port"]>;
    /** Secret. */
    readonly password: pulumi.Output<string>;
}
