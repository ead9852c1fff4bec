// A Heap is one instance of the core with its own WebAssembly.Memory, shared
// by many arenas. It also keeps the host's half of every callback: the JS
// function and data cannot live in linear memory, so a callback node stores a
// slot number, and the slot table here holds its registration. An action's
// function, data, name and generation are kept in columns by slot, so that
// registering one leaves no object behind for the garbage collector
// (src/handles.ts).
//
// The file is below src/arena.ts (src/ imports form a line, see
// test/imports.test.ts): Heap#createArena, which makes an Arena, is declared
// and defined there, on this class's prototype.

import { type CoreExports, type CoreSource, checkCoreSource, instantiateCore } from "./core.js";
import { ArenaError, checkU32, describe, functionName, statusError } from "./errors.js";
import { canResize, GrowthWatch, makeResizable } from "./growth.js";
import { ActionHandle, type Callback, Kind, type Registration } from "./handles.js";
import { reportOf } from "./introspect.js";
import { readOptions, type Snapshot } from "./options.js";
import { loadSharedSupport, type SharedHeapDescriptor, sharedSupport } from "./shared.js";
import type { ArenaState, TraceFunction } from "./state.js";

/** Options of {@link Heap.create}. */
export interface HeapOptions {
  /** Pages (64 KiB) of memory at start, at least 1; default 1. The core grows memory itself as arenas need it. */
  initialPages?: number;
  /** Pages the memory may ever have, 1..65536, metadata included; default 65536 (4 GiB). Past it: ENOMEM. */
  maxPages?: number;
  /**
   * Use the debug build of the core (assertions on) and enable {@link Heap.check}; default false.
   * The debug build comes with the `managed-arena/debug` entry: import it once (it re-exports
   * everything of `managed-arena`), else `Heap.create` throws `EINVAL` saying so.
   */
  debug?: boolean;
  /**
   * Where the core comes from, instead of the build the entry inlines: a URL (string or `URL`;
   * fetched and compiled while it streams in, once per URL), a `Response` or a promise of one, a
   * `WebAssembly.Module`, or the bytes of the file. The package ships the cores as
   * `managed-arena/core.wasm` (release) and `managed-arena/core.debug.wasm` (needed with
   * `debug: true`). Required with the `managed-arena/slim` entry, which inlines no core. A value
   * of another kind, a file: URL (fetch cannot read it: pass the bytes), an HTTP error, bytes that
   * are not WebAssembly or a module that is not a core are `EINVAL`.
   */
  wasm?: CoreSource;
  /** Default `trace` of every arena on this heap. */
  trace?: TraceFunction;
  /** Default `poison` of every arena on this heap. */
  poison?: boolean;
  /** Default `quarantine` of every arena on this heap (bytes of freed blocks held back from reuse; default 0, off). */
  quarantine?: number;
  /**
   * Called with an arena's report() when the arena is garbage-collected
   * without its last release(); default: one console.warn per leaked arena.
   */
  onLeak?: (report: string) => void;
  /**
   * Called with `heap.memory` once memory has grown, before the call that
   * grew it returns (after its work is done). Views made before growth are
   * detached (length 0) unless the heap is `resizable`: rebuild cached ones
   * here. An error it throws is rethrown from a microtask. See src/growth.ts.
   */
  onGrow?: (memory: WebAssembly.Memory) => void;
  /**
   * Make `memory.buffer` a resizable ArrayBuffer that grows in place, so that
   * views of allocations survive growth; default false. Needs
   * `WebAssembly.Memory.prototype.toResizableBuffer` (Node 26, Chromium 136+;
   * see {@link Heap.canResize}), else EINVAL. Some Web APIs refuse views of a
   * resizable buffer (Chromium: TextEncoder.encodeInto, crypto.getRandomValues, Blob).
   */
  resizable?: boolean;
  /**
   * Make the memory shared (its buffer a SharedArrayBuffer) and run the
   * shared core, so that workers can attach to the heap ({@link Heap.share},
   * {@link Heap.attach}); default false. Needs SharedArrayBuffer (a browser
   * page must be cross-origin isolated), else EINVAL; not with `onGrow` or
   * `resizable` (EINVAL).
   */
  shared?: boolean;
}

/** What arenas on a heap inherit from its options (each may set its own). @internal */
export type Inherited = { trace?: TraceFunction; poison?: boolean; quarantine?: number };

/** What watch() keeps of an arena until the end of the task: its facade (src/arena.ts), which reaches its state. */
interface Watched {
  readonly state: ArenaState;
}

