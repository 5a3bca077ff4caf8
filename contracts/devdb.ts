/** The EKS objects the API runs as and creates databases through (the DevDB API's names, kept). */
export const DEVDB_NAMESPACE = "devdb";
export const DEVDB_SERVICE_ACCOUNT = "devdb";
export const DEVDB_CLUSTER_ROLE = "devdb-role";
