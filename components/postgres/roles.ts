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
    return grantee === "public" ? "PUBLIC" : names[grantee];
}

/** One Grant as the provider applies it: revoke everything on the objects from the role, then grant exactly `privileges`. */
export function grantSql(grant: { database: string; role: string; objectType: GrantSpec["objectType"]; schema?: string; privileges: readonly string[] }): string[] {
    const to = grant.role.toLowerCase() === "public" ? "PUBLIC" : ident(grant.role);
    const schema = ident(grant.schema ?? APP_SCHEMA);
    const on =
        grant.objectType === "database" ? `DATABASE ${ident(grant.database)}`
        : grant.objectType === "schema" ? `SCHEMA ${schema}`
        : `ALL TABLES IN SCHEMA ${schema}`;
    return [`REVOKE ALL ON ${on} FROM ${to}`, ...(grant.privileges.length === 0 ? [] : [`GRANT ${grant.privileges.join(", ")} ON ${on} TO ${to}`])];
}

/** One DefaultPrivileges resource: tables `owner` creates later in `schema` get `privileges` for `role`. */
export function defaultPrivilegeSql(d: { owner: string; role: string; schema: string; privileges: readonly string[] }): string {
    return `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(d.owner)} IN SCHEMA ${ident(d.schema)} GRANT ${d.privileges.join(", ")} ON TABLES TO ${ident(d.role)}`;
}

/**
 * SQL with the same effect as the Grant/DefaultPrivileges resources (run as
 * a superuser connected to the application database): what the provider runs
 * for each resource (grantSql, defaultPrivilegeSql).
 */
export function grantStatements(names: RoleNames): string[] {
    return [
        ...GRANTS.flatMap((g) => grantSql({ database: names.database, role: granteeSql(g.grantee, names), objectType: g.objectType, ...(g.schema === undefined ? {} : { schema: g.schema }), privileges: g.privileges })),
        ...DEFAULT_PRIVILEGES.map((d) => defaultPrivilegeSql({ owner: names[d.creator], role: names[d.grantee], schema: d.schema, privileges: d.privileges })),
    ];
}

/**
 * The image's init script (`/docker-entrypoint-initdb.d/`, run once by the
 * entrypoint as the superuser on the local socket after initdb) that makes
 * the roles, the database and the grants where no postgresql provider runs:
 * the in-cluster admin database. Passwords are read from files by psql's
 * `\set name `cat file`` so they never appear on a command line or in the
 * script, and are passed to SQL as literals (`:'name'`).
 */
export function roleInitScript(names: RoleNames, passwordFiles: { owner: string; readOnly: string }): string {
    // roleNames allows only [a-z0-9_] in names, so they are safe as psql arguments.
    const psql = (db: string, lines: readonly string[]) =>
        [`psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname ${db} <<'SQL'`, ...lines, "SQL"];
    return [
        "#!/bin/sh",
        "# Rendered by dbaas (components/postgres/roles.ts roleInitScript); runs once, at initialisation.",
        "set -eu",
        ...psql("postgres", [
            `\\set owner_password \`cat ${passwordFiles.owner}\``,
            `\\set readonly_password \`cat ${passwordFiles.readOnly}\``,
            `CREATE ROLE ${ident(names.owner)} LOGIN PASSWORD :'owner_password';`,
            `CREATE ROLE ${ident(names.readOnly)} LOGIN PASSWORD :'readonly_password';`,
            `CREATE DATABASE ${ident(names.database)} OWNER ${ident(names.owner)};`,
        ]),
        ...psql(names.database, grantStatements(names).map((sql) => `${sql};`)),
        "",
    ].join("\n");
}
