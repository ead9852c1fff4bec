// The leak reporter (option onLeak on Heap.create): an Arena garbage-collected
// without its last release() is reported once with its report(); a released
// one never is. Needs node's --expose-gc (vitest.config.ts: test.execArgv);
// without it these tests fail on purpose rather than skip.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Heap } from "../src/index.js";
import { bad } from "./helpers.js";
import { collectUntil, debugHeap, ok, requireGc } from "./helpers3.js";

/** Creates an arena with a few named resources and drops every reference to it. */
function leakOne(heap: Heap, name: string, withAction: boolean): void {
  const arena = heap.createArena({ name });
  arena.alloc(123, { name: `${name}-buffer` });
  arena.strdup("some text");
  if (withAction) arena.add(function leakedAction() {});
}

/** Creates an arena, releases it (after retains, as given) and drops it. */
function releaseOne(heap: Heap, name: string, retains = 0): void {
  const arena = heap.createArena({ name });
  arena.alloc(10, { name: `${name}-buffer` });
  arena.add(() => {});
  for (let i = 0; i < retains; i++) arena.retain();
  for (let i = 0; i <= retains; i++) arena.release();
}

/** Creates an arena, retains it, releases once (one reference left) and drops it. */
function underRelease(heap: Heap, name: string): void {
  const arena = heap.createArena({ name });
  arena.alloc(1);
  arena.retain();
  arena.release();
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("onLeak", () => {
  it("--expose-gc is on (globalThis.gc exists)", () => {
    expect(typeof requireGc()).toBe("function");
  });

  it("is called once, with the arena's report, for an arena dropped without release", async () => {
    const reports: string[] = [];
    const heap = await debugHeap({ onLeak: (report: string) => reports.push(report) });
    leakOne(heap, "leaky-arena", false);
    const seen = await collectUntil(() => reports.length > 0);
    expect(seen, "the leaked arena was not reported after 50 gc() rounds").toBe(true);
    // More collections do not report it again.
    await collectUntil(() => false, 10);
    expect(reports.length).toBe(1);
    expect(typeof reports[0]).toBe("string");
    expect(reports[0]).toContain("leaky-arena");
    expect(reports[0]).toContain("leaky-arena-buffer");
    expect(reports[0]).toContain("123");
    ok(heap);
  });

  it("reports an arena with registered actions too", async () => {
    const reports: string[] = [];
    const heap = await debugHeap({ onLeak: (report: string) => reports.push(report) });
    leakOne(heap, "with-actions", true);
    const seen = await collectUntil(() => reports.length > 0);
    expect(seen, "an arena with actions was never collected/reported (does the heap keep it reachable?)").toBe(true);
    expect(reports.length).toBe(1);
    expect(reports[0]).toContain("with-actions");
    expect(reports[0]).toContain("leakedAction");
    ok(heap);
  });

  it("never reports released arenas (proved against a leaked one collected in the same rounds)", async () => {
    const reports: string[] = [];
    const heap = await debugHeap({ onLeak: (report: string) => reports.push(report) });
    releaseOne(heap, "released-plain");
    releaseOne(heap, "released-retained", 2);
    leakOne(heap, "sentinel", false);
    const seen = await collectUntil(() => reports.length > 0);
    expect(seen).toBe(true);
    await collectUntil(() => false, 10);
    expect(reports.length).toBe(1);
    expect(reports[0]).toContain("sentinel");
    expect(reports.join("\n")).not.toContain("released-");
    ok(heap);
  });

  it("an arena that still holds a reference (retained, released once) is reported", async () => {
    const reports: string[] = [];
    const heap = await debugHeap({ onLeak: (report: string) => reports.push(report) });
    underRelease(heap, "half-released");
    expect(await collectUntil(() => reports.length > 0)).toBe(true);
    expect(reports.length).toBe(1);
    expect(reports[0]).toContain("half-released");
    ok(heap);
  });

  it("each leaked arena is reported once", async () => {
    const reports: string[] = [];
    const heap = await debugHeap({ onLeak: (report: string) => reports.push(report) });
    for (let i = 0; i < 5; i++) leakOne(heap, `leak-${i}`, false);
    expect(await collectUntil(() => reports.length >= 5)).toBe(true);
    await collectUntil(() => false, 10);
    expect(reports.length).toBe(5);
    for (let i = 0; i < 5; i++) expect(reports.filter((r) => r.includes(`leak-${i}`)).length).toBe(1);
    ok(heap);
  });

  it("by default, warns once per leaked arena with console.warn", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const heap = await debugHeap();
    leakOne(heap, "default-leak", false);
    const seen = await collectUntil(() => warn.mock.calls.some((args) => args.join(" ").includes("default-leak")));
    expect(seen).toBe(true);
    await collectUntil(() => false, 10);
    expect(warn.mock.calls.filter((args) => args.join(" ").includes("default-leak")).length).toBe(1);
    expect(heap.check()).toBe(0);
  });

  it("arenas are registered at the end of the task that made them: one dropped in the middle of a synchronous run is still reported, and 10,000 made and released in it never are", async () => {
    const reports: string[] = [];
    const heap = await debugHeap({ onLeak: (report: string) => reports.push(report) });
    for (let i = 0; i < 5_000; i++) heap.createArena({ name: `short-${i}` }).release();
    // Dropped (not released) between arenas released in the same task, newest first or not.
    leakOne(heap, "dropped-mid-task", false);
    const kept = heap.createArena({ name: "kept" });
    for (let i = 0; i < 5_000; i++) heap.createArena({ name: `short-${i}` }).release();
    kept.release();
    const seen = await collectUntil(() => reports.length > 0);
    expect(seen, "the arena dropped mid-task was not reported after 50 gc() rounds").toBe(true);
    await collectUntil(() => false, 10);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain("dropped-mid-task");
    ok(heap);
  });

  it("an arena's record taken by a newer arena names the newer one, never the released one, in messages", async () => {
    const heap = await debugHeap();
    const old = heap.createArena({ name: "old" });
    old.release();
    const newer = heap.createArena({ name: "newer" });
    const other = heap.createArena({ name: "other" });
    const p = newer.alloc(16);
    expect(() => other.free(p)).toThrow(/live allocation of arena "newer"/);
    newer.release();
    expect(() => other.free(p)).toThrow(expect.objectContaining({ code: "EBADPTR" }));
    expect(() => other.free(p)).not.toThrow(/live allocation of arena/);
    other.release();
    ok(heap);
  });

  it("a non-function onLeak -> EINVAL", async () => {
    let error: unknown;
    try {
      await debugHeap({ onLeak: bad(42) });
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe("EINVAL");
  });
});
