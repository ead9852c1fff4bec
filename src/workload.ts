// Workload files: a recorded allocation trace (arena create / release, alloc,
// free, realloc, with sizes and alignments) that `managed-arena bench
// --workload FILE` replays against managed-arena and its peers. The format is
// JSON lines, documented in docs/workloads.md: a header line, then one
// operation per line. Blocks and arenas are named by ids, not pointers, so a
// replay can map them to any allocator.
//
// This module is the package's `managed-arena/workload` entry: the format's
// types, a parser that validates a file (every error names its line), the
// writer, and recordWorkload(), which records a workload from a running
// program. It imports nothing at run time (types only), so it adds nothing to
// a bundle of the main entry, and reads or writes no file itself.

import type { Arena, ArenaOptions } from "./arena.js";
import type { Heap } from "./heap.js";
import type { TraceEvent } from "./state.js";

/** The `format` of a workload file's header line. */
export const WORKLOAD_FORMAT = "managed-arena-workload";
/** The version of the format this module reads and writes. */
export const WORKLOAD_VERSION = 1;

/** The first line of a workload file. */
export interface WorkloadHeader {
  /** Always "managed-arena-workload". */
  format: typeof WORKLOAD_FORMAT;
  /** The format's version: {@link WORKLOAD_VERSION}. */
  version: typeof WORKLOAD_VERSION;
  /** A short name, shown by `bench --workload` (default: the file's name). */
  name?: string;
  /** What the workload is, shown in the table's label. */
  description?: string;
}

/** Creates arena `arena` (a child of `parent` when given: released with it). */
export interface CreateOp {
  /** The operation. */
  op: "create";
  /** The new arena's number, unique in the file. */
  arena: number;
  /** The live arena it is a child of. */
  parent?: number;
  /** The arena's minimum alignment, a power of two 8..4096 (default 16). */
  minAlign?: number;
  /** The arena's name, for reports. */
  name?: string;
}
/** Allocates block `id` of `size` bytes in arena `arena`, aligned to max(`align`, the arena's minAlign). */
export interface AllocOp {
  /** The operation. */
  op: "alloc";
  /** The live arena to allocate in. */
  arena: number;
  /** The block's number, never reused in the file. */
  id: number;
  /** Bytes requested, 0..2^32-1. */
  size: number;
  /** A power of two 1..4096; default: the arena's minAlign. */
  align?: number;
}
/** Frees block `id`. */
export interface FreeOp {
  /** The operation. */
  op: "free";
  /** A live block. */
  id: number;
}
/** Resizes block `id` to `size` bytes (it keeps its id, its arena and its alignment). */
export interface ReallocOp {
  /** The operation. */
  op: "realloc";
  /** A live block. */
  id: number;
  /** Its new size in bytes. */
  size: number;
}
/** Releases arena `arena`: every block it holds, and its child arenas with theirs. */
export interface ReleaseOp {
  /** The operation. */
  op: "release";
  /** A live arena. */
  arena: number;
}
/** One operation of a workload, one line of its file. */
export type WorkloadOp = CreateOp | AllocOp | FreeOp | ReallocOp | ReleaseOp;

/** A parsed workload: its header and its operations in order. */
export interface Workload {
  /** The first line. */
  header: WorkloadHeader;
  /** The operations, in file order. */
  ops: WorkloadOp[];
  /** The line (1-based) of each operation in the file it was parsed from. */
  lines?: number[];
}

/** A malformed workload: `line` is the line of the file (1-based; 0 when not from a file). */
export class WorkloadError extends Error {
  /** The line of the file (1-based; 0 when not from a file). */
  readonly line: number;
  /** An error for `line`; the message names the line and what is wrong there. */
  constructor(message: string, line: number) {
    super(message);
    this.name = "WorkloadError";
    this.line = line;
  }
}

