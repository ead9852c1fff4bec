// One heap, many threads (DESIGN §7), the part the main entry leaves out: the
// shared cores, creating a shared memory, and the descriptor that carries a
// shared heap to a worker. The entries that carry it (managed-arena/shared,
// managed-arena/debug) hand it to src/shared.ts, which Heap calls.
//
// Heap.create({ shared: true }) makes the memory a SharedArrayBuffer-backed
// WebAssembly.Memory and instantiates the shared core on it (built from the
// same sources as the plain core with `--enable threads --sharedMemory`; see
// assembly/threads.ts for the heap lock and where the heap state lives).
// heap.share() returns a descriptor, a plain object of structured-cloneable
// values (the memory and the compiled module), to postMessage to a worker;
// Heap.attach(descriptor) there instantiates the same module on the same
// memory and calls the core's attach, never init: the worker's Heap uses the
// page allocator that is already in the memory.
//
// Each thread's Heap keeps its own slot table of callbacks (JS functions do
// not cross threads), so an Arena object lives and dies on the thread that
// created it: it cannot be posted to another thread (structured clone of an
// Arena fails, see test/shared.test.ts), and pointers, plain numbers, are
// what threads pass each other. A pointer of another thread's arena given
// to `arena.free` is EBADPTR, as any pointer that is not the arena's own;
// `heap.free` (src/heap.ts) frees it from any thread, queued for its owner.
//
// None of this is in the main entry (a bundle of it stays within its size
// budget, test/bundle.test.ts): `managed-arena/shared` (src/shared-entry.ts)
// registers it with the release shared core, `managed-arena/debug` with both.

import { coreImports, inflate } from "./core.js";
import { ArenaError, checkU32, describe, statusError } from "./errors.js";
import { registerShared, type SharedHeapDescriptor } from "./shared.js";

/** The raw exports the shared core has beyond the plain core's (assembly/shared.ts). @internal */
export interface SharedCoreExports {
  /** Makes this instance a thread of the heap in its memory (never init); OK or a status. */
  attach(canWait: number): number;
  /** Whether this thread may block in atomic.wait when the heap lock is taken (else it spins). */
  setWaiting(canWait: number): void;
  /** Pages of memory now (another thread's growth shows here at once). */
  memorySize(): number;
  /** How many times any thread has taken the heap lock (tests: what a loop takes it for). */
  lockCount(): number;
}

const KIND = "managed-arena/shared-heap";
/** The shared core's answer to heap.free of an allocation with a destructor. */
const EDTOR = 8;
const DESCRIPTOR_KEYS = ["kind", "memory", "module", "maxPages", "debug"];

const modules: { release?: Promise<WebAssembly.Module>; debug?: Promise<WebAssembly.Module> } = {};
let sharedWasm: string | undefined;
let sharedDebugWasm: string | undefined;

/**
 * Makes shared heaps work: the release shared core (managed-arena/shared)
 * and, from managed-arena/debug, the debug one. @internal
 */
export function installShared(release: string, debug?: string): void {
  sharedWasm ??= release;
  sharedDebugWasm ??= debug;
  registerShared({
    createSharedMemory,
    sharedModule,
    instantiateShared,
    attachCore,
    describeShared,
    readDescriptor,
    freeRemote,
  });
}

/** Whether this thread may block (Atomics.wait): not a browser's main thread. */
function threadCanBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** A shared WebAssembly.Memory, or EINVAL where the runtime has none (a page that is not cross-origin isolated). */
export function createSharedMemory(initial: number, maximum: number): WebAssembly.Memory {
  if (typeof SharedArrayBuffer !== "function") {
    throw new ArenaError(
      "EINVAL",
      "shared: this runtime has no SharedArrayBuffer (a browser page must be cross-origin isolated: COOP/COEP headers)",
    );
  }
  try {
    return new WebAssembly.Memory({ initial, maximum, shared: true });
  } catch (error) {
    throw new ArenaError("EINVAL", `shared: this runtime cannot create a shared WebAssembly.Memory (${String(error)})`);
  }
}

/** The compiled shared core, release or debug. @internal */
export function sharedModule(debug: boolean): Promise<WebAssembly.Module> {
  if (debug && sharedDebugWasm === undefined) {
    throw new ArenaError(
      "EINVAL",
      'shared: true, debug: true needs the shared debug core: load it by importing "managed-arena/debug" once (it also exports everything "managed-arena" does)',
    );
  }
  const key = debug ? "debug" : "release";
  modules[key] ??= inflate((debug ? sharedDebugWasm : sharedWasm) as string).then((bytes) =>
    WebAssembly.compile(bytes),
  );
  return modules[key];
}

/** Instantiates a shared core on `memory` and tells it whether this thread may block. @internal */
async function instantiateShared<T>(memory: WebAssembly.Memory, module: WebAssembly.Module): Promise<T> {
  const instance = await WebAssembly.instantiate(module, coreImports(memory));
  const core = instance.exports as unknown as SharedCoreExports;
  core.setWaiting(threadCanBlock() ? 1 : 0);
  freshBuffers(memory, core);
  return core as unknown as T;
}

