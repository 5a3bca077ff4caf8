import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { RDS_ADMIN, RDS_PARAMETERS, rdsConnectionUrl, rdsParameterFamily } from "./rdsSettings";

/**
 * The API's admin database on Amazon RDS for PostgreSQL (platform target
 * `kubernetes`): storage encrypted, never publicly accessible, in the
 * cluster's private subnets behind a security group that admits only the
 * cluster's security group on 5432, TLS forced by its parameter group,
 * automated backups, deletion protection, Multi-AZ by config, and a password
 * from `@pulumi/random` that only leaves as a secret.
 */
export interface AdminDatabaseRdsArgs {
    /** PostgreSQL major to run (the catalog default's; see `postgresMajor`). */
    major: number;
    /** VPC of the cluster (stack config `platform.rds.vpcId`). */
    vpcId: string;
    /** Private subnets of that VPC, in two or more zones (`platform.rds.subnetIds`). */
    subnetIds: readonly string[];
    /** The security group of the cluster's nodes/pods: the only source admitted on 5432. */
    clusterSecurityGroupId: pulumi.Input<string>;
    /** e.g. `db.t4g.medium` (`platform.rds.instanceClass`). */
    instanceClass: string;
    /** Initial storage in GB; storage autoscales up to `maxAllocatedStorageGb`. */
    allocatedStorageGb: number;
    maxAllocatedStorageGb: number;
    /** A standby in another zone (`platform.rds.multiAz`). */
    multiAz: boolean;
    /** Days of automated backups, 1-35 (`platform.rds.backupRetentionDays`). */
    backupRetentionDays: number;
    /** The API verifies the server's certificate (the RDS CA bundle is given to it). Default: false. */
    verifyCertificate?: boolean;
}

export class AdminDatabaseRds extends pulumi.ComponentResource {
    /** The instance's endpoint host. */
    readonly host: pulumi.Output<string>;
    /** The API's connection URL (secret). */
    readonly apiConnectionUrl: pulumi.Output<string>;

    constructor(name: string, args: AdminDatabaseRdsArgs, opts?: pulumi.ComponentResourceOptions) {
        const family = rdsParameterFamily(args.major);
        if (args.subnetIds.length < 2) throw new Error(`AdminDatabaseRds ${name}: RDS needs subnets in at least 2 availability zones, got ${args.subnetIds.length}`);
        if (!Number.isInteger(args.backupRetentionDays) || args.backupRetentionDays < 1 || args.backupRetentionDays > 35) throw new Error(`AdminDatabaseRds ${name}: backupRetentionDays must be 1-35, got ${args.backupRetentionDays}`);
        super("dbaas:aws:AdminDatabaseRds", name, {}, opts);
        const child = { parent: this };
        const stack = pulumi.getStack();

        const subnets = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: [...args.subnetIds], description: `dbaas ${stack} admin database` }, child);
        const group = new aws.ec2.SecurityGroup(`${name}-sg`, { vpcId: args.vpcId, description: `dbaas ${stack} admin database: PostgreSQL from the cluster only` }, child);
        new aws.vpc.SecurityGroupIngressRule(`${name}-from-cluster`, {
            securityGroupId: group.id,
            referencedSecurityGroupId: args.clusterSecurityGroupId,
            ipProtocol: "tcp",
            fromPort: RDS_ADMIN.port,
            toPort: RDS_ADMIN.port,
            description: "PostgreSQL from the EKS cluster",
        }, child);
        const parameters = new aws.rds.ParameterGroup(`${name}-params`, {
            family,
            description: `dbaas ${stack} admin database: TLS required`,
            parameters: RDS_PARAMETERS.map((p) => ({ ...p })),
        }, child);
        const password = new random.RandomPassword(`${name}-password`, { length: 40, special: false }, child);

        const instance = new aws.rds.Instance(`${name}-instance`, {
            engine: "postgres",
            // The major only: RDS applies minor versions itself in the maintenance window.
            engineVersion: String(args.major),
            autoMinorVersionUpgrade: true,
            instanceClass: args.instanceClass,
            allocatedStorage: args.allocatedStorageGb,
            maxAllocatedStorage: args.maxAllocatedStorageGb,
            storageType: "gp3",
            storageEncrypted: true,
            publiclyAccessible: false,
            multiAz: args.multiAz,
            dbSubnetGroupName: subnets.name,
            vpcSecurityGroupIds: [group.id],
            parameterGroupName: parameters.name,
            dbName: RDS_ADMIN.database,
            username: RDS_ADMIN.user,
            password: password.result,
            port: RDS_ADMIN.port,
            backupRetentionPeriod: args.backupRetentionDays,
            copyTagsToSnapshot: true,
            deletionProtection: true,
            skipFinalSnapshot: false,
            finalSnapshotIdentifier: `dbaas-${stack}-admin-final`,
            iamDatabaseAuthenticationEnabled: false,
            applyImmediately: false,
        }, { ...child, protect: true });

        this.host = instance.address;
        this.apiConnectionUrl = pulumi.secret(pulumi.all([instance.address, instance.port, password.result]).apply(([host, port, pw]) => rdsConnectionUrl({ host, port, password: pw, verify: args.verifyCertificate ?? false })));
        this.registerOutputs({ host: this.host });
    }
}
