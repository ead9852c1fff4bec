// fast-check model-based commands: each ArenaCommand holds one Spec, resolves
// it against the model, runs it on the real system, has the model check the
// real log, then checks the whole observable state (stats, resources() order,
// sizes, contents, handles, children, the other arena on the heap, and the
// debug core's heap.check()). A scenario is a config and a command list, run
// with fc.modelRun on the debug core, or on both cores with their logs compared
// (differential), and closed by a final release and the checks that follow it.

import fc from "fast-check";
import type { ArenaStats, Heap, Ptr, Resource } from "managed-arena";
import { type AllocEntity, type Entry, Mismatch, Model, PAGE, U32_MAX } from "./model.js";
import {
  type Behaviour,
  type BehaviourSpec,
  type Body,
  type DupSource,
  type Effect,
  effectTarget,
  type HandleArg,
  type HandleRef,
  type Op,
  type PtrRef,
  type Spec,
  showSpec,
} from "./spec.js";
import { otherThreadPointer, RealSystem } from "./system.js";
import { type Arg, decode, renderThrown, show, strdupText } from "./values.js";

/** What a scenario runs on. */
export interface FuzzConfig {
  /** The heap's maxPages: tiny, so that ENOMEM paths are reached. */
  maxPages: number;
  /** The fuzzed arena's minAlign. */
  minAlign: number;
  /** The fuzzed arena's maxBytes (2^32-1: the default). */
  maxBytes: number;
  /** Run on both cores (release and debug) and compare their logs; otherwise the debug core only. */
  differential: boolean;
  /** The fuzzed arena poisons payloads (fresh 0x5a, freed 0x6b); checked on every allocation and free. */
  poison?: boolean;
  /** The fuzzed arena has a tracer; the model predicts every event (op, kind, name, size, ptr, arena) in order. */
  trace?: boolean;
  /**
   * The fuzzed arena's (and so its children's) `quarantine` option: the model predicts which freed
   * blocks are held, and a pointer handed out over one of them is a failure.
   */
  quarantine?: number;
  /** Test hook: a deliberate error in the model (see Model.stats), or "hang" (see RealSystem.exec). */
  fault?: string;
  /**
   * The heap is shared (`Heap.create({ shared: true })`, the shared core): set on the scenarios of
   * `--threads`, whose maxPages is the shared heap's. A replay runs it in one thread.
   */
  shared?: boolean;
  /**
   * The scenario runs on a heap other threads use at the same time (`--threads`; kept in its
   * replay): heap.free gets only pointers whose outcome this thread decides alone (see resolve).
   */
  threads?: boolean;
}

/** Checks that can be switched off (to look past a known defect). */
export const OPTIONAL_CHECKS = ["reclaim"] as const;

export interface RunOptions {
  /** Names from OPTIONAL_CHECKS to skip. */
  skip?: readonly string[];
  /**
   * Run on this heap, which other threads use at the same time (`--threads`), instead of a fresh one:
   * no heap.check() and no reclaim check (both need the heap to itself), and a scenario whose arenas
   * cannot be created (ENOMEM: the other threads hold the pages) is skipped.
   */
  heap?: Heap;
}

/** Commands run so far in this process (for the fuzz command's progress). */
export const counters = { ops: 0, skipped: 0, enomem: 0 };

/** `--threads`: called before every command, where the thread may pause while another checks the heap. */
export const hooks: { pause?: () => void } = {};

// ---- resolution ----------------------------------------------------------------

const prefix = { alloc: "a", action: "x", group: "g", child: "c" } as const;