const FIELDS: Record<WorkloadOp["op"], { required: string[]; optional: string[] }> = {
  create: { required: ["arena"], optional: ["parent", "minAlign", "name"] },
  alloc: { required: ["arena", "id", "size"], optional: ["align"] },
  free: { required: ["id"], optional: [] },
  realloc: { required: ["id", "size"], optional: [] },
  release: { required: ["arena"], optional: [] },
};
const HEADER_FIELDS = ["format", "version", "name", "description"];
const MAX_ID = 2 ** 31 - 1;
const MAX_SIZE = 2 ** 32 - 1;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * Checks a sequence of operations: fields and their values, and that every
 * id is used in order (an arena is created before it is used and never after
 * its release; a block is allocated once, then freed or resized only while
 * live). `where(i)` names operation `i` in messages. Throws WorkloadError.
 */
function check(ops: readonly unknown[], lineOf: (i: number) => number, source: string): void {
  const arenas = new Map<number, { live: boolean; parent: number | undefined; line: number }>();
  const blocks = new Map<number, { arena: number; live: boolean; line: number }>();
  for (let i = 0; i < ops.length; i++) {
    const line = lineOf(i);
    const fail = (message: string): never => {
      throw new WorkloadError(`${source}:${line}: ${message}`, line);
    };
    const op = ops[i];
    if (typeof op !== "object" || op === null || Array.isArray(op)) fail("an operation must be a JSON object");
    const record = op as Record<string, unknown>;
    const name = record.op;
    if (typeof name !== "string" || !Object.hasOwn(FIELDS, name)) {
      fail(`unknown op ${JSON.stringify(name)} (expected create, alloc, free, realloc or release)`);
    }
    const fields = FIELDS[name as WorkloadOp["op"]];
    for (const key of Object.keys(record)) {
      if (key !== "op" && !fields.required.includes(key) && !fields.optional.includes(key)) {
        fail(`${name}: unknown field ${JSON.stringify(key)}`);
      }
    }
    for (const key of fields.required) if (!Object.hasOwn(record, key)) fail(`${name}: missing field "${key}"`);
    const integer = (key: string, max: number): number => {
      const value = record[key];
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
        fail(`${name}: "${key}" must be an integer in 0..${max}, got ${JSON.stringify(value)}`);
      }
      return value as number;
    };
    const liveArena = (key: string): number => {
      const id = integer(key, MAX_ID);
      const arena = arenas.get(id);
      if (arena === undefined) fail(`${name}: arena ${id} was never created`);
      else if (!arena.live) fail(`${name}: arena ${id} is released`);
      return id;
    };
    const liveBlock = (): number => {
      const id = integer("id", MAX_ID);
      const block = blocks.get(id);
      if (block === undefined) fail(`${name}: block ${id} was never allocated`);
      else if (!block.live) fail(`${name}: block ${id} is not live (freed or released at line ${block.line})`);
      return id;
    };
    switch (name as WorkloadOp["op"]) {
      case "create": {
        const id = integer("arena", MAX_ID);
        if (arenas.has(id)) fail(`create: arena ${id} already exists (created at line ${arenas.get(id)?.line})`);
        const parent = record.parent === undefined ? undefined : liveArena("parent");
        if (record.minAlign !== undefined) {
          const minAlign = integer("minAlign", 4096);
          if (minAlign < 8 || !isPowerOfTwo(minAlign)) fail(`create: "minAlign" must be a power of two 8..4096`);
        }
        if (record.name !== undefined && typeof record.name !== "string") fail(`create: "name" must be a string`);
        arenas.set(id, { live: true, parent, line });
        break;
      }
      case "alloc": {
        const arena = liveArena("arena");
        const id = integer("id", MAX_ID);
        if (blocks.has(id)) fail(`alloc: block ${id} already exists (allocated at line ${blocks.get(id)?.line})`);
        integer("size", MAX_SIZE);
        if (record.align !== undefined && !isPowerOfTwo(integer("align", 4096))) {
          fail(`alloc: "align" must be a power of two 1..4096`);
        }
        blocks.set(id, { arena, live: true, line });
        break;
      }
      case "free": {
        const block = blocks.get(liveBlock());
        if (block !== undefined) {
          block.live = false;
          block.line = line;
        }
        break;
      }
      case "realloc":
        liveBlock();
        integer("size", MAX_SIZE);
        break;
      case "release": {
        liveArena("arena");
        // The arena and its descendants, with their blocks.
        const gone = new Set<number>([record.arena as number]);
        for (let grew = true; grew; ) {
          grew = false;
          for (const [id, arena] of arenas) {
            if (arena.live && !gone.has(id) && arena.parent !== undefined && gone.has(arena.parent)) {
              gone.add(id);
              grew = true;
            }
          }
        }
        for (const id of gone) {
          const arena = arenas.get(id);
          if (arena !== undefined) arena.live = false;
        }
        for (const block of blocks.values()) {
          if (block.live && gone.has(block.arena)) {
            block.live = false;
            block.line = line;
          }
        }
        break;
      }
    }
  }
}

