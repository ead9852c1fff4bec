// Helpers for the issue-3 suites (lifetimes, groups, introspection, debugging):
// debug heaps, raw views that bypass liveness checks, stats shapes, trace
// recording and a bounded garbage-collection wait for the leak reporter.
import { expect } from "vitest";
import { type Arena, type ArenaOptions, Heap, type HeapOptions, type Ptr } from "../src/index.js";

/** The handle `openGroup` returns (named through the API so the suites do not depend on the export's name). */
export type Group = ReturnType<Arena["openGroup"]>;

/** The stats record of an arena. */
export type Stats = ReturnType<Arena["stats"]>;

/** One entry of `arena.resources()`. */
export type Resource = ReturnType<Arena["resources"]>[number];

/** A trace event as DESIGN §5 describes it. */
export interface TraceEvent {
  op: "add" | "del" | "rel";
  kind: "alloc" | "action" | "group" | "child";
  name: string;
  size: number;
  ptr?: number;
  arena: string;
}

/** A debug heap (heap.check() enabled) with extra heap options (trace, poison, onLeak, ...). */
export async function debugHeap(options: HeapOptions = {}): Promise<Heap> {
  return Heap.create({ debug: true, ...options });
}

/** A debug heap and one arena on it. */
export async function setup(
  heapOptions: HeapOptions = {},
  arenaOptions: ArenaOptions = {},
): Promise<{ heap: Heap; arena: Arena }> {
  const heap = await debugHeap(heapOptions);
  return { heap, arena: heap.createArena(arenaOptions) };
}

/** Asserts every invariant of the core holds. */
export function ok(heap: Heap): void {
  expect(heap.check()).toBe(0);
}

/** A fresh view of `length` bytes at `ptr`, with no liveness check (for destructors and freed memory). */
export function raw(heap: Heap, ptr: number, length: number): Uint8Array {
  return new Uint8Array(heap.memory.buffer, ptr, length);
}

/** Index of the first byte of `view` that is not `value`, or -1. */
export function firstNot(view: Uint8Array, value: number): number {
  return view.findIndex((b) => b !== value);
}

/** Asserts every byte of `view` is `value`, naming the first that is not. */
export function expectFilled(view: Uint8Array, value: number, what = "view"): void {
  const at = firstNot(view, value);
  expect(
    at,
    `${what}: byte ${at} is 0x${view[at]?.toString(16)}, expected 0x${value.toString(16)} (length ${view.length})`,
  ).toBe(-1);
}

/** The stats of an empty arena whose highest liveBytes was `peakBytes`, with `reservedBytes` as given. */
export function emptyStats(peakBytes: number, reservedBytes = 0): Stats {
  return { allocations: 0, actions: 0, groups: 0, children: 0, liveBytes: 0, peakBytes, reservedBytes } as Stats;
}

/** Asserts the stats of `arena`: every field given must match exactly; reservedBytes must at least cover liveBytes. */
export function expectStats(arena: Arena, expected: Partial<Stats>): Stats {
  const s = arena.stats();
  expect(s).toEqual({ ...s, ...expected });
  expect(s.reservedBytes).toBeGreaterThanOrEqual(s.liveBytes);
  expect(s.peakBytes).toBeGreaterThanOrEqual(s.liveBytes);
  return s;
}

/** A trace callback and the events it recorded. */
export function recorder(): { events: TraceEvent[]; trace: (event: TraceEvent) => void } {
  const events: TraceEvent[] = [];
  return {
    events,
    trace: (event: TraceEvent) => {
      events.push({ ...event });
    },
  };
}

/** Normalises trace events for comparison: exactly op, kind, name, size, ptr (undefined when absent), arena. */
export function shape(events: readonly TraceEvent[]): TraceEvent[] {
  return events.map((e) => ({ op: e.op, kind: e.kind, name: e.name, size: e.size, ptr: e.ptr, arena: e.arena }));
}

/** A promise that resolves after one macrotask. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Lets `n` microtasks run. */
export async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** The global gc() from node's --expose-gc; fails the test clearly when it is missing. */
export function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  expect(
    typeof gc,
    "globalThis.gc is missing: the leak suite needs node's --expose-gc (vitest.config.ts: test.execArgv: ['--expose-gc'])",
  ).toBe("function");
  return gc as () => void;
}

/** Collects garbage and yields to the event loop until `done()` holds, at most `rounds` times. Returns done(). */
export async function collectUntil(done: () => boolean, rounds = 50): Promise<boolean> {
  const gc = requireGc();
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await macrotask();
  }
  return done();
}

/** Text as UTF-8 followed by a NUL, as strdup should store it. */
export function cString(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  const out = new Uint8Array(utf8.length + 1);
  out.set(utf8);
  return out;
}

/** The bytes at `ptr` (whole allocation) as a plain array, for toEqual comparisons. */
export function contents(arena: Arena, ptr: Ptr): number[] {
  return Array.from(arena.bytes(ptr));
}