function pick<T>(items: readonly T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

function candidates(m: Model, kind: "alloc" | "action" | "group" | "child"): number[] {
  switch (kind) {
    case "alloc":
      return m.allocs.filter((a) => a.child === 0).map((a) => a.id);
    case "action":
      return m.actions.map((a) => a.id);
    case "group":
      return m.groups.filter((g) => g.handle).map((g) => g.id);
    case "child":
      return m.children.map((c) => c.id);
  }
}

function behaviour(spec: BehaviourSpec, m: Model): Behaviour {
  const effects: Effect[] = [];
  for (const e of spec.effects) {
    const kind = effectTarget(e.op);
    let target = 0;
    let label = "";
    if (kind !== undefined) {
      const id = pick(candidates(m, kind), e.pick);
      if (id === undefined) continue;
      target = id;
      label = ` ${prefix[kind]}${id}`;
    }
    const size = e.size ?? 16;
    const text =
      e.op === "alloc"
        ? `alloc(${size})`
        : e.op === "realloc"
          ? `realloc${label} to ${size}`
          : e.op === "strdup"
            ? `strdup("ε" x ${size})`
            : `${e.op}${label}`;
    effects.push({ op: e.op, target, size, text });
  }
  return { throws: spec.throws, effects };
}

function behaviourText(b: Behaviour): string {
  const parts = b.effects.map((e) => e.text);
  if (b.throws) parts.push("throw");
  return `{${parts.join("; ")}}`;
}

interface PtrChoice {
  value: Arg;
  label: string;
  /** The allocation it is the start of, live per the model. */
  live?: AllocEntity;
}

function ptrChoice(ref: PtrRef, m: Model, r: RealSystem): PtrChoice | undefined {
  const live = m.liveAllocs();
  switch (ref.k) {
    case "live": {
      const a = pick(live, ref.pick);
      return a && { value: a.ptr, label: `${a.ptr} a${a.id}`, live: a };
    }
    case "dead": {
      const a = pick(
        m.allocs.filter((x) => x.child === 0 && x.state === "dead"),
        ref.pick,
      );
      return a && { value: a.ptr, label: `${a.ptr} freed a${a.id}` };
    }
    case "queued": {
      const a = pick(m.queue, ref.pick);
      return a && { value: a.ptr, label: `${a.ptr} queued a${a.id}` };
    }
    case "interior": {
      const a = pick(live, ref.pick);
      return a && { value: a.ptr + ref.offset, label: `${a.ptr + ref.offset} a${a.id}+${ref.offset}` };
    }
    case "foreign": {
      // --threads: every other one is a pointer of another thread's arena (in a replay, the other arena's).
      const t = r.concurrent && ref.pick % 2 === 1 ? otherThreadPointer(ref.pick >>> 1) : undefined;
      if (t !== undefined) return { value: t, label: `${t} other thread's` };
      const f = pick(m.foreign, ref.pick);
      return f && { value: f.ptr, label: `${f.ptr} other arena's` };
    }
    case "beyond": {
      const value = Math.min(r.heap.memory.buffer.byteLength + ref.offset, U32_MAX - 7);
      return { value, label: `${value} beyond memory` };
    }
    case "page": {
      const value = (ref.page % m.pageLimit) * PAGE + ref.offset;
      return { value, label: `${value} page ${ref.page % m.pageLimit}+${ref.offset}` };
    }
    case "raw":
      return { value: ref.value, label: show(ref.value) };
  }
}

function handleChoice(
  ref: HandleRef,
  m: Model,
  kind: "action" | "group",
): { arg: HandleArg; label: string } | undefined {
  const entities = kind === "action" ? m.actions : m.groups.filter((g) => g.handle);
  switch (ref.k) {
    case "live":
    case "dead": {
      const e = pick(
        entities.filter((x) => (x.state === "live") === (ref.k === "live")),
        ref.pick,
      );
      return (
        e && { arg: { k: "entity", id: e.id }, label: `${ref.k === "dead" ? "stale " : ""}${prefix[kind]}${e.id}` }
      );
    }
    case "foreign":
      return { arg: ref, label: `other arena's ${kind}` };
    case "alien":
      return { arg: ref, label: `other heap's ${kind}` };
    case "wrong":
      return { arg: ref, label: kind === "action" ? "a GroupHandle" : "an ActionHandle" };
    case "raw":
      return { arg: ref, label: show(ref.value) };
  }
}

function optionsText(fields: [string, Arg | undefined][]): string {
  const shown = fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${show(v as Arg)}`);
  return shown.length === 0 ? "" : `, {${shown.join(", ")}}`;
}

/** A dup spec resolved: a "self" source needs a live allocation to copy. */
function resolveDup(source: DupSource, m: Model): Op | undefined {
  const bytes = (what: string, len: number, seed: number) =>
    `${what} of ${len} bytes (${seed === 0 ? "zeros" : `pattern ${seed}`})`;
  switch (source.k) {
    case "u8":
      return { t: "dup", source, text: `dup(${bytes("Uint8Array", source.len, source.seed)})` };
    case "buffer":
      return { t: "dup", source, text: `dup(${bytes("ArrayBuffer", source.len, source.seed)})` };
    case "shared":
      return { t: "dup", source, text: `dup(${bytes("Uint8Array on a SharedArrayBuffer", source.len, source.seed)})` };
    case "view":
      return { t: "dup", source, text: `dup(${bytes(source.type, source.len, source.seed)} at +${source.offset})` };
    case "self": {
      const a = pick(m.liveAllocs(), source.pick);
      return a && { t: "dup", source, from: a.id, text: `dup(bytes(a${a.id}))` };
    }
    case "detached":
      return { t: "dup", source, text: `dup(${source.view ? "a view of " : ""}a detached ArrayBuffer)` };
    case "raw":
      return { t: "dup", source, text: `dup(${show(source.value)})` };
  }
}

/** Resolves a spec against the model (and the heap's current size): concrete arguments and the log text. */
export function resolve(spec: Spec, m: Model, r: RealSystem): Op {
  const skip = (): Op => ({ t: "skip", text: `${spec.t} (nothing to pick)` });
  switch (spec.t) {
    case "alloc": {
      const dtor = spec.dtor && behaviour(spec.dtor, m);
      const opts =
        spec.options !== undefined
          ? `, ${show(spec.options)}`
          : optionsText([
              ["align", spec.align],
              ["zero", spec.zero],
              ["name", spec.name],
              ["onRelease", spec.onRelease],
            ]);
      const dtorText = dtor ? ` + onRelease${behaviourText(dtor)}` : "";
      return { ...spec, dtor, text: `alloc(${show(spec.size)}${opts})${dtorText}` };
    }
    case "allocZeroed":
      return { ...spec, text: `allocZeroed(${show(spec.size)})` };
    case "allocArray": {
      const opts = spec.options !== undefined ? `, ${show(spec.options)}` : optionsText([["zero", spec.zero]]);
      return { ...spec, text: `allocArray(${show(spec.count)}, ${show(spec.size)}${opts})` };
    }
    case "realloc":
    case "free":
    case "sizeOf":
    case "bytes": {
      const p = ptrChoice(spec.ptr, m, r);
      if (p === undefined) return skip();
      if (spec.t === "realloc")
        return { t: "realloc", ptr: p.value, size: spec.size, text: `realloc(${p.label}, ${show(spec.size)})` };
      if (spec.t === "free") return { t: "free", ptr: p.value, verify: p.live?.id, text: `free(${p.label})` };
      if (spec.t === "sizeOf") return { t: "sizeOf", ptr: p.value, text: `sizeOf(${p.label})` };
      const length = spec.length === undefined ? "" : `, ${show(spec.length)}`;
      return { t: "bytes", ptr: p.value, length: spec.length, text: `bytes(${p.label}${length})` };
    }
    case "write": {
      const a = pick(m.liveAllocs(), spec.pick);
      return a ? { t: "write", target: a.id, text: `write a${a.id}` } : skip();
    }
    case "dup":
      return resolveDup(spec.source, m) ?? skip();
    case "strdup": {
      const repeat = spec.repeat ?? 1;
      const value = strdupText(spec.value, repeat);
      const shown = repeat === 1 || typeof value !== "string" ? show(spec.value) : `${show(spec.value)} x ${repeat}`;
      return { t: "strdup", value: spec.value, repeat, text: `strdup(${shown})` };
    }
    case "readString": {
      const p = ptrChoice(spec.ptr, m, r);
      return p === undefined ? skip() : { t: "readString", ptr: p.value, text: `readString(${p.label})` };
    }
    case "add": {
      const b = behaviour(spec.behaviour, m);
      const name = spec.name === undefined ? "" : `, ${show(spec.name)}`;
      return {
        t: "add",
        behaviour: b,
        name: spec.name,
        orReset: spec.orReset === true,
        text: `${spec.orReset ? "addOrReset" : "add"}(${behaviourText(b)}${name})`,
      };
    }
    case "addBad":
      return {
        t: "addBad",
        action: spec.action,
        orReset: spec.orReset === true,
        text: `${spec.orReset ? "addOrReset" : "add"}(${show(spec.action)})`,
      };
    case "removeAction":
    case "releaseAction":
    case "hasAction": {
      const h = handleChoice(spec.handle, m, "action");
      return h ? { t: spec.t, handle: h.arg, text: `${spec.t}(${h.label})` } : skip();
    }
    case "openGroup":
      return { ...spec, text: `openGroup(${spec.name === undefined ? "" : show(spec.name)})` };
    case "closeGroup": {
      if (spec.handle === undefined) return { t: "closeGroup", text: "closeGroup()" };
      const h = handleChoice(spec.handle, m, "group");
      return h ? { t: "closeGroup", handle: h.arg, text: `closeGroup(${h.label})` } : skip();
    }
    case "releaseGroup":
    case "removeGroup": {
      const h = handleChoice(spec.handle, m, "group");
      return h ? { t: spec.t, handle: h.arg, text: `${spec.t}(${h.label})` } : skip();
    }
    case "group": {
      const body: Body[] = spec.body.map((b) =>
        b.t === "alloc" ? b : { t: "add", behaviour: behaviour(b.behaviour, m) },
      );
      const parts = body.map((b) => (b.t === "alloc" ? `alloc(${b.size})` : `add${behaviourText(b.behaviour)}`));
      if (spec.fail) parts.push("throw");
      const name = spec.name === undefined ? "" : `, ${JSON.stringify(spec.name)}`;
      return { t: "group", body, fail: spec.fail, name: spec.name, text: `group(fn{${parts.join("; ")}}${name})` };
    }
    case "createChild": {
      const opts = optionsText([
        ["name", spec.name],
        ["minAlign", spec.minAlign],
      ]);
      return { ...spec, text: `createChild(${opts.slice(2)}) with ${spec.actions} actions, allocs [${spec.allocs}]` };
    }
    case "releaseChild":
    case "childAlloc": {
      const c = pick(m.children, spec.pick);
      if (c === undefined) return skip();
      if (spec.t === "releaseChild") return { t: "releaseChild", child: c.id, text: `c${c.id}.release()` };
      return { t: "childAlloc", child: c.id, size: spec.size, text: `c${c.id}.alloc(${spec.size})` };
    }
    case "retain":
      return { t: "retain", text: "retain()" };
    case "release":
      return { t: "release", dispose: spec.dispose === true, text: spec.dispose ? "[Symbol.dispose]()" : "release()" };
    case "reset":
      return { t: "reset", text: "reset()" };
    case "stats":
      return { t: "stats", text: "stats()" };
    case "heapFree": {
      const p = ptrChoice(spec.ptr, m, r);
      if (p === undefined) return skip();
      // Among other threads, another thread's live allocation may start at a pointer this thread
      // does not own (freed, beyond, another thread's): freeing it would change that thread's
      // model. There such a pointer is moved off the 8-byte grain, where no allocation starts
      // (EBADPTR), in the replay too, so that it resolves as the threads' run did.
      const value = decode(p.value);
      if (m.threads && typeof value === "number" && !m.heapFreeCertain(value)) {
        return { t: "heapFree", ptr: value + 1, text: `heap.free(${value + 1} = ${p.label} + 1)` };
      }
      return { t: "heapFree", ptr: p.value, text: `heap.free(${p.label})` };
    }
    case "reuse": {
      // One of the last few pointers a free made stale, newest first: its block may have been reused already.
      const retired = m.retired;
      if (retired.length === 0) return skip();
      const r = retired[retired.length - 1 - (spec.pick % Math.min(retired.length, 8))];
      return { t: "reuse", ptr: r.ptr, size: r.size, text: `reuse(${r.ptr} freed a${r.id}, ${r.size})` };
    }
  }
}

// ---- checking the whole state ----------------------------------------------------

/** The grain of reservedBytes: chunks are runs of 256-byte slots or of pages (assembly/layout.ts). */
const SLOT = 256;
const STAT_KEYS = ["allocations", "actions", "groups", "children", "liveBytes", "peakBytes"] as const;

function renderResource(r: Resource): string {
  if (r.kind === "alloc") return `alloc:${r.name}:${r.size}:${r.ptr}`;
  if (r.kind === "child") return `child:${r.name}:${r.size}`;
  return `${r.kind}:${r.name}`;
}

/** Everything observable must agree with the model; contents are sampled unless `full`. */
export function verify(m: Model, r: RealSystem, after: string, full: boolean): void {
  const problems: string[] = [];
  const arena = r.arena;
  const released = m.life === "released";
  if (arena.released !== released) problems.push(`arena.released is ${arena.released}, expected ${released}`);
  if (!released && !arena.released) {
    if (m.shared) {
      // report() reads the counters as they are, without applying what heap.free queued: they
      // count a queued allocation until the command the model says applies the queue.
      const e = m.stats();
      const first = arena.report().split("\n", 1)[0];
      const n = Number(/: (\d+) allocations?,/.exec(first)?.[1]);
      const bytes = e.liveBytes < 10 * 1024 && !first.includes(`, ${e.liveBytes} B live`);
      if (n !== e.allocations || bytes) {
        problems.push(
          `report() reads ${JSON.stringify(first)}, expected ${e.allocations} allocations, ${e.liveBytes} B live (${m.queue.length} queued by heap.free)`,
        );
      }
    }
    // stats() and resources() apply frees heap.free queued: while the model has some, they wait
    // for the command that must apply them, and a queued allocation must not be live.
    if (m.pending()) {
      for (const a of m.queue) {
        let got: string;
        try {
          got = String(arena.sizeOf(a.ptr as Ptr));
        } catch (error) {
          got = renderThrown(error);
        }
        if (got !== "EBADPTR") problems.push(`sizeOf(${a.ptr}) of a${a.id}, queued by heap.free, is ${got}`);
      }
    } else {
      const s = arena.stats();
      const e = m.stats();
      for (const k of STAT_KEYS) if (s[k] !== e[k]) problems.push(`stats().${k} is ${s[k]}, expected ${e[k]}`);
      if (s.reservedBytes % SLOT !== 0 || s.reservedBytes < s.liveBytes) {
        problems.push(`stats().reservedBytes is ${s.reservedBytes} with liveBytes ${s.liveBytes}`);
      }
      const got = arena.resources().map(renderResource);
      const want = m.resources();
      if (got.join("\n") !== want.join("\n")) {
        problems.push(
          `resources() (newest first) is\n      ${got.join("\n      ") || "(none)"}\n    expected\n      ${want.join("\n      ") || "(none)"}`,
        );
      }
    }
    for (const a of m.liveAllocs()) {
      let size: number;
      try {
        size = arena.sizeOf(a.ptr as Ptr);
      } catch (error) {
        problems.push(`sizeOf(${a.ptr}) of a${a.id} threw ${renderThrown(error)}`);
        continue;
      }
      if (size !== a.size) problems.push(`sizeOf(${a.ptr}) of a${a.id} is ${size}, expected ${a.size}`);
      const at = r.mismatch(a.id, !full);
      if (at >= 0) problems.push(`a${a.id} at ${a.ptr} (size ${a.size}) lost its contents at byte ${at}`);
    }
    if (r.poisoned) {
      // Nothing writes a quarantined block: it keeps the 0x6b its free wrote (sampled unless `full`).
      for (const h of m.quarantined()) {
        const bytes = new Uint8Array(r.heap.memory.buffer, h.ptr, h.size);
        const head = full ? bytes : bytes.subarray(0, 256);
        let at = head.findIndex((b) => b !== 0x6b);
        if (at < 0 && !full && h.size > 256) at = bytes.subarray(h.size - 64).findIndex((b) => b !== 0x6b);
        if (at >= 0) problems.push(`quarantined a${h.id} at ${h.ptr} (size ${h.size}) lost its 0x6b poison`);
      }
    }
    for (const x of m.actions) {
      const h = r.actions.get(x.id);
      if (h !== undefined && arena.hasAction(h) !== (x.state === "live")) {
        problems.push(`hasAction(x${x.id}) is ${!(x.state === "live")}, expected ${x.state === "live"}`);
      }
    }
  }
  for (const c of m.children) {
    const child = r.children.get(c.id);
    if (child === undefined) continue;
    if (child.released !== (c.state === "dead")) problems.push(`c${c.id}.released is ${child.released}`);
    if (child.released) continue;
    const s = child.stats();
    m.childQueueApplied(c);
    const live = c.allocs.filter((a) => a.state === "live");
    const want: Partial<ArenaStats> = {
      allocations: live.length,
      actions: c.actions,
      groups: 0,
      children: 0,
      liveBytes: live.reduce((sum, a) => sum + a.size, 0),
      peakBytes: c.peak,
    };
    for (const k of STAT_KEYS)
      if (s[k] !== want[k]) problems.push(`c${c.id}.stats().${k} is ${s[k]}, expected ${want[k]}`);
    for (const a of live) {
      const at = r.mismatch(a.id, !full);
      if (at >= 0) problems.push(`child allocation a${a.id} lost its contents at byte ${at}`);
    }
  }
  const other = r.checkOther();
  if (other !== undefined) problems.push(other);
  if (r.debug && !r.concurrent) {
    const code = r.heap.check();
    if (code !== 0) problems.push(`heap.check() returned ${code}`);
  }
  if (problems.length > 0) throw new Mismatch(`after ${after}:\n  ${problems.join("\n  ")}`);
}

/** Resolves and runs one spec on both sides, then checks everything. */
export function step(m: Model, r: RealSystem, spec: Spec): void {
  hooks.pause?.();
  const op = resolve(spec, m, r);
  // stats() would apply frees heap.free queued: not while the model has some (see verify).
  const before = r.arena.released || m.pending() ? undefined : r.arena.stats();
  r.log = [];
  r.exec(op);
  counters.ops++;
  const actual = r.log;
  for (const e of actual) {
    r.transcript.push(e);
    if (e.text.endsWith(" -> ENOMEM")) counters.enomem++;
  }
  m.check(op, actual);
  const failed = actual.length === 1 ? / -> (E[A-Z]+)$/.exec(actual[0].text) : null;
  verify(m, r, JSON.stringify(op.text), failed?.[1] === "ENOMEM");
  if (failed !== null && before !== undefined && !r.arena.released && !m.pending()) {
    // A failed call changes nothing: reservedBytes and peakBytes included.
    const after = r.arena.stats();
    const changed = (Object.keys(before) as (keyof ArenaStats)[]).filter((k) => before[k] !== after[k]);
    if (changed.length > 0) {
      throw new Mismatch(
        `${JSON.stringify(op.text)} failed with ${failed[1]} but changed stats(): ${changed.map((k) => `${k} ${before[k]} -> ${after[k]}`).join(", ")}`,
      );
    }
  }
}

/** One command of the model-based run. */
export class ArenaCommand implements fc.Command<Model, RealSystem> {
  constructor(readonly spec: Spec) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: RealSystem): void {
    step(m, r, this.spec);
  }
  toString(): string {
    return showSpec(this.spec);
  }
}

/** The specs of a command list that ran (the part of a counterexample that matters). */
export function specsOf(commands: Iterable<unknown>): Spec[] {
  const all: { spec: Spec; ran: boolean }[] = [];
  for (const c of commands) {
    const wrapper = c as { cmd?: unknown; hasRan?: boolean };
    const cmd = (wrapper.cmd ?? c) as ArenaCommand;
    all.push({ spec: cmd.spec, ran: wrapper.hasRan !== false });
  }
  const ran = all.filter((c) => c.ran);
  return (ran.length > 0 ? ran : all).map((c) => c.spec);
}

// ---- scenarios -----------------------------------------------------------------------

export async function createWorld(
  config: FuzzConfig,
  debug: boolean,
  shared?: Heap,
): Promise<{ model: Model; real: RealSystem }> {
  const real = await RealSystem.create(config, debug, shared);
  const model = new Model(config);
  model.pages = () => real.heap.memory.buffer.byteLength / PAGE;
  model.memoryBytes = () => real.heap.memory.buffer.byteLength;
  model.foreign = real.otherAllocs.map((a) => ({ ptr: a.ptr, size: a.size }));
  return { model, real };
}

/** Releases the arena (as often as it was retained) and checks what must hold after. */
export function finish(m: Model, r: RealSystem, config: FuzzConfig, options: RunOptions): void {
  verify(m, r, "the last command (contents in full)", true);
  for (let i = 0; m.life !== "released" && i < 10_000; i++) step(m, r, { t: "release" });
  const problems: string[] = [];
  try {
    r.arena.stats();
    problems.push("stats() after release did not throw");
  } catch (error) {
    if (renderThrown(error) !== "ERELEASED") problems.push(`stats() after release threw ${renderThrown(error)}`);
  }
  for (const c of m.children) {
    if (r.children.get(c.id)?.released === false) problems.push(`child c${c.id} outlived its parent`);
  }
  const other = r.checkOther() ?? r.releaseOther();
  if (other !== undefined) problems.push(other);
  if (r.debug && !r.concurrent && r.heap.check() !== 0) {
    problems.push(`heap.check() returned ${r.heap.check()} after every release`);
  }
  if (!options.skip?.includes("reclaim") && !r.concurrent) {
    // Every arena is gone: all pages but page 0 (static data, page maps) and
    // page 1 (arena records) must be reusable, as one run, up to maxPages.
    const limit = Math.min(config.maxPages, 65535);
    const pages = limit - 2;
    if (pages >= 1) {
      const fresh = r.heap.createArena({ name: "reclaim" });
      const size = pages * PAGE - 64;
      try {
        fresh.alloc(size);
      } catch (error) {
        const now = r.heap.memory.buffer.byteLength / PAGE;
        problems.push(
          `after every arena was released, a new arena's alloc(${size}) (${pages} pages; memory at ${now} of ${limit} pages) threw ${renderThrown(error)}`,
        );
      }
      fresh.release();
    }
  }
  if (problems.length > 0) throw new Mismatch(`after the final release:\n  ${problems.join("\n  ")}`);
}