const WASM_MAX_PAGES = 65536;
/** The names {@link HeapOptions} may have. @internal */
export const HEAP_OPTIONS = [
  "initialPages",
  "maxPages",
  "debug",
  "wasm",
  "trace",
  "poison",
  "quarantine",
  "onLeak",
  "onGrow",
  "resizable",
  "shared",
] as const;
type HeapSnapshot = Snapshot<(typeof HEAP_OPTIONS)[number]>;

/** One WebAssembly memory and the core that manages it; create arenas on it with {@link Heap.createArena}. */
export class Heap {
  /**
   * The `WebAssembly.Memory`; pointers are byte offsets into `memory.buffer`
   * (re-read it after growth, or in {@link HeapOptions.onGrow}, unless the heap is `resizable`).
   */
  readonly memory: WebAssembly.Memory;
  /** Whether this runtime supports {@link HeapOptions.resizable} (`WebAssembly.Memory.prototype.toResizableBuffer`). */
  static readonly canResize: boolean = canResize;
  /** True when `memory.buffer` is resizable ({@link HeapOptions.resizable}): views of allocations survive growth. */
  readonly resizable: boolean;
  /**
   * True when the memory is shared ({@link HeapOptions.shared}, or a heap
   * {@link Heap.attach} made): `memory.buffer` is a SharedArrayBuffer, which
   * grows without detaching (a view made before keeps its old length).
   */
  readonly shared: boolean;
  /** The compiled shared core, for share(); undefined on a heap that is not shared. */
  private readonly sharedCore: { module: WebAssembly.Module; debug: boolean } | undefined;
  /** Reports growth to onGrow; undefined without onGrow. @internal */
  readonly growth: GrowthWatch | undefined;
  /** The core's raw exports: the facade calls them directly, never through wrappers. @internal */
  readonly core: CoreExports;
  /**
   * Registrations of live callback nodes by slot; undefined where the slot
   * is free. An action's slot holds its arena's tag (a number, see
   * src/handles.ts); the action is in the columns below. @internal
   */
  readonly slots: (Registration | undefined)[] = [];
  /** Free slot numbers, reused newest first. @internal */
  readonly freeSlots: number[] = [];
  /**
   * Columns by slot, meaningful where the slot holds an action tag: the
   * action's function, data and the name given to add (undefined elsewhere,
   * so that nothing released stays reachable), and its generation. All four
   * have the same length, extended (extendColumns) before an action takes a
   * slot beyond it, so that add and release store within bounds and the
   * arrays stay packed. @internal
   */
  readonly actionFns: (((data: never) => unknown) | undefined)[] = [];
  /** @internal */ readonly actionData: unknown[] = [];
  /** @internal */ readonly actionLabels: (string | undefined)[] = [];
  /** @internal */ actionGenerations = new Float64Array(0);
  private words: Uint32Array;
  /** Shared heaps: the core's memory.size(), which another thread's growth changes at once. */
  private readonly memoryPages: (() => number) | undefined;
  /** What arenas on this heap inherit. @internal */
  readonly defaults: Inherited;
  private readonly leaks: FinalizationRegistry<ArenaState>;
  /** The pages the memory may ever have. @internal */
  readonly maxPages: number;
  /**
   * The newest arena of each record (what the core's owner map and an
   * action's tag hold), released ones included: a record is recycled by the
   * next arena, which overwrites its entry, so teardown need not delete it
   * (a Map delete costs a sixth of creating and releasing an arena). Read it
   * through arenaAt. @internal
   */
  readonly arenas = new Map<number, ArenaState>();
  /** Arenas created in this task, not yet registered for leak reports (see watch). */
  private readonly unwatched: Watched[] = [];
  private registerQueued = false;

  private constructor(
    memory: WebAssembly.Memory,
    maxPages: number,
    core: CoreExports,
    defaults: Inherited,
    onLeak: (report: string) => void,
    growth: GrowthWatch | undefined,
    resizable: boolean,
    sharedCore?: { module: WebAssembly.Module; debug: boolean },
  ) {
    this.memory = memory;
    this.shared = sharedCore !== undefined;
    this.sharedCore = sharedCore;
    this.growth = growth;
    this.resizable = resizable;
    this.maxPages = maxPages;
    this.core = core;
    this.words = new Uint32Array(memory.buffer);
    this.memoryPages = sharedCore === undefined ? undefined : core.memorySize;
    this.defaults = defaults;
    this.leaks = new FinalizationRegistry((state) => {
      if (state.released) return;
      try {
        onLeak(reportOf(state));
      } catch (error) {
        // Like a tracer's: reported, but it must not keep the memory from coming back.
        queueMicrotask(() => {
          throw error;
        });
      }
      this.reclaim(state);
    });
  }

