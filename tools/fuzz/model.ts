// The reference model: a small, slow, obviously-correct simulation of one
// arena of the public API (DESIGN §3-5, docs/facade-spec.md), written without
// looking at how the core lays anything out. It keeps the release list as an
// array (oldest first), and predicts for every call its result or error code,
// the order in which actions and destructors run, what they do when they call
// back into the arena, and the counters of stats().
//
// The model checks the real system's log entry by entry as it simulates
// (emit() below): the real system runs a command first and logs every call and
// every action run; the model then replays the command against that log. It
// takes from the log only what no model can know: the pointer values
// allocations get (checked for alignment, bounds and overlap instead), and
// whether a request the heap may legitimately refuse (its memory is at or near
// maxPages) was refused with ENOMEM. Everything else must match exactly.

import type { Behaviour, Body, Effect, HandleArg, Op } from "./spec.js";
import {
  type Arg,
  decode,
  isAlignValue,
  isU32Value,
  type Predicted,
  renderPredicted,
  renderString,
  renderTrace,
  show,
  sourceBytes,
  strdupText,
} from "./values.js";

/** One line of a log: a call and its outcome, or an action that ran; allocations carry their pointer. */
export interface Entry {
  text: string;
  ptr?: number;
}

/** The implementation disagreed with the model (or broke an invariant): the message says where. */
export class Mismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Mismatch";
  }
}

/** A predicted throw, travelling through the model's call stack like the real one does. */
class Thrown {
  constructor(readonly error: Predicted) {}
}

const fail = (code: string) => new Thrown({ code });

export const U32_MAX = 4294967295;
export const PAGE = 65536;
const HEADER = 16;
const SMALL_MAX = 4096;
/** The grain of the block-start bitmap (assembly/layout.ts): every allocation starts on it. */
const GRANULE = 8;

export interface AllocEntity {
  kind: "alloc";
  id: number;
  size: number;
  alignLog2: number;
  ptr: number;
  name: string;
  dtor: Behaviour | undefined;
  /**
   * "queued": heap.free took it (shared heaps); not live any more (free, sizeOf, realloc of it
   * are EBADPTR) but still in the release list and the counters until the arena frees it.
   */
  state: "live" | "dying" | "queued" | "dead";
  /** The child arena it belongs to, or 0 for the fuzzed arena. */
  child: number;
  /** Its bytes, when made by dup or strdup and not written or reallocated since (else the harness's pattern). */
  data?: Uint8Array;
  /** What readString must return, when strdup made it (predicted without a UTF-8 decoder). */
  text?: string;
}

/** A pointer a single free made stale: the allocation it was, and its size then. */
export interface Retired {
  id: number;
  ptr: number;
  size: number;
}

export interface ActionEntity {
  kind: "action";
  id: number;
  name: string;
  behaviour: Behaviour;
  state: "live" | "dead";
}

export interface GroupEntity {
  kind: "group";
  id: number;
  name: string;
  open: boolean;
  state: "live" | "dead";
  unwinding: boolean;
  /** False for the group of group(fn), whose handle the caller never sees. */
  handle: boolean;
}

export interface ChildEntity {
  kind: "child";
  id: number;
  name: string;
  state: "live" | "dead";
  /** Still registered in the parent's list. */
  linked: boolean;
  actions: number;
  allocs: AllocEntity[];
  minAlignLog2: number;
  peak: number;
}

type Node =
  | { k: "alloc"; e: AllocEntity }
  | { k: "action"; e: ActionEntity }
  | { k: "group"; e: GroupEntity }
  | { k: "close"; e: GroupEntity }
  | { k: "child"; e: ChildEntity };

export interface ModelConfig {
  maxPages: number;
  minAlign: number;
  maxBytes: number;
  /** The fuzzed arena has a tracer: every trace event is predicted, in order, among the calls and actions. */
  trace?: boolean;
  /** The fuzzed arena's quarantine option in bytes (0 or absent: off). */
  quarantine?: number;
  /** Test hook: a deliberate error in the model, to exercise the failure path of the fuzzer. */
  fault?: string;
  /** The heap is shared: heap.free queues frees; on a plain heap it is EINVAL. */
  shared?: boolean;
  /** Other threads use the heap (`--threads`): see heapFreeCertain. */
  threads?: boolean;
}

export interface ModelStats {
  allocations: number;
  actions: number;
  groups: number;
  children: number;
  liveBytes: number;
  peakBytes: number;
}

/** The behaviour of actions created by effects and children: log that they ran, nothing else. */
export const PLAIN: Behaviour = { throws: false, effects: [] };

/** The name `add` gives the fuzzer's actions by default (`action.name`). */
export const ACTION_NAME = "fuzzAction";

/** The fuzzed arena's name, as trace events carry it. */
export const ARENA_NAME = "fuzzed";

/** The text the effect op strdup copies: `n` modulo 4096 two-byte characters (a callback's strings stay short). */
export function effectText(n: number): string {
  return "ε".repeat(n % 4096);
}

/**
 * UTF-8 as the contract asks of strdup, written out rather than taken from
 * TextEncoder: code points by their length, lone surrogates as U+FFFD.
 * `fault` "utf8" counts one byte per UTF-16 unit (a deliberately wrong model).
 */
export function utf8(text: string, fault?: string): Uint8Array {
  if (fault === "utf8") return new Uint8Array(text.length).fill(0x3f);
  // At most 3 bytes per UTF-16 unit (a pair of units makes 4 bytes).
  const out = new Uint8Array(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 63);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    }
  }
  return out.slice(0, n);
}

/** What readString gives back for strdup(text): the text up to its first NUL, lone surrogates as U+FFFD. */
function readBack(text: string): string {
  // Most text has neither: it comes back as it is.
  if (!/[\0\ud800-\udfff]/.test(text)) return text;
  let out = "";
  for (const ch of text) {
    if (ch === "\0") break;
    const c = ch.codePointAt(0) as number;
    out += c >= 0xd800 && c <= 0xdfff ? "\ufffd" : ch;
  }
  return out;
}

