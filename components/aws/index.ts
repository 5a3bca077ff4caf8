export { EcrRepositories, type EcrRepositoriesArgs, type PushTarget, type RegistryAuth } from "./EcrRepositories";
export { DevDbAccess, DEVDB_TOKEN_SECRET, type DevDbAccessArgs } from "./DevDbAccess";
export { eksConnection, type EksConnection, type EksProviderArgs } from "./eksProvider";
export * from "./admission";
export * from "./ecrLifecycle";
export * from "./kubeconfig";
export * from "./rbac";
