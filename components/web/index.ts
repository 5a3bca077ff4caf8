export { Certificates, type CertificatesArgs } from "./Certificates";
export { NginxProxy, type NginxProxyArgs } from "./NginxProxy";
export { ApiService, type ApiServiceArgs } from "./ApiService";
export * from "./nginxConf";
export * from "./nginxContainer";
export * from "./apiEnv";
export * from "./imageTag";
