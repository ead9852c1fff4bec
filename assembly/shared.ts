// The shared release core (`--enable threads --sharedMemory`): the release
// core's exports, plus attach for every thread after the first
// (assembly/threads.ts).
export * from "./index";
export { attach, popRemote, remoteFree, setWaiting } from "./arena";
export { lockCount } from "./threads";

/**
 * Pages of memory now, as this thread's wasm sees them: another thread's
 * growth shows here at once, while the host's `memory.buffer` may lag
 * until refreshed (src/shared-core.ts).
 */
export function memorySize(): u32 {
  return <u32>memory.size();
}
