/** What each target hands back to the program: where and how to connect. */
import type * as pulumi from "@pulumi/pulumi";

export interface DatabaseEndpoint {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly database: string;
    readonly user: string;
    /** Secret. */
    readonly password: pulumi.Output<string>;
}
