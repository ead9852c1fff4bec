// The command language of the fuzzer. A Spec is plain JSON (special numbers
// and odd objects are tagged Args), so a shrunk failing case can be written to
// a replay file and re-run exactly. Specs refer to earlier results by "pick"
// numbers, resolved against the model when the command runs (pick modulo the
// number of candidates), so that a command list stays meaningful when the
// shrinker removes commands from it.
//
// An Op is a Spec resolved against the model: concrete pointers, entity ids
// and the text both the model and the real system log it under.

import { type Arg, isArg } from "./values.js";

/** What an action or destructor does when it runs (re-entrancy): each effect is one API call. */
export type EffectOp =
  | "free"
  | "sizeOf"
  | "realloc"
  | "removeAction"
  | "releaseAction"
  | "hasAction"
  | "releaseGroup"
  | "removeGroup"
  | "closeGroup"
  | "releaseChild"
  | "add"
  | "addOrReset"
  | "alloc"
  | "openGroup"
  | "release"
  | "reset"
  | "retain"
  | "stats"
  | "strdup";

export const EFFECT_OPS: readonly EffectOp[] = [
  "free",
  "sizeOf",
  "realloc",
  "removeAction",
  "releaseAction",
  "hasAction",
  "releaseGroup",
  "removeGroup",
  "closeGroup",
  "releaseChild",
  "add",
  "addOrReset",
  "alloc",
  "openGroup",
  "release",
  "reset",
  "retain",
  "stats",
  "strdup",
];

/** The kind of entity an effect acts on, if any. */
export function effectTarget(op: EffectOp): "alloc" | "action" | "group" | "child" | undefined {
  switch (op) {
    case "free":
    case "sizeOf":
    case "realloc":
      return "alloc";
    case "removeAction":
    case "releaseAction":
    case "hasAction":
      return "action";
    case "releaseGroup":
    case "removeGroup":
    case "closeGroup":
      return "group";
    case "releaseChild":
      return "child";
    default:
      return undefined;
  }
}

export interface EffectSpec {
  op: EffectOp;
  /** Which entity of the target kind (modulo their number), among all created so far, live or not. */
  pick: number;
  /** For alloc and realloc. */
  size?: number;
}

export interface BehaviourSpec {
  /** Throw (a Boom naming the action) after the effects. */
  throws: boolean;
  effects: EffectSpec[];
}

/** A pointer argument: chosen from the model's allocations, or an edge. */
export type PtrRef =
  | { k: "live"; pick: number }
  | { k: "dead"; pick: number }
  /** An allocation heap.free queued and its arena has not freed yet (shared heaps): not live. */
  | { k: "queued"; pick: number }
  | { k: "interior"; pick: number; offset: number }
  | { k: "foreign"; pick: number }
  | { k: "beyond"; offset: number }
  | { k: "page"; page: number; offset: number }
  | { k: "raw"; value: Arg };

/** A handle argument: a registration of the model's, another arena's or heap's, the wrong kind, or a non-handle. */
export type HandleRef =
  | { k: "live"; pick: number }
  | { k: "dead"; pick: number }
  | { k: "foreign" }
  | { k: "alien" }
  | { k: "wrong" }
  | { k: "raw"; value: Arg };

/** Typed arrays and DataView, as dup() may be handed them (the byte length is a multiple of the element size). */
export const VIEW_TYPES = {
  Int8Array: 1,
  Uint8ClampedArray: 1,
  Int16Array: 2,
  Uint16Array: 2,
  Int32Array: 4,
  Float32Array: 4,
  Float64Array: 8,
  BigInt64Array: 8,
  DataView: 1,
} as const;

export type ViewType = keyof typeof VIEW_TYPES;

/**
 * What dup() copies. Bytes are given as a length and a seed (seed 0: zeros,
 * else the pattern of that seed), so that long inputs stay short in replay files.
 */
