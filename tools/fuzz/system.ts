// The real system under test: one heap (tiny maxPages), the fuzzed arena, and
// another arena on the same heap whose pointers and handles are foreign to the
// fuzzed one. It runs resolved operations against the public API and logs
// every call and every action run, in the same words the model predicts them
// (model.ts). It also keeps the test's own bookkeeping: which pointer and
// handle each entity got, and the byte pattern written into each allocation,
// so that contents can be verified without trusting the allocator.

// The library through its public debug entry (the fuzzer's heaps are debug
// heaps by default): the bundled bin leaves it unbundled (scripts/build.mjs).
import {
  type ActionHandle,
  type AllocOptions,
  type Arena,
  ArenaError,
  type ArenaOptions,
  type GroupHandle,
  Heap,
  type Ptr,
  type SharedHeapDescriptor,
} from "managed-arena/debug";
import { ARENA_NAME, type Entry, effectText } from "./model.js";
import { type Behaviour, type Effect, type HandleArg, type Op, VIEW_TYPES } from "./spec.js";
import {
  Boom,
  decode,
  patternMismatch,
  renderString,
  renderThrown,
  renderTrace,
  sourceBytes,
  strdupText,
  writePattern,
} from "./values.js";

export interface SystemConfig {
  maxPages: number;
  minAlign: number;
  maxBytes: number;
  /** The fuzzed arena (and its children) poison fresh and freed payloads (0x5a, 0x6b). */
  poison?: boolean;
  /** The fuzzed arena's (and its children's) quarantine option, in bytes (0 or absent: off). */
  quarantine?: number;
  /** The fuzzed arena (and so its children) has a tracer that writes every event into the log. */
  trace?: boolean;
  /** Test hook: "hang" makes alloc of 1000 bytes or more spin forever (a stand-in for a core that loops). */
  fault?: string;
  /** The heap is a shared one (`Heap.create({ shared: true })`): the shared core, here in one thread. */
  shared?: boolean;
}

/**
 * `--threads`: pointers the fuzz threads' arenas handed out, POINTER_SLOTS per thread, each thread
 * writing its own slots round-robin as it allocates; any thread may read them all. Another thread's
 * pointer, live or not by now, is the argument of some of the "foreign" picks.
 */
export const POINTER_SLOTS = 16;
export const crossThread: { slots?: Int32Array; thread: number; next: number } = { thread: 0, next: 0 };

/** A pointer some other thread's arena handed out (undefined: none yet, or not `--threads`). */
export function otherThreadPointer(pick: number): number | undefined {
  const slots = crossThread.slots;
  if (slots === undefined) return undefined;
  const threads = slots.length / POINTER_SLOTS;
  if (threads < 2) return undefined;
  let t = pick % (threads - 1);
  if (t >= crossThread.thread - 1) t++;
  const ptr = Atomics.load(slots, t * POINTER_SLOTS + ((pick >>> 3) % POINTER_SLOTS));
  return ptr === 0 ? undefined : ptr;
}

/** This thread's Heap over a shared heap another thread created (`--threads`). */
export function attachShared(descriptor: SharedHeapDescriptor): Promise<Heap> {
  return Heap.attach(descriptor);
}

interface Alien {
  action: ActionHandle;
  group: GroupHandle;
}

let alien: Promise<Alien> | undefined;

/** Handles of an arena on another heap (created once per process, never released). */
function alienHandles(): Promise<Alien> {
  alien ??= Heap.create({ maxPages: 4, onLeak: () => {} }).then((heap) => {
    const arena = heap.createArena({ name: "alien" });
    return { action: arena.add(() => {}), group: arena.openGroup("alien") };
  });
  return alien;
}

const PLAIN: Behaviour = { throws: false, effects: [] };

/** What an allocation entity must hold: the pattern `seed`, or `data` (copied in by dup or strdup). */
interface Contents {
  seed: number;
  size: number;
  data?: Uint8Array;
}