const bufferOf = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, "buffer")?.get as (
  this: WebAssembly.Memory,
) => ArrayBuffer;

/**
 * Makes `memory.buffer` of this thread's Memory object up to date. When
 * another thread grows a shared memory, the engine tells this thread's
 * buffer late (Chromium: a worker's `memory.buffer` kept its old length
 * while the core, which sees the new size at once, handed out a pointer
 * past it), so a view of a fresh allocation could be out of range. The
 * getter compares the buffer with the core's memory.size() and refreshes it
 * (`grow(0)` refreshes the buffer) when they differ: `heap.memory.buffer`,
 * `arena.bytes` and every view the facade makes read the memory as it is.
 */
function freshBuffers(memory: WebAssembly.Memory, core: SharedCoreExports): void {
  Object.defineProperty(memory, "buffer", {
    configurable: true,
    get(): ArrayBuffer {
      const buffer = bufferOf.call(memory);
      if (buffer.byteLength === core.memorySize() * 65536) return buffer;
      memory.grow(0);
      return bufferOf.call(memory);
    },
  });
}

/** Makes the freshly instantiated core of a worker a thread of the heap in the memory. @internal */
export function attachCore(core: SharedCoreExports): void {
  const status = core.attach(threadCanBlock() ? 1 : 0);
  if (status !== 0) {
    throw statusError(status, "Heap.attach", status === 1 ? "the memory holds no initialised shared heap" : undefined);
  }
}

/**
 * heap.free(ptr) on a shared heap (src/heap.ts): the core validates `ptr`
 * under the heap lock and queues the block for its arena's owner
 * (assembly/arena.ts, remoteFree). Here, so that managed-arena/slim, which
 * loads no shared core, does not carry it. @internal
 */
export function freeRemote(core: { remoteFree?(ptr: number): number }, ptr: number): void {
  checkU32(ptr, "ptr");
  const status = (core.remoteFree as (ptr: number) => number)(ptr);
  if (status === 0) return;
  const at = `heap.free(0x${ptr.toString(16)})`;
  if (status === EDTOR) {
    throw new ArenaError(
      "EINVAL",
      `${at}: the allocation has a destructor (onRelease); only its arena's thread may free it, with arena.free`,
    );
  }
  throw new ArenaError(
    "EBADPTR",
    `${at}: not the start of a live allocation of any arena of this heap (freed, queued already, interior or foreign)`,
  );
}

/** The descriptor of a shared heap. @internal */
export function describeShared(
  memory: WebAssembly.Memory,
  module: WebAssembly.Module,
  maxPages: number,
  debug: boolean,
): SharedHeapDescriptor {
  return { kind: KIND, memory, module, maxPages, debug };
}

/** Validates what Heap.attach was given (EINVAL for anything heap.share() would not have made). @internal */
export function readDescriptor(descriptor: unknown): SharedHeapDescriptor {
  if (typeof descriptor !== "object" || descriptor === null || Array.isArray(descriptor)) {
    throw new ArenaError(
      "EINVAL",
      `Heap.attach: the descriptor must be what heap.share() returned, got ${describe(descriptor)}`,
    );
  }
  const own = descriptor as Record<string, unknown>;
  for (const key of Object.keys(own)) {
    if (!DESCRIPTOR_KEYS.includes(key))
      throw new ArenaError("EINVAL", `Heap.attach: unknown descriptor field ${JSON.stringify(key)}`);
  }
  const get = (key: string): unknown => (Object.hasOwn(own, key) ? own[key] : undefined);
  if (get("kind") !== KIND) {
    throw new ArenaError(
      "EINVAL",
      `Heap.attach: the descriptor's kind must be ${JSON.stringify(KIND)}, got ${describe(get("kind"))}`,
    );
  }
  const memory = get("memory");
  if (!(memory instanceof WebAssembly.Memory) || !isShared(memory)) {
    throw new ArenaError(
      "EINVAL",
      `Heap.attach: the descriptor's memory must be a shared WebAssembly.Memory, got ${describe(memory)}`,
    );
  }
  const module = get("module");
  if (!(module instanceof WebAssembly.Module) || !WebAssembly.Module.exports(module).some((e) => e.name === "attach")) {
    throw new ArenaError(
      "EINVAL",
      `Heap.attach: the descriptor's module must be the shared core, got ${describe(module)}`,
    );
  }
  const maxPages = checkU32(get("maxPages"), "maxPages");
  if (maxPages < 1 || maxPages > 65536)
    throw new ArenaError("EINVAL", `Heap.attach: maxPages must be in 1..65536, got ${maxPages}`);
  const debug = get("debug");
  if (typeof debug !== "boolean")
    throw new ArenaError("EINVAL", `Heap.attach: debug must be a boolean, got ${describe(debug)}`);
  const hasCheck = WebAssembly.Module.exports(module).some((e) => e.name === "check");
  if (hasCheck !== debug)
    throw new ArenaError("EINVAL", "Heap.attach: the descriptor's debug does not match its module");
  return { kind: KIND, memory, module, maxPages, debug };
}

/** Whether `memory` is shared (its buffer a SharedArrayBuffer). */
export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === "function" && memory.buffer instanceof SharedArrayBuffer;
}