export type DupSource =
  /** A Uint8Array, an ArrayBuffer, or a Uint8Array over a SharedArrayBuffer. */
  | { k: "u8" | "buffer" | "shared"; len: number; seed: number }
  /** Another view type, `offset` bytes into a larger buffer whose other bytes must not be copied. */
  | { k: "view"; type: ViewType; len: number; seed: number; offset: number }
  /** arena.bytes() of a live allocation: a view of the heap's own memory, which dup's allocation may move. */
  | { k: "self"; pick: number }
  /** A detached ArrayBuffer (view: a Uint8Array over one): EINVAL. */
  | { k: "detached"; view: boolean }
  /** Not bytes at all. */
  | { k: "raw"; value: Arg };

export type BodySpec = { t: "alloc"; size: number } | { t: "add"; behaviour: BehaviourSpec };

export type Spec =
  | {
      t: "alloc";
      size: Arg;
      align?: Arg;
      zero?: Arg;
      name?: Arg;
      /** A destructor (onRelease) with this behaviour. */
      dtor?: BehaviourSpec;
      /** A non-function onRelease. */
      onRelease?: Arg;
      /** Replaces the whole options argument. */
      options?: Arg;
    }
  | { t: "allocZeroed"; size: Arg }
  | { t: "allocArray"; count: Arg; size: Arg; zero?: Arg; options?: Arg }
  | { t: "realloc"; ptr: PtrRef; size: Arg }
  | { t: "free"; ptr: PtrRef }
  | { t: "sizeOf"; ptr: PtrRef }
  | { t: "bytes"; ptr: PtrRef; length?: Arg }
  | { t: "write"; pick: number }
  | { t: "dup"; source: DupSource }
  /** strdup of `value`, repeated `repeat` times when given (long strings stay short in replay files). */
  | { t: "strdup"; value: Arg; repeat?: number }
  | { t: "readString"; ptr: PtrRef }
  | { t: "add"; behaviour: BehaviourSpec; name?: Arg; orReset?: boolean }
  | { t: "addBad"; action: Arg; orReset?: boolean }
  | { t: "removeAction"; handle: HandleRef }
  | { t: "releaseAction"; handle: HandleRef }
  | { t: "hasAction"; handle: HandleRef }
  | { t: "openGroup"; name?: Arg }
  | { t: "closeGroup"; handle?: HandleRef }
  | { t: "releaseGroup"; handle: HandleRef }
  | { t: "removeGroup"; handle: HandleRef }
  | { t: "group"; body: BodySpec[]; fail: boolean; name?: string }
  | { t: "createChild"; actions: number; allocs: number[]; name?: Arg; minAlign?: Arg }
  | { t: "releaseChild"; pick: number }
  | { t: "childAlloc"; pick: number; size: number }
  | { t: "retain" }
  | { t: "release"; dispose?: boolean }
  | { t: "reset" }
  | { t: "stats" }
  /** `free(p); q = alloc(size); free(p)` for a recently freed p: alloc of its size, then free of p again. */
  | { t: "reuse"; pick: number }
  /** `heap.free(ptr)`: queued for the owning arena (shared heaps), EINVAL on a plain heap. */
  | { t: "heapFree"; ptr: PtrRef };

// ---- resolved operations -------------------------------------------------

export interface Effect {
  op: EffectOp;
  /** Entity id for targeted effects. */
  target: number;
  size: number;
  text: string;
}

export interface Behaviour {
  throws: boolean;
  effects: Effect[];
}

/** A resolved handle argument. */
export type HandleArg =
  | { k: "entity"; id: number }
  | { k: "foreign" }
  | { k: "alien" }
  | { k: "wrong" }
  | { k: "raw"; value: Arg };

export type Body = { t: "alloc"; size: number } | { t: "add"; behaviour: Behaviour };

