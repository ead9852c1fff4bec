// managed-arena: a WebAssembly-backed arena allocator with managed release
// lists, modelled on the Linux kernel's devres / drm_managed.
export {
  type AllocOptions,
  Arena,
  type ArenaOptions,
  type ArenaStats,
  type Ptr,
  type ReleaseAsyncOptions,
  type ViewType,
} from "./arena.js";
export { CHECK_RULES } from "./debug.js";
export {
  ArenaError,
  type ArenaErrorCode,
  SuppressedError,
  type SuppressedErrorClass,
  type SuppressedErrorLike,
} from "./errors.js";
export { ActionHandle, GroupHandle } from "./handles.js";
export { Heap, type HeapOptions } from "./heap.js";
export type { Resource } from "./introspect.js";
export { type FreeRun, freeRuns, type MemoryMapOptions, renderMemoryMap } from "./memory-map.js";
export type { SharedHeapDescriptor } from "./shared.js";
export type { TraceEvent, TraceFunction } from "./state.js";
