// Replaying a workload file (src/workload.ts, docs/workloads.md) against
// managed-arena and every peer that can run it: `bench --workload FILE`.
//
// A workload is compiled once into two programs of five words per step:
//   - the arena program, for managed-arena: create (and createChild), alloc
//     (with `align` only when above the arena's minAlign), free, realloc,
//     release (which takes an arena's children and blocks with it);
//   - the flat program, for the peers that have no arenas (TLSF, bump,
//     @thi.ng/malloc): an arena's release becomes a free of each of its
//     live blocks and of its children's, newest first; creates vanish; an
//     `empty` step marks the moments nothing is live (the bump peer resets
//     there: the only time a bump allocator can take its memory back).
// Blocks and arenas get dense indices, so a replay keeps pointers in a typed
// array. Every peer first replays the workload once, untimed, and is skipped
// (with the reason printed) if it cannot: an alignment it does not give, a
// bump allocator that would need more memory than MAX_BUMP_BYTES, an
// allocation it refuses.

import type { MemPool } from "@thi.ng/malloc";
import { type Arena, Heap, type Ptr } from "managed-arena";
import { parseWorkload, type Workload, WorkloadError } from "managed-arena/workload";
import type { Task } from "./engine.js";
import { instantiatePeer, THING, thingPool, type WasmPeer } from "./peers.js";
import { ARENA, BUMP, type Scenario, TLSF } from "./scenarios.js";

const ALLOC = 0;
const FREE = 1;
const REALLOC = 2;
const CREATE = 3;
const RELEASE = 4;
const EMPTY = 5;
const WORDS = 5;
const NONE = 0xffffffff;
/** TLSF and the bump allocator align every block to 16 bytes. */
const WASM_PEER_ALIGN = 16;
/** A bump allocator never reuses a freed block: it runs a workload only if it fits in this much between resets. */
export const MAX_BUMP_BYTES = 256 * 2 ** 20;

/** A workload compiled for replay. */
export interface Compiled {
  name: string;
  description: string;
  /** Operations in the file (what times are divided by). */
  ops: number;
  /**
   * The arena program, five words per step: [ALLOC | align << 8, arena, block, size, line],
   * [FREE, block, arena, 0, line], [REALLOC, block, size, arena, line],
   * [CREATE, arena, parent or NONE, minAlign, line], [RELEASE, arena, 0, 0, line].
   */
  arenaProgram: Uint32Array;
  /** The flat program (no arenas): [ALLOC, block, size, align, line], [FREE, block, 0, 0, line], [REALLOC, block, size, 0, line], [EMPTY, 0, 0, 0, line]. */
  flatProgram: Uint32Array;
  /** Blocks (ids) and arenas in the workload. */
  blocks: number;
  arenas: number;
  /** The highest alignment any block gets (max(align, its arena's minAlign)). */
  maxAlign: number;
  /** The highest sum of the sizes of live blocks, and the most live blocks. */
  peakLiveBytes: number;
  peakLiveBlocks: number;
  /** The most bytes a bump allocator holds between two moments when nothing is live (upper bound). */
  bumpBytes: number;
  /** At the end: live blocks (dense ids) and, per arena index, live or not, its live blocks and bytes. */
  finalLive: Uint32Array;
  finalArenas: { live: boolean; blocks: number; bytes: number }[];
  /** Counts of each op in the file. */
  counts: Record<"create" | "alloc" | "free" | "realloc" | "release", number>;
}

const round16 = (n: number) => Math.ceil(n / 16) * 16;

