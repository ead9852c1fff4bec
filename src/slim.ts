// managed-arena/slim: the facade alone, with no core inlined. Heap.create and
// Arena.create take the core from their `wasm` option (the URL of
// "managed-arena/core.wasm", a Response, a WebAssembly.Module or its bytes);
// without it they throw EINVAL, unless "managed-arena" itself is loaded
// somewhere in the program (it registers the inlined release core). Every
// export of the main entry is here, and the main entry re-exports this one.
export {
  type AllocOptions,
  Arena,
  type ArenaOptions,
  type ArenaStats,
  type Ptr,
  type ReleaseAsyncOptions,
  type ViewType,
} from "./arena.js";
export type { CoreSource } from "./core.js";
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