  /** Creates a heap: a fresh memory and core instance (the kernel's analogue: one device's resource pool). */
  static async create(options?: HeapOptions): Promise<Heap> {
    return Heap.fromSnapshot(readOptions(options, "options", HEAP_OPTIONS));
  }

  /** Heap.create from options already read once (see src/options.ts). @internal */
  static async fromSnapshot(options: HeapSnapshot): Promise<Heap> {
    const maxPages = options.maxPages === undefined ? WASM_MAX_PAGES : checkU32(options.maxPages, "maxPages");
    const initialPages = options.initialPages === undefined ? 1 : checkU32(options.initialPages, "initialPages");
    if (maxPages < 1 || maxPages > WASM_MAX_PAGES) {
      throw new ArenaError("EINVAL", `maxPages must be in 1..${WASM_MAX_PAGES}, got ${maxPages}`);
    }
    if (initialPages < 1 || initialPages > maxPages) {
      throw new ArenaError("EINVAL", `initialPages must be in 1..maxPages (${maxPages}), got ${initialPages}`);
    }
    for (const key of ["debug", "poison", "resizable", "shared"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "boolean") {
        throw new ArenaError("EINVAL", `${key} must be a boolean, got ${describe(options[key])}`);
      }
    }
    for (const key of ["trace", "onLeak", "onGrow"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "function") {
        throw new ArenaError("EINVAL", `${key} must be a function, got ${describe(options[key])}`);
      }
    }
    const defaults = {
      trace: options.trace as TraceFunction | undefined,
      poison: options.poison as boolean | undefined,
      quarantine: options.quarantine === undefined ? undefined : checkU32(options.quarantine, "quarantine"),
    };
    const onLeak = (options.onLeak as ((report: string) => void) | undefined) ?? warnLeak;
    const source = options.wasm === undefined ? undefined : checkCoreSource(options.wasm);
    const resizable = options.resizable === true;
    if (resizable && !canResize) {
      throw new ArenaError(
        "EINVAL",
        "resizable: this runtime has no WebAssembly.Memory.prototype.toResizableBuffer (Node 26, Chromium 136+); check Heap.canResize",
      );
    }
    if (options.shared === true) {
      if (resizable || options.onGrow !== undefined || source !== undefined) {
        throw new ArenaError(
          "EINVAL",
          "shared: a shared heap takes neither onGrow nor resizable (its buffer never detaches), nor wasm (it runs the shared core of managed-arena/shared)",
        );
      }
      const shared = await loadSharedSupport("shared: true");
      const module = await shared.sharedModule(options.debug === true);
      const memory = shared.createSharedMemory(initialPages, maxPages);
      const core = await shared.instantiateShared<CoreExports>(memory, module);
      const status = core.init(maxPages);
      if (status) throw statusError(status, `Heap.create: maxPages ${maxPages} leaves no room for the page maps`);
      return new Heap(memory, maxPages, core, defaults, onLeak, undefined, false, {
        module,
        debug: options.debug === true,
      });
    }
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages });
    if (resizable) makeResizable(memory);
    const core = await instantiateCore(memory, options.debug === true, source);
    const status = core.init(maxPages);
    if (status) throw statusError(status, `Heap.create: maxPages ${maxPages} leaves no room for the page maps`);
    // After init, which may grow memory for the page maps: onGrow reports growth after creation only.
    const onGrow = options.onGrow as ((memory: WebAssembly.Memory) => void) | undefined;
    const growth = onGrow === undefined ? undefined : new GrowthWatch(memory, resizable, onGrow);
    return new Heap(memory, maxPages, core, defaults, onLeak, growth, resizable);
  }

  /**
   * A descriptor of this shared heap to `postMessage` to a worker, where
   * {@link Heap.attach} makes a Heap over the same memory and page allocator.
   * EINVAL on a heap that is not shared.
   */
  share(): SharedHeapDescriptor {
    const core = this.sharedCore;
    if (core === undefined) throw new ArenaError("EINVAL", "share() needs a heap created with { shared: true }");
    return sharedSupport("share()").describeShared(this.memory, core.module, this.maxPages, core.debug);
  }

  /**
   * In a worker: a Heap over the shared heap that `descriptor` (from
   * {@link Heap.share}, posted to this thread) describes. Arenas created on
   * it belong to this thread; it allocates from the same pages as every
   * other thread's Heap of that memory. EINVAL for anything share() did not
   * make.
   */
  static async attach(descriptor: SharedHeapDescriptor): Promise<Heap> {
    const shared = await loadSharedSupport("Heap.attach");
    const { memory, module, maxPages, debug } = shared.readDescriptor(descriptor);
    const core = await shared.instantiateShared<CoreExports>(memory, module);
    shared.attachCore(core as never);
    const defaults = { trace: undefined, poison: undefined, quarantine: undefined };
    return new Heap(memory, maxPages, core, defaults, warnLeak, undefined, false, { module, debug });
  }

  /**
   * Frees `ptr`, the start of a live allocation of any arena of this shared
   * heap, from any thread, as mimalloc's free from a thread that does not
   * own the block: the pointer is validated now, under the heap lock, by the
   * rules `arena.free` uses (the owner map names an arena, the block-start
   * bit and the header say a live allocation starts there), and the block is
   * queued for the arena's owner, which frees it at its next `alloc`,
   * `free`, `release`, `reset`, `releaseGroup`, `stats()` or `resources()`
   * on that arena (traced and counted there, as its own free); from the
   * owner's thread too, so it never frees at once. Until then the allocation
   * is not live: `free`, `realloc`, `sizeOf`, `bytes` of it and a second
   * `heap.free` are EBADPTR; it still counts in its arena's stats. Its
   * bytes are given up at once (the queue links through its first four).
   * If the arena is released first, the block goes with it (freed once).
   *
   * EBADPTR, changing nothing, when `ptr` is not the start of a live
   * allocation of an arena of the heap (interior, foreign, freed, already
   * queued). EINVAL for an allocation with a destructor (`onRelease`: only
   * its arena's thread may free it, with `arena.free`), for a `ptr` that is
   * not a u32, and on a heap that is not shared (use `arena.free` there).
   */
  free(ptr: number): void {
    if (!this.shared) throw new ArenaError("EINVAL", "heap.free: not a shared heap (use arena.free)");
    sharedSupport("heap.free").freeRemote(this.core, ptr);
  }

  /**
   * Reports `arena` through onLeak if it is collected before its teardown.
   * Registering with a FinalizationRegistry (and unregistering) costs more
   * than the rest of creating and releasing an arena, and an arena released
   * in the task that made it can never leak: so arenas are registered at the
   * end of the task (a microtask), those still live then. Until then the
   * list holds them, so none can be collected unregistered. @internal
   */
  watch(arena: Watched, state: ArenaState): void {
    this.arenas.set(state.record, state);
    if (!this.registerQueued) {
      this.registerQueued = true;
      queueMicrotask(this.registerUnwatched);
    }
    this.unwatched.push(arena);
  }

  /** Registers the arenas watch() listed that are still live. */
  private readonly registerUnwatched = (): void => {
    this.registerQueued = false;
    for (const arena of this.unwatched) {
      const state = arena.state;
      if (!state.released) {
        this.leaks.register(arena, state, state);
        state.leakWatched = true;
      }
    }
    this.unwatched.length = 0;
  };

  /** The arena of `state` was torn down: never report it. @internal */
  forget(state: ArenaState): void {
    if (state.leakWatched) this.leaks.unregister(state);
    else if (this.unwatched[this.unwatched.length - 1]?.state === state) {
      // Released in the task that made it, newest first (the common case): drop it from the list now.
      this.unwatched.pop();
    }
  }

  /** The live arena whose record is `record`, if any. @internal */
  arenaAt(record: number): ArenaState | undefined {
    const state = this.arenas.get(record);
    return state === undefined || state.released ? undefined : state;
  }

  /**
   * Debug heaps only: walks every arena and the free pages and verifies
   * headers, alignment, links, maps and counts. Returns 0 when every
   * invariant holds, else the number of the first one broken (its meaning:
   * `CHECK_RULES[number]`).
   */
  check(): number {
    if (!this.core.check) throw new ArenaError("EINVAL", "check() needs a heap created with { debug: true }");
    return this.core.check();
  }

  /**
   * Gives back the memory of an arena garbage-collected without release().
   * Its actions and destructors are dropped without running: a finalizer runs
   * at a moment nobody chose, where running user code is what `using` and
   * release() exist to avoid. Its children are unlinked, not torn down: each
   * is reported and reclaimed in its turn once nothing references it.
   */
  private reclaim(state: ArenaState): void {
    const core = this.core;
    const record = state.record;
    core.beginRelease(record);
    for (let slot = core.popCallback(record); slot >= 0; slot = core.popCallback(record)) {
      const registration = this.take(slot, state);
      if (registration?.role === Kind.Child) registration.child.parentLink = undefined;
    }
    core.endRelease(record, 0);
    state.released = true;
    state.names = undefined;
  }

  /** Releases a registration's slot for reuse; its handle goes stale. @internal */
  freeSlot(handle: Callback): void {
    const slot = handle.slot;
    if (handle instanceof ActionHandle) {
      this.actionFns[slot] = undefined;
      this.actionData[slot] = undefined;
      this.actionLabels[slot] = undefined;
    } else {
      handle.node = 0;
    }
    this.slots[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /**
   * Unregisters what the slot, one of `owner`'s, holds and returns it (an
   * action as a handle read from the columns); undefined for a free slot.
   * @internal
   */
  take(slot: number, owner: ArenaState): Callback | undefined {
    const registration = this.slots[slot];
    if (registration === undefined) return undefined;
    const callback = typeof registration === "number" ? this.actionAt(slot, owner, 0) : registration;
    this.freeSlot(callback);
    return callback;
  }

  /** A handle of the action registered in `slot` by `owner` (its node given, or 0). @internal */
  actionAt(slot: number, owner: ArenaState, node: number): ActionHandle {
    return new ActionHandle(
      owner,
      slot,
      this.actionGenerations[slot],
      node,
      this.actionFns[slot] as (data: never) => unknown,
      this.actionData[slot],
      this.actionLabels[slot],
    );
  }

  /** True while `handle`'s registration is the one in its slot (the generation check). @internal */
  holds(handle: Callback): boolean {
    const slot = handle.slot;
    if (handle instanceof ActionHandle) {
      return this.slots[slot] === handle.owner.actionTag && this.actionGenerations[slot] === handle.generation;
    }
    return this.slots[slot] === handle;
  }

  /** The name of the registration in `slot` (an action's: the one given to add, else `action.name`). @internal */
  nameAt(slot: number): string | undefined {
    const registration = this.slots[slot];
    if (registration === undefined) return undefined;
    if (typeof registration !== "number") return registration.name;
    return this.actionLabels[slot] ?? functionName(this.actionFns[slot] as (data: never) => unknown);
  }

  /** The arena whose registration `slot` holds; undefined for a free slot. @internal */
  ownerAt(slot: number): ArenaState | undefined {
    const registration = this.slots[slot];
    if (typeof registration !== "number") return registration?.owner;
    // An action's tag is its arena's record / 4; live arenas are known by record (src/failures.ts).
    return this.arenaAt(registration * 4);
  }

  /** Makes every column hold slot `slot` (capacity doubles, new entries empty). @internal */
  extendColumns(slot: number): void {
    const old = this.actionGenerations;
    let capacity = Math.max(64, old.length);
    while (capacity <= slot) capacity *= 2;
    const generations = new Float64Array(capacity);
    generations.set(old);
    this.actionGenerations = generations;
    for (let i = old.length; i < capacity; i++) {
      this.actionFns.push(undefined);
      this.actionData.push(undefined);
      this.actionLabels.push(undefined);
    }
  }

  /**
   * The memory as 32-bit words. `memory.grow` detaches the old ArrayBuffer
   * (every view on it reads as length 0), so the view is rebuilt whenever the
   * buffer has changed; never keep the result across a call that may allocate.
   * @internal
   */
  u32(): Uint32Array {
    // A detached view has length 0, and memory never shrinks: checking the
    // length avoids reading `memory.buffer`, which is slow in V8.
    if (this.words.length === 0) this.words = new Uint32Array(this.memory.buffer);
    // A shared buffer never detaches: another thread may have grown memory since. The core sees
    // the size at once, for a few ns; the buffer getter costs ~70 (src/shared-core.ts refreshes it).
    else if (this.memoryPages !== undefined && this.words.byteLength !== this.memoryPages() * 65536) {
      this.words = new Uint32Array(this.memory.buffer);
    }
    return this.words;
  }
}

/** The default onLeak: one short warning (the report's arena line and totals), not the whole tree. */
function warnLeak(report: string): void {
  const lines = report.split("\n");
  const summary = lines.length > 2 ? [lines[0], lines[lines.length - 1]] : lines;
  console.warn(`managed-arena: an arena was garbage-collected without release():\n${summary.join("\n")}`);
}