/** Compiles a parsed (validated) workload. */
export function compile(workload: Workload, fallbackName = "workload"): Compiled {
  const arenaIndex = new Map<number, number>();
  const blockIndex = new Map<number, number>();
  const minAligns: number[] = [];
  const parents: number[] = [];
  const arenaLive: boolean[] = [];
  const arenaBlocks: Set<number>[] = [];
  const blockArena: number[] = [];
  const blockSize: number[] = [];
  const blockLive: boolean[] = [];
  const arenaCode: number[] = [];
  const flatCode: number[] = [];
  const counts = { create: 0, alloc: 0, free: 0, realloc: 0, release: 0 };
  let maxAlign = 8;
  let live = 0;
  let liveBytes = 0;
  let peakLiveBytes = 0;
  let peakLiveBlocks = 0;
  let bump = 0;
  let bumpBytes = 0;
  const lineOf = (i: number) => workload.lines?.[i] ?? i + 2;
  const freeBlock = (b: number, line: number) => {
    blockLive[b] = false;
    arenaBlocks[blockArena[b]].delete(b);
    live--;
    liveBytes -= blockSize[b];
    flatCode.push(FREE, b, 0, 0, line);
    if (live === 0) {
      flatCode.push(EMPTY, 0, 0, 0, line);
      bump = 0;
    }
  };
  workload.ops.forEach((op, i) => {
    const line = lineOf(i);
    counts[op.op]++;
    switch (op.op) {
      case "create": {
        const a = minAligns.length;
        arenaIndex.set(op.arena, a);
        const minAlign = op.minAlign ?? 16;
        minAligns.push(minAlign);
        const parent = op.parent === undefined ? NONE : (arenaIndex.get(op.parent) as number);
        parents.push(parent);
        arenaLive.push(true);
        arenaBlocks.push(new Set());
        arenaCode.push(CREATE, a, parent, minAlign, line);
        break;
      }
      case "alloc": {
        const a = arenaIndex.get(op.arena) as number;
        const b = blockArena.length;
        blockIndex.set(op.id, b);
        const align = Math.max(op.align ?? 1, minAligns[a]);
        maxAlign = Math.max(maxAlign, align);
        blockArena.push(a);
        blockSize.push(op.size);
        blockLive.push(true);
        arenaBlocks[a].add(b);
        live++;
        liveBytes += op.size;
        bump += round16(op.size) + 16;
        // The alignment to ask for (only when above the arena's minAlign) rides in the op word.
        arenaCode.push(ALLOC | ((align > minAligns[a] ? align : 0) << 8), a, b, op.size, line);
        flatCode.push(ALLOC, b, op.size, align, line);
        break;
      }
      case "free":
        arenaCode.push(FREE, blockIndex.get(op.id) as number, blockArena[blockIndex.get(op.id) as number], 0, line);
        freeBlock(blockIndex.get(op.id) as number, line);
        break;
      case "realloc": {
        const b = blockIndex.get(op.id) as number;
        liveBytes += op.size - blockSize[b];
        blockSize[b] = op.size;
        bump += round16(op.size) + 16;
        arenaCode.push(REALLOC, b, op.size, blockArena[b], line);
        flatCode.push(REALLOC, b, op.size, 0, line);
        break;
      }
      case "release": {
        const a = arenaIndex.get(op.arena) as number;
        arenaCode.push(RELEASE, a, 0, 0, line);
        // The arena and its live descendants, their blocks freed newest first.
        const gone = new Set([a]);
        for (let c = a + 1; c < parents.length; c++) if (arenaLive[c] && gone.has(parents[c])) gone.add(c);
        const doomed: number[] = [];
        for (const g of gone) {
          arenaLive[g] = false;
          for (const b of arenaBlocks[g]) doomed.push(b);
        }
        doomed.sort((x, y) => y - x);
        for (const b of doomed) freeBlock(b, line);
        break;
      }
    }
    if (live > peakLiveBlocks) peakLiveBlocks = live;
    if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
    if (bump > bumpBytes) bumpBytes = bump;
  });
  return {
    name: workload.header.name ?? fallbackName,
    description: workload.header.description ?? "",
    ops: workload.ops.length,
    arenaProgram: Uint32Array.from(arenaCode),
    flatProgram: Uint32Array.from(flatCode),
    blocks: blockArena.length,
    arenas: minAligns.length,
    maxAlign,
    peakLiveBytes,
    peakLiveBlocks,
    bumpBytes,
    finalLive: Uint32Array.from(blockLive.flatMap((l, b) => (l ? [b] : []))),
    finalArenas: arenaLive.map((l, a) => {
      let bytes = 0;
      for (const b of arenaBlocks[a]) bytes += blockSize[b];
      return { live: l, blocks: arenaBlocks[a].size, bytes };
    }),
    counts,
  };
}