/** The first offset where `bytes` differ from what `c` says (-1: nowhere); `sampled` as in patternMismatch. */
function contentMismatch(bytes: Uint8Array, c: Contents, sampled = false): number {
  if (c.data === undefined) return patternMismatch(bytes, c.seed, sampled);
  const data = c.data;
  const n = bytes.length;
  if (!sampled || n <= 512) {
    for (let i = 0; i < n; i++) if (bytes[i] !== data[i]) return i;
    return -1;
  }
  for (let i = 0; i < 64; i++) if (bytes[i] !== data[i]) return i;
  for (let i = 64; i < n - 64; i += 251) if (bytes[i] !== data[i]) return i;
  for (let i = n - 64; i < n; i++) if (bytes[i] !== data[i]) return i;
  return -1;
}

/** The bytes `c` describes (the pattern written out). */
function contentBytes(c: Contents): Uint8Array {
  if (c.data !== undefined) return c.data.slice(0, c.size);
  const bytes = new Uint8Array(c.size);
  writePattern(bytes, c.seed);
  return bytes;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

type Outcome = string | { out: string; ptr: number };

export class RealSystem {
  readonly heap: Heap;
  readonly arena: Arena;
  /** Another arena on the same heap: its pointers and handles are foreign to `arena`. */
  readonly other: Arena;
  readonly otherAllocs: { ptr: number; size: number; seed: number }[] = [];
  otherRuns = 0;
  readonly debug: boolean;
  /**
   * Other threads work on the heap at the same time (`--threads`): heap.check() is not run (it needs
   * the heap to itself) and the heap is not this system's to create or judge as a whole.
   */
  concurrent = false;
  private readonly fault: string | undefined;
  private poison = false;
  /** The fuzzed arena poisons freed payloads. */
  get poisoned(): boolean {
    return this.poison;
  }
  private readonly foreignAction: ActionHandle;
  private readonly foreignGroup: GroupHandle;
  private readonly alien: Alien;
  /** Last pointer of every allocation entity (the fuzzed arena's and children's). */
  readonly ptrs = new Map<number, number>();
  /** The entity last allocated at a pointer: the live one, if any is. */
  private readonly owner = new Map<number, number>();
  /** The pattern written into each allocation entity. */
  readonly contents = new Map<number, Contents>();
  readonly actions = new Map<number, ActionHandle>();
  readonly groups = new Map<number, GroupHandle>();
  readonly children = new Map<number, Arena>();
  private readonly childActions = new Map<number, number>();
  private nextId = 1;
  private nextSeed = 1;
  /** Entries of the command being run. */
  log: Entry[] = [];
  /** Every entry of the run, for the differential comparison. */
  readonly transcript: Entry[] = [];

  private constructor(heap: Heap, arena: Arena, other: Arena, alienHandles: Alien, debug: boolean, fault?: string) {
    this.heap = heap;
    this.fault = fault;
    this.arena = arena;
    this.other = other;
    this.alien = alienHandles;
    this.debug = debug;
    for (const size of [24, 100]) {
      try {
        const ptr = other.alloc(size);
        const seed = 1000 + size;
        writePattern(new Uint8Array(heap.memory.buffer, ptr, size), seed);
        this.otherAllocs.push({ ptr, size, seed });
      } catch (e) {
        if (!(e instanceof ArenaError && e.code === "ENOMEM")) throw e;
      }
    }
    let action = alienHandles.action;
    let group = alienHandles.group;
    try {
      action = other.add(() => {
        this.otherRuns++;
      });
      group = other.openGroup("other");
    } catch (e) {
      if (!(e instanceof ArenaError && e.code === "ENOMEM")) throw e;
    }
    this.foreignAction = action;
    this.foreignGroup = group;
  }

  /** A system on a fresh heap, or on `shared` (a heap other threads use at the same time). */
  static async create(config: SystemConfig, debug: boolean, shared?: Heap): Promise<RealSystem> {
    const handles = await alienHandles();
    const heap =
      shared ??
      (await Heap.create({
        maxPages: config.maxPages,
        debug,
        onLeak: () => {},
        ...(config.shared === true ? { shared: true } : {}),
      }));
    const options: ArenaOptions = { name: ARENA_NAME, minAlign: config.minAlign };
    if (config.poison === true) options.poison = true;
    if (config.quarantine !== undefined && config.quarantine !== 0) options.quarantine = config.quarantine;
    // Every event goes into the log of the command that caused it, at its place among the calls.
    let system: RealSystem | undefined;
    if (config.trace === true) {
      options.trace = (e) => {
        const text = renderTrace(e.op, e.kind, e.name, e.size, e.ptr, e.arena);
        system?.log.push(e.op === "add" && e.kind === "alloc" ? { text, ptr: e.ptr } : { text });
      };
    }
    if (config.maxBytes !== 4294967295) options.maxBytes = config.maxBytes;
    const arena = heap.createArena(options);
    let other: Arena;
    try {
      other = heap.createArena({ name: "other" });
    } catch (e) {
      arena.release();
      throw e;
    }
    system = new RealSystem(heap, arena, other, handles, debug, config.fault);
    system.concurrent = shared !== undefined;
    system.poison = config.poison === true;
    return system;
  }

  // ---- logging -------------------------------------------------------------------

  private record(text: string, fn: () => Outcome, rethrow = false): void {
    let outcome: Outcome;
    try {
      outcome = fn();
    } catch (e) {
      this.log.push({ text: `${text} -> ${renderThrown(e)}` });
      if (rethrow) throw e;
      return;
    }
    if (typeof outcome === "string") this.log.push({ text: `${text} -> ${outcome}` });
    else this.log.push({ text: `${text} -> ${outcome.out}`, ptr: outcome.ptr });
  }

  /** Registers a new allocation entity: checks zero-fill if asked, writes a fresh pattern. Returns a log suffix. */
  private fresh(id: number, ptr: number, size: number, zero: boolean, moved = false): string {
    const view = new Uint8Array(this.heap.memory.buffer, ptr, size);
    let suffix = "";
    if (zero) {
      const at = view.findIndex((b) => b !== 0);
      if (at >= 0) suffix = ` nonzero@${at}`;
    } else if (this.poison && !moved) {
      const at = view.findIndex((b) => b !== 0x5a);
      if (at >= 0) suffix = ` unpoisoned@${at}`;
    }
    const seed = this.nextSeed++;
    writePattern(view, seed);
    this.contents.set(id, { seed, size });
    if (this.concurrent && crossThread.slots !== undefined) {
      const slot = (crossThread.thread - 1) * POINTER_SLOTS + (crossThread.next++ % POINTER_SLOTS);
      Atomics.store(crossThread.slots, slot, ptr);
    }
    this.ptrs.set(id, ptr);
    this.owner.set(ptr, id);
    return suffix;
  }

  /** Where the allocation entity `id`'s contents differ from what was written (-1: nowhere). */
  mismatch(id: number, sampled: boolean): number {
    const ptr = this.ptrs.get(id);
    const c = this.contents.get(id);
    if (ptr === undefined || c === undefined) return -2;
    return contentMismatch(new Uint8Array(this.heap.memory.buffer, ptr, c.size), c, sampled);
  }

  /** After dup or strdup: the copy must hold `expected`, and the entity is registered with it. Returns a log suffix. */
  private copied(id: number, ptr: number, expected: Contents): string {
    const at = contentMismatch(new Uint8Array(this.heap.memory.buffer, ptr, expected.size), expected);
    this.contents.set(id, expected);
    this.ptrs.set(id, ptr);
    this.owner.set(ptr, id);
    return at >= 0 ? ` bad-copy@${at}` : "";
  }

  /** strdup, checked against TextEncoder's bytes plus a NUL. */
  private strdup(text: string): Outcome {
    const ptr = this.arena.strdup(text);
    const encoded = encoder.encode(text);
    const expected = new Uint8Array(encoded.length + 1);
    expected.set(encoded);
    const id = this.nextId++;
    return { out: `a${id}${this.copied(id, ptr, { seed: 0, size: expected.length, data: expected })}`, ptr };
  }

  /** The argument a dup source stands for, and what the copy must hold (undefined: not bytes). */
  private dupArgument(op: Extract<Op, { t: "dup" }>): { value: unknown; contents?: Contents } {
    const s = op.source;
    const bytes = (data: Uint8Array): Contents => ({ seed: 0, size: data.length, data });
    switch (s.k) {
      case "u8":
        return { value: sourceBytes(s.len, s.seed), contents: bytes(sourceBytes(s.len, s.seed)) };
      case "buffer":
        return { value: sourceBytes(s.len, s.seed).buffer, contents: bytes(sourceBytes(s.len, s.seed)) };
      case "shared": {
        const view = new Uint8Array(new SharedArrayBuffer(s.len));
        view.set(sourceBytes(s.len, s.seed));
        return { value: view, contents: bytes(sourceBytes(s.len, s.seed)) };
      }
      case "view": {
        // Bytes around the view that dup must not take.
        const size = VIEW_TYPES[s.type];
        const offset = s.offset - (s.offset % size);
        const buffer = new ArrayBuffer(offset + s.len + 8);
        const all = new Uint8Array(buffer);
        all.fill(0xee);
        all.set(sourceBytes(s.len, s.seed), offset);
        const View = globalThis[s.type] as new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView;
        return { value: new View(buffer, offset, s.len / size), contents: bytes(sourceBytes(s.len, s.seed)) };
      }
      case "self": {
        const from = op.from ?? 0;
        // The copy holds the same pattern or bytes as its source.
        const c = this.contents.get(from);
        return { value: this.arena.bytes(this.ptr(from) as Ptr), contents: c && { ...c, data: c.data?.slice() } };
      }
      case "detached": {
        const buffer = new ArrayBuffer(8);
        const view = new Uint8Array(buffer, 2, 4);
        structuredClone(buffer, { transfer: [buffer] });
        return { value: s.view ? view : buffer };
      }
      case "raw":
        return { value: decode(s.value) };
    }
  }

  /** readString: the text when the bookkeeping holds copied bytes, else "pattern" (checked here against the pattern). */
  private readString(ptr: number): string {
    const text = this.arena.readString(ptr as Ptr);
    const id = this.owner.get(ptr);
    const c = id === undefined ? undefined : this.contents.get(id);
    if (c === undefined) return `${renderString(text)} unknown`;
    if (c.data !== undefined) return renderString(text);
    const bytes = contentBytes(c);
    const end = bytes.indexOf(0);
    return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end)) === text ? "pattern" : "pattern bad-string";
  }

  // ---- behaviours (actions and destructors) -------------------------------------

  private actionFn(b: Behaviour, cell: { id: number }, token: object): (data: unknown) => void {
    return {
      fuzzAction: (data: unknown) => {
        const label = cell.id < 0 ? "x?" : `x${cell.id}`;
        this.runEffects("run", label, b, data === token ? "" : " bad-data");
        if (b.throws) throw new Boom(label);
      },
    }.fuzzAction;
  }

  private destructorFn(b: Behaviour, cell: { id: number }): (ptr: Ptr) => void {
    return {
      fuzzDestructor: (ptr: Ptr) => {
        const id = cell.id;
        let suffix = "";
        const c = this.contents.get(id);
        if (ptr !== this.ptrs.get(id) || c === undefined) suffix = ` bad-ptr ${ptr}`;
        else {
          const at = contentMismatch(new Uint8Array(this.heap.memory.buffer, ptr, c.size), c);
          if (at >= 0) suffix = ` corrupt@${at}`;
          // Readable (DESIGN §6) but no longer live: free() of it must be EBADPTR (and, if that
          // breaks, the failure is reported anyway, so freeing it for real does no harm).
          try {
            if (this.arena.sizeOf(ptr) !== c.size) suffix += " sizeOf-differs";
          } catch (e) {
            suffix += ` sizeOf:${renderThrown(e)}`;
          }
          try {
            this.arena.free(ptr);
            suffix += " still-live";
          } catch (e) {
            if (!(e instanceof ArenaError && e.code === "EBADPTR")) suffix += ` free:${renderThrown(e)}`;
          }
        }
        this.runEffects("dtor", `a${id}`, b, suffix);
        // The memory must stay valid until the destructor returns, whatever its effects did.
        if (c !== undefined && ptr === this.ptrs.get(id)) {
          const at = contentMismatch(new Uint8Array(this.heap.memory.buffer, ptr, c.size), c);
          if (at >= 0) this.log.push({ text: `dtor a${id} clobbered@${at} by its own effects` });
        }
        if (b.throws) throw new Boom(`a${id}`);
      },
    }.fuzzDestructor;
  }

  private runEffects(verb: string, label: string, b: Behaviour, suffix: string): void {
    this.log.push({ text: `${verb} ${label}${suffix}` });
    for (const e of b.effects) this.effect(e);
  }

  private effect(e: Effect): void {
    const text = `  ${e.text}`;
    const arena = this.arena;
    switch (e.op) {
      case "free":
        this.record(text, () => {
          arena.free(this.ptr(e.target) as Ptr);
          return "ok";
        });
        return;
      case "sizeOf":
        this.record(text, () => String(arena.sizeOf(this.ptr(e.target) as Ptr)));
        return;
      case "realloc":
        this.record(text, () => this.realloc(this.ptr(e.target), e.size));
        return;
      case "removeAction":
        this.record(text, () => {
          arena.removeAction(this.action(e.target));
          return "ok";
        });
        return;
      case "releaseAction":
        this.record(text, () => {
          arena.releaseAction(this.action(e.target));
          return "ok";
        });
        return;
      case "hasAction":
        this.record(text, () => String(arena.hasAction(this.action(e.target))));
        return;
      case "releaseGroup":
        this.record(text, () => {
          arena.releaseGroup(this.group(e.target));
          return "ok";
        });
        return;
      case "removeGroup":
        this.record(text, () => {
          arena.removeGroup(this.group(e.target));
          return "ok";
        });
        return;
      case "closeGroup":
        this.record(text, () => {
          arena.closeGroup(this.group(e.target));
          return "ok";
        });
        return;
      case "releaseChild":
        this.record(text, () => {
          this.child(e.target).release();
          return "ok";
        });
        return;
      case "add":
        this.record(text, () => this.add(PLAIN, undefined, false));
        return;
      case "addOrReset":
        this.record(text, () => this.add(PLAIN, undefined, true));
        return;
      case "alloc":
        this.record(text, () => this.allocPlain(e.size));
        return;
      case "openGroup":
        this.record(text, () => this.openGroup(undefined));
        return;
      case "release":
        this.record(text, () => {
          arena.release();
          return "ok";
        });
        return;
      case "reset":
        this.record(text, () => {
          arena.reset();
          return "ok";
        });
        return;
      case "retain":
        this.record(text, () => {
          arena.retain();
          return "ok";
        });
        return;
      case "stats":
        this.record(text, () => this.statsLine());
        return;
      case "strdup":
        this.record(text, () => this.strdup(effectText(e.size)));
        return;
    }
  }

  // ---- entities ------------------------------------------------------------------------

  private ptr(id: number): number {
    const ptr = this.ptrs.get(id);
    if (ptr === undefined) throw new Error(`harness: no pointer for a${id}`);
    return ptr;
  }

  private action(id: number): ActionHandle {
    const h = this.actions.get(id);
    if (h === undefined) throw new Error(`harness: no handle for x${id}`);
    return h;
  }

  private group(id: number): GroupHandle {
    const h = this.groups.get(id);
    if (h === undefined) throw new Error(`harness: no handle for g${id}`);
    return h;
  }

  private child(id: number): Arena {
    const c = this.children.get(id);
    if (c === undefined) throw new Error(`harness: no child c${id}`);
    return c;
  }

  private actionArg(h: HandleArg): ActionHandle {
    switch (h.k) {
      case "entity":
        return this.action(h.id);
      case "foreign":
        return this.foreignAction;
      case "alien":
        return this.alien.action;
      case "wrong":
        return this.alien.group as unknown as ActionHandle;
      case "raw":
        return decode(h.value) as ActionHandle;
    }
  }

  private groupArg(h: HandleArg): GroupHandle {
    switch (h.k) {
      case "entity":
        return this.group(h.id);
      case "foreign":
        return this.foreignGroup;
      case "alien":
        return this.alien.group;
      case "wrong":
        return this.alien.action as unknown as GroupHandle;
      case "raw":
        return decode(h.value) as GroupHandle;
    }
  }

  private statsLine(): string {
    const s = this.arena.stats();
    return `${s.allocations}/${s.actions}/${s.groups}/${s.children}/${s.liveBytes}/${s.peakBytes}`;
  }

  private allocPlain(size: number): Outcome {
    const ptr = this.arena.alloc(size);
    const id = this.nextId++;
    return { out: `a${id}${this.fresh(id, ptr, size, false)}`, ptr };
  }

  private add(b: Behaviour, name: unknown, orReset: boolean): string {
    const cell = { id: -1 };
    const token = {};
    const fn = this.actionFn(b, cell, token);
    const h = orReset
      ? this.arena.addOrReset(fn, token, name as string | undefined)
      : this.arena.add(fn, token, name as string | undefined);
    cell.id = this.nextId++;
    this.actions.set(cell.id, h);
    return `x${cell.id}`;
  }

  private openGroup(name: unknown): string {
    const g = this.arena.openGroup(name as string | undefined);
    const id = this.nextId++;
    this.groups.set(id, g);
    return `g${id}`;
  }

  /** realloc, then: the kept prefix must hold the old pattern; a fresh pattern is written over the new size. */
  private realloc(ptr: unknown, size: unknown): Outcome {
    const moved = this.arena.realloc(ptr as Ptr, size as number);
    const id = this.owner.get(ptr as number);
    if (id === undefined) return { out: "a?", ptr: moved };
    const old = this.contents.get(id);
    let suffix = "";
    if (old !== undefined) {
      const kept = Math.min(old.size, size as number);
      const at = contentMismatch(new Uint8Array(this.heap.memory.buffer, moved, kept), old);
      if (at >= 0) suffix = ` lost@${at}`;
    }
    suffix += this.fresh(id, moved, size as number, false, true);
    return { out: `a${id}${suffix}`, ptr: moved };
  }

  private freeChecked(ptr: unknown, verify: number | undefined): string {
    let suffix = "";
    if (verify !== undefined) {
      const at = this.mismatch(verify, false);
      if (at >= 0) suffix = ` corrupt@${at}`;
    }
    this.arena.free(ptr as Ptr);
    const c = verify === undefined ? undefined : this.contents.get(verify);
    // Not on a heap other threads use: a free may give the block's slots or pages back to the heap,
    // where another thread's arena may take them and write into them before this check reads them.
    if (this.poison && c !== undefined && !this.concurrent) {
      const at = new Uint8Array(this.heap.memory.buffer, ptr as number, c.size).findIndex((b) => b !== 0x6b);
      if (at >= 0) suffix += ` not-poisoned-when-freed@${at}`;
    }
    return `ok${suffix}`;
  }

  // ---- commands ------------------------------------------------------------------------------

  /** Runs one resolved operation, logging every call and every action run into `log`. */
  exec(op: Op): void {
    const arena = this.arena;
    if (this.fault === "hang" && op.t === "alloc" && (decode(op.size) as number) >= 1000) {
      for (;;) if (Date.now() < 0) break;
    }
    switch (op.t) {
      case "skip":
        this.log.push({ text: `${op.text} -> skip` });
        return;
      case "alloc":
        this.record(op.text, () => {
          let options: unknown;
          let zero = false;
          const cell = { id: -1 };
          if (op.options !== undefined) options = decode(op.options);
          else if (
            op.align !== undefined ||
            op.zero !== undefined ||
            op.name !== undefined ||
            op.dtor !== undefined ||
            op.onRelease !== undefined
          ) {
            const o: Record<string, unknown> = {};
            if (op.align !== undefined) o.align = decode(op.align);
            if (op.zero !== undefined) o.zero = decode(op.zero);
            if (op.name !== undefined) o.name = decode(op.name);
            if (op.dtor !== undefined) o.onRelease = this.destructorFn(op.dtor, cell);
            if (op.onRelease !== undefined) o.onRelease = decode(op.onRelease);
            zero = o.zero === true;
            options = o;
          }
          const size = decode(op.size) as number;
          const ptr = options === undefined ? arena.alloc(size) : arena.alloc(size, options as AllocOptions);
          cell.id = this.nextId++;
          return { out: `a${cell.id}${this.fresh(cell.id, ptr, size, zero)}`, ptr };
        });
        return;
      case "allocZeroed":
        this.record(op.text, () => {
          const size = decode(op.size) as number;
          const ptr = arena.allocZeroed(size);
          const id = this.nextId++;
          return { out: `a${id}${this.fresh(id, ptr, size, true)}`, ptr };
        });
        return;
      case "allocArray":
        this.record(op.text, () => {
          const count = decode(op.count) as number;
          const size = decode(op.size) as number;
          let options: unknown;
          if (op.options !== undefined) options = decode(op.options);
          else if (op.zero !== undefined) options = { zero: decode(op.zero) };
          const ptr =
            options === undefined
              ? arena.allocArray(count, size)
              : arena.allocArray(count, size, options as { zero?: boolean });
          const id = this.nextId++;
          const zero = (options as { zero?: unknown } | undefined)?.zero === true;
          return { out: `a${id}${this.fresh(id, ptr, count * size, zero)}`, ptr };
        });
        return;
      case "realloc":
        this.record(op.text, () => this.realloc(decode(op.ptr), decode(op.size)));
        return;
      case "free":
        this.record(op.text, () => this.freeChecked(decode(op.ptr), op.verify));
        return;
      case "sizeOf":
        this.record(op.text, () => String(arena.sizeOf(decode(op.ptr) as Ptr)));
        return;
      case "bytes":
        this.record(op.text, () => {
          const ptr = decode(op.ptr) as Ptr;
          const view = op.length === undefined ? arena.bytes(ptr) : arena.bytes(ptr, decode(op.length) as number);
          const right = view.buffer === this.heap.memory.buffer && view.byteOffset === ptr;
          return `len ${view.length}${right ? "" : " bad-view"}`;
        });
        return;
      case "write":
        this.record(op.text, () => {
          const view = arena.bytes(this.ptr(op.target) as Ptr);
          const at = this.mismatch(op.target, false);
          const seed = this.nextSeed++;
          writePattern(view, seed);
          this.contents.set(op.target, { seed, size: view.length });
          return at >= 0 ? `ok corrupt@${at}` : "ok";
        });
        return;
      case "dup":
        this.record(op.text, () => {
          const { value, contents } = this.dupArgument(op);
          const ptr = arena.dup(value as ArrayBufferView);
          const id = this.nextId++;
          if (contents === undefined) return { out: `a${id} copied-what?`, ptr };
          return { out: `a${id}${this.copied(id, ptr, contents)}`, ptr };
        });
        return;
      case "strdup":
        this.record(op.text, () => this.strdup(strdupText(decode(op.value), op.repeat) as string));
        return;
      case "readString":
        this.record(op.text, () => this.readString(decode(op.ptr) as number));
        return;
      case "add":
        this.record(op.text, () =>
          this.add(op.behaviour, op.name === undefined ? undefined : decode(op.name), op.orReset),
        );
        return;
      case "addBad":
        this.record(op.text, () => {
          const action = decode(op.action) as () => void;
          if (op.orReset) arena.addOrReset(action);
          else arena.add(action);
          return "added";
        });
        return;
      case "removeAction":
        this.record(op.text, () => {
          arena.removeAction(this.actionArg(op.handle));
          return "ok";
        });
        return;
      case "releaseAction":
        this.record(op.text, () => {
          arena.releaseAction(this.actionArg(op.handle));
          return "ok";
        });
        return;
      case "hasAction":
        this.record(op.text, () => String(arena.hasAction(this.actionArg(op.handle))));
        return;
      case "openGroup":
        this.record(op.text, () => this.openGroup(op.name === undefined ? undefined : decode(op.name)));
        return;
      case "closeGroup":
        this.record(op.text, () => {
          if (op.handle === undefined) arena.closeGroup();
          else arena.closeGroup(this.groupArg(op.handle));
          return "ok";
        });
        return;
      case "releaseGroup":
        this.record(op.text, () => {
          arena.releaseGroup(this.groupArg(op.handle));
          return "ok";
        });
        return;
      case "removeGroup":
        this.record(op.text, () => {
          arena.removeGroup(this.groupArg(op.handle));
          return "ok";
        });
        return;
      case "group":
        this.record(op.text, () => {
          const token = {};
          const result = arena.group((a) => {
            const id = this.nextId++;
            this.log.push({ text: `  fn g${id}${a === arena ? "" : " bad-arena"}` });
            for (const b of op.body) {
              if (b.t === "alloc") this.record(`  body alloc(${b.size})`, () => this.allocPlain(b.size), true);
              else this.record("  body add", () => this.add(b.behaviour, undefined, false), true);
            }
            if (op.fail) throw new Boom(`g${id}`);
            return token;
          }, op.name);
          return result === token ? "ok" : "bad-result";
        });
        return;
      case "createChild":
        this.createChild(op);
        return;
      case "releaseChild":
        this.record(op.text, () => {
          this.child(op.child).release();
          return "ok";
        });
        return;
      case "childAlloc":
        this.record(op.text, () => this.childAlloc(op.child, op.size));
        return;
      case "retain":
        this.record(op.text, () => (arena.retain() === arena ? "ok" : "bad-result"));
        return;
      case "release":
        this.record(op.text, () => {
          if (op.dispose) arena[Symbol.dispose]();
          else arena.release();
          return "ok";
        });
        return;
      case "reset":
        this.record(op.text, () => {
          arena.reset();
          return "ok";
        });
        return;
      case "stats":
        this.record(op.text, () => this.statsLine());
        return;
      case "heapFree":
        this.record(op.text, () => {
          const ptr = decode(op.ptr) as number;
          this.heap.free(ptr);
          // The other arena frees it at its next call (checkOther's stats()): not one of its own any more.
          const i = this.otherAllocs.findIndex((a) => a.ptr === ptr);
          if (i >= 0) this.otherAllocs.splice(i, 1);
          return "ok";
        });
        return;
      case "reuse":
        // The defect a quarantine catches: the stale free frees the new owner unless the block is held.
        this.record(`${op.text}: alloc(${op.size})`, () => this.allocPlain(op.size));
        this.record(`${op.text}: free(${op.ptr})`, () => this.freeChecked(op.ptr, undefined));
        return;
    }
  }

  private createChild(op: Extract<Op, { t: "createChild" }>): void {
    let child: Arena | undefined;
    let id = 0;
    this.record(op.text, () => {
      const options: Record<string, unknown> = {};
      if (op.name !== undefined) options.name = decode(op.name);
      if (op.minAlign !== undefined) options.minAlign = decode(op.minAlign);
      child = this.arena.createChild(options as ArenaOptions);
      id = this.nextId++;
      this.children.set(id, child);
      this.childActions.set(id, 0);
      return `c${id}`;
    });
    const c = child;
    if (c === undefined) return;
    for (let k = 0; k < op.actions; k++) {
      this.record(`  c${id}.add`, () => {
        const cell = { n: 0 };
        c.add(() => {
          this.log.push({ text: `run c${id}.${cell.n}` });
        });
        cell.n = (this.childActions.get(id) ?? 0) + 1;
        this.childActions.set(id, cell.n);
        return "ok";
      });
    }
    for (const size of op.allocs) this.record(`  c${id}.alloc(${size})`, () => this.childAlloc(id, size));
  }

  private childAlloc(childId: number, size: number): Outcome {
    const ptr = this.child(childId).alloc(size);
    const id = this.nextId++;
    return { out: `a${id}${this.fresh(id, ptr, size, false)}`, ptr };
  }

  // ---- the other arena ---------------------------------------------------------------------

  /** The other arena must be untouched by anything done to the fuzzed one; returns a problem or undefined. */
  checkOther(): string | undefined {
    if (this.other.released) return "the other arena was released";
    const s = this.other.stats();
    if (s.allocations !== this.otherAllocs.length) return `the other arena has ${s.allocations} allocations`;
    for (const a of this.otherAllocs) {
      if (this.other.sizeOf(a.ptr as Ptr) !== a.size) return `the other arena's ${a.ptr} changed size`;
      const at = patternMismatch(new Uint8Array(this.heap.memory.buffer, a.ptr, a.size), a.seed);
      if (at >= 0) return `the other arena's ${a.ptr} was overwritten at ${at}`;
    }
    if (this.otherRuns !== 0) return "the other arena's action ran";
    return undefined;
  }

  /** Releases the other arena: its one action must run exactly once. */
  releaseOther(): string | undefined {
    const registered = this.foreignAction !== this.alien.action;
    this.other.release();
    if (registered && this.otherRuns !== 1) return `the other arena's action ran ${this.otherRuns} times`;
    return undefined;
  }
}