export type Op = { text: string } & (
  | { t: "skip" }
  | {
      t: "alloc";
      size: Arg;
      align?: Arg;
      zero?: Arg;
      name?: Arg;
      dtor?: Behaviour;
      onRelease?: Arg;
      options?: Arg;
    }
  | { t: "allocZeroed"; size: Arg }
  | { t: "allocArray"; count: Arg; size: Arg; zero?: Arg; options?: Arg }
  /** `verify`: the allocation the pointer was taken from, live per the model (its contents are checked first). */
  | { t: "realloc"; ptr: Arg; size: Arg; verify?: number }
  | { t: "free"; ptr: Arg; verify?: number }
  | { t: "sizeOf"; ptr: Arg }
  | { t: "bytes"; ptr: Arg; length?: Arg }
  | { t: "write"; target: number }
  /** `from`: for a "self" source, the allocation whose bytes are copied. */
  | { t: "dup"; source: DupSource; from?: number }
  | { t: "strdup"; value: Arg; repeat: number }
  | { t: "readString"; ptr: Arg }
  | { t: "add"; behaviour: Behaviour; name?: Arg; orReset: boolean }
  | { t: "addBad"; action: Arg; orReset: boolean }
  | { t: "removeAction" | "releaseAction" | "hasAction"; handle: HandleArg }
  | { t: "openGroup"; name?: Arg }
  | { t: "closeGroup"; handle?: HandleArg }
  | { t: "releaseGroup" | "removeGroup"; handle: HandleArg }
  | { t: "group"; body: Body[]; fail: boolean; name?: string }
  | { t: "createChild"; actions: number; allocs: number[]; name?: Arg; minAlign?: Arg }
  | { t: "releaseChild"; child: number }
  | { t: "childAlloc"; child: number; size: number }
  | { t: "retain" }
  | { t: "release"; dispose: boolean }
  | { t: "reset" }
  | { t: "stats" }
  /** alloc(size), then free(ptr): `ptr` is stale (freed, or moved by realloc) and `size` was its size. */
  | { t: "reuse"; ptr: number; size: number }
  /** heap.free(ptr): the model tells by the value whose allocation, if any, `ptr` starts. */
  | { t: "heapFree"; ptr: Arg }
);

// ---- rendering and validation of specs -------------------------------------

function showPtr(p: PtrRef): string {
  switch (p.k) {
    case "live":
    case "dead":
    case "queued":
    case "foreign":
      return `${p.k}#${p.pick}`;
    case "interior":
      return `interior#${p.pick}+${p.offset}`;
    case "beyond":
      return `beyond+${p.offset}`;
    case "page":
      return `page${p.page}+${p.offset}`;
    case "raw":
      return JSON.stringify(p.value);
  }
}

