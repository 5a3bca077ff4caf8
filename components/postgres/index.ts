export { PostgresInstance, type PostgresInstanceArgs } from "./PostgresInstance";
export { CatalogImages, type CatalogImagesArgs } from "./CatalogImages";
export * from "./pgConf";
export * from "./roles";
export * from "./images";