/** A replay that failed: which step (and the file's line), which peer, why. */
export class ReplayError extends Error {
  constructor(peer: string, line: number, cause: unknown) {
    super(`${peer}: replay failed at line ${line}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "ReplayError";
  }
}

// ---- the replays: one named function per peer (see scenarios.ts on why) -------------

/** Option objects made once (not per call): `{ align }` and `{ minAlign }` for each power of two 1..4096. */
const alignOptions = new Map<number, { align: number }>();
const minAlignOptions = new Map<number, { minAlign: number }>();
for (let align = 1; align <= 4096; align *= 2) {
  alignOptions.set(align, { align });
  minAlignOptions.set(align, { minAlign: align });
}

/** Replays the arena program on `heap`: arenas[i] is arena i, ptrs[b] block b. */
export function arenaReplay(heap: Heap, code: Uint32Array, arenas: Arena[], ptrs: Uint32Array): void {
  let pc = 0;
  try {
    for (; pc < code.length; pc += WORDS) {
      const word = code[pc];
      switch (word & 0xff) {
        case ALLOC: {
          const align = word >>> 8;
          const arena = arenas[code[pc + 1]];
          ptrs[code[pc + 2]] =
            align === 0 ? arena.alloc(code[pc + 3]) : arena.alloc(code[pc + 3], alignOptions.get(align));
          break;
        }
        case FREE:
          arenas[code[pc + 2]].free(ptrs[code[pc + 1]] as Ptr);
          break;
        case REALLOC:
          ptrs[code[pc + 1]] = arenas[code[pc + 3]].realloc(ptrs[code[pc + 1]] as Ptr, code[pc + 2]);
          break;
        case CREATE: {
          const parent = code[pc + 2];
          const minAlign = code[pc + 3];
          const options = minAlign === 16 ? undefined : minAlignOptions.get(minAlign);
          arenas[code[pc + 1]] = parent === NONE ? heap.createArena(options) : arenas[parent].createChild(options);
          break;
        }
        case RELEASE:
          arenas[code[pc + 1]].release();
          break;
      }
    }
  } catch (error) {
    throw new ReplayError(ARENA, code[pc + 4], error);
  }
}

export function tlsfReplay(peer: WasmPeer, code: Uint32Array, ptrs: Uint32Array): void {
  let pc = 0;
  try {
    for (; pc < code.length; pc += WORDS) {
      switch (code[pc]) {
        case ALLOC:
          ptrs[code[pc + 1]] = peer.alloc(code[pc + 2]);
          break;
        case FREE:
          peer.free(ptrs[code[pc + 1]]);
          break;
        case REALLOC:
          ptrs[code[pc + 1]] = peer.realloc(ptrs[code[pc + 1]], code[pc + 2]);
          break;
      }
    }
  } catch (error) {
    throw new ReplayError(TLSF, code[pc + 4], error);
  }
}

export function bumpReplay(peer: WasmPeer, code: Uint32Array, ptrs: Uint32Array): void {
  let pc = 0;
  try {
    for (; pc < code.length; pc += WORDS) {
      switch (code[pc]) {
        case ALLOC:
          ptrs[code[pc + 1]] = peer.alloc(code[pc + 2]);
          break;
        case FREE:
          peer.free(ptrs[code[pc + 1]]);
          break;
        case REALLOC:
          ptrs[code[pc + 1]] = peer.realloc(ptrs[code[pc + 1]], code[pc + 2]);
          break;
        case EMPTY:
          peer.reset();
          break;
      }
    }
  } catch (error) {
    throw new ReplayError(BUMP, code[pc + 4], error);
  }
}

export function thingReplay(pool: MemPool, code: Uint32Array, ptrs: Uint32Array): void {
  let pc = 0;
  try {
    for (; pc < code.length; pc += WORDS) {
      switch (code[pc]) {
        case ALLOC: {
          // Its malloc(0) and realloc(p, 0) return 0 (C allows it): a zero-size block is asked for as 1 byte.
          const ptr = pool.malloc(code[pc + 2] || 1);
          if (ptr === 0)
            throw new Error(`out of memory (malloc(${code[pc + 2]}) in a pool of ${pool.buf.byteLength} B)`);
          ptrs[code[pc + 1]] = ptr;
          break;
        }
        case FREE:
          if (!pool.free(ptrs[code[pc + 1]])) throw new Error(`free(${ptrs[code[pc + 1]]}) refused`);
          break;
        case REALLOC: {
          const ptr = pool.realloc(ptrs[code[pc + 1]], code[pc + 2] || 1);
          if (ptr === 0)
            throw new Error(`out of memory (realloc to ${code[pc + 2]} in a pool of ${pool.buf.byteLength} B)`);
          ptrs[code[pc + 1]] = ptr;
          break;
        }
      }
    }
  } catch (error) {
    throw new ReplayError(THING, code[pc + 4], error);
  }
}

// ---- the plan ------------------------------------------------------------------------

/** A workload file's scenario, its tasks, the peers skipped (and why) and a check to run after timing. */
export interface WorkloadPlan {
  scenarios: Scenario[];
  tasks: Task[];
  /** What the output says under the table: how peers without arenas ran it, who was skipped and why. */
  notes: string[];
  compiled: Compiled[];
  verify(): void;
}

/** Peers of a workload, as shown. */
export const WORKLOAD_PEERS = [ARENA, TLSF, BUMP, THING];

/** Loads (parses and validates) a workload file's text; `source` names it in messages. */
export function loadWorkload(text: string, source: string): Compiled {
  const base = source.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
  const workload = parseWorkload(text, source);
  if (workload.ops.length === 0) throw new WorkloadError(`${source}: no operations to replay (only a header)`, 1);
  return compile(workload, base);
}

/** Bytes of the @thi.ng/malloc pool for a workload: room for its peak twice over, headers and alignment included. */
function poolBytes(c: Compiled): number {
  const needed = 2 * (c.peakLiveBytes + c.peakLiveBlocks * (16 + c.maxAlign)) + (1 << 20);
  return Math.min(2 ** 31 - 4096, Math.ceil(needed / 65536) * 65536);
}

/** Every peer in a fresh state for one replay, and what a replay leaves cleaned up. */
interface Runner {
  peer: string;
  /** Sets up the state a replay starts from (untimed). */
  before(): void;
  run(): void;
  /** Checks what the replay left, then frees it (untimed). */
  after(): void;
}

function arenaRunner(heap: Heap, c: Compiled): Runner {
  const ptrs = new Uint32Array(c.blocks);
  const arenas: Arena[] = new Array(c.arenas);
  return {
    peer: ARENA,
    before: () => arenas.fill(undefined as unknown as Arena),
    run: () => arenaReplay(heap, c.arenaProgram, arenas, ptrs),
    after: () => {
      c.finalArenas.forEach((expected, a) => {
        const arena = arenas[a];
        if (arena === undefined) throw new Error(`${ARENA}: arena ${a} was never created`);
        if (arena.released !== !expected.live) {
          throw new Error(`${ARENA}: arena ${a} ${arena.released ? "released" : "live"} at the end of the replay`);
        }
        if (!expected.live) return;
        const { allocations: own, liveBytes } = arena.stats();
        if (own !== expected.blocks || liveBytes !== expected.bytes) {
          throw new Error(
            `${ARENA}: arena ${a} ended with ${own} blocks of ${liveBytes} B, expected ${expected.blocks} of ${expected.bytes} B`,
          );
        }
      });
      for (const arena of arenas) if (!arena.released) arena.release();
    },
  };
}

function tlsfRunner(c: Compiled): Runner {
  const peer = instantiatePeer("tlsf");
  const ptrs = new Uint32Array(c.blocks);
  return {
    peer: TLSF,
    before: () => {},
    run: () => tlsfReplay(peer, c.flatProgram, ptrs),
    after: () => {
      for (const b of c.finalLive) peer.free(ptrs[b]);
    },
  };
}

function bumpRunner(c: Compiled): Runner {
  const peer = instantiatePeer("bump");
  const ptrs = new Uint32Array(c.blocks);
  return {
    peer: BUMP,
    before: () => peer.reset(),
    run: () => bumpReplay(peer, c.flatProgram, ptrs),
    after: () => peer.reset(),
  };
}

function thingRunner(c: Compiled): Runner {
  const pool = thingPool(poolBytes(c), Math.max(8, c.maxAlign));
  const ptrs = new Uint32Array(c.blocks);
  return {
    peer: THING,
    before: () => pool.freeAll(),
    run: () => thingReplay(pool, c.flatProgram, ptrs),
    after: () => pool.freeAll(),
  };
}

/** Why a peer cannot run a workload (before trying), or undefined. */
function cannot(peer: string, c: Compiled): string | undefined {
  if ((peer === TLSF || peer === BUMP) && c.maxAlign > WASM_PEER_ALIGN) {
    return `it aligns every block to ${WASM_PEER_ALIGN} B and the workload asks for ${c.maxAlign} B`;
  }
  if (peer === BUMP && c.bumpBytes > MAX_BUMP_BYTES) {
    return (
      `a bump allocator reuses nothing until every block is freed: this workload would take ` +
      `${Math.ceil(c.bumpBytes / 2 ** 20)} MiB before that (limit ${MAX_BUMP_BYTES / 2 ** 20} MiB)`
    );
  }
  return undefined;
}

/** The scenarios and tasks of the workloads given (text and a name for messages each), on one heap. */
export async function workloadPlan(files: readonly { text: string; source: string }[]): Promise<WorkloadPlan> {
  const heap = await Heap.create();
  const scenarios: Scenario[] = [];
  const tasks: Task[] = [];
  const notes: string[] = [];
  const compiled: Compiled[] = [];
  const used = new Set<string>();
  for (const file of files) {
    const c = loadWorkload(file.text, file.source);
    compiled.push(c);
    let id = `workload-${c.name}`;
    for (let n = 2; used.has(id); n++) id = `workload-${c.name}-${n}`;
    used.add(id);
    const n = c.counts;
    scenarios.push({
      id,
      label:
        `workload ${c.name} (${c.ops.toLocaleString("en-US")} ops: ` +
        `${n.alloc} alloc, ${n.free} free, ${n.realloc} realloc, ${n.create} create, ${n.release} release)`,
      unit: "op",
      peers: WORKLOAD_PEERS,
    });
    if (c.description) notes.push(`${c.name}: ${c.description}`);
    const runners: Runner[] = [];
    for (const [peer, make] of [
      [ARENA, () => arenaRunner(heap, c)],
      [TLSF, () => tlsfRunner(c)],
      [BUMP, () => bumpRunner(c)],
      [THING, () => thingRunner(c)],
    ] as const) {
      const reason = cannot(peer, c);
      if (reason !== undefined) {
        notes.push(`${c.name}: ${peer} skipped: ${reason}`);
        continue;
      }
      const runner = make();
      // One untimed replay: a peer that cannot run it is skipped, with the reason (managed-arena's failure is the run's).
      try {
        runner.before();
        runner.run();
        runner.after();
      } catch (error) {
        if (peer === ARENA) throw error;
        notes.push(`${c.name}: ${peer} skipped: ${(error as Error).message}`);
        continue;
      }
      runners.push(runner);
    }
    for (const runner of runners) {
      tasks.push({
        scenario: id,
        peer: runner.peer,
        ops: c.ops,
        beforeEach: runner.before,
        fn: runner.run,
        afterEach: runner.after,
      });
    }
  }
  notes.push(
    `peers without arenas (${TLSF}, ${BUMP}, ${THING}) run an arena's release as a free of each of its live blocks ` +
      `(and its child arenas'), newest first; ${BUMP} frees only its most recent block and takes everything back ` +
      `(reset) whenever no block is live; ${THING} runs in a pool aligned to the workload's largest alignment`,
  );
  return {
    scenarios,
    tasks,
    notes,
    compiled,
    // Each replay checks its own end state (Runner.after, run after every call).
    verify() {},
  };
}
