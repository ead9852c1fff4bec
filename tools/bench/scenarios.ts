// The scenarios and, for each, one task per peer.
//
// Every task body is its own named function (arenaAllocFree, tlsfAllocFree,
// ...): V8 shares inline-cache feedback between closures made from one
// function literal, so a body shared by several peers would see all their
// call targets and go polymorphic, skewing the comparison. Within a scenario
// family a peer keeps one instance (one call target) across its variants.
// managed-arena runs every timed scenario on one Heap, for the same reason:
// its facade calls the heap's raw exports, and several heaps would make those
// call sites polymorphic.
//
// managed-arena is called through its public facade (validation included):
// that is what a user pays. The wasm peers are called through raw exports.

import type { MemPool } from "@thi.ng/malloc";
import { type Arena, freeRuns, Heap, type Ptr } from "managed-arena";
import type { Task } from "./engine.js";
import {
  instantiatePeer,
  NativeDisposableStack,
  peerImports,
  peerModule,
  SeedList,
  THING,
  thingPool,
  type WasmPeer,
} from "./peers.js";
import { prng, shuffled } from "./stats.js";
import { LIFETIME_LIVE, LIFETIME_STEPS, type Lifetime, lifetime } from "./workload.js";

/** Peer names, as shown. */
export const ARENA = "managed-arena";
export const TLSF = "TLSF";
export const BUMP = "bump";
export const CLOSURES = "JS closures";
export const STACK = "DisposableStack";
/** A doubly linked list in JS whose free searches it from the newest record (`drmm_kfree`). */
export const LIST = "JS list, O(n) free";
export const TLSF_CLOSURES = "TLSF + JS closures";
export const TLSF_STACK = "TLSF + DisposableStack";
export { THING };

/**
 * Every scenario's id (what `bench --only TEXT` matches) and what it
 * measures, in the order plan() builds them; `bench --help` lists them, and
 * plan() checks that it built exactly these.
 */
export const SCENARIO_IDS: readonly (readonly [id: string, measures: string])[] = [
  ["alloc-free-16", "alloc+free pairs of 16 B"],
  ["alloc-free-64", "alloc+free pairs of 64 B"],
  ["alloc-free-256", "alloc+free pairs of 256 B"],
  ["alloc-free-1024", "alloc+free pairs of 1 KiB"],
  ["alloc-free-4096", "alloc+free pairs of 4 KiB"],
  ["alloc-free-mixed", "alloc+free pairs of 1 B-4 KiB, freed in random order"],
  ["request-scoped", "request-scoped owner: create, 50 mixed allocations, release"],
  ["arena-create-release", "create + release of an empty arena"],
  ["free-live-100", "free+alloc of 16 B with 100 live"],
  ["free-live-100000", "free+alloc of 16 B with 100,000 live"],
  ["add-release-1000", "add+release of actions, 1,000 per owner"],
  ["add-release-10", "add+release of actions, 10 per owner"],
  ["add-release-200000", "add+release of actions, 200,000 per owner"],
  ["make-1m", "making 1,000,000 allocations of 16 B"],
  ["release-1m", "releasing 1,000,000 allocations of 16 B"],
  ["realloc-doubling", "realloc 16 B -> 64 KiB, doubling"],
  ["realloc-stepping", "realloc 16 B -> 1 KiB, +16 B steps"],
  ["group-unwind", "unwinding a group that failed"],
  ["instantiate", "Heap.create() / instantiating a peer"],
  ["arena-cycle-1mib-free", "create arena + alloc(32) + release, page cut from 1 MiB free"],
  ["arena-cycle-1gib-free", "create arena + alloc(32) + release, page cut from 1 GiB free"],
  ["random-lifetime-speed", "random-lifetime workload (10,000 live, 1,000,000 steps): time"],
  // Measured once, after the timed ones (tools/bench/small.ts):
  ["arena-memory-request", "memory per live child arena with 8 x 64 B and 2 actions"],
  ["arena-memory-empty", "memory per live empty child arena"],
  ["many-arenas-100000", "100,000 live child arenas with one 16 B allocation: fit?"],
  ["reserved-per-size", "reserved / requested bytes, 1,000 allocations of one size"],
  ["random-lifetime-memory", "random-lifetime workload: memory at the end / peak live"],
];

/** What a row of the results table measures. */
export interface Scenario {
  id: string;
  label: string;
  /** What one operation is (timings are ns per operation). */
  unit: string;
  /** The peers of the row, managed-arena first; a peer without a task is "n/a" on this runtime. */
  peers: string[];
  /** Measured once after the timed scenarios (memory, not time): no tasks, its own table (tools/bench/small.ts). */
  measured?: boolean;
}

export interface Settings {
  quick: boolean;
}

/** Every scenario, its tasks, and a check to run after timing. */
export interface Plan {
  scenarios: Scenario[];
  tasks: Task[];
  /** Throws if a peer ended in a state that shows it did not do its work. */
  verify(): void;
}

const BATCH = 1000;
const STREAM = 1 << 16;
let sink = 0;

// ---- alloc+free pairs -------------------------------------------------------

interface AllocFreeCase {
  id: string;
  label: string;
  sizes: Uint32Array;
  /** Indices into the batch, in the order the blocks are freed. */
  order: Uint32Array;
}

/** `n` sizes log-uniform in 1 B-4 KiB (every doubling as likely), drawn from `random`. */
function mixedSizes(n: number, random: () => number): Uint32Array {
  const sizes = new Uint32Array(n);
  for (let i = 0; i < n; i++) sizes[i] = Math.max(1, Math.round(2 ** (random() * 12)));
  return sizes;
}