function checkHeader(value: unknown, source: string): WorkloadHeader {
  const fail = (message: string): never => {
    throw new WorkloadError(`${source}:1: ${message}`, 1);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`the first line must be the header, {"format":"${WORKLOAD_FORMAT}","version":${WORKLOAD_VERSION}}`);
  }
  const header = value as Record<string, unknown>;
  if (header.format !== WORKLOAD_FORMAT) {
    fail(
      `not a workload file: the header's "format" must be "${WORKLOAD_FORMAT}", got ${JSON.stringify(header.format)}`,
    );
  }
  if (header.version !== WORKLOAD_VERSION) {
    fail(
      `workload format version ${JSON.stringify(header.version)} is not supported (this reader knows version ${WORKLOAD_VERSION})`,
    );
  }
  for (const key of Object.keys(header))
    if (!HEADER_FIELDS.includes(key)) fail(`header: unknown field ${JSON.stringify(key)}`);
  for (const key of ["name", "description"]) {
    if (header[key] !== undefined && typeof header[key] !== "string") fail(`header: "${key}" must be a string`);
  }
  return header as unknown as WorkloadHeader;
}

/**
 * Parses and validates a workload file's text (JSON lines; blank lines are
 * skipped). `source` names the file in messages. Throws a WorkloadError whose
 * message starts with `source:line:` for anything malformed: bad JSON, an
 * unknown op or field, a value out of range, or an id used out of order.
 */
export function parseWorkload(text: string, source = "workload"): Workload {
  if (typeof text !== "string") throw new WorkloadError(`${source}: expected the text of a workload file`, 0);
  const rows = text.split("\n");
  let header: WorkloadHeader | undefined;
  const ops: WorkloadOp[] = [];
  const lines: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i].trim();
    if (row === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (error) {
      throw new WorkloadError(`${source}:${i + 1}: not JSON (${(error as Error).message})`, i + 1);
    }
    if (header === undefined) {
      if (i !== 0) throw new WorkloadError(`${source}:${i + 1}: the header must be the first line`, i + 1);
      header = checkHeader(value, source);
      continue;
    }
    ops.push(value as WorkloadOp);
    lines.push(i + 1);
  }
  if (header === undefined) throw new WorkloadError(`${source}:1: empty file: no header line`, 1);
  check(ops, (i) => lines[i], source);
  return { header, ops, lines };
}

/** Validates a workload built in memory (as parseWorkload validates a file); returns it. */
export function checkWorkload(workload: Workload, source = "workload"): Workload {
  checkHeader(workload?.header, source);
  if (!Array.isArray(workload.ops)) throw new WorkloadError(`${source}: "ops" must be an array`, 0);
  check(workload.ops, (i) => workload.lines?.[i] ?? i + 2, source);
  return workload;
}

/** The text of a workload file: the header line, then one operation per line. */
export function formatWorkload(workload: Workload): string {
  const { format, version, name, description } = workload.header;
  const header: WorkloadHeader = { format, version };
  if (name !== undefined) header.name = name;
  if (description !== undefined) header.description = description;
  return `${[header, ...workload.ops].map((value) => JSON.stringify(value)).join("\n")}\n`;
}

// ---- recording -----------------------------------------------------------------

/** Options of {@link recordWorkload}. */
export interface RecordOptions {
  /** The header's name. */
  name?: string;
  /** The header's description. */
  description?: string;
}

