// Shared helpers for the vitest suites: error assertions, byte patterns, a
// fixture that proves "a failed call changes nothing", a seeded PRNG and a
// helper that fills a heap until it runs out of memory.
import type { Worker } from "node:worker_threads";
import { expect } from "vitest";
import { type ActionHandle, type Arena, ArenaError, type Heap, type Ptr, SuppressedError } from "../src/index.js";

export const ERROR_CODES = ["EINVAL", "EOVERFLOW", "ENOMEM", "EBADPTR", "ESTALE", "ERELEASED", "EBUSY"] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A plain number seen as a pointer (for handing invalid pointers to the API). */
export function asPtr(n: number): Ptr {
  return n as unknown as Ptr;
}

/** Anything, seen as any parameter type (for handing ill-typed values to the API). */
export function bad<T = never>(value: unknown): T {
  return value as T;
}

function describeValue(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return Object.prototype.toString.call(value);
  return String(value);
}

/**
 * Calls `fn` and asserts that it throws an `ArenaError` whose `code` is `code`
 * (or one of `code` when a list is given). Returns the error.
 */
export function expectCode(fn: () => unknown, code: ErrorCode | readonly ErrorCode[]): ArenaError {
  const codes: readonly ErrorCode[] = typeof code === "string" ? [code] : code;
  let threw = false;
  let error: unknown;
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  expect(threw, `expected ArenaError ${codes.join("|")}, but the call returned ${describeValue(result)}`).toBe(true);
  expect(error, `expected ArenaError ${codes.join("|")}, got ${describeValue(error)}`).toBeInstanceOf(ArenaError);
  expect(error).toBeInstanceOf(Error);
  expect(codes, `ArenaError message: ${(error as Error).message}`).toContain((error as ArenaError).code);
  return error as ArenaError;
}

/** Like `expectCode` for a function returning a promise (sync throws and rejections both count). */
export async function expectCodeAsync(
  fn: () => Promise<unknown>,
  code: ErrorCode | readonly ErrorCode[],
): Promise<ArenaError> {
  const codes: readonly ErrorCode[] = typeof code === "string" ? [code] : code;
  let threw = false;
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  expect(threw, `expected ArenaError ${codes.join("|")}, but the promise resolved`).toBe(true);
  expect(error).toBeInstanceOf(ArenaError);
  expect(codes).toContain((error as ArenaError).code);
  return error as ArenaError;
}

/** Runs `fn` and returns what it threw (`threw: false` if it returned). */
export function capture(fn: () => unknown): { threw: boolean; error: unknown } {
  try {
    fn();
    return { threw: false, error: undefined };
  } catch (error) {
    return { threw: true, error };
  }
}

/** The byte at offset `i` of the pattern numbered `seed` (position dependent, so shifts are caught). */
export function patternByte(seed: number, i: number): number {
  return (seed * 37 + i * 7 + (i >>> 8) * 3 + 1) & 0xff;
}

/** Writes pattern `seed` over `length` bytes (default: the whole allocation) at `ptr`. */
export function fill(arena: Arena, ptr: Ptr, seed: number, length?: number): void {
  const view = length === undefined ? arena.bytes(ptr) : arena.bytes(ptr, length);
  for (let i = 0; i < view.length; i++) view[i] = patternByte(seed, i);
}

/** Index of the first byte at `ptr` that differs from pattern `seed`, or -1. */
export function firstMismatch(arena: Arena, ptr: Ptr, seed: number, length?: number): number {
  const view = length === undefined ? arena.bytes(ptr) : arena.bytes(ptr, length);
  for (let i = 0; i < view.length; i++) if (view[i] !== patternByte(seed, i)) return i;
  return -1;
}

/** Asserts the bytes at `ptr` still hold pattern `seed`. */
export function expectPattern(arena: Arena, ptr: Ptr, seed: number, length?: number): void {
  const at = firstMismatch(arena, ptr, seed, length);
  expect(at, `pattern ${seed} at ptr ${ptr} differs at offset ${at}`).toBe(-1);
}

/** Asserts every byte at `ptr` is `value` (default: the whole allocation). */
export function expectAllBytes(arena: Arena, ptr: Ptr, value: number, length?: number): void {
  const view = length === undefined ? arena.bytes(ptr) : arena.bytes(ptr, length);
  const at = view.findIndex((b) => b !== value);
  expect(at, `byte ${at} of ptr ${ptr} is ${view[at]}, expected ${value}`).toBe(-1);
}

/** What a SuppressedError instance looks like (the export is a constructor value, not a class type). */
export type Suppressed = Error & { error: unknown; suppressed: unknown };