function allocFreeCases(): AllocFreeCase[] {
  const lifo = new Uint32Array(BATCH);
  for (let i = 0; i < BATCH; i++) lifo[i] = BATCH - 1 - i;
  const fixed = (size: number, label: string): AllocFreeCase => ({
    id: `alloc-free-${size}`,
    label: `alloc+free ${label}`,
    sizes: new Uint32Array(BATCH).fill(size),
    order: lifo,
  });
  const random = prng(0x5eed);
  return [
    fixed(16, "16 B"),
    fixed(64, "64 B"),
    fixed(256, "256 B"),
    fixed(1024, "1 KiB"),
    fixed(4096, "4 KiB"),
    {
      id: "alloc-free-mixed",
      label: "alloc+free mixed 1 B-4 KiB, random order",
      sizes: mixedSizes(BATCH, random),
      order: shuffled(BATCH, random),
    },
  ];
}

function arenaAllocFree(arena: Arena, sizes: Uint32Array, order: Uint32Array, ptrs: Uint32Array): void {
  for (let i = 0; i < sizes.length; i++) ptrs[i] = arena.alloc(sizes[i]);
  for (let i = 0; i < order.length; i++) arena.free(ptrs[order[i]] as Ptr);
}

function tlsfAllocFree(peer: WasmPeer, sizes: Uint32Array, order: Uint32Array, ptrs: Uint32Array): void {
  for (let i = 0; i < sizes.length; i++) ptrs[i] = peer.alloc(sizes[i]);
  for (let i = 0; i < order.length; i++) peer.free(ptrs[order[i]]);
}

function thingAllocFree(pool: MemPool, sizes: Uint32Array, order: Uint32Array, ptrs: Uint32Array): void {
  for (let i = 0; i < sizes.length; i++) ptrs[i] = pool.malloc(sizes[i]);
  for (let i = 0; i < order.length; i++) pool.free(ptrs[order[i]]);
}

// The stub's free only steps back over the most recent block, so after a
// random order most blocks leak: the batch ends with reset() (O(1)) to start
// the next one from the same state, as a bump arena would.
function bumpAllocFree(peer: WasmPeer, sizes: Uint32Array, order: Uint32Array, ptrs: Uint32Array): void {
  for (let i = 0; i < sizes.length; i++) ptrs[i] = peer.alloc(sizes[i]);
  for (let i = 0; i < order.length; i++) peer.free(ptrs[order[i]]);
  peer.reset();
}

// ---- request-scoped owners ---------------------------------------------------

/** Allocations of one request. */
const REQUEST_ALLOCS = 50;
/** Requests per call of the timed body. */
const REQUESTS = 20;

function arenaRequests(heap: Heap, sizes: Uint32Array, ptrs: Uint32Array, n: number): void {
  for (let r = 0; r < n; r++) {
    const arena = heap.createArena();
    for (let i = 0; i < sizes.length; i++) ptrs[i] = arena.alloc(sizes[i]);
    arena.release();
  }
}

// A request's blocks all die with it: TLSF frees each, newest first (the
// order a release runs in); the bump pointer drops them all with reset().
function tlsfRequests(peer: WasmPeer, sizes: Uint32Array, ptrs: Uint32Array, n: number): void {
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < sizes.length; i++) ptrs[i] = peer.alloc(sizes[i]);
    for (let i = sizes.length - 1; i >= 0; i--) peer.free(ptrs[i]);
  }
}

function bumpRequests(peer: WasmPeer, sizes: Uint32Array, ptrs: Uint32Array, n: number): void {
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < sizes.length; i++) ptrs[i] = peer.alloc(sizes[i]);
    peer.reset();
  }
}

// ---- create + release of an empty owner ----------------------------------------

function arenaCreateRelease(heap: Heap, n: number): void {
  for (let i = 0; i < n; i++) heap.createArena().release();
}

/** The last owner closuresCreateRelease made: it escapes, as a real owner does, or V8 optimizes the array away and times an empty loop. */
let closuresOwner: (() => void)[] = [];

function closuresCreateRelease(n: number): void {
  for (let i = 0; i < n; i++) {
    const undo: (() => void)[] = [];
    closuresOwner = undo;
    for (let j = undo.length - 1; j >= 0; j--) undo[j]();
  }
}

function stackCreateRelease(Stack: typeof DisposableStack, n: number): void {
  for (let i = 0; i < n; i++) new Stack().dispose();
}

/**
 * Counts the bytes `heap`'s memory grew by during the timed phases of a task
 * whose arenas live no longer than a call: `warm` (one untimed call) runs
 * first, so that a phase starts from pages and records already taken once.
 */
class GrowthWatch {
  grown = 0;
  private before = 0;
  constructor(
    private readonly heap: Heap,
    private readonly warm: () => void,
  ) {}

  readonly start = (): void => {
    this.warm();
    this.before = this.heap.memory.buffer.byteLength;
  };

  readonly stop = (): void => {
    this.grown += this.heap.memory.buffer.byteLength - this.before;
  };

  /** Throws if the heap grew while `what` was timed. */
  check(what: string): void {
    if (this.grown !== 0) throw new Error(`${ARENA}: the heap grew by ${this.grown} B during ${what}`);
  }
}

// ---- free with 100 versus 100,000 live: churn ------------------------------

/** A cursor into a shared stream of random indices (every peer sees the same sequence). */
interface Cursor {
  indices: Uint32Array;
  at: number;
}

const CHURN_SIZE = 16;

function arenaChurn(arena: Arena, live: Uint32Array, cursor: Cursor, n: number): void {
  const indices = cursor.indices;
  let at = cursor.at;
  for (let k = 0; k < n; k++) {
    const j = indices[at];
    at = (at + 1) & (STREAM - 1);
    arena.free(live[j] as Ptr);
    live[j] = arena.alloc(CHURN_SIZE);
  }
  cursor.at = at;
}

function tlsfChurn(peer: WasmPeer, live: Uint32Array, cursor: Cursor, n: number): void {
  const indices = cursor.indices;
  let at = cursor.at;
  for (let k = 0; k < n; k++) {
    const j = indices[at];
    at = (at + 1) & (STREAM - 1);
    peer.free(live[j]);
    live[j] = peer.alloc(CHURN_SIZE);
  }
  cursor.at = at;
}

