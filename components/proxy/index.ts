export { NginxProxy, type NginxProxyArgs } from "./NginxProxy";
export * from "./nginxConf";
export * from "./nginxContainer";