/** One line per spec in a command list: compact JSON. */
export function showSpec(spec: Spec): string {
  if ("ptr" in spec) {
    const rest = { ...spec, ptr: showPtr(spec.ptr) };
    return JSON.stringify(rest);
  }
  return JSON.stringify(spec);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNat = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const optArg = (v: unknown) => v === undefined || isArg(v);

function isBehaviour(v: unknown): boolean {
  if (!isObject(v) || typeof v.throws !== "boolean" || !Array.isArray(v.effects)) return false;
  return v.effects.every(
    (e) =>
      isObject(e) &&
      EFFECT_OPS.includes(e.op as EffectOp) &&
      isNat(e.pick) &&
      (e.size === undefined || (isNat(e.size) && e.size <= 4294967295)),
  );
}

function isPtrRef(v: unknown): boolean {
  if (!isObject(v)) return false;
  switch (v.k) {
    case "live":
    case "dead":
    case "queued":
    case "foreign":
      return isNat(v.pick);
    case "interior":
      return isNat(v.pick) && isNat(v.offset);
    case "beyond":
      return isNat(v.offset);
    case "page":
      return isNat(v.page) && isNat(v.offset);
    case "raw":
      return isArg(v.value);
    default:
      return false;
  }
}

function isDupSource(v: unknown): boolean {
  if (!isObject(v)) return false;
  const bytes = isNat(v.len) && v.len <= 1 << 24 && isNat(v.seed);
  switch (v.k) {
    case "u8":
    case "buffer":
    case "shared":
      return bytes;
    case "view": {
      const size = Object.hasOwn(VIEW_TYPES, v.type as string) ? VIEW_TYPES[v.type as ViewType] : 0;
      return bytes && size > 0 && isNat(v.offset) && v.offset <= 4096 && (v.len as number) % size === 0;
    }
    case "self":
      return isNat(v.pick);
    case "detached":
      return typeof v.view === "boolean";
    case "raw":
      return isArg(v.value);
    default:
      return false;
  }
}

function isHandleRef(v: unknown): boolean {
  if (!isObject(v)) return false;
  switch (v.k) {
    case "live":
    case "dead":
      return isNat(v.pick);
    case "foreign":
    case "alien":
    case "wrong":
      return true;
    case "raw":
      return isArg(v.value);
    default:
      return false;
  }
}

/** Checks a spec read from a replay file; returns a reason when it is not one, else undefined. */
export function invalidSpec(v: unknown): string | undefined {
  if (!isObject(v)) return "not an object";
  const ok = ((): boolean => {
    switch (v.t) {
      case "alloc":
        return (
          isArg(v.size) &&
          optArg(v.align) &&
          optArg(v.zero) &&
          optArg(v.name) &&
          optArg(v.options) &&
          (v.dtor === undefined || isBehaviour(v.dtor)) &&
          (v.onRelease === undefined ||
            (isArg(v.onRelease) && !(isObject(v.onRelease) && v.onRelease.$ === "function")))
        );
      case "allocZeroed":
        return isArg(v.size);
      case "allocArray":
        return isArg(v.count) && isArg(v.size) && optArg(v.zero) && optArg(v.options);
      case "realloc":
        return isPtrRef(v.ptr) && isArg(v.size);
      case "free":
      case "sizeOf":
      case "heapFree":
        return isPtrRef(v.ptr);
      case "bytes":
        return isPtrRef(v.ptr) && optArg(v.length);
      case "write":
      case "releaseChild":
      case "reuse":
        return isNat(v.pick);
      case "dup":
        return isDupSource(v.source);
      case "strdup":
        return isArg(v.value) && (v.repeat === undefined || (isNat(v.repeat) && v.repeat <= 1 << 20));
      case "readString":
        return isPtrRef(v.ptr);
      case "childAlloc":
        return isNat(v.pick) && isNat(v.size) && v.size <= 4294967295;
      case "add":
        return (
          isBehaviour(v.behaviour) && optArg(v.name) && (v.orReset === undefined || typeof v.orReset === "boolean")
        );
      case "addBad":
        return (
          isArg(v.action) &&
          !(isObject(v.action) && v.action.$ === "function") &&
          (v.orReset === undefined || typeof v.orReset === "boolean")
        );
      case "removeAction":
      case "releaseAction":
      case "hasAction":
      case "releaseGroup":
      case "removeGroup":
        return isHandleRef(v.handle);
      case "closeGroup":
        return v.handle === undefined || isHandleRef(v.handle);
      case "openGroup":
        return optArg(v.name);
      case "group":
        return (
          typeof v.fail === "boolean" &&
          (v.name === undefined || typeof v.name === "string") &&
          Array.isArray(v.body) &&
          v.body.every(
            (b) =>
              isObject(b) &&
              ((b.t === "alloc" && isNat(b.size) && b.size <= 4294967295) ||
                (b.t === "add" && isBehaviour(b.behaviour))),
          )
        );
      case "createChild":
        return (
          isNat(v.actions) &&
          Array.isArray(v.allocs) &&
          v.allocs.every((s) => isNat(s) && s <= 4294967295) &&
          optArg(v.name) &&
          optArg(v.minAlign)
        );
      case "release":
        return v.dispose === undefined || typeof v.dispose === "boolean";
      case "retain":
      case "reset":
      case "stats":
        return true;
      default:
        return false;
    }
  })();
  return ok ? undefined : `not a valid command: ${JSON.stringify(v)}`;
}