function seedChurn(list: SeedList, live: Uint32Array, cursor: Cursor, n: number): void {
  const indices = cursor.indices;
  let at = cursor.at;
  for (let k = 0; k < n; k++) {
    const j = indices[at];
    at = (at + 1) & (STREAM - 1);
    list.free(live[j]);
    live[j] = list.alloc(CHURN_SIZE);
  }
  cursor.at = at;
}

function thingChurn(pool: MemPool, live: Uint32Array, cursor: Cursor, n: number): void {
  const indices = cursor.indices;
  let at = cursor.at;
  for (let k = 0; k < n; k++) {
    const j = indices[at];
    at = (at + 1) & (STREAM - 1);
    pool.free(live[j]);
    live[j] = pool.malloc(CHURN_SIZE);
  }
  cursor.at = at;
}

// ---- add+release of actions --------------------------------------------------

function arenaAction(data: number): void {
  sink += data;
}
function closuresAction(data: number): void {
  sink += data;
}
function stackAction(data: number): void {
  sink += data;
}

function arenaAddRelease(heap: Heap, n: number): void {
  const arena = heap.createArena();
  for (let i = 0; i < n; i++) arena.add(arenaAction, i);
  arena.release();
}

function closuresAddRelease(n: number): void {
  const undo: (() => void)[] = [];
  for (let i = 0; i < n; i++) {
    const data = i;
    undo.push(() => closuresAction(data));
  }
  for (let i = undo.length - 1; i >= 0; i--) undo[i]();
}

function stackAddRelease(Stack: typeof DisposableStack, n: number): void {
  const stack = new Stack();
  for (let i = 0; i < n; i++) stack.adopt(i, stackAction);
  stack.dispose();
}

// ---- release of 1,000,000 plain allocations -----------------------------------

const MILLION = 1_000_000;
const MAKE_SIZE = 16;

function arenaMake(arena: Arena, n: number): void {
  for (let i = 0; i < n; i++) arena.alloc(MAKE_SIZE);
}
function arenaReleaseAll(arena: Arena): void {
  arena.release();
}
function tlsfMake(peer: WasmPeer, ptrs: Uint32Array): void {
  for (let i = 0; i < ptrs.length; i++) ptrs[i] = peer.alloc(MAKE_SIZE);
}
function tlsfFreeAll(peer: WasmPeer, ptrs: Uint32Array): void {
  for (let i = ptrs.length - 1; i >= 0; i--) peer.free(ptrs[i]);
}
function bumpMake(peer: WasmPeer, n: number): void {
  for (let i = 0; i < n; i++) peer.alloc(MAKE_SIZE);
}
function bumpReleaseAll(peer: WasmPeer): void {
  peer.reset();
}

// ---- realloc growth ------------------------------------------------------------

const GROW_REPS = 8;
/** Reallocs in one doubling sequence: 16 B -> 32 B -> ... -> 64 KiB. */
const DOUBLINGS = 12;
/** Reallocs in one stepping sequence: 16 B -> 32 B -> 48 B -> ... -> 1 KiB. */
const STEPS = 63;

function arenaGrowDoubling(arena: Arena): void {
  for (let r = 0; r < GROW_REPS; r++) {
    let ptr: Ptr = arena.alloc(16);
    for (let size = 32; size <= 65536; size *= 2) ptr = arena.realloc(ptr, size);
    arena.free(ptr);
  }
}
function tlsfGrowDoubling(peer: WasmPeer): void {
  for (let r = 0; r < GROW_REPS; r++) {
    let ptr = peer.alloc(16);
    for (let size = 32; size <= 65536; size *= 2) ptr = peer.realloc(ptr, size);
    peer.free(ptr);
  }
}
function bumpGrowDoubling(peer: WasmPeer): void {
  for (let r = 0; r < GROW_REPS; r++) {
    let ptr = peer.alloc(16);
    for (let size = 32; size <= 65536; size *= 2) ptr = peer.realloc(ptr, size);
    peer.free(ptr);
  }
  peer.reset();
}
function arenaGrowStepping(arena: Arena): void {
  for (let r = 0; r < GROW_REPS; r++) {
    let ptr: Ptr = arena.alloc(16);
    for (let size = 32; size <= 1024; size += 16) ptr = arena.realloc(ptr, size);
    arena.free(ptr);
  }
}
function tlsfGrowStepping(peer: WasmPeer): void {
  for (let r = 0; r < GROW_REPS; r++) {
    let ptr = peer.alloc(16);
    for (let size = 32; size <= 1024; size += 16) ptr = peer.realloc(ptr, size);
    peer.free(ptr);
  }
}
function bumpGrowStepping(peer: WasmPeer): void {
  for (let r = 0; r < GROW_REPS; r++) {
    let ptr = peer.alloc(16);
    for (let size = 32; size <= 1024; size += 16) ptr = peer.realloc(ptr, size);
    peer.free(ptr);
  }
  peer.reset();
}

// ---- group unwinding -------------------------------------------------------------

/** Allocations and actions (each) registered before the group's body throws. */
const GROUP_N = 8;
const GROUP_REPS = 50;
const GROUP_SIZE = 32;
/** Thrown by every peer's body (made once: the cost of capturing a stack is not what is measured). */
const unwound = new Error("group body failed");

function arenaGroupAction(data: number): void {
  sink += data;
}
function closuresGroupAction(data: number): void {
  sink += data;
}
function stackGroupAction(data: number): void {
  sink += data;
}

// Every peer's group propagates the body's error to its caller, as
// `arena.group(fn)` does (unwind, then rethrow): two throws per group for all.

function arenaGroupBody(arena: Arena): never {
  for (let i = 0; i < GROUP_N; i++) {
    arena.alloc(GROUP_SIZE);
    arena.add(arenaGroupAction, i);
  }
  throw unwound;
}

function arenaGroupUnwind(arena: Arena): void {
  for (let r = 0; r < GROUP_REPS; r++) {
    try {
      arena.group(arenaGroupBody);
    } catch (error) {
      if (error !== unwound) throw error;
    }
  }
}