/** Flattens a `SuppressedError` chain into the list of errors in the order they were thrown. */
export function thrownOrder(error: unknown): unknown[] {
  const newestFirst: unknown[] = [];
  let e = error;
  while (e instanceof SuppressedError) {
    newestFirst.push(e.error);
    e = e.suppressed;
  }
  newestFirst.push(e);
  return newestFirst.reverse();
}

/** mulberry32: a tiny deterministic 32-bit PRNG returning floats in [0, 1) (the benchmark's). */
export { prng as mulberry32 } from "../tools/bench/stats.js";

/** Allocates from `arena` until even `alloc(0)` fails with ENOMEM; returns what it got. */
export function exhaust(arena: Arena, startSize = 1 << 20): Ptr[] {
  const ptrs: Ptr[] = [];
  for (let size = startSize; ; size >>>= 1) {
    let ranOut = false;
    for (let n = 0; n < 2_000_000 && !ranOut; n++) {
      try {
        ptrs.push(arena.alloc(size));
      } catch (e) {
        if (!(e instanceof ArenaError) || e.code !== "ENOMEM") throw e;
        ranOut = true;
      }
    }
    if (!ranOut) throw new Error(`alloc(${size}) never ran out of memory`);
    if (size === 0) return ptrs;
  }
}

/** Registers no-op actions until `add` fails with ENOMEM; returns the handles. */
export function exhaustActions(arena: Arena): ActionHandle[] {
  const handles: ActionHandle[] = [];
  for (let n = 0; n < 2_000_000; n++) {
    try {
      handles.push(arena.add(() => {}));
    } catch (e) {
      if (!(e instanceof ArenaError) || e.code !== "ENOMEM") throw e;
      return handles;
    }
  }
  throw new Error("add never ran out of memory");
}

export interface Tracked {
  ptr: Ptr;
  size: number;
  seed: number;
}

/**
 * An arena populated with pattern-filled allocations of assorted sizes and
 * interleaved actions that log their id when they run, so that any call can
 * be checked to have changed nothing: `expectUnchanged()` compares stats,
 * sizes, contents and `heap.check()`; `finish()` releases and compares the
 * release order.
 */
export class Fixture {
  readonly tracked: Tracked[] = [];
  readonly handles: ActionHandle[] = [];
  readonly log: number[] = [];
  private statsBefore: ReturnType<Arena["stats"]>;

  constructor(
    readonly heap: Heap,
    readonly arena: Arena,
    sizes: readonly number[] = [0, 1, 7, 16, 33, 100, 255, 4096, 5000, 24],
  ) {
    sizes.forEach((size, i) => {
      const ptr = arena.alloc(size);
      fill(arena, ptr, i + 1);
      this.tracked.push({ ptr, size, seed: i + 1 });
      this.handles.push(arena.add(() => this.log.push(i)));
    });
    this.statsBefore = arena.stats();
    expect(heap.check()).toBe(0);
  }

  /** Call after a deliberate change, to make the current state the reference. */
  rebase(): void {
    this.statsBefore = this.arena.stats();
  }

  expectUnchanged(): void {
    expect(this.arena.released).toBe(false);
    expect(this.arena.stats()).toEqual(this.statsBefore);
    for (const t of this.tracked) {
      expect(this.arena.sizeOf(t.ptr)).toBe(t.size);
      expectPattern(this.arena, t.ptr, t.seed);
    }
    for (const h of this.handles) expect(this.arena.hasAction(h)).toBe(true);
    expect(this.log).toEqual([]);
    expect(this.heap.check()).toBe(0);
  }

  /** Releases the arena and checks every action ran once, newest first. */
  finish(): void {
    this.arena.release();
    expect(this.log).toEqual(this.handles.map((_, i) => i).reverse());
    expect(this.heap.check()).toBe(0);
  }
}

/**
 * Pages of the heap that are neither free nor META (arena records, scratch): 0 once every arena is
 * released. On a shared heap mapInfo first gives every thread's cached runs of slots back to the
 * heap (assembly/cache.ts), so pages that only caches held count as free.
 */
export function pagesInUse(heap: Heap): number {
  const words = new Uint32Array(heap.memory.buffer);
  const info = heap.core.mapInfo() >>> 2;
  const ownerMap = words[info] >>> 2;
  const firstPage = words[info + 2];
  const knownPages = words[info + 6];
  let used = 0;
  for (let page = firstPage; page < knownPages; page++) {
    const owner = words[ownerMap + page];
    if (owner !== 0 && owner !== 2) used++;
  }
  return used;
}

/** The first message `worker` posts; rejected when it fails or exits before posting one. */
export function resultOf<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`worker exited with ${code}`)));
  });
}
