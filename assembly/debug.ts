// The debug core: the release core's exports plus the invariant checker.
export * from "./index";
export { check } from "./check";