function tlsfClosuresGroup(peer: WasmPeer): void {
  const undo: (() => void)[] = [];
  try {
    for (let i = 0; i < GROUP_N; i++) {
      const ptr = peer.alloc(GROUP_SIZE);
      undo.push(() => peer.free(ptr));
      const data = i;
      undo.push(() => closuresGroupAction(data));
    }
    throw unwound;
  } catch (error) {
    for (let i = undo.length - 1; i >= 0; i--) undo[i]();
    throw error;
  }
}

function tlsfClosuresGroupUnwind(peer: WasmPeer): void {
  for (let r = 0; r < GROUP_REPS; r++) {
    try {
      tlsfClosuresGroup(peer);
    } catch (error) {
      if (error !== unwound) throw error;
    }
  }
}

function tlsfStackGroup(Stack: typeof DisposableStack, peer: WasmPeer): void {
  const stack = new Stack();
  try {
    for (let i = 0; i < GROUP_N; i++) {
      stack.adopt(peer.alloc(GROUP_SIZE), peer.free);
      stack.adopt(i, stackGroupAction);
    }
    throw unwound;
  } catch (error) {
    stack.dispose();
    throw error;
  }
}

function tlsfStackGroupUnwind(Stack: typeof DisposableStack, peer: WasmPeer): void {
  for (let r = 0; r < GROUP_REPS; r++) {
    try {
      tlsfStackGroup(Stack, peer);
    } catch (error) {
      if (error !== unwound) throw error;
    }
  }
}

// ---- instantiation -----------------------------------------------------------------

function arenaInstantiate(): Promise<Heap> {
  return Heap.create();
}
function tlsfInstantiate(module: WebAssembly.Module): Promise<WebAssembly.Instance> {
  return WebAssembly.instantiate(module, peerImports);
}
function bumpInstantiate(module: WebAssembly.Module): Promise<WebAssembly.Instance> {
  return WebAssembly.instantiate(module, peerImports);
}

// ---- taking pages: create arena + alloc + release ------------------------------

const PAGE = 65536;
/** Bytes of a large run that are not payload (chunk head, node header, alignment slack): pages * PAGE - this fills `pages`. */
const LARGE_OVERHEAD = 64;
/** A large allocation (above the small-block limit) that fits in one page: a guard page of its own. */
const GUARD_SIZE = 40_000;
const CYCLE_SIZE = 32;
/** Cycles per call of the timed body. */
const CYCLES = 1000;

function arenaCycle(heap: Heap, n: number): void {
  for (let i = 0; i < n; i++) {
    const arena = heap.createArena();
    arena.alloc(CYCLE_SIZE);
    arena.release();
  }
}

/**
 * A free run of exactly `pages` pages for a new arena's first page to be cut
 * from. The heap's page allocator (assembly/chunks.ts) takes pages first fit
 * from the newest free run and pushes freed runs, coalesced with their free
 * neighbours, in front. So: a large allocation of `pages` pages between two
 * guard pages (made once, from one freed run, so the three are contiguous);
 * open() frees it, making it the newest free run, bounded by the guards, and
 * the first one taken from; close() takes it back whole, so that the other
 * scenarios never see this free run (its pages are held, never touched).
 */
class FreeRun {
  private arena: Arena | undefined;
  private ptr = 0;
  constructor(
    private readonly heap: Heap,
    readonly pages: number,
  ) {}

  private get size(): number {
    return this.pages * PAGE - LARGE_OVERHEAD;
  }

  open(): void {
    if (this.arena === undefined) {
      const arena = this.heap.createArena({ name: `free run of ${this.pages} pages` });
      arena.free(arena.alloc((this.pages + 2) * PAGE - LARGE_OVERHEAD));
      arena.alloc(GUARD_SIZE);
      this.ptr = arena.alloc(this.size);
      arena.alloc(GUARD_SIZE);
      this.arena = arena;
    }
    // A recycled arena record, so that the timed arenas never take a page for records from this run.
    this.heap.createArena().release();
    this.arena.free(this.ptr as Ptr);
    const head = newestFreeRun(this.heap);
    if (head.start !== Math.floor(this.ptr / PAGE) * PAGE || head.pages !== this.pages) {
      throw new Error(`${ARENA}: the newest free run is ${head.pages} pages at ${head.start}, expected ${this.pages}`);
    }
  }

  close(): void {
    const ptr = (this.arena as Arena).alloc(this.size);
    if (ptr !== this.ptr) {
      throw new Error(`${ARENA}: the free run of ${this.pages} pages moved (${ptr}, was ${this.ptr})`);
    }
  }
}

/** The heap's newest free run of pages (the package's freeRuns: the one given back last comes first). */
function newestFreeRun(heap: Heap): { start: number; pages: number } {
  return freeRuns(heap)[0] ?? { start: 0, pages: 0 };
}

// ---- the random-lifetime workload ---------------------------------------------------

export function arenaLifetimeFill(arena: Arena, live: Uint32Array, sizes: Uint32Array): void {
  for (let j = 0; j < sizes.length; j++) live[j] = arena.alloc(sizes[j]);
}
export function arenaLifetime(arena: Arena, live: Uint32Array, sizes: Uint32Array, indices: Uint32Array): void {
  for (let k = 0; k < sizes.length; k++) {
    const j = indices[k];
    arena.free(live[j] as Ptr);
    live[j] = arena.alloc(sizes[k]);
  }
}
export function tlsfLifetimeFill(peer: WasmPeer, live: Uint32Array, sizes: Uint32Array): void {
  for (let j = 0; j < sizes.length; j++) live[j] = peer.alloc(sizes[j]);
}
export function tlsfLifetime(peer: WasmPeer, live: Uint32Array, sizes: Uint32Array, indices: Uint32Array): void {
  for (let k = 0; k < sizes.length; k++) {
    const j = indices[k];
    peer.free(live[j]);
    live[j] = peer.alloc(sizes[k]);
  }
}
function tlsfLifetimeEmpty(peer: WasmPeer, live: Uint32Array): void {
  for (let j = 0; j < live.length; j++) peer.free(live[j]);
}

