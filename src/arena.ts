// The Arena: the public face of one arena record in the core. Every argument
// is validated here before it crosses into wasm (JS→wasm conversion wraps:
// 2**32 + 16 would arrive as 16), hot paths call the raw exports, and release
// is driven from JS one action at a time so an action's exception can never
// unwind through wasm frames in the middle of an update.

import type { CoreExports } from "./core.js";
import {
  ArenaError,
  chainError,
  checkU32,
  describe,
  isU32,
  STATUS_LIMIT,
  SuppressedError,
  statusError,
} from "./errors.js";
import { ActionHandle } from "./handles.js";
import { Heap, type HeapOptions } from "./heap.js";

/** A byte offset into `heap.memory.buffer` where an allocation's payload starts. */
export type Ptr = number & { readonly __brand: "managed-arena.Ptr" };

/** Options of {@link Heap.createArena} and {@link Arena.create}. */
export interface ArenaOptions {
  /** Shown in messages and reports; default "arena". */
  name?: string;
  /** Alignment of every payload: a power of two in 8..4096; default 16. */
  minAlign?: number;
  /** Bound on `liveBytes`, the sum of requested sizes of live allocations; default 2^32-1. Past it: ENOMEM. */
  maxBytes?: number;
}

/** Options of {@link Arena.alloc}. */
export interface AllocOptions {
  /** Alignment of the payload: a power of two in 1..4096; the arena's `minAlign` when smaller. */
  align?: number;
  /** Zero-fill the payload (freshly grown memory is zero, reused memory is not). */
  zero?: boolean;
  /** A name for reports; default "alloc". */
  name?: string;
}