/** Records a workload from a running program: see {@link recordWorkload}. */
export interface WorkloadRecorder {
  /** Pass as the `trace` option of `Heap.create` (or of `createArena`): it sees every allocation and free. */
  readonly trace: (event: TraceEvent) => void;
  /**
   * Watches a heap (every arena it creates from now on, and their children)
   * or one arena: records arena creation and release, realloc, and the
   * alignment of each alloc, which trace events do not carry. Returns its
   * argument.
   */
  attach<T extends Heap | Arena>(target: T): T;
  /** Operations recorded so far. */
  readonly ops: readonly WorkloadOp[];
  /** The workload recorded so far (a copy). */
  toWorkload(): Workload;
  /** The workload as the text of a file (write it with `fs.writeFileSync(path, recorder.toString())`). */
  toString(): string;
}

interface ArenaRecord {
  id: number;
  parent: ArenaRecord | undefined;
  name: string;
  released: boolean;
  /** Watched (its Arena is known), not made up from a trace event's arena name. */
  bound: boolean;
}

interface BlockRecord {
  id: number;
  arena: ArenaRecord;
}

/** What a wrapped allocating call is doing while the trace event of its allocation arrives. */
interface Context {
  arena: ArenaRecord;
  align: number | undefined;
}

/**
 * Records a workload from a program that uses managed-arena:
 *
 * ```ts
 * const recorder = recordWorkload({ name: "my-server" });
 * const heap = recorder.attach(await Heap.create({ trace: recorder.trace }));
 * // ... the program runs ...
 * writeFileSync("my-server.jsonl", recorder.toString());
 * ```
 *
 * Allocations (alloc, allocZeroed, allocArray, dup, strdup) and frees come
 * from the trace events (also a block freed by `reset()` or `releaseGroup()`);
 * `attach` adds what the events do not say: which arena (by identity, not by
 * name), the `align` asked for, `realloc`, and arena creation and release.
 * Blocks allocated before recording began are ignored, and so are their frees.
 */