// ---- the plan ---------------------------------------------------------------------

/** Checks a batch of pointers: non-zero and distinct, so we never time a broken allocator. */
function checkPointers(peer: string, what: string, ptrs: ArrayLike<number>): void {
  const seen = new Set<number>();
  for (let i = 0; i < ptrs.length; i++) {
    if (!ptrs[i] || seen.has(ptrs[i])) throw new Error(`${peer}: bad pointer ${ptrs[i]} in ${what}`);
    seen.add(ptrs[i]);
  }
}

/** Builds every scenario and its tasks (allocating the state they start from). */
export async function plan(settings: Settings): Promise<Plan> {
  const scenarios: Scenario[] = [];
  const tasks: Task[] = [];
  const checks: (() => void)[] = [];
  const heap = await Heap.create();
  const Stack = NativeDisposableStack;
  const slow = settings.quick ? 1 : 3;

  // alloc+free pairs: one arena / instance per peer for all the variants.
  {
    const arena = heap.createArena({ name: "alloc+free" });
    const tlsf = instantiatePeer("tlsf");
    const bump = instantiatePeer("bump");
    // A batch of 1,000 blocks of up to 4 KiB fits in 8 MiB with room to spare.
    const pool = thingPool(8 << 20);
    for (const c of allocFreeCases()) {
      scenarios.push({ id: c.id, label: c.label, unit: "alloc+free pair", peers: [ARENA, TLSF, BUMP, THING] });
      const arenaPtrs = new Uint32Array(BATCH);
      const tlsfPtrs = new Uint32Array(BATCH);
      const bumpPtrs = new Uint32Array(BATCH);
      const thingPtrs = new Uint32Array(BATCH);
      arenaAllocFree(arena, c.sizes, c.order, arenaPtrs);
      tlsfAllocFree(tlsf, c.sizes, c.order, tlsfPtrs);
      bumpAllocFree(bump, c.sizes, c.order, bumpPtrs);
      thingAllocFree(pool, c.sizes, c.order, thingPtrs);
      checkPointers(ARENA, c.label, arenaPtrs);
      checkPointers(TLSF, c.label, tlsfPtrs);
      checkPointers(BUMP, c.label, bumpPtrs);
      checkPointers(THING, c.label, thingPtrs);
      tasks.push(
        { scenario: c.id, peer: ARENA, ops: BATCH, fn: () => arenaAllocFree(arena, c.sizes, c.order, arenaPtrs) },
        { scenario: c.id, peer: TLSF, ops: BATCH, fn: () => tlsfAllocFree(tlsf, c.sizes, c.order, tlsfPtrs) },
        { scenario: c.id, peer: BUMP, ops: BATCH, fn: () => bumpAllocFree(bump, c.sizes, c.order, bumpPtrs) },
        { scenario: c.id, peer: THING, ops: BATCH, fn: () => thingAllocFree(pool, c.sizes, c.order, thingPtrs) },
      );
      checks.push(() => checkPointers(THING, c.label, thingPtrs));
    }
    checks.push(() => {
      const { allocations } = arena.stats();
      if (allocations !== 0) throw new Error(`${ARENA}: ${allocations} allocations left after alloc+free`);
      if (pool.stats().used.count !== 0)
        throw new Error(`${THING}: ${pool.stats().used.count} blocks left after alloc+free`);
    });
  }

  // A request-scoped owner: an arena per request on the shared heap (its
  // pages and its record come back on release and are taken again by the
  // next request), REQUEST_ALLOCS allocations of one fixed list of mixed
  // sizes, then release. Peers: the same allocations, then TLSF frees each
  // and the bump pointer resets.
  {
    const id = "request-scoped";
    scenarios.push({
      id,
      label: `request-scoped owner: create, ${REQUEST_ALLOCS} mixed allocations, release (TLSF: free each, bump: reset)`,
      unit: "request",
      peers: [ARENA, TLSF, BUMP],
    });
    const sizes = mixedSizes(REQUEST_ALLOCS, prng(0x2e9e));
    const tlsf = instantiatePeer("tlsf");
    const bump = instantiatePeer("bump");
    const arenaPtrs = new Uint32Array(REQUEST_ALLOCS);
    const tlsfPtrs = new Uint32Array(REQUEST_ALLOCS);
    const bumpPtrs = new Uint32Array(REQUEST_ALLOCS);
    arenaRequests(heap, sizes, arenaPtrs, 1);
    tlsfRequests(tlsf, sizes, tlsfPtrs, 1);
    bumpRequests(bump, sizes, bumpPtrs, 1);
    checkPointers(ARENA, id, arenaPtrs);
    checkPointers(TLSF, id, tlsfPtrs);
    checkPointers(BUMP, id, bumpPtrs);
    const growth = new GrowthWatch(heap, () => arenaRequests(heap, sizes, arenaPtrs, 1));
    tasks.push(
      {
        scenario: id,
        peer: ARENA,
        ops: REQUESTS,
        beforeAll: growth.start,
        afterAll: growth.stop,
        fn: () => arenaRequests(heap, sizes, arenaPtrs, REQUESTS),
      },
      { scenario: id, peer: TLSF, ops: REQUESTS, fn: () => tlsfRequests(tlsf, sizes, tlsfPtrs, REQUESTS) },
      { scenario: id, peer: BUMP, ops: REQUESTS, fn: () => bumpRequests(bump, sizes, bumpPtrs, REQUESTS) },
    );
    checks.push(() => {
      growth.check(id);
      checkPointers(ARENA, id, arenaPtrs);
      checkPointers(TLSF, id, tlsfPtrs);
      checkPointers(BUMP, id, bumpPtrs);
    });
  }

  // Create + release of an empty owner: an arena on the shared heap, an
  // empty array of closures run in reverse, a native DisposableStack.
  {
    const id = "arena-create-release";
    scenarios.push({ id, label: "create + release of an empty arena", unit: "arena", peers: [ARENA, CLOSURES, STACK] });
    const growth = new GrowthWatch(heap, () => arenaCreateRelease(heap, 1));
    tasks.push(
      {
        scenario: id,
        peer: ARENA,
        ops: BATCH,
        beforeAll: growth.start,
        afterAll: growth.stop,
        fn: () => arenaCreateRelease(heap, BATCH),
      },
      { scenario: id, peer: CLOSURES, ops: BATCH, fn: () => closuresCreateRelease(BATCH) },
    );
    if (Stack !== undefined) {
      tasks.push({ scenario: id, peer: STACK, ops: BATCH, fn: () => stackCreateRelease(Stack, BATCH) });
    }
    const unmade = closuresOwner;
    closuresCreateRelease(1);
    if (closuresOwner === unmade) throw new Error(`${CLOSURES}: create+release made no owner`);
    checks.push(() => growth.check(id));
  }

  // Free with 100 versus 100,000 live: free a random live allocation and
  // allocate its replacement, so the live count stays constant. managed-arena
  // and TLSF use the same arena / instance for both: before the 100,000 task
  // it grows to 100,000 live, after it shrinks back to 100 (untimed). The
  // seed's list cannot shrink in reasonable time (each free is O(n)), so it
  // keeps one list per count.
  {
    const SMALL = 100;
    const LARGE = 100_000;
    const random = prng(0xc4a2);
    const stream = new Float64Array(STREAM).map(() => random());
    const indices = (bound: number) => Uint32Array.from(stream, (r) => Math.floor(r * bound));
    const small = indices(SMALL);
    const large = indices(LARGE);
    const cases = [
      { id: "free-live-100", label: "free+alloc 16 B, 100 live, random order", live: SMALL, indices: small },
      { id: "free-live-100000", label: "free+alloc 16 B, 100,000 live, random order", live: LARGE, indices: large },
    ];
    const arena = heap.createArena({ name: "churn" });
    const tlsf = instantiatePeer("tlsf");
    const arenaLive = new Uint32Array(LARGE);
    const tlsfLive = new Uint32Array(LARGE);
    for (let j = 0; j < SMALL; j++) {
      arenaLive[j] = arena.alloc(CHURN_SIZE);
      tlsfLive[j] = tlsf.alloc(CHURN_SIZE);
    }
    const grow = (alloc: (size: number) => number, live: Uint32Array) => () => {
      for (let j = SMALL; j < LARGE; j++) live[j] = alloc(CHURN_SIZE);
    };
    const shrink = (free: (ptr: number) => void, live: Uint32Array) => () => {
      for (let j = SMALL; j < LARGE; j++) free(live[j]);
    };
    for (const c of cases) {
      scenarios.push({ id: c.id, label: c.label, unit: "free+alloc pair", peers: [ARENA, TLSF, LIST, THING] });
      const seed = new SeedList();
      const seedLive = new Uint32Array(c.live);
      for (let j = 0; j < c.live; j++) seedLive[j] = seed.alloc(CHURN_SIZE);
      // @thi.ng/malloc's free is O(live) too: a pool per count, as for the list (shrinking it would take minutes).
      const pool = thingPool(c.live * 64 + (1 << 20));
      const thingLive = new Uint32Array(c.live);
      for (let j = 0; j < c.live; j++) thingLive[j] = pool.malloc(CHURN_SIZE);
      checkPointers(THING, c.label, thingLive);
      const thingCursor: Cursor = { indices: c.indices, at: 0 };
      const arenaCursor: Cursor = { indices: c.indices, at: 0 };
      const tlsfCursor: Cursor = { indices: c.indices, at: 0 };
      const seedCursor: Cursor = { indices: c.indices, at: 0 };
      const large = c.live === LARGE;
      // The list's O(n) free takes ~n/2 steps: fewer operations per call keep samples short.
      const seedOps = large ? 8 : BATCH;
      tasks.push(
        {
          scenario: c.id,
          peer: ARENA,
          ops: BATCH,
          fn: () => arenaChurn(arena, arenaLive, arenaCursor, BATCH),
          beforeAll: large ? grow((size) => arena.alloc(size), arenaLive) : undefined,
          afterAll: large ? shrink((ptr) => arena.free(ptr as Ptr), arenaLive) : undefined,
        },
        {
          scenario: c.id,
          peer: TLSF,
          ops: BATCH,
          fn: () => tlsfChurn(tlsf, tlsfLive, tlsfCursor, BATCH),
          beforeAll: large ? grow(tlsf.alloc, tlsfLive) : undefined,
          afterAll: large ? shrink(tlsf.free, tlsfLive) : undefined,
        },
        {
          scenario: c.id,
          peer: LIST,
          ops: seedOps,
          iterations: large ? 16 : undefined,
          fn: () => seedChurn(seed, seedLive, seedCursor, seedOps),
        },
        {
          scenario: c.id,
          peer: THING,
          ops: seedOps,
          iterations: large ? 16 : undefined,
          fn: () => thingChurn(pool, thingLive, thingCursor, seedOps),
        },
      );
      checks.push(() => {
        if (seed.count !== c.live) throw new Error(`${LIST}: ${seed.count} live, expected ${c.live}`);
        checkPointers(THING, c.label, thingLive);
      });
    }
    checks.push(() => {
      const { allocations } = arena.stats();
      if (allocations !== SMALL) throw new Error(`${ARENA}: ${allocations} live after churn, expected ${SMALL}`);
      checkPointers(ARENA, "churn", arenaLive.subarray(0, SMALL));
      checkPointers(TLSF, "churn", tlsfLive.subarray(0, SMALL));
    });
  }

  // add+release of actions: a fresh owner per call (arena on the shared heap,
  // array, stack), `n` actions registered, then all run newest-first. With
  // 200,000 actions one owner is a call (tens of ms, much of it garbage
  // collection, which varies from call to call): a fixed count of calls.
  const huge = settings.quick ? 1 : 5;
  for (const n of [1000, 10, 200_000]) {
    const id = `add-release-${n}`;
    scenarios.push({
      id,
      label: `add+release, ${n > BATCH ? n.toLocaleString("en-US") : n} actions per owner`,
      unit: "action",
      peers: [ARENA, CLOSURES, STACK],
    });
    const reps = Math.max(1, BATCH / n);
    const ops = reps * n;
    const iterations = n > BATCH ? huge : undefined;
    tasks.push(
      {
        scenario: id,
        peer: ARENA,
        ops,
        iterations,
        fn: () => {
          for (let r = 0; r < reps; r++) arenaAddRelease(heap, n);
        },
      },
      {
        scenario: id,
        peer: CLOSURES,
        ops,
        iterations,
        fn: () => {
          for (let r = 0; r < reps; r++) closuresAddRelease(n);
        },
      },
    );
    if (Stack !== undefined) {
      tasks.push({
        scenario: id,
        peer: STACK,
        ops,
        iterations,
        fn: () => {
          for (let r = 0; r < reps; r++) stackAddRelease(Stack, n);
        },
      });
    }
  }
  {
    const before = sink;
    arenaAddRelease(heap, 10);
    if (sink !== before + 45) throw new Error(`${ARENA}: add+release ran ${sink - before}, expected 45`);
  }

  // Release of 1,000,000 plain allocations versus making them. Each call
  // starts from a fresh arena (instance, reset) made untimed.
  {
    scenarios.push(
      { id: "make-1m", label: "make 1,000,000 x 16 B", unit: "allocation", peers: [ARENA, TLSF, BUMP] },
      {
        id: "release-1m",
        label: "release 1,000,000 x 16 B (TLSF: free each, bump: reset)",
        unit: "allocation",
        peers: [ARENA, TLSF, BUMP],
      },
    );
    let makeArena!: Arena;
    let releaseArena!: Arena;
    const tlsf = instantiatePeer("tlsf");
    const tlsfPtrs = new Uint32Array(MILLION);
    const bump = instantiatePeer("bump");
    tasks.push(
      {
        scenario: "make-1m",
        peer: ARENA,
        ops: MILLION,
        iterations: slow,
        beforeEach: () => {
          makeArena = heap.createArena({ name: "make" });
        },
        fn: () => arenaMake(makeArena, MILLION),
        afterEach: () => {
          if (makeArena.stats().allocations !== MILLION) throw new Error(`${ARENA}: make 1M did not make 1M`);
          makeArena.release();
        },
      },
      {
        scenario: "release-1m",
        peer: ARENA,
        ops: MILLION,
        iterations: slow,
        beforeEach: () => {
          releaseArena = heap.createArena({ name: "release" });
          arenaMake(releaseArena, MILLION);
        },
        fn: () => arenaReleaseAll(releaseArena),
        afterEach: () => {
          if (!releaseArena.released) throw new Error(`${ARENA}: release 1M did not release`);
        },
      },
      {
        scenario: "make-1m",
        peer: TLSF,
        ops: MILLION,
        iterations: slow,
        fn: () => tlsfMake(tlsf, tlsfPtrs),
        afterEach: () => tlsfFreeAll(tlsf, tlsfPtrs),
      },
      {
        scenario: "release-1m",
        peer: TLSF,
        ops: MILLION,
        iterations: slow,
        beforeEach: () => tlsfMake(tlsf, tlsfPtrs),
        fn: () => tlsfFreeAll(tlsf, tlsfPtrs),
      },
      {
        scenario: "make-1m",
        peer: BUMP,
        ops: MILLION,
        iterations: slow,
        fn: () => bumpMake(bump, MILLION),
        afterEach: () => bump.reset(),
      },
      {
        scenario: "release-1m",
        peer: BUMP,
        ops: MILLION,
        iterations: slow,
        beforeEach: () => bumpMake(bump, MILLION),
        fn: () => bumpReleaseAll(bump),
      },
    );
  }

  // realloc growth: allocate 16 B, grow it step by step, free it.
  {
    const arena = heap.createArena({ name: "realloc" });
    const tlsf = instantiatePeer("tlsf");
    const bump = instantiatePeer("bump");
    scenarios.push(
      {
        id: "realloc-doubling",
        label: "realloc 16 B -> 64 KiB, doubling",
        unit: "realloc",
        peers: [ARENA, TLSF, BUMP],
      },
      {
        id: "realloc-stepping",
        label: "realloc 16 B -> 1 KiB, +16 B steps",
        unit: "realloc",
        peers: [ARENA, TLSF, BUMP],
      },
    );
    const doublings = GROW_REPS * DOUBLINGS;
    const steps = GROW_REPS * STEPS;
    tasks.push(
      { scenario: "realloc-doubling", peer: ARENA, ops: doublings, fn: () => arenaGrowDoubling(arena) },
      { scenario: "realloc-doubling", peer: TLSF, ops: doublings, fn: () => tlsfGrowDoubling(tlsf) },
      { scenario: "realloc-doubling", peer: BUMP, ops: doublings, fn: () => bumpGrowDoubling(bump) },
      { scenario: "realloc-stepping", peer: ARENA, ops: steps, fn: () => arenaGrowStepping(arena) },
      { scenario: "realloc-stepping", peer: TLSF, ops: steps, fn: () => tlsfGrowStepping(tlsf) },
      { scenario: "realloc-stepping", peer: BUMP, ops: steps, fn: () => bumpGrowStepping(bump) },
    );
    checks.push(() => {
      const { allocations } = arena.stats();
      if (allocations !== 0) throw new Error(`${ARENA}: ${allocations} allocations left after realloc`);
    });
  }

  // Group unwinding: group(fn) whose body allocates and registers GROUP_N of
  // each, then throws; the peers do the same with TLSF and their own undo list.
  {
    const id = "group-unwind";
    scenarios.push({
      id,
      label: `group unwinding: ${GROUP_N} allocs + ${GROUP_N} actions, then throw`,
      unit: "group",
      peers: [ARENA, TLSF_CLOSURES, TLSF_STACK],
    });
    const arena = heap.createArena({ name: "group" });
    const tlsfA = instantiatePeer("tlsf");
    const tlsfB = instantiatePeer("tlsf");
    tasks.push(
      { scenario: id, peer: ARENA, ops: GROUP_REPS, fn: () => arenaGroupUnwind(arena) },
      { scenario: id, peer: TLSF_CLOSURES, ops: GROUP_REPS, fn: () => tlsfClosuresGroupUnwind(tlsfA) },
    );
    if (Stack !== undefined) {
      tasks.push({ scenario: id, peer: TLSF_STACK, ops: GROUP_REPS, fn: () => tlsfStackGroupUnwind(Stack, tlsfB) });
    }
    arenaGroupUnwind(arena);
    checks.push(() => {
      const stats = arena.stats();
      if (stats.allocations !== 0 || stats.actions !== 0) {
        throw new Error(`${ARENA}: group unwinding left ${stats.allocations} allocations, ${stats.actions} actions`);
      }
    });
  }

  // Time to instantiate: Heap.create() (the core's module is compiled once per
  // process, as the peers' are) versus instantiating a peer.
  {
    const id = "instantiate";
    scenarios.push({
      id,
      label: "instantiate (Heap.create / peer instance)",
      unit: "instance",
      peers: [ARENA, TLSF, BUMP],
    });
    const tlsf = peerModule("tlsf");
    const bump = peerModule("bump");
    await arenaInstantiate();
    tasks.push(
      { scenario: id, peer: ARENA, ops: 1, async: true, fn: () => arenaInstantiate() },
      { scenario: id, peer: TLSF, ops: 1, async: true, fn: () => tlsfInstantiate(tlsf) },
      { scenario: id, peer: BUMP, ops: 1, async: true, fn: () => bumpInstantiate(bump) },
    );
  }

  // Taking pages: create arena + alloc(32) + release, where the arena's page
  // is cut from a free run of 1 MiB or of 1 GiB (the shared heap grows to
  // hold the latter the first time; its pages are never touched).
  for (const [id, pages, what] of [
    ["arena-cycle-1mib-free", 16, "1 MiB"],
    ["arena-cycle-1gib-free", 16384, "1 GiB"],
  ] as const) {
    scenarios.push({
      id,
      label: `create arena + alloc(${CYCLE_SIZE}) + release, page cut from ${what} free`,
      unit: "arena",
      peers: [ARENA],
    });
    const run = new FreeRun(heap, pages);
    tasks.push({
      scenario: id,
      peer: ARENA,
      ops: CYCLES,
      beforeAll: () => run.open(),
      afterAll: () => run.close(),
      fn: () => arenaCycle(heap, CYCLES),
    });
  }

  // The random-lifetime workload (tools/bench/workload.ts): each call starts
  // from LIFETIME_LIVE blocks allocated untimed (a fresh arena; TLSF's one
  // instance, emptied after each call), then runs every step.
  {
    const id = "random-lifetime-speed";
    scenarios.push({
      id,
      label: `random lifetimes: ${LIFETIME_LIVE.toLocaleString("en-US")} live, 8 B-64 KiB, free one + alloc`,
      unit: "free+alloc step",
      peers: [ARENA, TLSF],
    });
    // The workload is made on first use (60 ms and 8 MB of random numbers, not worth it when not chosen).
    let w!: Lifetime;
    const tlsf = instantiatePeer("tlsf");
    const arenaLive = new Uint32Array(LIFETIME_LIVE);
    const tlsfLive = new Uint32Array(LIFETIME_LIVE);
    let arena!: Arena;
    tasks.push(
      {
        scenario: id,
        peer: ARENA,
        ops: LIFETIME_STEPS,
        iterations: slow,
        beforeEach: () => {
          w = lifetime();
          arena = heap.createArena({ name: "random lifetimes" });
          arenaLifetimeFill(arena, arenaLive, w.initial);
        },
        fn: () => arenaLifetime(arena, arenaLive, w.sizes, w.indices),
        afterEach: () => {
          const { allocations, peakBytes } = arena.stats();
          if (allocations !== LIFETIME_LIVE || peakBytes !== w.peakLive) {
            throw new Error(`${ARENA}: random lifetimes ended with ${allocations} live, peak ${peakBytes}`);
          }
          checkPointers(ARENA, "random lifetimes", arenaLive);
          arena.release();
        },
      },
      {
        scenario: id,
        peer: TLSF,
        ops: LIFETIME_STEPS,
        iterations: slow,
        beforeEach: () => {
          w = lifetime();
          tlsfLifetimeFill(tlsf, tlsfLive, w.initial);
        },
        fn: () => tlsfLifetime(tlsf, tlsfLive, w.sizes, w.indices),
        afterEach: () => {
          checkPointers(TLSF, "random lifetimes", tlsfLive);
          tlsfLifetimeEmpty(tlsf, tlsfLive);
        },
      },
    );
  }

  // Measured once after the timed scenarios: memory, not time (tools/bench/small.ts).
  for (const [id, label, peers] of [
    ["arena-memory-request", "linear memory per live child arena with 8 x 64 B and 2 actions", [ARENA]],
    ["arena-memory-empty", "linear memory per live empty child arena", [ARENA]],
    ["many-arenas-100000", "100,000 live child arenas with one 16 B allocation each", [ARENA]],
    ["reserved-per-size", "reserved / requested bytes, 1,000 allocations of one size, 1 B-1 MiB", [ARENA]],
    ["random-lifetime-memory", "random lifetimes: linear memory at the end / peak live bytes", [ARENA, TLSF]],
  ] as const) {
    scenarios.push({ id, label, unit: "bytes", peers: [...peers], measured: true });
  }

  const ids = scenarios.map((s) => s.id).join(", ");
  if (ids !== SCENARIO_IDS.map(([id]) => id).join(", ")) throw new Error(`plan: SCENARIO_IDS do not match ${ids}`);
  return {
    scenarios,
    tasks,
    verify() {
      for (const check of checks) check();
    },
  };
}