function compareTranscripts(debug: Entry[], release: Entry[]): void {
  const n = Math.max(debug.length, release.length);
  const show = (e: Entry | undefined) =>
    e === undefined ? "(nothing)" : `${e.text}${e.ptr === undefined ? "" : ` @${e.ptr}`}`;
  for (let i = 0; i < n; i++) {
    const a = debug[i];
    const b = release[i];
    if (a?.text !== b?.text || a?.ptr !== b?.ptr) {
      throw new Mismatch(
        `the release and debug cores differ at log entry ${i}:\n  debug:   ${show(a)}\n  release: ${show(b)}`,
      );
    }
  }
}

/**
 * Runs a command list on a fresh world (the debug core; with
 * `config.differential`, then again on the release core, comparing logs),
 * then the final release and its checks. Throws Mismatch on the first problem.
 */
export async function runScenario(
  config: FuzzConfig,
  commands: Iterable<ArenaCommand>,
  options: RunOptions = {},
): Promise<void> {
  const transcripts: Entry[][] = [];
  for (const debug of config.differential ? [true, false] : [true]) {
    // On a heap other threads use (debug: it is the shared debug core), its pages may all be taken.
    const shared = debug ? options.heap : undefined;
    let world: { model: Model; real: RealSystem };
    try {
      world = await createWorld(config, debug, shared);
    } catch (error) {
      if (shared !== undefined && renderThrown(error) === "ENOMEM") {
        counters.skipped++;
        return;
      }
      throw error;
    }
    try {
      fc.modelRun(() => world, commands);
      finish(world.model, world.real, config, options);
    } catch (error) {
      if (error instanceof Mismatch && config.differential) {
        error.message = `[${debug ? "debug" : "release"} core] ${error.message}`;
      }
      throw error;
    }
    transcripts.push(world.real.transcript);
  }
  if (transcripts.length === 2) compareTranscripts(transcripts[0], transcripts[1]);
}

/** Runs a spec list (a replay). */
export function runSpecs(config: FuzzConfig, specs: readonly Spec[], options: RunOptions = {}): Promise<void> {
  return runScenario(
    config,
    specs.map((s) => new ArenaCommand(s)),
    options,
  );
}
