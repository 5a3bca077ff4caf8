export { ApiService, type ApiServiceArgs } from "./ApiService";
export * from "./imageTag";
export { ApiDeployment, type ApiDeploymentArgs } from "./ApiDeployment";
export { apiImage, type ApiImageArgs } from "./apiImage";
export * from "./apiPod";
