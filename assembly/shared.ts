// The shared release core (`--enable threads --sharedMemory`): the release
// core's exports, plus attach for every thread after the first
// (assembly/threads.ts).
export * from "./index";
export { attach, setWaiting } from "./arena";
