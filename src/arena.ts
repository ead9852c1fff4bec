// The Arena: the public face of one arena record in the core. Every argument
// is validated here before it crosses into wasm (JS→wasm conversion wraps:
// 2**32 + 16 would arrive as 16), hot paths call the raw exports, and every
// release (release, reset, releaseGroup, releaseAsync) is driven from JS one
// callback node at a time, so an action's exception can never unwind
// through wasm frames in the middle of an update.

import type { CoreExports } from "./core.js";
import {
  ArenaError,
  chainError,
  checkU32,
  describe,
  functionName,
  isU32,
  STATUS_LIMIT,
  SuppressedError,
  shownName,
  statusError,
  withArticle,
} from "./errors.js";
import { arenaError, heapError } from "./failures.js";
import type { GrowthWatch } from "./growth.js";
import { ActionHandle, type Callback, ChildLink, Destructor, GroupHandle, Kind, nextGeneration } from "./handles.js";
import { HEAP_OPTIONS, Heap, type HeapOptions, type Inherited } from "./heap.js";
import { type Resource, reportOf, resourcesOf, Word } from "./introspect.js";
import { readOptions, type Snapshot } from "./options.js";
import { ArenaState, type TraceEvent, type TraceFunction } from "./state.js";

/** A byte offset into `heap.memory.buffer` where an allocation's payload starts. */
export type Ptr = number & {
  /** Type-level only: marks numbers that came from an allocation. */
  readonly __brand: "managed-arena.Ptr";
};

/** Options of {@link Heap.createArena}, {@link Arena.createChild} and {@link Arena.create}. */
export interface ArenaOptions {
  /** Shown in messages, traces and reports; default "arena". */
  name?: string;
  /** Alignment of every payload: a power of two in 8..4096; default 16. */
  minAlign?: number;
  /** Bound on `liveBytes`, the sum of requested sizes of live allocations; default 2^32-1. Past it: ENOMEM. */
  maxBytes?: number;
  /** Called for every node added, removed without running, or released; default: the heap's (or the parent's). */
  trace?: TraceFunction;
  /** Fill freed payloads with 0x6b and fresh non-zeroed ones with 0x5a; default: the heap's (or the parent's). */
  poison?: boolean;
  /**
   * A debugging aid, as AddressSanitizer's quarantine: bytes of freed
   * allocations to hold back from reuse (a u32; default: the heap's or the
   * parent's, else 0 = off). A freed block (by free, a realloc that moves,
   * a destructor's free, a group release) waits in a first-in first-out
   * queue, counting its size plus 16 bytes; once more than this many bytes
   * wait, the oldest are reused again. While a block waits, a stale
   * pointer to it is EBADPTR everywhere (a double free after the memory was
   * reused is caught instead of freeing the new owner). Held blocks count in
   * `reservedBytes`, not in `liveBytes`, and are held even when the heap
   * runs out of memory; a block counting more than the limit is not held.
   * `release()` and `reset()` drop them with the rest.
   */
  quarantine?: number;
}

/** A constructor {@link Arena.view} accepts: any TypedArray's. */
export type ViewType =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/**
 * The constructors view() takes, DataView included, and Float16Array where
 * the runtime has it. Checked by identity: a subclass or a look-alike could
 * read memory in ways the bounds below do not cover.
 */
const VIEW_TYPES: ReadonlySet<unknown> = new Set<unknown>(
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
    (globalThis as { Float16Array?: unknown }).Float16Array,
    DataView,
  ].filter((type) => type !== undefined),
);

/** Options of {@link Arena.alloc}. */
export interface AllocOptions {
  /** Alignment of the payload: a power of two in 1..4096; the arena's `minAlign` when smaller. */
  align?: number;
  /** Zero-fill the payload (freshly grown memory is zero, reused memory is not). */
  zero?: boolean;
  /** A name for traces and reports; default "alloc". */
  name?: string;
  /** A destructor, run with the pointer still valid when the allocation is freed or released. */
  onRelease?: (ptr: Ptr) => unknown;
}

/** Counters of one arena, exact after every operation. */
export interface ArenaStats {
  /** Live allocations. */
  allocations: number;
  /** Registered actions (destructors not included). */
  actions: number;
  /** Groups still marked, open or closed. */
  groups: number;
  /** Child arenas registered. */
  children: number;
  /** Sum of the requested sizes of live allocations. */
  liveBytes: number;
  /** Highest `liveBytes` seen. */
  peakBytes: number;
  /** Bytes of linear memory held by the arena's chunks. */
  reservedBytes: number;
}

/** The names {@link ArenaOptions} may have. */
const ARENA_OPTIONS = ["name", "minAlign", "maxBytes", "trace", "poison", "quarantine"] as const;
const ALLOC_OPTIONS = ["align", "zero", "name", "onRelease"] as const;

const HEADER = 16;
const META_DTOR = 1 << 14;
/** The core's answer to free() of an allocation whose destructor must run first. */
const EDTOR = 8;
/**
 * The shared core's answer when other threads queued frees for the arena
 * (heap.free): from free, the block is freed, now drain them; from alloc,
 * nothing was done, drain and call again (see drainRemote).
 */
const EDRAIN = 9;
const MAX_ALIGN = 4096;
const LIVE = 0;
const RELEASING = 1;
const RELEASED = 2;
/** What use()/useAsync() registered: the value and its dispose method, read once. */
interface UsedValue {
  value: unknown;
  method: (this: unknown) => unknown;
  /** A sync [Symbol.dispose] taken by useAsync: its result is not awaited. */
  dropResult: boolean;
}

/** The action use() registers: the dispose method, called on its value. */
function callDispose(used: UsedValue): unknown {
  const result = used.method.call(used.value);
  return used.dropResult ? undefined : result;
}

/** The action defer() registers: DisposableStack calls onDispose with no arguments. */
function callWithoutArguments(onDispose: () => unknown): unknown {
  return onDispose();
}

/** Bits of Arena.slow: why alloc/free cannot take their fast path. */
const SLOW_RELEASED = 1;
const SLOW_TRACE = 2;
const SLOW_NAMES = 4;
/** The heap has onGrow: alloc looks for growth after the core returns (allocWatched, src/growth.ts). */
const SLOW_GROW = 8;

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the string strdup() copied, not a byte order mark to drop.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** An align that is a power of two in min..4096, or EINVAL. */
function checkAlign(value: unknown, what: string, min: number): number {
  if (!isU32(value) || value < min || value > MAX_ALIGN || (value & (value - 1)) !== 0) {
    throw new ArenaError("EINVAL", `${what} must be a power of two in ${min}..${MAX_ALIGN}, got ${describe(value)}`);
  }
  return value;
}

function checkName(value: unknown, what: string): string | undefined {
  if (value !== undefined && typeof value !== "string") {
    throw new ArenaError("EINVAL", `${what} must be a string, got ${describe(value)}`);
  }
  return value;
}

function checkFunction<T>(value: T, what: string): T {
  if (typeof value !== "function") throw new ArenaError("EINVAL", `${what} must be a function, got ${describe(value)}`);
  return value;
}