export function recordWorkload(options: RecordOptions = {}): WorkloadRecorder {
  const ops: WorkloadOp[] = [];
  const arenas = new WeakMap<Arena, ArenaRecord>();
  const byName = new Map<string, ArenaRecord>();
  const blocks = new Map<number, BlockRecord>();
  const contexts: Context[] = [];
  const releasing: ArenaRecord[] = [];
  let nextArena = 1;
  let nextBlock = 1;

  const within = (arena: ArenaRecord, ancestor: ArenaRecord): boolean => {
    for (let a: ArenaRecord | undefined = arena; a !== undefined; a = a.parent) if (a === ancestor) return true;
    return false;
  };

  const addArena = (name: string, parent: ArenaRecord | undefined, minAlign: unknown, bound = true): ArenaRecord => {
    const record: ArenaRecord = { id: nextArena++, parent, name, released: false, bound };
    const op: CreateOp = { op: "create", arena: record.id };
    if (parent !== undefined) op.parent = parent.id;
    if (typeof minAlign === "number" && minAlign !== 16) op.minAlign = minAlign;
    op.name = name;
    ops.push(op);
    byName.set(name, record);
    return record;
  };

  const trace = (event: TraceEvent): void => {
    if (event.kind !== "alloc" || event.ptr === undefined) return;
    const ptr = event.ptr;
    if (event.op === "add") {
      const context = contexts[contexts.length - 1];
      let arena: ArenaRecord | undefined = context?.arena;
      if (arena === undefined || arena.name !== event.arena) {
        // Not from a watched call: an arena known by this name, else one made up for it.
        const known = byName.get(event.arena);
        arena = known === undefined || known.released ? addArena(event.arena, undefined, undefined, false) : known;
      }
      const id = nextBlock++;
      const op: AllocOp = { op: "alloc", arena: arena.id, id, size: event.size };
      if (context !== undefined && context.arena === arena && context.align !== undefined) op.align = context.align;
      ops.push(op);
      blocks.set(ptr, { id, arena });
      return;
    }
    const block = blocks.get(ptr);
    if (block === undefined) return;
    blocks.delete(ptr);
    // A block released with its arena is in that arena's release op.
    if (event.op === "rel" && releasing.some((arena) => within(block.arena, arena))) return;
    ops.push({ op: "free", id: block.id });
  };

  const markReleased = (record: ArenaRecord): void => {
    if (record.released) return;
    ops.push({ op: "release", arena: record.id });
    // Its children went with it: their blocks too (their rel events were suppressed).
    for (const [ptr, block] of blocks) if (within(block.arena, record)) blocks.delete(ptr);
    record.released = true;
    for (const other of byName.values()) if (within(other, record)) other.released = true;
  };

  const watchArena = (arena: Arena, record: ArenaRecord): Arena => {
    arenas.set(arena, record);
    const target = arena as unknown as Record<string, unknown>;
    const wrapAlloc = (method: string, alignOf?: (args: unknown[]) => number | undefined) => {
      const original = target[method] as (...args: unknown[]) => unknown;
      target[method] = function (this: Arena, ...args: unknown[]) {
        contexts.push({ arena: record, align: alignOf?.(args) });
        try {
          return original.apply(this, args);
        } finally {
          contexts.pop();
        }
      };
    };
    wrapAlloc("alloc", (args) => {
      const options = args[1] as { align?: unknown } | undefined;
      const align = typeof options === "object" && options !== null ? options.align : undefined;
      return typeof align === "number" ? align : undefined;
    });
    for (const method of ["allocZeroed", "allocArray", "dup", "strdup"]) wrapAlloc(method);
    const realloc = arena.realloc;
    target.realloc = function (this: Arena, ptr: number, size: number) {
      const moved = realloc.call(this, ptr as never, size) as number;
      const block = blocks.get(ptr);
      if (block !== undefined) {
        ops.push({ op: "realloc", id: block.id, size });
        blocks.delete(ptr);
        blocks.set(moved, block);
      }
      return moved;
    };
    const release = arena.release;
    target.release = function (this: Arena) {
      releasing.push(record);
      try {
        release.call(this);
      } finally {
        releasing.pop();
        if (this.released) markReleased(record);
      }
    };
    const releaseAsync = arena.releaseAsync;
    target.releaseAsync = async function (this: Arena, ...args: unknown[]) {
      releasing.push(record);
      try {
        await releaseAsync.apply(this, args as never);
      } finally {
        releasing.splice(releasing.lastIndexOf(record), 1);
        if (this.released) markReleased(record);
      }
    };
    const createChild = arena.createChild;
    target.createChild = function (this: Arena, childOptions?: ArenaOptions) {
      const child = createChild.call(this, childOptions);
      return watchArena(child, addArena(child.name, record, childOptions?.minAlign));
    };
    return arena;
  };

  const attach = <T extends Heap | Arena>(target: T): T => {
    if (typeof (target as Arena).alloc === "function") {
      const arena = target as Arena;
      if (arenas.has(arena)) return target;
      // Its blocks may have been traced already, under an arena made up from its name: that one is it.
      const known = byName.get(arena.name);
      if (known !== undefined && !known.bound && !known.released) {
        known.bound = true;
        watchArena(arena, known);
      } else {
        watchArena(arena, addArena(arena.name, undefined, undefined));
      }
      return target;
    }
    const heap = target as Heap & Record<string, unknown>;
    const createArena = heap.createArena;
    heap.createArena = function (this: Heap, arenaOptions?: ArenaOptions) {
      const arena = createArena.call(this, arenaOptions);
      return watchArena(arena, addArena(arena.name, undefined, arenaOptions?.minAlign));
    };
    return target;
  };

  const header = (): WorkloadHeader => {
    const h: WorkloadHeader = { format: WORKLOAD_FORMAT, version: WORKLOAD_VERSION };
    if (options.name !== undefined) h.name = options.name;
    if (options.description !== undefined) h.description = options.description;
    return h;
  };

  return {
    trace,
    attach,
    ops,
    toWorkload: () => ({ header: header(), ops: ops.map((op) => ({ ...op })) }),
    toString: () => formatWorkload({ header: header(), ops }),
  };
}
