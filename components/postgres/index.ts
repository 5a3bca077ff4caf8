export { PostgresInstance, type PostgresInstanceArgs } from "./PostgresInstance";
export { AdminDatabaseInCluster, ADMIN_DB_NAME, type AdminDatabaseInClusterArgs } from "./AdminDatabaseInCluster";
export { CatalogImages, type CatalogImagesArgs } from "./CatalogImages";
export * from "./pgConf";
export * from "./roles";
export * from "./images";
