/** The EKS objects the API runs as and creates databases through (the DevDB API's names, kept). */
export const DEVDB_NAMESPACE = "devdb";
export const DEVDB_SERVICE_ACCOUNT = "devdb";
export const DEVDB_CLUSTER_ROLE = "devdb-role";
/**
 * The ClusterRole that grants what devdb may do only inside one database
 * namespace (the Secrets there). It is never bound cluster-wide: the on-demand
 * program binds it in each database namespace it creates (RoleBinding of the
 * same name), so devdb reads no Secret outside the databases' namespaces.
 */
export const DEVDB_DATABASE_ROLE = "devdb-database";
