export { NginxProxy, type NginxProxyArgs } from "./NginxProxy";
export * from "./nginxConf";
export * from "./nginxContainer";
export { NginxDeployment, type NginxDeploymentArgs } from "./NginxDeployment";
export * from "./nginxPod";
