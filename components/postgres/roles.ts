/**
 * The privileges of an instance's application roles, as data. The same data
 * becomes `@pulumi/postgresql` Grant/DefaultPrivileges resources in
 * PostgresInstance and SQL statements in the real-server tests, so what is
 * tested is what is deployed. No Pulumi imports.
 *
 * - owner: owns the application database (and so everything it creates).
 * - readOnly: may connect, use schema public and SELECT its tables, including
 *   tables the owner creates later. Nothing else: no INSERT/UPDATE/DELETE,
 *   no CREATE in the schema, no TEMP tables (PUBLIC keeps only CONNECT on the
 *   database and USAGE on the schema, which also closes the CREATE that
 *   PUBLIC had on schema public before PostgreSQL 15).
 */

/** Who receives a privilege: the read-only role, or PUBLIC (every role). */
export type Grantee = "readOnly" | "public";

/** A privilege on existing objects (postgresql.Grant). */
export interface GrantSpec {
    grantee: Grantee;
    objectType: "database" | "schema" | "table";
    /** Schema the objects are in (for schema/table grants). */
    schema?: string;
    /** The complete set: anything else this grantee had on these objects is revoked. */
    privileges: readonly string[];
}

/** A privilege on objects the owner creates later (postgresql.DefaultPrivileges). */
export interface DefaultPrivilegeSpec {
    grantee: "readOnly";
    /** Objects created by this role get the privilege. */
    creator: "owner";
    objectType: "table";
    schema: string;
    privileges: readonly string[];
}

export const APP_SCHEMA = "public";

export const GRANTS: readonly GrantSpec[] = [
    { grantee: "public", objectType: "database", privileges: ["CONNECT"] },
    { grantee: "public", objectType: "schema", schema: APP_SCHEMA, privileges: ["USAGE"] },
    { grantee: "readOnly", objectType: "schema", schema: APP_SCHEMA, privileges: ["USAGE"] },
    { grantee: "readOnly", objectType: "table", schema: APP_SCHEMA, privileges: ["SELECT"] },
];

export const DEFAULT_PRIVILEGES: readonly DefaultPrivilegeSpec[] = [
    { grantee: "readOnly", creator: "owner", objectType: "table", schema: APP_SCHEMA, privileges: ["SELECT"] },
];

/** Role names of one application database. */
export interface RoleNames {
    database: string;
    owner: string;
    readOnly: string;
}

/** Role and database names derived from an application name (`app` → app_owner, app_readonly). */
export function roleNames(app: string): RoleNames {
    if (!/^[a-z][a-z0-9_]{0,40}$/.test(app)) {
        throw new Error(`application name "${app}" must be a lowercase letter followed by up to 40 lowercase letters, digits or underscores (it names the database and roles)`);
    }
    return { database: app, owner: `${app}_owner`, readOnly: `${app}_readonly` };
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function granteeSql(grantee: Grantee, names: RoleNames): string {
    return grantee === "public" ? "PUBLIC" : ident(names[grantee]);
}

/**
 * SQL with the same effect as the Grant/DefaultPrivileges resources (run as
 * a superuser connected to the application database): for each grant, revoke
 * everything on the objects from the grantee, then grant exactly the listed
 * privileges, which is what the provider does.
 */
export function grantStatements(names: RoleNames): string[] {
    const stmts: string[] = [];
    for (const g of GRANTS) {
        const to = granteeSql(g.grantee, names);
        const on =
            g.objectType === "database" ? `DATABASE ${ident(names.database)}`
            : g.objectType === "schema" ? `SCHEMA ${ident(g.schema ?? APP_SCHEMA)}`
            : `ALL TABLES IN SCHEMA ${ident(g.schema ?? APP_SCHEMA)}`;
        stmts.push(`REVOKE ALL ON ${on} FROM ${to}`);
        stmts.push(`GRANT ${g.privileges.join(", ")} ON ${on} TO ${to}`);
    }
    for (const d of DEFAULT_PRIVILEGES) {
        stmts.push(`ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(names[d.creator])} IN SCHEMA ${ident(d.schema)} GRANT ${d.privileges.join(", ")} ON TABLES TO ${ident(names[d.grantee])}`);
    }
    return stmts;
}
