export { ApiService, type ApiServiceArgs } from "./ApiService";
export * from "./imageTag";