/** Counters of one arena, exact after every operation. */
export interface ArenaStats {
  /** Live allocations. */
  allocations: number;
  /** Registered actions. */
  actions: number;
  /** Open or closed groups still marked. */
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

/** Field offsets of the arena record, in 32-bit words (assembly/layout.ts). */
const Word = {
  LiveBytes: 7,
  PeakBytes: 8,
  Reserved: 9,
  Allocations: 10,
  Actions: 11,
  Groups: 12,
  Children: 13,
} as const;

const NODE_SIZE_WORD = 2;
const MAX_ALIGN = 4096;
const LIVE = 0;
const RELEASING = 1;
const RELEASED = 2;

/** An align that is a power of two in 1..max, or EINVAL. */
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

function checkOptions(value: unknown, what: string): void {
  if (value !== undefined && (value === null || typeof value !== "object")) {
    throw new ArenaError("EINVAL", `${what} must be an object, got ${describe(value)}`);
  }
}

function hex(ptr: number): string {
  return `0x${ptr.toString(16)}`;
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
  private readonly record: number;
  private readonly core: CoreExports;
  private state = LIVE;
  private names: Map<number, string> | undefined;

  private constructor(heap: Heap, record: number, name: string) {
    this.heap = heap;
    this.record = record;
    this.core = heap.core;
    this.name = name;
  }

  /** Creates an arena on a private heap (options of both {@link Heap.create} and {@link Heap.createArena}). */
  static async create(options: HeapOptions & ArenaOptions = {}): Promise<Arena> {
    checkOptions(options, "options");
    const heap = await Heap.create({
      initialPages: options.initialPages,
      maxPages: options.maxPages,
      debug: options.debug,
    });
    return heap.createArena({ name: options.name, minAlign: options.minAlign, maxBytes: options.maxBytes });
  }

  /** @internal Use {@link Heap.createArena}. */
  static onHeap(heap: Heap, options: ArenaOptions): Arena {
    checkOptions(options, "options");
    const name = checkName(options.name, "name") ?? "arena";
    const minAlign = options.minAlign === undefined ? 16 : checkAlign(options.minAlign, "minAlign", 8);
    const maxBytes = options.maxBytes === undefined ? 0xffffffff : checkU32(options.maxBytes, "maxBytes");
    const record = heap.core.createArena(31 - Math.clz32(minAlign), maxBytes) >>> 0;
    if (record < STATUS_LIMIT) throw statusError(record, `createArena(${JSON.stringify(name)})`);
    return new Arena(heap, record, name);
  }

  /** True once the arena has been released. */
  get released(): boolean {
    return this.state === RELEASED;
  }

  /**
   * Allocates `size` bytes (0 gives a unique, freeable pointer) aligned to
   * max(`align`, `minAlign`). Kernel analogue: `drmm_kmalloc`.
   */
  alloc(size: number, options?: AllocOptions): Ptr {
    if (this.state === RELEASED) throw this.releasedError();
    if (typeof size !== "number" || size >>> 0 !== size) checkU32(size, "size");
    let align = 1;
    let zero = 0;
    let name: string | undefined;
    if (options !== undefined) {
      checkOptions(options, "options");
      if (options.align !== undefined) align = checkAlign(options.align, "align", 1);
      if (options.zero !== undefined && typeof options.zero !== "boolean") {
        throw new ArenaError("EINVAL", `zero must be a boolean, got ${describe(options.zero)}`);
      }
      zero = options.zero ? 1 : 0;
      name = checkName(options.name, "name");
    }
    const ptr = this.core.alloc(this.record, size, align, zero) >>> 0;
    if (ptr < STATUS_LIMIT) throw statusError(ptr, `alloc(${size})`);
    if (name !== undefined) {
      this.names ??= new Map();
      this.names.set(ptr, name);
    }
    return ptr as Ptr;
  }

  /** Allocates `size` zero-filled bytes, also when the memory is reused. Kernel analogue: `drmm_kzalloc`. */
  allocZeroed(size: number): Ptr {
    if (this.state === RELEASED) throw this.releasedError();
    checkU32(size, "size");
    const ptr = this.core.alloc(this.record, size, 1, 1) >>> 0;
    if (ptr < STATUS_LIMIT) throw statusError(ptr, `allocZeroed(${size})`);
    return ptr as Ptr;
  }

  /** Allocates `count * size` bytes; EOVERFLOW when the product exceeds 2^32-1. Kernel analogue: `drmm_kcalloc`. */
  allocArray(count: number, size: number, options?: { zero?: boolean }): Ptr {
    if (this.state === RELEASED) throw this.releasedError();
    checkU32(count, "count");
    checkU32(size, "size");
    checkOptions(options, "options");
    const zero = options?.zero;
    if (zero !== undefined && typeof zero !== "boolean") {
      throw new ArenaError("EINVAL", `zero must be a boolean, got ${describe(zero)}`);
    }
    const ptr = this.core.allocArray(this.record, count, size, 1, zero ? 1 : 0) >>> 0;
    if (ptr < STATUS_LIMIT) throw statusError(ptr, `allocArray(${count}, ${size})`);
    return ptr as Ptr;
  }

  /**
   * Resizes an allocation, keeping its contents up to the smaller size, its
   * alignment and its place in release order; may move it. Kernel analogue:
   * `devm_krealloc`.
   */
  realloc(ptr: number, size: number): Ptr {
    if (this.state === RELEASED) throw this.releasedError();
    checkU32(ptr, "ptr");
    checkU32(size, "size");
    const moved = this.core.realloc(this.record, ptr, size) >>> 0;
    if (moved < STATUS_LIMIT) throw statusError(moved, `realloc(${hex(ptr)}, ${size})`);
    const names = this.names;
    if (names !== undefined && moved !== ptr) {
      const name = names.get(ptr);
      if (name !== undefined) {
        names.delete(ptr);
        names.set(moved, name);
      }
    }
    return moved as Ptr;
  }

  /**
   * Frees one allocation now, in O(1). Anything that is not the start of a
   * live allocation of this arena (double free, interior, foreign) is EBADPTR
   * and changes nothing. Kernel analogue: `drmm_kfree`.
   */
  free(ptr: number): void {
    if (this.state === RELEASED) throw this.releasedError();
    if (typeof ptr !== "number" || ptr >>> 0 !== ptr) checkU32(ptr, "ptr");
    const status = this.core.free(this.record, ptr);
    if (status) throw statusError(status, `free(${hex(ptr)})`);
    if (this.names !== undefined) this.names.delete(ptr);
  }

  /** The requested size of a live allocation. */
  sizeOf(ptr: number): number {
    return this.heap.u32()[(this.nodeOf(ptr, "sizeOf") >>> 2) + NODE_SIZE_WORD];
  }

  /**
   * A fresh `Uint8Array` over an allocation's first `length` bytes (default:
   * all of it). It goes stale (length 0) when memory grows: take a new one
   * after any call that may allocate.
   */
  bytes(ptr: number, length?: number): Uint8Array {
    const size = this.sizeOf(ptr);
    if (length !== undefined) {
      checkU32(length, "length");
      if (length > size) throw new ArenaError("EINVAL", `length ${length} exceeds the allocation's size ${size}`);
    }
    return new Uint8Array(this.heap.memory.buffer, ptr, length ?? size);
  }

  /**
   * Registers `action(data)` to run when the arena releases, newest first.
   * Returns a handle for removeAction/releaseAction/hasAction. The default
   * name is `action.name`. Kernel analogue: `drmm_add_action`.
   */
  add<T>(action: (data: T) => unknown, data?: T, name?: string): ActionHandle {
    if (this.state === RELEASED) throw this.releasedError();
    if (typeof action !== "function") {
      throw new ArenaError("EINVAL", `action must be a function, got ${describe(action)}`);
    }
    if (name !== undefined && typeof name !== "string") checkName(name, "name");
    const heap = this.heap;
    const free = heap.freeSlots;
    const reuse = free.length > 0;
    const slot = reuse ? free[free.length - 1] : heap.slots.length;
    const node = this.core.addAction(this.record, slot) >>> 0;
    if (node < STATUS_LIMIT) throw statusError(node, `add(${action.name || "action"})`);
    if (reuse) free.pop();
    const handle = new ActionHandle(this, slot, action as (data: never) => unknown, data, name);
    handle.node = node;
    heap.slots[slot] = handle;
    return handle;
  }

  /**
   * Like {@link Arena.add}, but when registering fails it runs `action(data)`
   * at once and rethrows the error (if the action throws too, a
   * SuppressedError of both). Kernel analogue: `drmm_add_action_or_reset`.
   */
  addOrReset<T>(action: (data: T) => unknown, data?: T, name?: string): ActionHandle {
    try {
      return this.add(action, data, name);
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

  /** Unregisters an action without running it. Kernel analogue: `devm_remove_action`. */
  removeAction(handle: ActionHandle): void {
    this.unregister(this.pending(handle, "removeAction"));
  }

  /** Runs an action now and unregisters it; it never runs again. Kernel analogue: `drmm_release_action`. */
  releaseAction(handle: ActionHandle): void {
    const pending = this.pending(handle, "releaseAction");
    this.unregister(pending);
    pending.action(pending.data as never);
  }

  /** True while the action is registered. Kernel analogue: `devm_is_action_added`. */
  hasAction(handle: ActionHandle): boolean {
    if (this.state === RELEASED) throw this.releasedError();
    if (!(handle instanceof ActionHandle)) {
      throw new ArenaError("EINVAL", `expected an ActionHandle, got ${describe(handle)}`);
    }
    return handle.arena === this && this.heap.slots[handle.slot] === handle;
  }

  /**
   * Runs every action newest-first, each exactly once even if some throw,
   * frees all memory at once and marks the arena released. Then rethrows: one
   * error as is, several as a SuppressedError chain (as DisposableStack
   * does). A second call, or a call from an action during release, does
   * nothing.
   */
  release(): void {
    if (this.state !== LIVE) return;
    this.state = RELEASING;
    this.core.beginRelease(this.record);
    const { thrown, hasThrown } = this.runActions();
    this.core.endRelease(this.record, 0);
    this.state = RELEASED;
    this.names = undefined;
    if (hasThrown) throw thrown;
  }

  /** Same as {@link Arena.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Exact counters of this arena. */
  stats(): ArenaStats {
    if (this.state === RELEASED) throw this.releasedError();
    const words = this.heap.u32();
    const base = this.record >>> 2;
    return {
      allocations: words[base + Word.Allocations],
      actions: words[base + Word.Actions],
      groups: words[base + Word.Groups],
      children: words[base + Word.Children],
      liveBytes: words[base + Word.LiveBytes],
      peakBytes: words[base + Word.PeakBytes],
      reservedBytes: words[base + Word.Reserved],
    };
  }

  /** Pops and runs every action, newest first, chaining what they throw. */
  private runActions(): { thrown: unknown; hasThrown: boolean } {
    const core = this.core;
    const slots = this.heap.slots;
    let thrown: unknown;
    let hasThrown = false;
    for (let slot = core.popAction(this.record); slot >= 0; slot = core.popAction(this.record)) {
      const handle = slots[slot] as ActionHandle;
      this.heap.freeSlot(handle);
      try {
        handle.action(handle.data as never);
      } catch (error) {
        thrown = chainError(thrown, hasThrown, error);
        hasThrown = true;
      }
    }
    return { thrown, hasThrown };
  }

  /** The handle, if it names a pending action of this arena; else ESTALE (EINVAL for a non-handle). */
  private pending(handle: ActionHandle, what: string): ActionHandle {
    if (this.state === RELEASED) throw this.releasedError();
    if (!(handle instanceof ActionHandle)) {
      throw new ArenaError("EINVAL", `${what}: expected an ActionHandle, got ${describe(handle)}`);
    }
    if (handle.arena !== this || this.heap.slots[handle.slot] !== handle) {
      throw new ArenaError("ESTALE", `${what}: action ${handle.name} (#${handle.generation}) is not registered here`);
    }
    return handle;
  }

  /** Takes a pending action out of the core's lists and frees its slot. */
  private unregister(handle: ActionHandle): void {
    const status = this.core.removeAction(this.record, handle.node);
    if (status) throw statusError(status, "removeAction");
    this.heap.freeSlot(handle);
  }

  /** The node of a live allocation of this arena, else EBADPTR (EINVAL for a non-u32). */
  private nodeOf(ptr: number, what: string): number {
    if (this.state === RELEASED) throw this.releasedError();
    checkU32(ptr, "ptr");
    const node = this.core.find(this.record, ptr) >>> 0;
    if (!node) throw statusError(4, `${what}(${hex(ptr)})`);
    return node;
  }

  private releasedError(): ArenaError {
    return new ArenaError("ERELEASED", `arena ${JSON.stringify(this.name)} already released`);
  }
}
