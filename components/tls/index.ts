export { StackCa, type StackCaArgs } from "./StackCa";
export { ServerCertificate, type ServerCertificateArgs } from "./ServerCertificate";
export * from "./certificatePolicy";
export { Certificates, type CertificatesArgs } from "./Certificates";
