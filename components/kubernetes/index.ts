export * from "./restricted";