function checkBoolean(value: unknown, what: string): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    throw new ArenaError("EINVAL", `${what} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** The `then` property of an object or function (undefined for other values); may throw (a getter). */
function thenOf(value: unknown): unknown {
  return (typeof value === "object" || typeof value === "function") && value !== null
    ? (value as { then?: unknown }).then
    : undefined;
}

function hex(ptr: number): string {
  return `0x${ptr.toString(16)}`;
}

/** Options of {@link Arena.releaseAsync}. */
export interface ReleaseAsyncOptions {
  /** When it aborts, stop awaiting actions' promises (the one pending counts as having thrown `signal.reason`). */
  signal?: AbortSignal;
}

const RELEASE_ASYNC_OPTIONS = ["signal"] as const;

/** The signal of one releaseAsync and whether a promise has been given up on (its reason is thrown once). */
interface Abort {
  readonly signal: AbortSignal;
  gaveUp: boolean;
}

/**
 * `await`s an action's result in releaseAsync, unless `abort` says to give
 * up: the first promise given up on (still pending when the signal aborts,
 * or returned after it did) rejects with `signal.reason`; later ones are not
 * awaited at all. Their own later rejections are dropped: nobody waits for
 * them any more.
 */
async function awaitUnlessAborted(value: unknown, abort: Abort | undefined): Promise<unknown> {
  if (abort === undefined || typeof thenOf(value) !== "function") return value;
  const promise = Promise.resolve(value);
  const signal = abort.signal;
  const giveUp = () => {
    promise.catch(() => {});
    if (abort.gaveUp) return undefined;
    abort.gaveUp = true;
    throw signal.reason;
  };
  if (signal.aborted) return giveUp();
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const first = await Promise.race([promise.then((result) => ({ result })), aborted]);
    return first === undefined ? giveUp() : first.result;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** What a release collected from the actions it ran. */
interface Outcome {
  thrown: unknown;
  hasThrown: boolean;
}

/**
 * An owner of allocations and release actions, like the kernel's managed
 * resources of a device (`devres`, `drm_managed`). Releasing it runs every
 * action newest-first and frees every byte at once.
 */
export class Arena {
  /** The heap whose memory holds this arena's nodes. */
  readonly heap: Heap;
  /** The name given at creation. */
  readonly name: string;
  /** @internal */ readonly state: ArenaState;
  /** @internal */ parentLink: ChildLink | undefined;
  private readonly record: number;
  private readonly core: CoreExports;
  private readonly trace: TraceFunction | undefined;
  private readonly poison: boolean;
  private readonly quarantine: number;
  private life = LIVE;
  /**
   * 0 on the hot path; else SLOW_* bits. One field read tells alloc and
   * free whether they may go straight to wasm.
   */
  private slow: number;
  /** The core's alloc, free and addAction, held directly: one property load less per call. */
  private readonly wasmAlloc: CoreExports["alloc"];
  private readonly wasmFree: CoreExports["free"];
  private readonly wasmAddAction: CoreExports["addAction"];
  private refs = 1;
  /** releaseGroup walks under way; reset waits for them. */
  private unwinding = 0;
  /**
   * Counts resets and teardowns. A destructor that resets or releases its
   * own arena has had its block returned with the chunks: then the block
   * must not be dropped again when the destructor returns.
   */
  private epoch = 0;
  /** free() destructors running; with `unwinding`, a teardown asked for meanwhile waits for them. */
  private freeing = 0;
  /** release() was called while a destructor, a group walk or a reset was running: tear down when they return. */
  private deferred = false;
  /** reset() is running its actions: a reference they drop still counts, and the last one waits for the reset. */
  private resetting = false;
  /** Payloads whose destructor is running: not live for free(), but sizeOf and bytes still read them. */
  private dying: Set<number> | undefined;
  /** Open groups, oldest first: closeGroup() closes the last. */
  private openGroups: GroupHandle[] = [];
  /** drainRemote() is running: a free it makes that answers EDRAIN does not start another. */
  private drainingRemote = false;

  private constructor(
    heap: Heap,
    state: ArenaState,
    trace: TraceFunction | undefined,
    poison: boolean,
    quarantine: number,
  ) {
    this.heap = heap;
    this.state = state;
    this.record = state.record;
    this.core = heap.core;
    this.name = state.name;
    this.trace = trace;
    this.poison = poison;
    this.quarantine = quarantine;
    this.slow = (trace === undefined ? 0 : SLOW_TRACE) | (heap.growth === undefined ? 0 : SLOW_GROW);
    this.wasmAlloc = heap.core.alloc;
    this.wasmFree = heap.core.free;
    this.wasmAddAction = heap.core.addAction;
  }

  /** Creates an arena on a private heap (options of both {@link Heap.create} and {@link Heap.createArena}). */
  static async create(options?: HeapOptions & ArenaOptions): Promise<Arena> {
    const all = readOptions(options, "options", [...new Set([...HEAP_OPTIONS, ...ARENA_OPTIONS])]);
    const { name, minAlign, maxBytes, ...heapOptions } = all;
    const heap = await Heap.fromSnapshot(heapOptions);
    // Through createArena, as any arena of a heap is made (tools such as `inspect` watch it); the
    // object it reads is this snapshot, not the caller's options.
    return heap.createArena({ name, minAlign, maxBytes } as ArenaOptions);
  }

  /** @internal Use {@link Heap.createArena}. */
  static onHeap(heap: Heap, options: unknown, inherited: Inherited): Arena {
    // Without options, no snapshot: its reads are dictionary lookups, a third of creating an arena.
    const snapshot = options === undefined ? undefined : readOptions(options, "options", ARENA_OPTIONS);
    return Arena.fromSnapshot(heap, snapshot, inherited);
  }

  /** An arena from options already read once (see src/options.ts), or none. */
  private static fromSnapshot(
    heap: Heap,
    options: Snapshot<(typeof ARENA_OPTIONS)[number]> | undefined,
    inherited: Inherited,
  ): Arena {
    const name = checkName(options?.name, "name") ?? "arena";
    const minAlign = options?.minAlign === undefined ? 16 : checkAlign(options.minAlign, "minAlign", 8);
    const maxBytes = options?.maxBytes === undefined ? 0xffffffff : checkU32(options.maxBytes, "maxBytes");
    const trace =
      options?.trace === undefined ? inherited.trace : checkFunction(options.trace as TraceFunction, "trace");
    const poison = checkBoolean(options?.poison, "poison") ?? inherited.poison ?? false;
    const quarantine =
      options?.quarantine === undefined ? (inherited.quarantine ?? 0) : checkU32(options.quarantine, "quarantine");
    const record = heap.core.createArena(31 - Math.clz32(minAlign), maxBytes, poison ? 2 : 0) >>> 0;
    if (record < STATUS_LIMIT) throw heapError(heap, record, `createArena(${JSON.stringify(name)})`);
    if (quarantine !== 0) heap.core.setQuarantine(record, quarantine);
    const state = new ArenaState(heap, record, name, trace);
    const arena = new Arena(heap, state, trace, poison, quarantine);
    heap.watch(arena, state);
    return arena;
  }

  /** True once the arena has been torn down (its last reference released). */
  get released(): boolean {
    return this.life === RELEASED;
  }

  // ---- allocations ---------------------------------------------------------

  /**
   * Allocates `size` bytes (0 gives a unique, freeable pointer) aligned to
   * max(`align`, `minAlign`). With `onRelease`, the destructor runs when the
   * allocation is freed or released. Kernel analogue: `drmm_kmalloc`,
   * `devres_alloc(release, size)`.
   */
  alloc(size: number, options?: AllocOptions): Ptr {
    if (options !== undefined || (this.slow & (SLOW_RELEASED | SLOW_TRACE | SLOW_GROW)) !== 0) {
      return options === undefined && (this.slow & (SLOW_RELEASED | SLOW_TRACE)) === 0
        ? this.allocWatched(size)
        : this.allocWith(size, options);
    }
    if (typeof size !== "number" || size >>> 0 !== size) checkU32(size, "size");
    let ptr = this.wasmAlloc(this.record, size, 1, 0) >>> 0;
    if (ptr < STATUS_LIMIT) {
      if (ptr === EDRAIN) ptr = this.allocDrained(size, 1, 0);
      if (ptr < STATUS_LIMIT) throw arenaError(this.state, ptr, `alloc(${size})`, { size });
    }
    return ptr as Ptr;
  }

  /** alloc() without options on a heap with onGrow: the straight path, then a look for growth. */
  private allocWatched(size: number): Ptr {
    if (typeof size !== "number" || size >>> 0 !== size) checkU32(size, "size");
    const ptr = this.wasmAlloc(this.record, size, 1, 0) >>> 0;
    if (ptr < STATUS_LIMIT) throw arenaError(this.state, ptr, `alloc(${size})`, { size });
    (this.heap.growth as GrowthWatch).notice();
    return ptr as Ptr;
  }

  /** alloc() with options or tracing: the general path. */
  private allocWith(size: number, options: AllocOptions | undefined): Ptr {
    if (this.life === RELEASED) throw this.releasedError();
    checkU32(size, "size");
    let align = 1;
    let zero = 0;
    let name: string | undefined;
    let onRelease: ((ptr: Ptr) => unknown) | undefined;
    if (options !== undefined) {
      const read = readOptions(options, "options", ALLOC_OPTIONS);
      if (read.align !== undefined) align = checkAlign(read.align, "align", 1);
      zero = checkBoolean(read.zero, "zero") ? 1 : 0;
      name = checkName(read.name, "name");
      if (read.onRelease !== undefined) onRelease = checkFunction(read.onRelease as (ptr: Ptr) => unknown, "onRelease");
    }
    let ptr =
      onRelease === undefined
        ? this.core.alloc(this.record, size, align, zero) >>> 0
        : this.allocWithDestructor(size, align, zero, onRelease);
    if (ptr === EDRAIN) ptr = this.allocDrained(size, align, zero);
    if (ptr < STATUS_LIMIT) throw arenaError(this.state, ptr, `alloc(${size})`, { size });
    if (name !== undefined) {
      this.state.names ??= new Map();
      this.state.names.set(ptr, name);
      this.slow |= SLOW_NAMES;
    }
    if (this.trace !== undefined) this.emit("add", "alloc", name ?? "alloc", size, ptr);
    this.heap.growth?.notice();
    return ptr as Ptr;
  }

  /** Allocates `size` zero-filled bytes, also when the memory is reused. Kernel analogue: `drmm_kzalloc`. */
  allocZeroed(size: number): Ptr {
    if (this.trace !== undefined) return this.alloc(size, { zero: true });
    if (this.life === RELEASED) throw this.releasedError();
    checkU32(size, "size");
    let ptr = this.core.alloc(this.record, size, 1, 1) >>> 0;
    if (ptr === EDRAIN) ptr = this.allocDrained(size, 1, 1);
    if (ptr < STATUS_LIMIT) throw arenaError(this.state, ptr, `allocZeroed(${size})`, { size });
    this.heap.growth?.notice();
    return ptr as Ptr;
  }

  /** Allocates `count * size` bytes; EOVERFLOW when the product exceeds 2^32-1. Kernel analogue: `drmm_kcalloc`. */
  allocArray(count: number, size: number, options?: { zero?: boolean }): Ptr {
    if (this.life === RELEASED) throw this.releasedError();
    checkU32(count, "count");
    checkU32(size, "size");
    const zero = checkBoolean(readOptions(options, "options", ["zero"]).zero, "zero") ? 1 : 0;
    let ptr = this.core.allocArray(this.record, count, size, 1, zero) >>> 0;
    if (ptr === EDRAIN) ptr = this.allocDrained(count * size, 1, zero);
    if (ptr < STATUS_LIMIT) throw arenaError(this.state, ptr, `allocArray(${count}, ${size})`, { size: count * size });
    if (this.trace !== undefined) this.emit("add", "alloc", "alloc", count * size, ptr);
    this.heap.growth?.notice();
    return ptr as Ptr;
  }

  /** Copies bytes into a new allocation of exactly their length. Kernel analogue: `kmemdup`. */
  dup(source: ArrayBufferView | ArrayBuffer): Ptr {
    if (this.life === RELEASED) throw this.releasedError();
    const isBuffer = source instanceof ArrayBuffer;
    if (!isBuffer && !ArrayBuffer.isView(source)) {
      throw new ArenaError("EINVAL", `dup needs an ArrayBuffer or a view, got ${describe(source)}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = isBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    } catch {
      // Only a detached buffer refuses a view; an arena.bytes() view is detached once memory grows.
      throw new ArenaError("EINVAL", `dup: the ${isBuffer ? "ArrayBuffer" : "view's buffer"} is detached`);
    }
    // A view of this heap's own memory would be detached if alloc grows memory: copy it out first.
    if (bytes.buffer === this.heap.memory.buffer) bytes = bytes.slice();
    const ptr = this.alloc(bytes.byteLength);
    new Uint8Array(this.heap.memory.buffer, ptr, bytes.byteLength).set(bytes);
    return ptr;
  }

  /** Copies a string as UTF-8 plus a NUL byte. Kernel analogue: `kstrdup`. */
  strdup(text: string): Ptr {
    if (this.life === RELEASED) throw this.releasedError();
    if (typeof text !== "string") throw new ArenaError("EINVAL", `strdup needs a string, got ${describe(text)}`);
    const bytes = encoder.encode(text);
    const ptr = this.alloc(bytes.length + 1);
    const view = new Uint8Array(this.heap.memory.buffer, ptr, bytes.length + 1);
    view.set(bytes);
    view[bytes.length] = 0;
    return ptr;
  }

  /** Reads UTF-8 from an allocation up to its first NUL byte (or its end). */
  readString(ptr: Ptr): string {
    const size = this.heap.u32()[(this.nodeOf(ptr, "readString") >>> 2) + Word.NodeSize];
    const view = new Uint8Array(this.heap.memory.buffer, ptr, size);
    const end = view.indexOf(0);
    return decoder.decode(end < 0 ? view : view.subarray(0, end));
  }

  /**
   * Resizes an allocation, keeping its contents up to the smaller size, its
   * alignment, its destructor and its place in release order; may move it.
   * Kernel analogue: `devm_krealloc`.
   */
  realloc(ptr: Ptr, size: number): Ptr {
    if (this.life === RELEASED) throw this.releasedError();
    checkU32(ptr, "ptr");
    checkU32(size, "size");
    const moved = this.core.realloc(this.record, ptr, size) >>> 0;
    if (moved < STATUS_LIMIT) throw arenaError(this.state, moved, `realloc(${hex(ptr)}, ${size})`, { ptr, size });
    if (moved !== ptr) this.moved(ptr, moved);
    this.heap.growth?.notice();
    return moved as Ptr;
  }

  /**
   * Frees one allocation now, in O(1), running its destructor first if it
   * has one. Anything that is not the start of a live allocation of this
   * arena (double free, interior, foreign) is EBADPTR and changes nothing.
   * Kernel analogue: `drmm_kfree`.
   */
  free(ptr: Ptr): void {
    if (this.slow !== 0) {
      this.freeSlow(ptr);
      return;
    }
    if (typeof ptr !== "number" || ptr >>> 0 !== ptr) checkU32(ptr, "ptr");
    const status = this.wasmFree(this.record, ptr);
    if (status !== 0) {
      if (status !== EDTOR) {
        // Freed; other threads queued frees for this arena (heap.free): apply them now.
        if (status === EDRAIN) {
          this.drainRemote();
          return;
        }
        throw arenaError(this.state, status, `free(${hex(ptr)})`, { ptr });
      }
      this.destroy(ptr);
    }
  }

  /** free() when released, traced or with named allocations. */
  private freeSlow(ptr: number): void {
    if (this.life === RELEASED) throw this.releasedError();
    if (typeof ptr !== "number" || ptr >>> 0 !== ptr) checkU32(ptr, "ptr");
    if (this.trace !== undefined) {
      this.freeTraced(ptr);
      return;
    }
    const status = this.core.free(this.record, ptr);
    if (status !== 0 && status !== EDRAIN) {
      if (status !== EDTOR) throw arenaError(this.state, status, `free(${hex(ptr)})`, { ptr });
      this.destroy(ptr);
      return;
    }
    if (this.state.names !== undefined) this.state.names.delete(ptr);
    if (status === EDRAIN) this.drainRemote();
  }

  /**
   * Shared heaps: frees the allocations other threads (or this one) queued
   * for this arena with heap.free, each as free() would (traced, its name
   * forgotten), newest queued first. Runs at the arena's next alloc, free,
   * release, reset, releaseGroup, stats or resources; the core tells alloc
   * and free (EDRAIN) without costing their straight paths anything.
   */
  private drainRemote(): void {
    if (this.core.popRemote === undefined || this.drainingRemote || this.life === RELEASED) return;
    this.drainingRemote = true;
    try {
      this.freeQueued();
    } finally {
      this.drainingRemote = false;
    }
    // A release() by a tracer of the drain waited for it, as one by a destructor waits for free().
    const outcome = this.settle({ thrown: undefined, hasThrown: false });
    if (outcome.hasThrown) throw outcome.thrown;
  }

  /**
   * drainRemote() for a call that goes on using the arena afterwards (alloc,
   * releaseGroup, reset, stats, resources): ERELEASED if the arena is
   * released, also by a tracer's release() that the drain let take effect.
   */
  private drainRemoteLive(): void {
    this.drainRemote();
    if (this.life === RELEASED) throw this.releasedError();
  }

  /**
   * Pops the arena's remote-free stack until it is empty (which clears the
   * core's flag), freeing each block; stops if a tracer released the arena
   * meanwhile (its record may be another arena's by the next pop).
   */
  private freeQueued(): void {
    const pop = this.core.popRemote as (record: number) => number;
    while (this.life !== RELEASED) {
      const ptr = pop(this.record) >>> 0;
      if (ptr === 0) return;
      this.freeSlow(ptr);
    }
  }

  /**
   * After the core's alloc answered EDRAIN (nothing done): drains the frees
   * queued by heap.free and allocates again (a method of its own, so that
   * alloc() itself holds no closure). An alloc made during a drain (by a
   * tracer it calls) pops the queue itself: drainRemote() would return at
   * once, and the core answers EDRAIN until the stack is popped empty, so
   * waiting for the outer drain would spin for as long as blocks keep coming.
   */
  private allocDrained(size: number, align: number, zero: number): number {
    let result = EDRAIN;
    while (result === EDRAIN) {
      // release() is deferred during a drain, so only the outer drain can leave the arena released.
      if (this.drainingRemote) this.freeQueued();
      else this.drainRemoteLive();
      result = this.core.alloc(this.record, size, align, zero) >>> 0;
    }
    return result;
  }

  /** The requested size of a live allocation. */
  sizeOf(ptr: Ptr): number {
    return this.heap.u32()[(this.nodeOf(ptr, "sizeOf") >>> 2) + Word.NodeSize];
  }

  /**
   * A fresh `Uint8Array` over an allocation's first `length` bytes (default:
   * all of it). It goes stale (length 0) when memory grows, unless the heap
   * is `resizable`: take a new one after any call that may allocate, or in
   * the heap's `onGrow`.
   */
  bytes(ptr: Ptr, length?: number): Uint8Array {
    const size = this.heap.u32()[(this.nodeOf(ptr, "bytes") >>> 2) + Word.NodeSize];
    if (length !== undefined) {
      checkU32(length, "length");
      if (length > size) throw new ArenaError("EINVAL", `length ${length} exceeds the allocation's size ${size}`);
    }
    return new Uint8Array(this.heap.memory.buffer, ptr, length ?? size);
  }

  /**
   * A fresh typed view of an allocation: `Type` (default Uint8Array) over
   * its first `length` elements (default: as many whole elements as it
   * holds), or a DataView over its first `length` bytes. Bounds are checked
   * (EINVAL past the allocation), and so is `Type` (a TypedArray
   * constructor or DataView, EINVAL otherwise). No alignment can fail:
   * every payload is aligned to at least 8 bytes (minAlign is 8 or more),
   * the largest element there is. Like bytes(), it goes stale (length 0)
   * when memory grows, unless the heap is `resizable`.
   */
  view(ptr: Ptr): Uint8Array;
  view<T extends ViewType>(ptr: Ptr, Type: T, length?: number): InstanceType<T>;
  view(ptr: Ptr, Type: DataViewConstructor, length?: number): DataView;
  view(ptr: Ptr, Type: ViewType | DataViewConstructor = Uint8Array, length?: number): ArrayBufferView {
    const size = this.heap.u32()[(this.nodeOf(ptr, "view") >>> 2) + Word.NodeSize];
    if (!VIEW_TYPES.has(Type)) {
      throw new ArenaError("EINVAL", `view: Type must be a TypedArray constructor or DataView, got ${describe(Type)}`);
    }
    const unit = Type === DataView ? 1 : (Type as ViewType).BYTES_PER_ELEMENT;
    if (length !== undefined) {
      checkU32(length, "length");
      if (length * unit > size) {
        throw new ArenaError(
          "EINVAL",
          `view: ${length} x ${unit} bytes (${Type.name}) exceeds the allocation's size ${size}`,
        );
      }
    }
    // Every TypedArray constructor and DataView take (buffer, byteOffset, length): one shape for the union.
    const Make = Type as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;
    return new Make(this.heap.memory.buffer, ptr, length ?? Math.floor(size / unit));
  }

  // ---- actions -------------------------------------------------------------

  /**
   * Registers `action(data)` to run when the arena releases, newest first.
   * Returns a handle for removeAction/releaseAction/hasAction. The default
   * name is `action.name`. Kernel analogue: `drmm_add_action`. Typed so
   * that `data` must be given, of the action's parameter type, whenever the
   * action takes a parameter it does not mark optional.
   */
  add(action: () => unknown, data?: undefined, name?: string): ActionHandle;
  add<T>(action: (data: T) => unknown, data: T, name?: string): ActionHandle;
  add<T>(action: (data: T) => unknown, data?: T, name?: string): ActionHandle {
    if (this.life === RELEASED) throw this.releasedError();
    if (typeof action !== "function") checkFunction(action, "action");
    if (name !== undefined && typeof name !== "string") checkName(name, "name");
    // Traced, the name is fixed before anything is registered, so add and rel events agree.
    const label = this.trace === undefined ? name : (name ?? functionName(action));
    const heap = this.heap;
    const free = heap.freeSlots;
    const reuse = free.length > 0;
    const slot = reuse ? free[free.length - 1] : heap.slots.length;
    const node = this.wasmAddAction(this.record, slot) >>> 0;
    if (node < STATUS_LIMIT) throw arenaError(this.state, node, `add(${shownName(name ?? functionName(action))})`);
    if (reuse) free.pop();
    // The action goes into the heap's columns, not into an object the table keeps (src/handles.ts).
    if (slot >= heap.actionGenerations.length) heap.extendColumns(slot);
    const generation = nextGeneration();
    const state = this.state;
    heap.slots[slot] = state.actionTag;
    heap.actionFns[slot] = action as (data: never) => unknown;
    heap.actionData[slot] = data;
    heap.actionLabels[slot] = label;
    heap.actionGenerations[slot] = generation;
    const handle = new ActionHandle(state, slot, generation, node, action as (data: never) => unknown, data, label);
    if (this.trace !== undefined) this.emit("add", "action", handle.name, 0, undefined);
    heap.growth?.notice();
    return handle;
  }

  /**
   * Like {@link Arena.add}, but when registering fails it runs `action(data)`
   * at once and rethrows the error (if the action throws too, a
   * SuppressedError of both). Kernel analogue: `drmm_add_action_or_reset`.
   */
  addOrReset(action: () => unknown, data?: undefined, name?: string): ActionHandle;
  addOrReset<T>(action: (data: T) => unknown, data: T, name?: string): ActionHandle;
  addOrReset<T>(action: (data: T) => unknown, data?: T, name?: string): ActionHandle {
    try {
      return this.add(action, data as T, name);
    } catch (error) {
      if (typeof action !== "function") throw error;
      try {
        action(data as T);
      } catch (resetError) {
        throw new SuppressedError(resetError, error);
      }
      throw error;
    }
  }

  // ---- DisposableStack's methods --------------------------------------------
  // Built on add(): each registers one action, so they interleave with every
  // other action and allocation in release order, and release() runs them
  // newest-first, chaining errors as DisposableStack does. Bad input is an
  // ArenaError (EINVAL) where DisposableStack throws a TypeError, a released
  // arena ERELEASED where it throws a ReferenceError.

  /**
   * DisposableStack's `use`: registers `value[Symbol.dispose]` (read once,
   * now) to be called with `value` as `this`, and returns `value`. null and
   * undefined are returned as they are, nothing registered.
   */
  use<T extends Disposable | null | undefined>(value: T): T {
    return this.useMethod(value, Symbol.dispose, undefined);
  }

  /**
   * AsyncDisposableStack's `use`: registers `value[Symbol.asyncDispose]`,
   * else `value[Symbol.dispose]` (its result then ignored, as that stack
   * does), and returns `value`; releaseAsync() awaits what it returns.
   */
  useAsync<T extends AsyncDisposable | Disposable | null | undefined>(value: T): T {
    return this.useMethod(value, Symbol.asyncDispose, Symbol.dispose);
  }

  /** DisposableStack's `adopt`: registers `onDispose(value)` and returns `value`. */
  adopt<T>(value: T, onDispose: (value: T) => unknown): T {
    if (this.life === RELEASED) throw this.releasedError();
    if (typeof onDispose !== "function") checkFunction(onDispose, "onDispose");
    this.add(onDispose, value, functionName(onDispose));
    return value;
  }

  /** DisposableStack's `defer`: registers `onDispose()`, called with no arguments; returns undefined. */
  defer(onDispose: () => unknown): void {
    if (this.life === RELEASED) throw this.releasedError();
    if (typeof onDispose !== "function") checkFunction(onDispose, "onDispose");
    this.add(callWithoutArguments, onDispose, functionName(onDispose));
  }

  /** use()/useAsync(): the dispose method under `key`, else under `fallback` (its result dropped). */
  private useMethod<T>(value: T, key: symbol, fallback: symbol | undefined): T {
    if (this.life === RELEASED) throw this.releasedError();
    if (value === null || value === undefined) return value;
    if (typeof value !== "object" && typeof value !== "function") {
      throw new ArenaError("EINVAL", `use: value must be an object, null or undefined, got ${describe(value)}`);
    }
    const holder = value as Record<symbol, unknown>;
    let method = holder[key];
    let dropResult = false;
    if (method === undefined && fallback !== undefined) {
      method = holder[fallback];
      dropResult = true;
    }
    if (typeof method !== "function") {
      const wanted = fallback === undefined ? "[Symbol.dispose]" : "[Symbol.asyncDispose] or [Symbol.dispose]";
      throw new ArenaError("EINVAL", `use: value has no ${wanted} method, got ${describe(method)}`);
    }
    this.add(callDispose, { value, method: method as (this: unknown) => unknown, dropResult }, functionName(method));
    return value;
  }

  /** Unregisters an action without running it. Kernel analogue: `devm_remove_action`. */
  removeAction(handle: ActionHandle): void {
    const action = this.current(handle, ActionHandle, "removeAction");
    this.unregister(action);
    if (this.trace !== undefined) this.emit("del", "action", action.name, 0, undefined);
  }

  /** Runs an action now and unregisters it; it never runs again. Kernel analogue: `drmm_release_action`. */
  releaseAction(handle: ActionHandle): void {
    const action = this.current(handle, ActionHandle, "releaseAction");
    this.unregister(action);
    this.run(action);
  }

  /** True while the action is registered. Kernel analogue: `devm_is_action_added`. */
  hasAction(handle: ActionHandle): boolean {
    if (this.life === RELEASED) throw this.releasedError();
    if (!(handle instanceof ActionHandle)) {
      throw new ArenaError("EINVAL", `expected an ActionHandle, got ${describe(handle)}`);
    }
    return handle.owner === this.state && this.heap.holds(handle);
  }

  // ---- groups --------------------------------------------------------------

  /** Starts a group: everything added from now on can be released together. Kernel analogue: `devres_open_group`. */
  openGroup(name?: string): GroupHandle {
    if (this.life === RELEASED) throw this.releasedError();
    const label = checkName(name, "name") ?? "group";
    const heap = this.heap;
    const free = heap.freeSlots;
    const reuse = free.length > 0;
    const slot = reuse ? free[free.length - 1] : heap.slots.length;
    const node = this.core.addCallback(this.record, slot, Kind.Group) >>> 0;
    if (node < STATUS_LIMIT) throw arenaError(this.state, node, `openGroup(${JSON.stringify(label)})`);
    if (reuse) free.pop();
    const group = new GroupHandle(this.state, slot, node, label);
    heap.slots[slot] = group;
    this.openGroups.push(group);
    if (this.trace !== undefined) this.emit("add", "group", label, 0, undefined);
    heap.growth?.notice();
    return group;
  }

  /**
   * Ends a group (without argument: the newest open one; none open: EINVAL).
   * Groups opened after it and still open are closed with it, so groups
   * always nest. Kernel analogue: `devres_close_group`.
   */
  closeGroup(handle?: GroupHandle): void {
    let group: GroupHandle;
    if (handle === undefined) {
      if (this.life === RELEASED) throw this.releasedError();
      const open = this.openGroups;
      if (open.length === 0) throw new ArenaError("EINVAL", "closeGroup(): no group is open");
      group = open[open.length - 1];
    } else {
      group = this.current(handle, GroupHandle, "closeGroup");
      if (group.close !== 0) {
        throw new ArenaError("EINVAL", `closeGroup: group ${JSON.stringify(group.name)} is closed`);
      }
    }
    // Groups stay nested: groups opened after this one and still open end here too, innermost first.
    // Each takes the close marker reserved when it opened, so none can fail once the first has not
    // (the core's only refusal, EBUSY while releasing, holds for all of them alike).
    const open = this.openGroups;
    for (const closing of open.slice(open.lastIndexOf(group)).reverse()) this.addCloseMarker(closing);
  }

  /** Ends an open group with the close marker reserved when it opened (it carries the group's slot but is no callback). */
  private addCloseMarker(group: GroupHandle): void {
    const node = this.core.closeGroup(this.record, group.node) >>> 0;
    if (node < STATUS_LIMIT) throw arenaError(this.state, node, `closeGroup(${JSON.stringify(group.name)})`);
    group.close = node;
    this.forgetOpen(group);
  }

  /**
   * Releases, newest first, everything added after the group opened (up to
   * its close; an open group is closed first), nested groups too, then drops
   * the group. Errors are chained as in release(). Kernel analogue:
   * `devres_release_group`.
   */
  releaseGroup(handle: GroupHandle): void {
    const group = this.current(handle, GroupHandle, "releaseGroup");
    if (group.unwinding)
      throw new ArenaError("EBUSY", `releaseGroup: group ${JSON.stringify(group.name)} is releasing`);
    this.drainRemoteLive();
    if (group.close === 0 && this.life === LIVE) this.closeGroup(group);
    group.unwinding = true;
    this.unwinding++;
    let outcome: Outcome;
    try {
      outcome = this.drain(group.node, group.close, group);
    } finally {
      this.unwinding--;
      group.unwinding = false;
    }
    // A release() asked for by the walk's callbacks runs after the group is dropped, below.
    if (this.life !== RELEASED && this.heap.slots[group.slot] === group) {
      this.dropGroup(group);
      if (this.trace !== undefined) this.emit("rel", "group", group.name, 0, undefined);
    }
    outcome = this.settle(outcome);
    if (outcome.hasThrown) throw outcome.thrown;
  }

  /** Drops the group's markers and keeps its resources. Kernel analogue: `devres_remove_group`. */
  removeGroup(handle: GroupHandle): void {
    const group = this.current(handle, GroupHandle, "removeGroup");
    if (group.unwinding) throw new ArenaError("EBUSY", `removeGroup: group ${JSON.stringify(group.name)} is releasing`);
    this.dropGroup(group);
    if (this.trace !== undefined) this.emit("del", "group", group.name, 0, undefined);
  }

  /**
   * Opens a group, runs `fn(arena)`, closes the group and returns the
   * result. If `fn` throws, or the promise it returns rejects, the group is
   * released and the same error rethrown: partial initialisation unwinds.
   * (If unwinding throws too: SuppressedError(unwindError, error).)
   */
  group<T>(fn: (arena: Arena) => T, name?: string): T {
    checkFunction(fn, "fn");
    const group = this.openGroup(name);
    let result: T;
    let then: unknown;
    try {
      result = fn(this);
      // Read once, here: a `then` getter that throws is fn's failure, and must unwind like one.
      then = thenOf(result);
    } catch (error) {
      return this.unwind(group, error);
    }
    if (typeof then === "function") {
      // The `then` already read is the one called: the thenable cannot answer differently twice.
      return new Promise((resolve, reject) => {
        // Only the first call counts, as with a promise's own resolving functions.
        let settled = false;
        const fulfilled = (value: unknown) => {
          if (settled) return;
          settled = true;
          try {
            this.closeIfOpen(group);
            resolve(value);
          } catch (error) {
            reject(error);
          }
        };
        const rejected = (error: unknown) => {
          if (settled) return;
          settled = true;
          try {
            this.unwind(group, error);
          } catch (thrown) {
            reject(thrown);
          }
        };
        try {
          then.call(result, fulfilled, rejected);
        } catch (error) {
          rejected(error);
        }
      }) as T;
    }
    this.closeIfOpen(group);
    return result;
  }

  // ---- children and lifetime -----------------------------------------------

  /**
   * Creates an arena on the same heap whose release is registered here: it
   * is released at that place in this arena's order (whatever its reference
   * count), and releasing it earlier unregisters it. Analogue: talloc
   * children, APR subpools.
   */
  createChild(options?: ArenaOptions): Arena {
    if (this.life === RELEASED) throw this.releasedError();
    if (this.life === RELEASING)
      throw new ArenaError("EBUSY", `createChild: arena ${JSON.stringify(this.name)} is releasing`);
    const inherited = { trace: this.trace, poison: this.poison, quarantine: this.quarantine };
    const child = Arena.onHeap(this.heap, options, inherited);
    const heap = this.heap;
    const free = heap.freeSlots;
    const reuse = free.length > 0;
    const slot = reuse ? free[free.length - 1] : heap.slots.length;
    const node = this.core.addCallback(this.record, slot, Kind.Child) >>> 0;
    if (node < STATUS_LIMIT) {
      child.teardown();
      throw arenaError(this.state, node, `createChild(${JSON.stringify(child.name)})`);
    }
    if (reuse) free.pop();
    const link = new ChildLink(this.state, slot, node, child);
    heap.slots[slot] = link;
    child.parentLink = link;
    if (this.trace !== undefined) this.emit("add", "child", child.name, 0, undefined);
    heap.growth?.notice();
    return child;
  }

  /** Takes one more reference: teardown waits for as many release() calls. Kernel analogue: `drm_dev_get`. */
  retain(): this {
    if (this.life === RELEASED) throw this.releasedError();
    if (this.life === RELEASING)
      throw new ArenaError("EBUSY", `retain: arena ${JSON.stringify(this.name)} is releasing`);
    this.refs++;
    return this;
  }

  /**
   * Drops a reference; the last one tears the arena down: every action runs
   * newest-first, each exactly once even if some throw, all memory is freed
   * at once, and the arena is marked released. Then rethrows: one error as
   * is, several as a SuppressedError chain (as DisposableStack does). Does
   * nothing when already released or releasing. Kernel analogue:
   * `drm_dev_put` / `drm_managed_release`.
   */
  release(): void {
    if (this.dropReference()) this.teardown();
  }

  /**
   * Drops one reference for release()/releaseAsync(); true when the caller
   * must tear down now. Nothing to do when released or releasing; deferred
   * while a destructor or a group walk still runs on this arena's memory.
   */
  private dropReference(): boolean {
    if (this.life !== LIVE && !this.resetting) return false;
    if (this.refs > 1) {
      this.refs--;
      return false;
    }
    if (this.deferred) return false;
    if (this.freeing > 0 || this.unwinding > 0 || this.resetting || this.drainingRemote) {
      this.deferred = true;
      return false;
    }
    return true;
  }

  /**
   * Runs a teardown that release() deferred, once no destructor or group
   * walk is running; its errors are chained after what `outcome` holds.
   */
  private settle(outcome: Outcome): Outcome {
    if (this.deferred && this.freeing === 0 && this.unwinding === 0 && this.life === LIVE) {
      this.deferred = false;
      try {
        this.teardown();
      } catch (error) {
        return { thrown: chainError(outcome.thrown, outcome.hasThrown, error), hasThrown: true };
      }
    }
    return outcome;
  }

  /** Same as {@link Arena.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * Like {@link Arena.release}, awaiting each action's promise newest-first;
   * errors chained as AsyncDisposableStack does. With `signal`, a way out of
   * an action whose promise never settles: once the signal aborts, the
   * promise being awaited is given up (it counts as having thrown
   * `signal.reason`, a destructor's memory is freed), and the actions left
   * still run, newest first, but their promises are not awaited. Every
   * action still runs exactly once and all memory comes back. A timeout:
   * `releaseAsync({ signal: AbortSignal.timeout(ms) })`.
   */
  async releaseAsync(options?: ReleaseAsyncOptions): Promise<void> {
    const { signal } = readOptions(options, "options", RELEASE_ASYNC_OPTIONS);
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ArenaError("EINVAL", `signal must be an AbortSignal, got ${describe(signal)}`);
    }
    if (this.dropReference()) await this.teardownAsync(signal === undefined ? undefined : { signal, gaveUp: false });
  }

  /** Same as {@link Arena.releaseAsync}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.releaseAsync();
  }

  /**
   * Runs every action and frees every byte, like release(), but the arena
   * stays usable (handles from before go stale). Analogue: `apr_pool_clear`.
   */
  reset(): void {
    if (this.life === RELEASED) throw this.releasedError();
    // release() from a destructor or a group walk waits until it returns; reset() cannot wait (the
    // arena must be empty when it returns), and resetting would free the memory under the running code.
    if (this.life === RELEASING)
      throw new ArenaError("EBUSY", `reset: arena ${JSON.stringify(this.name)} is releasing`);
    if (this.unwinding > 0 || this.freeing > 0 || this.drainingRemote) {
      const running =
        this.freeing > 0
          ? "a destructor run by free()"
          : this.drainingRemote
            ? "frees queued by heap.free"
            : "a group walk";
      throw new ArenaError("EBUSY", `reset: arena ${JSON.stringify(this.name)} is running ${running}`);
    }
    this.drainRemoteLive();
    this.life = RELEASING;
    this.resetting = true;
    this.core.beginRelease(this.record);
    let outcome: Outcome;
    try {
      outcome = this.drain(0, 0);
    } finally {
      this.resetting = false;
    }
    this.core.endRelease(this.record, 1);
    this.epoch++;
    this.life = LIVE;
    this.state.names = undefined;
    this.slow &= ~SLOW_NAMES;
    this.openGroups = [];
    // An action that dropped the last reference (the devm put-in-action pattern) tears down now.
    outcome = this.settle(outcome);
    if (outcome.hasThrown) throw outcome.thrown;
  }

  // ---- introspection -------------------------------------------------------

  /** Exact counters of this arena. */
  stats(): ArenaStats {
    this.drainRemoteLive();
    const words = this.heap.u32();
    const base = this.record >>> 2;
    return {
      allocations: words[base + Word.Allocations],
      actions: words[base + Word.Actions] + (this.state.poppedCount === 0 ? 0 : this.state.waiting().length),
      groups: words[base + Word.Groups],
      children: words[base + Word.Children],
      liveBytes: words[base + Word.LiveBytes],
      peakBytes: words[base + Word.PeakBytes],
      reservedBytes: words[base + Word.Reserved],
    };
  }

  /** Every resource in release order (newest first). */
  resources(): Resource[] {
    this.drainRemoteLive();
    return resourcesOf(this.state);
  }

  /** A readable tree of this arena, its children and totals. Analogue: `talloc_report_full`. */
  report(): string {
    if (this.life === RELEASED) throw this.releasedError();
    return reportOf(this.state);
  }

  // ---- internals -----------------------------------------------------------

  /** @internal Tears the arena down now, whatever its reference count. */
  teardown(): void {
    this.beginTeardown();
    const outcome = this.drain(0, 0);
    this.endTeardown();
    if (outcome.hasThrown) throw outcome.thrown;
  }

  /** @internal Like teardown(), awaiting each action (until `abort.signal` aborts). */
  async teardownAsync(abort?: Abort): Promise<void> {
    this.beginTeardown();
    let outcome: Outcome = { thrown: undefined, hasThrown: false };
    for (let callback = this.next(0, 0); callback !== undefined; callback = this.next(0, 0)) {
      try {
        await this.runAsync(callback, abort);
      } catch (error) {
        outcome = { thrown: chainError(outcome.thrown, outcome.hasThrown, error), hasThrown: true };
      }
    }
    this.endTeardown();
    if (outcome.hasThrown) throw outcome.thrown;
  }

  private beginTeardown(): void {
    // Frees queued by heap.free are applied first; one queued meanwhile goes with the chunks.
    // RELEASING first: a release() by a tracer of the drain is then a no-op, not a second teardown.
    this.life = RELEASING;
    this.drainRemote();
    const link = this.parentLink;
    if (link !== undefined) {
      // Released before its parent: leave the parent's list.
      this.parentLink = undefined;
      this.core.removeCallback(link.owner.record, link.node);
      this.heap.freeSlot(link);
      link.owner.emit("rel", "child", this.name, 0, undefined);
    }
    this.core.beginRelease(this.record);
  }

  private endTeardown(): void {
    this.core.endRelease(this.record, 0);
    this.epoch++;
    this.life = RELEASED;
    this.slow |= SLOW_RELEASED;
    this.state.released = true;
    this.state.names = undefined;
    this.heap.forget(this.state);
  }

  /**
   * Runs every callback of the range (all of the arena when both are 0),
   * newest first, chaining errors. A group's walk stops if the group itself
   * goes (an action released an enclosing group): its markers are gone.
   */
  private drain(open: number, close: number, group?: GroupHandle): Outcome {
    if (open === 0 && close === 0 && this.trace === undefined) return this.drainAll();
    let thrown: unknown;
    let hasThrown = false;
    // A group's walk reads its markers at every step: a nested walk may have taken its end.
    const step = () => (group === undefined ? this.next(open, close) : this.next(group.node, group.close, group));
    for (let callback = step(); callback !== undefined; callback = step()) {
      try {
        this.run(callback);
      } catch (error) {
        thrown = chainError(thrown, hasThrown, error);
        hasThrown = true;
      }
    }
    return { thrown, hasThrown };
  }

  /**
   * drain() of a whole untraced arena: the callback list only. Runs of
   * actions are popped up to 64 at a time (popActions, one crossing); until
   * each runs it stays visible through ArenaState.waiting() (stats,
   * resources, report), and one that an earlier action removes or releases
   * meanwhile is skipped, since its slot no longer names it.
   */
  private drainAll(): Outcome {
    const core = this.core;
    const record = this.record;
    const heap = this.heap;
    const slots = heap.slots;
    const freeSlots = heap.freeSlots;
    const fns = heap.actionFns;
    const datas = heap.actionData;
    const labels = heap.actionLabels;
    const state = this.state;
    const mine = state.actionTag;
    let thrown: unknown;
    let hasThrown = false;
    for (;;) {
      const count = core.popActions(record);
      if (count === 0) {
        const slot = core.popCallback(record);
        if (slot < 0) break;
        const callback = heap.take(slot, state) as Callback;
        try {
          this.run(callback);
        } catch (error) {
          thrown = chainError(thrown, hasThrown, error);
          hasThrown = true;
        }
        continue;
      }
      // Copied out before any runs: an action may release another arena of this heap, which reuses the buffer.
      const words = heap.u32();
      const at = core.batchBuffer() >>> 2;
      state.popped ??= [];
      const popped = state.popped;
      for (let i = 0; i < count; i++) popped[i] = words[at + i];
      state.poppedCount = count;
      for (let i = 0; i < count; i++) {
        const slot = popped[i];
        // Removed or released by an earlier action: the slot is free, or another arena's now.
        if (slots[slot] !== mine) continue;
        const action = fns[slot] as (data: never) => unknown;
        const data = datas[slot];
        // heap.freeSlot, inlined: calling it measured 0.6-2 ns per action slower.
        slots[slot] = undefined;
        fns[slot] = undefined;
        datas[slot] = undefined;
        labels[slot] = undefined;
        freeSlots.push(slot);
        try {
          action(data as never);
        } catch (error) {
          thrown = chainError(thrown, hasThrown, error);
          hasThrown = true;
        }
      }
      state.poppedCount = 0;
    }
    return { thrown, hasThrown };
  }

  /**
   * Unregisters the next callback to run, newest first, in the range
   * (open, close) or the whole arena. A whole untraced release pops the
   * callback list only; otherwise the core walks the release list, freeing
   * plain allocations itself unless they must be traced.
   */
  private next(open: number, close: number, group?: GroupHandle): Callback | undefined {
    if (this.life === RELEASED) return undefined;
    const core = this.core;
    // Named allocations must be seen to forget their names; traced ones to be traced.
    const traced = this.trace !== undefined || this.state.names !== undefined;
    if (group !== undefined && this.heap.slots[group.slot] !== group) return undefined;
    if (open === 0 && close === 0 && !traced) {
      const slot = core.popCallback(this.record);
      if (slot < 0) return undefined;
      return this.heap.take(slot, this.state) as Callback;
    }
    for (;;) {
      const node = core.popRange(this.record, open, close, traced ? 1 : 0) >>> 0;
      if (node === 0) return undefined;
      const words = this.heap.u32();
      const at = node >>> 2;
      const kind = words[at + Word.NodeMeta] & 15;
      if (kind === Kind.Alloc) {
        // Detached before it is reported: whatever the tracer does (free it, allocate again), the
        // block has left every list, so the walk never frees a block it did not take itself.
        const ptr = node + HEADER;
        const epoch = this.epoch;
        core.detach(this.record, ptr);
        this.startDying(ptr);
        this.emit("rel", "alloc", this.state.names?.get(ptr) ?? "alloc", words[at + Word.NodeSize], ptr);
        this.buried(ptr, epoch);
        continue;
      }
      core.removeCallback(this.record, node);
      return this.heap.take(words[at + Word.NodeSlot], this.state) as Callback;
    }
  }

  /** Runs an unregistered callback: an action, a destructor, a nested group's end, a child's teardown. */
  private run(callback: Callback): unknown {
    switch (callback.role) {
      case Kind.Action:
        if (this.trace !== undefined) this.emit("rel", "action", callback.name, 0, undefined);
        return callback.action(callback.data as never);
      case Kind.Destructor: {
        const epoch = this.epoch;
        this.startDying(callback.ptr);
        try {
          if (this.trace !== undefined) this.emitDying(callback, "rel");
          return callback.action(callback.ptr);
        } finally {
          this.buried(callback.ptr, epoch);
        }
      }
      case Kind.Group:
        // A nested group reached by an enclosing walk goes, with its end: its contents went before it.
        if (callback.close !== 0) this.core.removeCallback(this.record, callback.close);
        this.forgetOpen(callback);
        if (this.trace !== undefined) this.emit("rel", "group", callback.name, 0, undefined);
        return undefined;
      case Kind.Child:
        if (this.trace !== undefined) this.emit("rel", "child", callback.name, 0, undefined);
        callback.child.parentLink = undefined;
        return (callback.child as Arena).teardown();
    }
  }

  /** Like run(), awaiting destructors and child teardowns before their memory goes. */
  private async runAsync(callback: Callback, abort: Abort | undefined): Promise<unknown> {
    if (callback.role === Kind.Destructor) {
      const epoch = this.epoch;
      this.startDying(callback.ptr);
      try {
        if (this.trace !== undefined) this.emitDying(callback, "rel");
        return await awaitUnlessAborted(callback.action(callback.ptr), abort);
      } finally {
        this.buried(callback.ptr, epoch);
      }
    }
    if (callback.role === Kind.Child) {
      if (this.trace !== undefined) this.emit("rel", "child", callback.name, 0, undefined);
      callback.child.parentLink = undefined;
      // The child gives up on its own actions when the same signal aborts.
      return (callback.child as Arena).teardownAsync(abort);
    }
    return awaitUnlessAborted(this.run(callback), abort);
  }

  /** Allocates with a destructor node for `onRelease`; the payload or a status. */
  private allocWithDestructor(size: number, align: number, zero: number, onRelease: (ptr: Ptr) => unknown): number {
    const heap = this.heap;
    const free = heap.freeSlots;
    const reuse = free.length > 0;
    const slot = reuse ? free[free.length - 1] : heap.slots.length;
    const ptr = this.core.allocWithDestructor(this.record, size, align, zero, slot) >>> 0;
    if (ptr < STATUS_LIMIT) return ptr;
    if (reuse) free.pop();
    const node = heap.u32()[((ptr - HEADER) >>> 2) + 1];
    heap.slots[slot] = new Destructor(this.state, slot, node, onRelease as (ptr: number) => unknown, ptr);
    return ptr;
  }

  /** free() of an allocation with a destructor: run it with the memory valid, then free the block. */
  private destroy(ptr: number): void {
    const slot = this.core.takeDestructor(this.record, ptr);
    const destructor = this.heap.slots[slot] as Destructor;
    this.heap.freeSlot(destructor);
    const epoch = this.epoch;
    let outcome: Outcome = { thrown: undefined, hasThrown: false };
    this.startDying(ptr);
    this.freeing++;
    try {
      if (this.trace !== undefined) this.emitDying(destructor, "del");
      destructor.action(ptr);
    } catch (error) {
      outcome = { thrown: error, hasThrown: true };
    } finally {
      this.freeing--;
      this.buried(ptr, epoch);
    }
    outcome = this.settle(outcome);
    if (outcome.hasThrown) throw outcome.thrown;
  }

  /** Its destructor is about to run: until it returns, sizeOf/bytes/readString of `ptr` still work. */
  private startDying(ptr: number): void {
    this.dying ??= new Set();
    this.dying.add(ptr);
  }

  /** Frees a dying allocation's block once its destructor has run, unless a reset or teardown took it meanwhile. */
  private buried(ptr: number, epoch: number): void {
    this.dying?.delete(ptr);
    if (this.epoch !== epoch) return;
    this.core.dropDying(this.record, ptr);
    this.state.names?.delete(ptr);
  }

  private freeTraced(ptr: number): void {
    const node = this.core.find(this.record, ptr) >>> 0;
    // A small block's size stays in its header once freed; a large run may be another arena's at once.
    const size = node === 0 ? 0 : this.heap.u32()[(node >>> 2) + Word.NodeSize];
    const status = this.core.free(this.record, ptr);
    if (status === EDTOR) {
      this.destroy(ptr);
      return;
    }
    if (status !== 0 && status !== EDRAIN) throw arenaError(this.state, status, `free(${hex(ptr)})`, { ptr });
    this.emit("del", "alloc", this.state.names?.get(ptr) ?? "alloc", size, ptr);
    this.state.names?.delete(ptr);
    if (status === EDRAIN) this.drainRemote();
  }

  /** After realloc moved an allocation: carry its name and its destructor's pointer along. */
  private moved(from: number, to: number): void {
    const names = this.state.names;
    const name = names?.get(from);
    if (names !== undefined && name !== undefined) {
      names.delete(from);
      names.set(to, name);
    }
    const words = this.heap.u32();
    const at = (to - HEADER) >>> 2;
    if (words[at + Word.NodeMeta] & META_DTOR) {
      const destructorNode = words[at + 1];
      (this.heap.slots[words[(destructorNode >>> 2) + Word.NodeSlot]] as Destructor).ptr = to;
    }
  }

  /** Drops a group's markers and its handle. */
  private dropGroup(group: GroupHandle): void {
    if (group.close !== 0) this.core.removeCallback(this.record, group.close);
    this.core.removeCallback(this.record, group.node);
    this.heap.freeSlot(group);
    this.forgetOpen(group);
  }

  private forgetOpen(group: GroupHandle): void {
    const open = this.openGroups;
    const index = open.lastIndexOf(group);
    if (index >= 0) open.splice(index, 1);
  }

  private closeIfOpen(group: GroupHandle): void {
    if (this.life === LIVE && this.heap.slots[group.slot] === group && group.close === 0) {
      this.closeGroup(group);
    }
  }

  /** group(fn) failed: release what it added and rethrow its error. */
  private unwind(group: GroupHandle, error: unknown): never {
    if (this.life !== RELEASED && this.heap.slots[group.slot] === group) {
      try {
        this.releaseGroup(group);
      } catch (unwindError) {
        throw new SuppressedError(unwindError, error);
      }
    }
    throw error;
  }

  /** The handle if it is a current registration of this arena; else ESTALE (EINVAL for a non-handle). */
  private current<T extends Callback>(handle: unknown, type: abstract new (...args: never[]) => T, what: string): T {
    if (this.life === RELEASED) throw this.releasedError();
    if (!(handle instanceof type)) {
      throw new ArenaError("EINVAL", `${what}: expected ${withArticle(type.name)}, got ${describe(handle)}`);
    }
    if (handle.owner !== this.state || !this.heap.holds(handle)) {
      throw new ArenaError(
        "ESTALE",
        `${what}: ${shownName(handle.name)} (#${handle.generation}) is not registered here`,
      );
    }
    return handle;
  }

  /**
   * Takes a pending action out of the core's lists and frees its slot. When
   * a batched release has popped it and not yet run it (its node, still in
   * place, is marked popped), freeing the slot is all it takes (drainAll
   * skips it).
   */
  private unregister(handle: ActionHandle): void {
    const node = handle.node;
    if ((this.heap.u32()[(node >>> 2) + Word.NodeMeta] & 15) !== Kind.Popped) {
      const status = this.core.removeCallback(this.record, node);
      if (status) throw statusError(status, "removeAction");
    }
    this.heap.freeSlot(handle);
  }

  /** The node of a live allocation of this arena, else EBADPTR (EINVAL for a non-u32). */
  private nodeOf(ptr: number, what: string): number {
    if (this.life === RELEASED) throw this.releasedError();
    checkU32(ptr, "ptr");
    const node = this.core.find(this.record, ptr) >>> 0;
    if (node !== 0) return node;
    // A dying allocation's block stays until its destructor returns (DESIGN §6).
    if (this.dying?.has(ptr)) return ptr - HEADER;
    throw arenaError(this.state, 4, `${what}(${hex(ptr)})`, { ptr });
  }

  private emitDying(destructor: Destructor, op: "del" | "rel"): void {
    const size = this.heap.u32()[((destructor.ptr - HEADER) >>> 2) + Word.NodeSize];
    this.emit(op, "alloc", destructor.name, size, destructor.ptr);
  }

  private emit(op: TraceEvent["op"], kind: TraceEvent["kind"], name: string, size: number, ptr: number | undefined) {
    this.state.emit(op, kind, name, size, ptr);
  }

  private releasedError(): ArenaError {
    return new ArenaError("ERELEASED", `arena ${JSON.stringify(this.name)} already released`);
  }
}

// Heap#createArena makes an Arena, so it is declared and defined here rather
// than in src/heap.ts, which is below this file (src/ imports form a line, see
// test/imports.test.ts). Declared into the class Heap (TypeScript merges the
// interface below into it) and defined on its prototype as a class method is
// (not enumerable): heap.createArena() calls it as directly as before. This
// module must therefore be evaluated for Heap to have it: package.json lists it
// in "sideEffects", so that a bundler keeps it for an app that names only Heap.
declare module "./heap.js" {
  interface Heap {
    /** Creates an arena on this heap (the kernel's analogue: a `struct drm_device` with its managed list). */
    createArena(options?: ArenaOptions): Arena;
  }
}

Object.defineProperty(Heap.prototype, "createArena", {
  value: function createArena(this: Heap, options?: ArenaOptions): Arena {
    const arena = Arena.onHeap(this, options, this.defaults);
    this.growth?.notice();
    return arena;
  },
  writable: true,
  configurable: true,
  enumerable: false,
});