/** readString reads text back as it was written: a leading U+FEFF is a character, not a byte order mark. */
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export class Model {
  readonly minAlignLog2: number;
  readonly maxBytes: number;
  readonly pageLimit: number;
  readonly fault: string | undefined;
  readonly traced: boolean;
  /** The heap is shared (heap.free works). */
  readonly shared: boolean;
  /** Other threads use the heap, or did in the run this replays (`--threads`). */
  readonly threads: boolean;
  /**
   * The fuzzed arena's remote-free stack, oldest first: allocations heap.free queued, which the
   * arena frees (newest first, each as its own free) at its next alloc, free, release, reset,
   * releaseGroup or stats (README, "One heap, many threads").
   */
  queue: AllocEntity[] = [];
  /** The quarantine limit in bytes; 0: off. */
  readonly quarantineLimit: number;
  /**
   * Blocks the quarantine holds, oldest first: freed by one free (free, a realloc that moved, a
   * destructor, a group walk), each counting its size + 16, the oldest let go while they count more
   * than the limit, a block counting more than the limit never held (README, ArenaOptions).
   */
  private held: Retired[] = [];
  private heldBytes = 0;
  /** The last pointers a single free made stale (whether or not held), oldest first: for `reuse`. */
  readonly retired: Retired[] = [];
  /** The pointer a traced allocation reported in its add event: the call's result must carry the same. */
  private tracedPtr: number | undefined;
  /** The release list, oldest first; close markers included. */
  list: Node[] = [];
  readonly allocs: AllocEntity[] = [];
  readonly actions: ActionEntity[] = [];
  readonly groups: GroupEntity[] = [];
  readonly children: ChildEntity[] = [];
  life: "live" | "releasing" | "released" = "live";
  refs = 1;
  /** reset() is running its actions: a release() they call still drops a reference. */
  resetting = false;
  /** releaseGroup walks under way (reset waits for them). */
  unwinding = 0;
  /** Destructors run by free() under way. */
  freeing = 0;
  /** release() was called by one of them: the teardown happens when the last returns. */
  deferred = false;
  peak = 0;
  /** Open groups, oldest first. */
  openGroups: GroupEntity[] = [];
  nextId = 1;
  /** Live allocations of the other arena on the heap (their pointers are foreign here). */
  foreign: { ptr: number; size: number }[] = [];
  /** Pages of the heap's memory now (an observation: only used to decide whether ENOMEM is allowed). */
  pages: () => number = () => 0;
  /** Bytes of the heap's memory now. */
  memoryBytes: () => number = () => 0;

  private actual: Entry[] = [];
  private cursor = 0;
  private opText = "";

  constructor(config: ModelConfig) {
    this.minAlignLog2 = Math.log2(config.minAlign);
    this.maxBytes = config.maxBytes;
    this.pageLimit = Math.min(config.maxPages, 65535);
    this.fault = config.fault;
    this.traced = config.trace === true;
    this.shared = config.shared === true;
    this.threads = config.threads === true;
    this.quarantineLimit = config.quarantine ?? 0;
  }

  // ---- checking the real log ------------------------------------------------

  /** Simulates `op` against the real log of it, throwing Mismatch at the first difference. */
  check(op: Op, actual: Entry[]): void {
    this.actual = actual;
    this.cursor = 0;
    this.opText = op.text;
    this.exec(op);
    if (this.cursor < actual.length) {
      throw new Mismatch(this.divergence("(nothing more)", actual[this.cursor].text));
    }
  }

  private divergence(expected: string, got: string | undefined): string {
    const from = Math.max(0, this.cursor - 6);
    const context = this.actual.slice(from, this.cursor).map((e) => `    ${e.text}`);
    return [
      `log of ${JSON.stringify(this.opText)} differs at entry ${this.cursor}:`,
      ...(context.length > 0 ? ["  matched so far (last entries):", ...context] : []),
      `  expected: ${expected}`,
      `  actual:   ${got ?? "(no more entries)"}`,
    ].join("\n");
  }

  /** The next entry must be `text`; returns it (with its pointer, if any). */
  private emit(text: string): Entry {
    const got = this.actual[this.cursor];
    if (got === undefined || got.text !== text) throw new Mismatch(this.divergence(text, got?.text));
    this.cursor++;
    return got;
  }

  private peekIs(text: string): boolean {
    return this.actual[this.cursor]?.text === text;
  }

  /**
   * Runs one call: emits `text -> result`, or `text -> CODE` for a predicted
   * error (rethrown with `rethrow`, as from inside a group(fn) body).
   */
  private call(text: string, fn: () => string, rethrow = false): boolean {
    let out: string;
    try {
      out = fn();
    } catch (t) {
      if (!(t instanceof Thrown)) throw t;
      this.emit(`${text} -> ${renderPredicted(t.error)}`);
      if (rethrow) throw t;
      return false;
    }
    const got = this.emit(`${text} -> ${out}`);
    const traced = this.tracedPtr;
    this.tracedPtr = undefined;
    if (traced !== undefined && got.ptr !== traced) {
      throw new Mismatch(`${this.opText}: ${text} returned ${got.ptr}, but its trace event said ${traced}`);
    }
    return true;
  }

  /** The trace event the facade sends at this point (state.ts), when the arena is traced. */
  private trace(
    op: "add" | "del" | "rel",
    kind: "alloc" | "action" | "group" | "child",
    name: string,
    size = 0,
    ptr?: number,
    arena = ARENA_NAME,
  ): void {
    if (!this.traced) return;
    const shown = this.fault === "traceName" && kind === "action" && op === "add" ? name.toLowerCase() : name;
    this.emit(renderTrace(op, kind, shown, size, ptr, arena));
  }

  /**
   * Whether a request for `pages` fresh pages may be refused by the heap: only
   * when its memory cannot grow by that much (plus one page of slack for a
   * small chunk or a callback node). Then the real log decides.
   */
  private refused(pages: number, failText: string, alsoFailsIf?: string): boolean {
    if (this.pages() + pages + 1 <= this.pageLimit) return false;
    return this.peekIs(failText) || (alsoFailsIf !== undefined && this.peekIs(alsoFailsIf));
  }

  private pagesFor(size: number, alignLog2: number): number {
    return size > SMALL_MAX ? Math.ceil((2 * HEADER + 2 ** alignLog2 - 1 + size) / PAGE) : 1;
  }

  /** The pointer the real system logged for the allocation being made, checked against everything live. */
  private takePtr(size: number, alignLog2: number, except?: AllocEntity): number {
    const ptr = this.actual[this.cursor]?.ptr;
    if (ptr === undefined)
      throw new Mismatch(this.divergence("an allocation with its pointer", this.actual[this.cursor]?.text));
    const bad = (why: string) => new Mismatch(`${this.opText}: pointer ${ptr} (size ${size}) ${why}`);
    if (!Number.isInteger(ptr) || ptr < PAGE) throw bad("is not above page 0");
    if (ptr % 2 ** alignLog2 !== 0) throw bad(`is not aligned to ${2 ** alignLog2}`);
    if (ptr + size > this.memoryBytes()) throw bad(`ends beyond memory (${this.memoryBytes()} bytes)`);
    const end = ptr + Math.max(size, 1);
    const overlaps = (p: number, s: number) => p < end && ptr < p + Math.max(s, 1);
    for (const a of this.allocs) {
      if (a !== except && a.state !== "dead" && overlaps(a.ptr, a.size)) throw bad(`overlaps a${a.id} at ${a.ptr}`);
    }
    for (const c of this.children) {
      for (const a of c.allocs) if (a.state === "live" && overlaps(a.ptr, a.size)) throw bad(`overlaps a${a.id}`);
    }
    for (const f of this.foreign) if (overlaps(f.ptr, f.size)) throw bad(`overlaps the other arena's ${f.ptr}`);
    for (const h of this.held) {
      if (overlaps(h.ptr, h.size)) throw bad(`reuses the block of a${h.id} at ${h.ptr}, freed and still quarantined`);
    }
    return ptr;
  }

  // ---- derived state ---------------------------------------------------------

  stats(): ModelStats {
    let allocations = 0;
    let actions = 0;
    let groups = 0;
    let children = 0;
    let liveBytes = 0;
    for (const n of this.list) {
      if (n.k === "alloc") {
        allocations++;
        liveBytes += n.e.size;
        if (this.fault === "liveBytes" && n.e.size >= 1000) liveBytes++;
      } else if (n.k === "action") actions++;
      else if (n.k === "group") groups++;
      else if (n.k === "child") children++;
    }
    return { allocations, actions, groups, children, liveBytes, peakBytes: this.peak };
  }

  private liveBytes(): number {
    let sum = 0;
    for (const n of this.list) if (n.k === "alloc") sum += n.e.size;
    return sum;
  }

  private raisePeak(): void {
    this.peak = Math.max(this.peak, this.liveBytes());
  }

  /** resources() as it must read: newest first, one line per resource. */
  resources(): string[] {
    const out: string[] = [];
    for (let i = this.list.length - 1; i >= 0; i--) {
      const n = this.list[i];
      if (n.k === "alloc") out.push(`alloc:${n.e.name}:${n.e.size}:${n.e.ptr}`);
      else if (n.k === "action") out.push(`action:${n.e.name}`);
      else if (n.k === "group") out.push(`group:${n.e.name}`);
      else if (n.k === "child") out.push(`child:${n.e.name}:${childLiveBytes(n.e)}`);
    }
    return out;
  }

  /** Allocations of the fuzzed arena that are live now (not queued by heap.free). */
  liveAllocs(): AllocEntity[] {
    const out: AllocEntity[] = [];
    for (const n of this.list) if (n.k === "alloc" && n.e.state !== "queued") out.push(n.e);
    return out;
  }

  /** Frees heap.free queued that the arena has not applied yet (stats() and resources() would apply them). */
  pending(): boolean {
    return this.queue.length > 0;
  }

  private liveAt(ptr: number): AllocEntity | undefined {
    for (const n of this.list) if (n.k === "alloc" && n.e.ptr === ptr && n.e.state !== "queued") return n.e;
    return undefined;
  }

  /**
   * Whether heap.free(value) has an outcome this thread alone decides, also while other threads
   * use the heap: not a u32 or not granule-aligned, in page 0, or the start of or inside a block
   * of an arena of this thread's that is live or queued now (the fuzzed arena's, a child's, the
   * other arena's). Anything else may be the start of another thread's live allocation.
   */
  heapFreeCertain(value: unknown): boolean {
    if (!isU32Value(value) || value % GRANULE !== 0 || value < PAGE) return true;
    const inside = (ptr: number, size: number) => ptr <= value && value < ptr + Math.max(size, 1);
    for (const n of this.list) if (n.k === "alloc" && inside(n.e.ptr, n.e.size)) return true;
    for (const c of this.children) {
      for (const a of c.allocs) if (a.state === "live" && inside(a.ptr, a.size)) return true;
    }
    return this.foreign.some((f) => inside(f.ptr, f.size));
  }

  private indexOf(pred: (n: Node) => boolean): number {
    for (let i = this.list.length - 1; i >= 0; i--) if (pred(this.list[i])) return i;
    return -1;
  }

  private removeNode(e: object): void {
    const i = this.indexOf((n) => n.e === e && n.k !== "close");
    if (i >= 0) this.list.splice(i, 1);
  }

  private removeClose(g: GroupEntity): void {
    const i = this.indexOf((n) => n.k === "close" && n.e === g);
    if (i >= 0) this.list.splice(i, 1);
  }

  private forgetOpen(g: GroupEntity): void {
    const i = this.openGroups.lastIndexOf(g);
    if (i >= 0) this.openGroups.splice(i, 1);
  }

  private id(): number {
    return this.nextId++;
  }

  // ---- commands ------------------------------------------------------------------

  private exec(op: Op): void {
    switch (op.t) {
      case "skip":
        this.emit(`${op.text} -> skip`);
        return;
      case "alloc":
        this.call(op.text, () => this.alloc(op, op.text));
        return;
      case "allocZeroed":
        this.call(op.text, () => {
          this.alive();
          const size = decode(op.size);
          if (!isU32Value(size)) throw fail("EINVAL");
          return this.allocCore(size, this.minAlignLog2, undefined, "alloc", op.text);
        });
        return;
      case "allocArray":
        this.call(op.text, () => {
          this.alive();
          const count = decode(op.count);
          const size = decode(op.size);
          if (!isU32Value(count) || !isU32Value(size)) throw fail("EINVAL");
          const options = op.options !== undefined ? decode(op.options) : { zero: zeroArg(op.zero) };
          if (badOptions(options, ["zero"])) throw fail("EINVAL");
          const zero = (options as { zero?: unknown } | undefined)?.zero;
          if (zero !== undefined && typeof zero !== "boolean") throw fail("EINVAL");
          if (this.life === "releasing") throw fail("EBUSY");
          if (count * size > U32_MAX) throw fail("EOVERFLOW");
          return this.allocCore(count * size, this.minAlignLog2, undefined, "alloc", op.text);
        });
        return;
      case "realloc":
        this.call(op.text, () => this.realloc(decode(op.ptr), decode(op.size), op.text));
        return;
      case "free":
        this.call(op.text, () => {
          this.free(decode(op.ptr));
          return "ok";
        });
        return;
      case "sizeOf":
        this.call(op.text, () => String(this.sizeOf(decode(op.ptr))));
        return;
      case "bytes":
        this.call(op.text, () => {
          const size = this.sizeOf(decode(op.ptr));
          const length = op.length === undefined ? undefined : decode(op.length);
          if (length !== undefined && (!isU32Value(length) || length > size)) throw fail("EINVAL");
          return `len ${length ?? size}`;
        });
        return;
      case "write":
        this.emit(`${op.text} -> ok`);
        this.allocById(op.target).data = undefined;
        return;
      case "dup":
        this.call(op.text, () => {
          this.alive();
          const source = this.dupSource(op);
          return this.allocCore(source.size, this.minAlignLog2, undefined, "alloc", op.text, source.data, source.text);
        });
        return;
      case "strdup":
        this.call(op.text, () => {
          this.alive();
          const text = strdupText(decode(op.value), op.repeat);
          if (typeof text !== "string") throw fail("EINVAL");
          return this.strdup(text, op.text);
        });
        return;
      case "readString":
        this.call(op.text, () => this.readString(decode(op.ptr)));
        return;
      case "add":
        this.call(op.text, () =>
          op.orReset
            ? this.addOrReset(op.behaviour, op.name, op.text)
            : this.add(op.behaviour, op.name, `${op.text} -> ENOMEM`),
        );
        return;
      case "addBad":
        this.call(op.text, () => {
          this.alive();
          throw fail("EINVAL");
        });
        return;
      case "removeAction":
        this.call(op.text, () => {
          this.removeAction(this.currentAction(op.handle));
          return "ok";
        });
        return;
      case "releaseAction":
        this.call(op.text, () => {
          this.releaseAction(this.currentAction(op.handle));
          return "ok";
        });
        return;
      case "hasAction":
        this.call(op.text, () => String(this.hasAction(op.handle)));
        return;
      case "openGroup":
        this.call(op.text, () => `g${this.openGroup(op.name, `${op.text} -> ENOMEM`).id}`);
        return;
      case "closeGroup":
        this.call(op.text, () => {
          this.closeGroup(op.handle, `${op.text} -> ENOMEM`);
          return "ok";
        });
        return;
      case "releaseGroup":
        this.call(op.text, () => {
          this.releaseGroup(this.currentGroup(op.handle), `${op.text} -> ENOMEM`);
          return "ok";
        });
        return;
      case "removeGroup":
        this.call(op.text, () => {
          const g = this.currentGroup(op.handle);
          if (g.unwinding) throw fail("EBUSY");
          this.dropGroup(g);
          this.trace("del", "group", g.name);
          return "ok";
        });
        return;
      case "group":
        this.call(op.text, () => this.groupFn(op.body, op.fail, op.name, op.text));
        return;
      case "createChild":
        this.createChild(op);
        return;
      case "releaseChild":
        this.call(op.text, () => {
          this.releaseChild(this.child(op.child));
          return "ok";
        });
        return;
      case "childAlloc":
        this.call(op.text, () => this.childAlloc(this.child(op.child), op.size, op.text));
        return;
      case "retain":
        this.call(op.text, () => {
          this.retain();
          return "ok";
        });
        return;
      case "release":
        this.call(op.text, () => {
          this.release();
          return "ok";
        });
        return;
      case "reset":
        this.call(op.text, () => {
          this.reset();
          return "ok";
        });
        return;
      case "stats":
        this.call(op.text, () => this.statsLine());
        return;
      case "heapFree":
        this.call(op.text, () => {
          this.heapFree(decode(op.ptr));
          return "ok";
        });
        return;
      case "reuse": {
        // Without a quarantine (or once the block left it) the new allocation may get the block and
        // the stale free then frees it; while the block is held, takePtr refuses it and free is EBADPTR.
        const line = `${op.text}: alloc(${op.size})`;
        this.call(line, () => {
          this.alive();
          return this.allocCore(op.size, this.minAlignLog2, undefined, "alloc", line);
        });
        this.call(`${op.text}: free(${op.ptr})`, () => {
          this.free(op.ptr);
          return "ok";
        });
        return;
      }
    }
  }

  private statsLine(): string {
    this.alive();
    this.drainQueue();
    const s = this.stats();
    return `${s.allocations}/${s.actions}/${s.groups}/${s.children}/${s.liveBytes}/${s.peakBytes}`;
  }

  private alive(): void {
    if (this.life === "released") throw fail("ERELEASED");
  }

  // ---- allocations -----------------------------------------------------------

  private alloc(op: Extract<Op, { t: "alloc" }>, text: string): string {
    this.alive();
    const size = decode(op.size);
    if (!isU32Value(size)) throw fail("EINVAL");
    let alignLog2 = this.minAlignLog2;
    let name = "alloc";
    let dtor: Behaviour | undefined;
    if (op.options !== undefined) {
      if (badOptions(decode(op.options), ["align", "zero", "name", "onRelease"])) throw fail("EINVAL");
    } else {
      const align = op.align === undefined ? undefined : decode(op.align);
      if (align !== undefined) {
        if (!isAlignValue(align)) throw fail("EINVAL");
        alignLog2 = Math.max(alignLog2, Math.log2(align));
      }
      const zero = op.zero === undefined ? undefined : decode(op.zero);
      if (zero !== undefined && typeof zero !== "boolean") throw fail("EINVAL");
      const given = op.name === undefined ? undefined : decode(op.name);
      if (given !== undefined && typeof given !== "string") throw fail("EINVAL");
      if (typeof given === "string") name = given;
      const onRelease = op.onRelease === undefined ? undefined : decode(op.onRelease);
      if (onRelease !== undefined) throw fail("EINVAL"); // only non-functions are generated
      dtor = op.dtor;
    }
    return this.allocCore(size, alignLog2, dtor, name, text);
  }

  /** An allocation past argument checks: EBUSY, EOVERFLOW, ENOMEM (maxBytes; the heap when allowed). */
  private allocCore(
    size: number,
    alignLog2: number,
    dtor: Behaviour | undefined,
    name: string,
    text: string,
    data?: Uint8Array,
    readBackText?: string,
  ): string {
    if (this.life === "releasing") throw fail("EBUSY");
    // The core's alloc tells the facade of queued frees before any other check (allocOther:
    // EDRAIN), so even a failing one applies them; alloc with a destructor does not look.
    // `fault` "drain": a model that forgets that alloc applies the queue.
    if (dtor === undefined && this.fault !== "drain") this.drainQueue();
    if (HEADER + 2 ** alignLog2 - 1 + size > U32_MAX) throw fail("EOVERFLOW");
    if (this.liveBytes() + size > this.maxBytes) throw fail("ENOMEM");
    if (this.refused(this.pagesFor(size, alignLog2) + (dtor ? 1 : 0), `${text} -> ENOMEM`)) throw fail("ENOMEM");
    const ptr = this.takeTracedPtr(size, alignLog2, name, ARENA_NAME);
    const e: AllocEntity = { kind: "alloc", id: this.id(), size, alignLog2, ptr, name, dtor, state: "live", child: 0 };
    if (data !== undefined) e.data = data;
    if (readBackText !== undefined) e.text = readBackText;
    this.allocs.push(e);
    this.list.push({ k: "alloc", e });
    this.raisePeak();
    return `a${e.id}`;
  }

  /**
   * The pointer of a new allocation. Traced, the facade reports it in its
   * add event before the call returns: it is taken from that event, which
   * must come now, and the call's result must carry the same pointer.
   */
  private takeTracedPtr(size: number, alignLog2: number, name: string, arena: string): number {
    const ptr = this.takePtr(size, alignLog2);
    if (this.traced) {
      this.trace("add", "alloc", name, size, ptr, arena);
      this.tracedPtr = ptr;
    }
    return ptr;
  }

  /** strdup past its argument check: UTF-8 plus a NUL, and the text readString must give back. */
  private strdup(text: string, callText: string): string {
    const encoded = utf8(text, this.fault);
    const data = new Uint8Array(encoded.length + 1);
    data.set(encoded);
    return this.allocCore(data.length, this.minAlignLog2, undefined, "alloc", callText, data, readBack(text));
  }

  /** The size of what dup copies, and its bytes when the model knows them; EINVAL for anything but bytes. */
  private dupSource(op: Extract<Op, { t: "dup" }>): { size: number; data?: Uint8Array; text?: string } {
    const s = op.source;
    switch (s.k) {
      case "u8":
      case "buffer":
      case "shared":
      case "view":
        return { size: s.len, data: sourceBytes(s.len, s.seed) };
      case "self": {
        const from = this.allocById(op.from ?? 0);
        return { size: from.size, data: from.data?.slice(), text: from.text };
      }
      case "detached":
      case "raw":
        throw fail("EINVAL");
    }
  }

  /** readString: the text, when the model knows the bytes; else "pattern" (the harness checks those itself). */
  private readString(ptr: unknown): string {
    const a = this.readable(ptr);
    if (a.data === undefined) return "pattern";
    if (a.text !== undefined) return renderString(a.text);
    const end = a.data.indexOf(0);
    return renderString(decoder.decode(end < 0 ? a.data : a.data.subarray(0, end)));
  }

  private realloc(ptr: unknown, size: unknown, text: string): string {
    this.alive();
    if (!isU32Value(ptr) || !isU32Value(size)) throw fail("EINVAL");
    if (this.life === "releasing") throw fail("EBUSY");
    const a = this.liveAt(ptr);
    if (a === undefined) throw fail("EBADPTR");
    if (HEADER + 2 ** a.alignLog2 - 1 + size > U32_MAX) throw fail("EOVERFLOW");
    if (this.liveBytes() - a.size + size > this.maxBytes) throw fail("ENOMEM");
    if (this.refused(this.pagesFor(size, a.alignLog2), `${text} -> ENOMEM`)) throw fail("ENOMEM");
    const from = a.ptr;
    const old = a.size;
    a.ptr = this.takePtr(size, a.alignLog2, a);
    a.size = size;
    // Moved: the old block is freed once the new one holds the contents.
    if (a.ptr !== from) this.retire(a.id, from, old);
    // The harness writes a fresh pattern over a reallocated block.
    a.data = undefined;
    a.text = undefined;
    this.raisePeak();
    return `a${a.id}`;
  }

  private free(ptr: unknown): void {
    this.alive();
    if (!isU32Value(ptr)) throw fail("EINVAL");
    const a = this.liveAt(ptr);
    if (a === undefined) throw fail("EBADPTR");
    this.removeNode(a);
    this.trace("del", "alloc", a.name, a.size, a.ptr);
    if (a.dtor === undefined) {
      a.state = "dead";
      this.retire(a.id, a.ptr, a.size);
      // A free that freed its block (no destructor) applies the frees heap.free queued.
      this.drainQueue();
      return;
    }
    a.state = "dying";
    this.freeing++;
    let error: Predicted | undefined;
    try {
      this.run("dtor", `a${a.id}`, a.dtor);
    } catch (t) {
      if (!(t instanceof Thrown)) throw t;
      error = t.error;
    } finally {
      a.state = "dead";
      this.freeing--;
      this.retire(a.id, a.ptr, a.size);
    }
    // A release() the destructor asked for happens now that it has returned; no error is lost.
    error = chain(error, this.settle());
    if (error !== undefined) throw new Thrown(error);
  }

  private sizeOf(ptr: unknown): number {
    return this.readable(ptr).size;
  }

  /** A live allocation, or one whose destructor is running (its memory stays valid until it returns). */
  private readable(ptr: unknown): AllocEntity {
    this.alive();
    if (!isU32Value(ptr)) throw fail("EINVAL");
    const a = this.liveAt(ptr) ?? this.allocs.find((d) => d.state === "dying" && d.ptr === ptr);
    if (a === undefined) throw fail("EBADPTR");
    return a;
  }

  // ---- heap.free (shared heaps) ------------------------------------------------

  /**
   * heap.free(ptr): validated now, by free's rules, against every arena of the heap this thread
   * knows (the fuzzed one, its children, the other arena); queued for the owner, never freed at
   * once. A child applies its queue at its next call, which is the stats() the harness checks it
   * with after every command (childQueueApplied); until then its counters, which the parent's
   * resources() shows, still hold the allocation. The other arena's is gone from the model at once
   * (only its own stats() shows its counters, and that applies the queue).
   */
  private heapFree(ptr: unknown): void {
    if (!this.shared) throw fail("EINVAL");
    if (!isU32Value(ptr)) throw fail("EINVAL");
    const a = this.liveAt(ptr);
    if (a !== undefined) {
      if (a.dtor !== undefined) throw fail("EINVAL");
      a.state = "queued";
      this.queue.push(a);
      return;
    }
    for (const c of this.children) {
      if (c.state !== "live") continue;
      const b = c.allocs.find((x) => x.state === "live" && x.ptr === ptr);
      if (b !== undefined) {
        b.state = "queued";
        return;
      }
    }
    const f = this.foreign.findIndex((x) => x.ptr === ptr);
    if (f < 0) throw fail("EBADPTR");
    this.foreign.splice(f, 1);
  }

  /** The harness called a child's stats(), which applied what heap.free queued for it. */
  childQueueApplied(c: ChildEntity): void {
    for (const a of c.allocs) if (a.state === "queued") a.state = "dead";
  }

  /** The arena applies what heap.free queued: newest first, each freed as free() frees it (traced, held). */
  private drainQueue(): void {
    for (let a = this.queue.pop(); a !== undefined; a = this.queue.pop()) {
      this.removeNode(a);
      this.trace("del", "alloc", a.name, a.size, a.ptr);
      a.state = "dead";
      this.retire(a.id, a.ptr, a.size);
    }
  }

  // ---- actions -----------------------------------------------------------------

  private add(behaviour: Behaviour, nameArg: Arg | undefined, failText: string, alsoFailsIf?: string): string {
    this.alive();
    const name = nameArg === undefined ? undefined : decode(nameArg);
    if (name !== undefined && typeof name !== "string") throw fail("EINVAL");
    if (this.life === "releasing") throw fail("EBUSY");
    if (this.refused(1, failText, alsoFailsIf)) throw fail("ENOMEM");
    const e: ActionEntity = { kind: "action", id: this.id(), name: name ?? ACTION_NAME, behaviour, state: "live" };
    this.actions.push(e);
    this.list.push({ k: "action", e });
    this.trace("add", "action", e.name);
    return `x${e.id}`;
  }

  /** addOrReset: when registering fails, the action runs at once ("x?") and the error is rethrown. */
  private addOrReset(behaviour: Behaviour, nameArg: Arg | undefined, text: string): string {
    try {
      return this.add(behaviour, nameArg, `${text} -> ENOMEM`, "run x?");
    } catch (t) {
      if (!(t instanceof Thrown)) throw t;
      try {
        this.run("run", "x?", behaviour);
      } catch (u) {
        if (u instanceof Thrown) throw new Thrown({ error: u.error, suppressed: t.error });
        throw u;
      }
      throw t;
    }
  }

  private currentAction(h: HandleArg): ActionEntity {
    return this.current(h, this.actions);
  }

  /** The live entity a handle names: EINVAL for a non-handle or the wrong kind, ESTALE for a dead or foreign one. */
  private current<E extends { id: number; state: "live" | "dead" }>(h: HandleArg, entities: readonly E[]): E {
    this.alive();
    if (h.k === "raw" || h.k === "wrong") throw fail("EINVAL");
    if (h.k !== "entity") throw fail("ESTALE");
    const e = entities.find((x) => x.id === h.id);
    if (e === undefined || e.state === "dead") throw fail("ESTALE");
    return e;
  }

  private hasAction(h: HandleArg): boolean {
    this.alive();
    if (h.k === "raw" || h.k === "wrong") throw fail("EINVAL");
    if (h.k !== "entity") return false;
    return this.actions.find((x) => x.id === h.id)?.state === "live";
  }

  private removeAction(a: ActionEntity): void {
    this.removeNode(a);
    a.state = "dead";
    this.trace("del", "action", a.name);
  }

  private releaseAction(a: ActionEntity): void {
    this.removeNode(a);
    a.state = "dead";
    this.trace("rel", "action", a.name);
    this.run("run", `x${a.id}`, a.behaviour);
  }

  /** Runs a behaviour: logs that it ran, performs its effects, throws a Boom if asked to. */
  private run(verb: "run" | "dtor", label: string, b: Behaviour): void {
    this.emit(`${verb} ${label}`);
    for (const e of b.effects) this.effect(e);
    if (b.throws) throw new Thrown({ boom: label });
  }

  private effect(e: Effect): void {
    const text = `  ${e.text}`;
    const entity = { k: "entity" as const, id: e.target };
    switch (e.op) {
      case "free":
        this.call(text, () => {
          this.free(this.allocById(e.target).ptr);
          return "ok";
        });
        return;
      case "sizeOf":
        this.call(text, () => String(this.sizeOf(this.allocById(e.target).ptr)));
        return;
      case "realloc":
        this.call(text, () => this.realloc(this.allocById(e.target).ptr, e.size, text));
        return;
      case "removeAction":
        this.call(text, () => {
          this.removeAction(this.currentAction(entity));
          return "ok";
        });
        return;
      case "releaseAction":
        this.call(text, () => {
          this.releaseAction(this.currentAction(entity));
          return "ok";
        });
        return;
      case "hasAction":
        this.call(text, () => String(this.hasAction(entity)));
        return;
      case "releaseGroup":
        this.call(text, () => {
          this.releaseGroup(this.currentGroup(entity), `${text} -> ENOMEM`);
          return "ok";
        });
        return;
      case "removeGroup":
        this.call(text, () => {
          const g = this.currentGroup(entity);
          if (g.unwinding) throw fail("EBUSY");
          this.dropGroup(g);
          this.trace("del", "group", g.name);
          return "ok";
        });
        return;
      case "closeGroup":
        this.call(text, () => {
          this.closeGroup(entity, `${text} -> ENOMEM`);
          return "ok";
        });
        return;
      case "releaseChild":
        this.call(text, () => {
          this.releaseChild(this.child(e.target));
          return "ok";
        });
        return;
      case "add":
        this.call(text, () => this.add(PLAIN, undefined, `${text} -> ENOMEM`));
        return;
      case "addOrReset":
        this.call(text, () => this.addOrReset(PLAIN, undefined, text));
        return;
      case "alloc":
        this.call(text, () => {
          this.alive();
          return this.allocCore(e.size, this.minAlignLog2, undefined, "alloc", text);
        });
        return;
      case "openGroup":
        this.call(text, () => `g${this.openGroup(undefined, `${text} -> ENOMEM`).id}`);
        return;
      case "release":
        this.call(text, () => {
          this.release();
          return "ok";
        });
        return;
      case "reset":
        this.call(text, () => {
          this.reset();
          return "ok";
        });
        return;
      case "retain":
        this.call(text, () => {
          this.retain();
          return "ok";
        });
        return;
      case "stats":
        this.call(text, () => this.statsLine());
        return;
      case "strdup":
        this.call(text, () => {
          this.alive();
          return this.strdup(effectText(e.size), text);
        });
        return;
    }
  }

  /** A block of the fuzzed arena freed alone: into the quarantine, if it has one and the block fits. */
  private retire(id: number, ptr: number, size: number): void {
    this.retired.push({ id, ptr, size });
    if (this.retired.length > 16) this.retired.shift();
    const charge = size + HEADER;
    if (charge > this.quarantineLimit) return;
    this.held.push({ id, ptr, size });
    this.heldBytes += charge;
    // `fault` "quarantine": a model that holds every block it has, as if the limit were twice as much.
    const limit = this.fault === "quarantine" ? 2 * this.quarantineLimit : this.quarantineLimit;
    while (this.heldBytes > limit) {
      const oldest = this.held.shift() as Retired;
      this.heldBytes -= oldest.size + HEADER;
    }
  }

  /** Blocks the quarantine holds now, oldest first. */
  quarantined(): readonly Retired[] {
    return this.held;
  }

  private allocById(id: number): AllocEntity {
    const a = this.allocs.find((x) => x.id === id);
    if (a === undefined) throw new Error(`model: no allocation a${id}`);
    return a;
  }

  // ---- groups ------------------------------------------------------------------

  private openGroup(nameArg: Arg | undefined, failText: string): GroupEntity {
    this.alive();
    const name = nameArg === undefined ? undefined : decode(nameArg);
    if (name !== undefined && typeof name !== "string") throw fail("EINVAL");
    if (this.life === "releasing") throw fail("EBUSY");
    if (this.refused(1, failText)) throw fail("ENOMEM");
    const g: GroupEntity = {
      kind: "group",
      id: this.id(),
      name: name ?? "group",
      open: true,
      state: "live",
      unwinding: false,
      handle: true,
    };
    this.groups.push(g);
    this.list.push({ k: "group", e: g });
    this.openGroups.push(g);
    this.trace("add", "group", g.name);
    return g;
  }

  private currentGroup(h: HandleArg): GroupEntity {
    return this.current(h, this.groups);
  }

  private closeGroup(h: HandleArg | undefined, failText: string): void {
    let g: GroupEntity;
    // closeGroup(undefined) is closeGroup(): JS cannot tell them apart.
    if (h === undefined || (h.k === "raw" && decode(h.value) === undefined)) {
      this.alive();
      if (this.openGroups.length === 0) throw fail("EINVAL");
      g = this.openGroups[this.openGroups.length - 1];
    } else {
      g = this.currentGroup(h);
      if (!g.open) throw fail("EINVAL");
    }
    this.closeFrom(g, failText);
  }

  /** Closes `g` and every group opened after it that is still open (innermost first): all or nothing. */
  private closeFrom(g: GroupEntity, failText: string): void {
    const at = this.openGroups.lastIndexOf(g);
    if (at < 0) throw new Error(`model: g${g.id} is not open`);
    const closing = this.openGroups.slice(at).reverse();
    if (this.life === "releasing") throw fail("EBUSY");
    if (this.refused(1, failText)) throw fail("ENOMEM");
    for (const x of closing) {
      this.list.push({ k: "close", e: x });
      x.open = false;
      this.forgetOpen(x);
    }
  }

  private dropGroup(g: GroupEntity): void {
    this.removeClose(g);
    this.removeNode(g);
    g.state = "dead";
    this.forgetOpen(g);
  }

  private releaseGroup(g: GroupEntity, failText: string): void {
    if (g.unwinding) throw fail("EBUSY");
    this.drainQueue();
    if (g.open && this.life === "live") this.closeFrom(g, failText);
    g.unwinding = true;
    this.unwinding++;
    let error: Predicted | undefined;
    try {
      error = this.drainRange(g);
    } finally {
      this.unwinding--;
      g.unwinding = false;
    }
    if (this.life !== "released" && g.state === "live") {
      this.dropGroup(g);
      this.trace("rel", "group", g.name);
    }
    // A release() the walk's callbacks asked for happens now that it is over; no error is lost.
    error = chain(error, this.settle());
    if (error !== undefined) throw new Thrown(error);
  }

  /**
   * Releases, newest first, what lies between g's open marker and its close
   * marker (or the end of the list): plain allocations are freed, callbacks
   * run. Close markers of nested groups stay until their group goes. The walk
   * looks again after every callback, which may have changed the list; it
   * stops when the range is empty, g is gone, or the arena was released.
   */
  private drainRange(g: GroupEntity | undefined): Predicted | undefined {
    let error: Predicted | undefined;
    for (;;) {
      if (this.life === "released") break;
      // Without a group: the whole arena (a traced release walks every node).
      const open = g === undefined ? -1 : this.indexOf((n) => n.k === "group" && n.e === g);
      if (g !== undefined && open < 0) break;
      let end = g === undefined ? -1 : this.indexOf((n) => n.k === "close" && n.e === g);
      if (end < 0) end = this.list.length;
      let i = end - 1;
      while (i > open) {
        const n = this.list[i];
        if (n.k === "alloc" && n.e.dtor === undefined) {
          this.list.splice(i, 1);
          n.e.state = "dead";
          this.trace("rel", "alloc", n.e.name, n.e.size, n.e.ptr);
          this.retire(n.e.id, n.e.ptr, n.e.size);
        } else if (n.k !== "close") break;
        i--;
      }
      if (i <= open) break;
      const n = this.list[i];
      this.list.splice(i, 1);
      error = this.runNode(n, error);
    }
    return error;
  }

  private groupFn(body: Body[], failing: boolean, name: string | undefined, text: string): string {
    const g = this.openGroup(name, `${text} -> ENOMEM`);
    g.handle = false;
    this.emit(`  fn g${g.id}`);
    let error: Predicted | undefined;
    try {
      for (const b of body) {
        if (b.t === "alloc") {
          const line = `  body alloc(${b.size})`;
          this.call(line, () => this.allocCore(b.size, this.minAlignLog2, undefined, "alloc", line), true);
        } else {
          this.call("  body add", () => this.add(b.behaviour, undefined, "  body add -> ENOMEM"), true);
        }
      }
      if (failing) throw new Thrown({ boom: `g${g.id}` });
    } catch (t) {
      if (!(t instanceof Thrown)) throw t;
      error = t.error;
    }
    if (error !== undefined) {
      if (this.life !== "released" && g.state === "live") {
        try {
          this.releaseGroup(g, `${text} -> S(ENOMEM, ${renderPredicted(error)})`);
        } catch (u) {
          if (u instanceof Thrown) throw new Thrown({ error: u.error, suppressed: error });
          throw u;
        }
      }
      throw new Thrown(error);
    }
    if (this.life === "live" && g.state === "live" && g.open) this.closeFrom(g, `${text} -> ENOMEM`);
    return "ok";
  }

  // ---- children ------------------------------------------------------------------

  private child(id: number): ChildEntity {
    const c = this.children.find((x) => x.id === id);
    if (c === undefined) throw new Error(`model: no child c${id}`);
    return c;
  }

  private createChild(op: Extract<Op, { t: "createChild" }>): void {
    let c: ChildEntity | undefined;
    this.call(op.text, () => {
      this.alive();
      if (this.life === "releasing") throw fail("EBUSY");
      const name = op.name === undefined ? undefined : decode(op.name);
      if (name !== undefined && typeof name !== "string") throw fail("EINVAL");
      const minAlign = op.minAlign === undefined ? undefined : decode(op.minAlign);
      if (minAlign !== undefined && !(isAlignValue(minAlign) && minAlign >= 8)) throw fail("EINVAL");
      if (this.refused(2, `${op.text} -> ENOMEM`)) throw fail("ENOMEM");
      c = {
        kind: "child",
        id: this.id(),
        name: name ?? "arena",
        state: "live",
        linked: true,
        actions: 0,
        allocs: [],
        minAlignLog2: Math.log2(minAlign ?? 16),
        peak: 0,
      };
      this.children.push(c);
      this.list.push({ k: "child", e: c });
      this.trace("add", "child", c.name);
      return `c${c.id}`;
    });
    const child = c;
    if (child === undefined) return;
    for (let k = 0; k < op.actions; k++) {
      const text = `  c${child.id}.add`;
      this.call(text, () => {
        if (this.refused(1, `${text} -> ENOMEM`)) throw fail("ENOMEM");
        child.actions++;
        // The harness's child actions are anonymous arrow functions: their name is "".
        this.trace("add", "action", "", 0, undefined, child.name);
        return "ok";
      });
    }
    for (const size of op.allocs) {
      const text = `  c${child.id}.alloc(${size})`;
      this.call(text, () => this.childAlloc(child, size, text));
    }
  }

  private childAlloc(c: ChildEntity, size: number, text: string): string {
    if (c.state === "dead") throw fail("ERELEASED");
    if (HEADER + 2 ** c.minAlignLog2 - 1 + size > U32_MAX) throw fail("EOVERFLOW");
    if (this.refused(this.pagesFor(size, c.minAlignLog2), `${text} -> ENOMEM`)) throw fail("ENOMEM");
    const ptr = this.takeTracedPtr(size, c.minAlignLog2, "alloc", c.name);
    const e: AllocEntity = {
      kind: "alloc",
      id: this.id(),
      size,
      alignLog2: c.minAlignLog2,
      ptr,
      name: "alloc",
      dtor: undefined,
      state: "live",
      child: c.id,
    };
    c.allocs.push(e);
    c.peak = Math.max(c.peak, childLiveBytes(c));
    return `a${e.id}`;
  }

  private releaseChild(c: ChildEntity): void {
    if (c.state === "dead") return;
    if (c.linked) {
      this.removeNode(c);
      c.linked = false;
      this.trace("rel", "child", c.name);
    }
    this.teardownChild(c);
  }

  /**
   * A child's list is its actions, then its allocations (none is freed alone but by heap.free, which
   * the child applied by the time it can be released): released newest first.
   */
  private teardownChild(c: ChildEntity): void {
    c.state = "dead";
    if (this.traced) {
      for (let i = c.allocs.length - 1; i >= 0; i--) {
        const a = c.allocs[i];
        if (a.state !== "dead") this.trace("rel", "alloc", a.name, a.size, a.ptr, c.name);
      }
    }
    for (let k = c.actions; k >= 1; k--) {
      this.trace("rel", "action", "", 0, undefined, c.name);
      this.emit(`run c${c.id}.${k}`);
    }
    for (const a of c.allocs) a.state = "dead";
  }

  // ---- lifetime ------------------------------------------------------------------

  private retain(): void {
    this.alive();
    if (this.life === "releasing") throw fail("EBUSY");
    this.refs++;
  }

  /**
   * The last reference tears the arena down, unless a destructor run by
   * free() or a group walk is under way: the code that asked still uses the
   * arena's memory, so the teardown waits until it returns (README, "choices
   * where the design is silent").
   */
  private release(): void {
    if (this.life !== "live" && !this.resetting) return;
    if (this.refs > 1) {
      this.refs--;
      return;
    }
    if (this.deferred) return;
    if (this.freeing > 0 || this.unwinding > 0 || this.resetting) {
      this.deferred = true;
      return;
    }
    const error = this.teardown();
    if (error !== undefined) throw new Thrown(error);
  }

  private teardown(): Predicted | undefined {
    this.life = "releasing";
    this.drainQueue();
    const error = this.drainAll();
    this.endRelease();
    this.life = "released";
    return error;
  }

  /** A deferred teardown, once no destructor or group walk runs any more; its error, if any. */
  private settle(): Predicted | undefined {
    if (!this.deferred || this.freeing > 0 || this.unwinding > 0 || this.life !== "live") return undefined;
    this.deferred = false;
    return this.teardown();
  }

  private reset(): void {
    this.alive();
    // Like release(), but it cannot wait: a running destructor or group walk makes it EBUSY.
    if (this.life === "releasing" || this.unwinding > 0 || this.freeing > 0) throw fail("EBUSY");
    this.drainQueue();
    this.life = "releasing";
    this.resetting = true;
    let error = this.drainAll();
    this.resetting = false;
    this.endRelease();
    this.life = "live";
    // The last reference dropped by an action of the reset: the teardown runs as the reset returns.
    error = chain(error, this.settle());
    if (error !== undefined) throw new Thrown(error);
  }

  /** Every memory block goes at once; handles left are stale. */
  private endRelease(): void {
    for (const n of this.list) {
      if (n.k === "alloc") n.e.state = "dead";
      else if (n.k === "group" || n.k === "action") n.e.state = "dead";
    }
    this.list = [];
    this.openGroups = [];
    this.queue = [];
    // The quarantine goes with the chunks.
    this.held = [];
    this.heldBytes = 0;
  }

  /** Whole release: every callback, newest first; plain allocations stay until the end (memory goes by chunks). */
  private drainAll(): Predicted | undefined {
    // Traced, the facade walks the whole release list so that every plain allocation is traced at its
    // place: those newer than a callback are gone before it runs (untraced, they stay until the end).
    if (this.traced) return this.drainRange(undefined);
    let error: Predicted | undefined;
    for (;;) {
      const i = this.indexOf(
        (n) => n.k === "action" || n.k === "group" || n.k === "child" || (n.k === "alloc" && n.e.dtor !== undefined),
      );
      if (i < 0) break;
      const n = this.list[i];
      this.list.splice(i, 1);
      error = this.runNode(n, error);
    }
    return error;
  }

  /** Runs a callback node already taken out of the list; chains its error DisposableStack-style. */
  private runNode(n: Node, error: Predicted | undefined): Predicted | undefined {
    try {
      switch (n.k) {
        case "action":
          n.e.state = "dead";
          this.trace("rel", "action", n.e.name);
          this.run("run", `x${n.e.id}`, n.e.behaviour);
          break;
        case "alloc":
          n.e.state = "dying";
          this.trace("rel", "alloc", n.e.name, n.e.size, n.e.ptr);
          try {
            this.run("dtor", `a${n.e.id}`, n.e.dtor ?? PLAIN);
          } finally {
            n.e.state = "dead";
            this.retire(n.e.id, n.e.ptr, n.e.size);
          }
          break;
        case "group":
          n.e.state = "dead";
          this.removeClose(n.e);
          this.forgetOpen(n.e);
          this.trace("rel", "group", n.e.name);
          break;
        case "child":
          n.e.linked = false;
          this.trace("rel", "child", n.e.name);
          this.teardownChild(n.e);
          break;
        case "close":
          break;
      }
    } catch (t) {
      if (!(t instanceof Thrown)) throw t;
      return error === undefined ? t.error : { error: t.error, suppressed: error };
    }
    return error;
  }
}

/** Two errors as DisposableStack chains them: the later one suppresses the earlier. */
function chain(earlier: Predicted | undefined, later: Predicted | undefined): Predicted | undefined {
  if (earlier === undefined) return later;
  if (later === undefined) return earlier;
  return { error: later, suppressed: earlier };
}

/** A child's liveBytes counter: its live allocations and those heap.free queued that it has not freed yet. */
export function childLiveBytes(c: ChildEntity): number {
  let sum = 0;
  for (const a of c.allocs) if (a.state === "live" || a.state === "queued") sum += a.size;
  return sum;
}

/**
 * Whether an options argument is refused (DESIGN §3): not undefined and not
 * an object, or an object with an own enumerable name the call does not know.
 */
function badOptions(options: unknown, names: readonly string[]): boolean {
  if (options === undefined) return false;
  if (typeof options !== "object" || options === null) return true;
  return Object.keys(options).some((key) => !names.includes(key));
}

/** The zero option an alloc spec passes when it has no raw options (undefined when absent). */
function zeroArg(arg: Arg | undefined): unknown {
  return arg === undefined ? undefined : decode(arg);
}

/** How an Arg is shown in op texts (re-exported for the resolver). */
export { show };
