// The shared debug core: the shared core's exports plus the invariant checker.
export * from "./shared";
export { check } from "./check";
