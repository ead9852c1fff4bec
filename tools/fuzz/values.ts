// Values shared by the fuzz engine: arguments that survive a JSON round trip
// (so a failing case can be written to a replay file and re-run exactly),
// byte patterns, and the one rendering of an outcome that the model and the
// real system both produce, so that their logs can be compared as text.

import { ArenaError, SuppressedError } from "managed-arena";

/** Values JSON cannot hold, and the odd objects handed to the API as numbers, options or actions. */
export type Special =
  | "NaN"
  | "Infinity"
  | "-Infinity"
  | "-0"
  | "undefined"
  | "object"
  | "array"
  | "boxed"
  | "valueOf"
  | "function"
  | "symbol";

/** An argument as stored in a command: plain JSON, or a tagged special value. */
export type Arg = number | string | boolean | null | { $: Special } | { $: "bigint"; v: string };

/** The Arg for any number, including NaN, ±Infinity and -0. */
export function num(n: number): Arg {
  if (Number.isNaN(n)) return { $: "NaN" };
  if (n === Number.POSITIVE_INFINITY) return { $: "Infinity" };
  if (n === Number.NEGATIVE_INFINITY) return { $: "-Infinity" };
  if (Object.is(n, -0)) return { $: "-0" };
  return n;
}

/** The JS value an Arg stands for (a fresh object each call, where it is one). */
export function decode(arg: Arg): unknown {
  if (arg === null || typeof arg !== "object") return arg;
  switch (arg.$) {
    case "NaN":
      return Number.NaN;
    case "Infinity":
      return Number.POSITIVE_INFINITY;
    case "-Infinity":
      return Number.NEGATIVE_INFINITY;
    case "-0":
      return -0;
    case "undefined":
      return undefined;
    case "object":
      return {};
    case "array":
      return [16];
    case "boxed":
      return new Number(16);
    case "valueOf":
      return { valueOf: () => 16 };
    case "function":
      return function notAValue() {};
    case "symbol":
      return Symbol("fuzz");
    case "bigint":
      return BigInt(arg.v);
  }
}

/** A short, exact rendering of an Arg for command lists and logs. */
export function show(arg: Arg): string {
  if (arg === null) return "null";
  if (typeof arg === "string") return JSON.stringify(arg);
  if (typeof arg !== "object") return String(arg);
  switch (arg.$) {
    case "object":
      return "{}";
    case "array":
      return "[16]";
    case "boxed":
      return "new Number(16)";
    case "valueOf":
      return "{valueOf}";
    case "function":
      return "function";
    case "symbol":
      return "Symbol()";
    case "bigint":
      return `${arg.v}n`;
    default:
      return arg.$;
  }
}

/** Checks that `value` is a well-formed Arg (replay files are input). */
export function isArg(value: unknown): value is Arg {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object") return false;
  const tag = (value as { $?: unknown }).$;
  if (tag === "bigint") return typeof (value as { v?: unknown }).v === "string";
  return (
    typeof tag === "string" &&
    [
      "NaN",
      "Infinity",
      "-Infinity",
      "-0",
      "undefined",
      "object",
      "array",
      "boxed",
      "valueOf",
      "function",
      "symbol",
    ].includes(tag)
  );
}

// ---- what the contract says about values (written from DESIGN §3-4, not from the facade) ----

/** A size, count, length or pointer the API accepts: a number that is an integer in [0, 2^32-1]. */
export function isU32Value(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 4294967295;
}

/** An alignment `alloc` accepts: a power of two in 1..4096. */
export function isAlignValue(value: unknown): value is number {
  return isU32Value(value) && value >= 1 && value <= 4096 && Number.isInteger(Math.log2(value));
}

// ---- byte patterns -------------------------------------------------------

/** The byte at offset `i` of pattern `seed` (position dependent, so shifted or swapped bytes are caught). */
export function patternByte(seed: number, i: number): number {
  return (seed * 37 + i * 7 + (i >>> 8) * 3 + 1) & 0xff;
}

/** Writes pattern `seed` over `bytes`. */
export function writePattern(bytes: Uint8Array, seed: number): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] = (seed * 37 + i * 7 + (i >>> 8) * 3 + 1) & 0xff;
}

/**
 * The first offset in `bytes` that differs from pattern `seed`, or -1. With
 * `sampled`, only the first and last 64 bytes and every 251st byte between.
 */
export function patternMismatch(bytes: Uint8Array, seed: number, sampled = false): number {
  const n = bytes.length;
  if (!sampled || n <= 512) {
    for (let i = 0; i < n; i++) if (bytes[i] !== patternByte(seed, i)) return i;
    return -1;
  }
  for (let i = 0; i < 64; i++) if (bytes[i] !== patternByte(seed, i)) return i;
  for (let i = 64; i < n - 64; i += 251) if (bytes[i] !== patternByte(seed, i)) return i;
  for (let i = n - 64; i < n; i++) if (bytes[i] !== patternByte(seed, i)) return i;
  return -1;
}

// ---- outcomes ------------------------------------------------------------

/** What a behaviour throws on purpose: `label` names the action, destructor or group body. */
export class Boom extends Error {
  readonly label: string;
  constructor(label: string) {
    super(`boom ${label}`);
    this.name = "Boom";
    this.label = label;
  }
}

/** A predicted error: an ArenaError code, a Boom, or a SuppressedError of two. */
export type Predicted = { code: string } | { boom: string } | { error: Predicted; suppressed: Predicted };

/** Renders a predicted error the way {@link renderThrown} renders a real one. */
export function renderPredicted(p: Predicted): string {
  if ("code" in p) return p.code;
  if ("boom" in p) return `boom:${p.boom}`;
  return `S(${renderPredicted(p.error)}, ${renderPredicted(p.suppressed)})`;
}

/** Renders anything thrown by the API: codes, booms, SuppressedError chains; anything else is marked unexpected. */
export function renderThrown(e: unknown): string {
  if (e instanceof ArenaError) return e.code;
  if (e instanceof Boom) return `boom:${e.label}`;
  if (e instanceof SuppressedError) {
    const s = e as Error & { error: unknown; suppressed: unknown };
    return `S(${renderThrown(s.error)}, ${renderThrown(s.suppressed)})`;
  }
  if (e instanceof Error) return `!${e.name}: ${e.message}`;
  return `!thrown ${String(e)}`;
}

// ---- data for dup and strdup ----------------------------------------------

/** The bytes a dup source of `len` bytes and `seed` holds: zeros for seed 0, else pattern `seed`. */
export function sourceBytes(len: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(len);
  if (seed !== 0) writePattern(bytes, seed);
  return bytes;
}

/** The text a strdup spec passes: `text` repeated `repeat` times (strings only). */
export function strdupText(text: unknown, repeat: number): unknown {
  return typeof text === "string" ? text.repeat(repeat) : text;
}

/**
 * A string as logs show it: exact JSON when short; else its length, its first
 * 24 code units and an FNV-1a hash of all of them (a long string stays one line).
 */
export function renderString(s: string): string {
  if (s.length <= 48) return JSON.stringify(s);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return `${JSON.stringify(s.slice(0, 24))}…(${s.length} chars, #${(h >>> 0).toString(16)})`;
}

/** One trace event as a log line (the model predicts it, the harness's tracer writes it). */
export function renderTrace(
  op: string,
  kind: string,
  name: string,
  size: number,
  ptr: number | undefined,
  arena: string,
): string {
  return `~ ${op} ${kind} ${JSON.stringify(name)} ${size} ${ptr === undefined ? "-" : `@${ptr}`} [${arena}]`;
}
