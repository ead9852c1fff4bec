// Property test of releaseAsync() and [Symbol.asyncDispose]() (DESIGN §5,
// README "Release semantics"). The fuzz engine runs commands synchronously
// (fc.modelRun), so the asynchronous release is covered here instead, on its
// own: random mixes of sync and async actions and destructors that resolve,
// throw or reject after a few microtasks or a macrotask, plain allocations,
// extra references and a tracer. Each property checks that callbacks run
// newest-first and one at a time (each awaited before the next starts), that
// a destructor's memory holds its contents until its promise settles, the
// DisposableStack error chain, the trace, and that the heap is whole after.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Arena, Heap, SuppressedError, type TraceEvent } from "../src/index.js";

type Step =
  | { k: "action"; async: boolean; throws: boolean; ticks: number }
  | { k: "dtor"; size: number; async: boolean; throws: boolean; ticks: number }
  | { k: "alloc"; size: number };

const timing = { async: fc.boolean(), throws: fc.boolean(), ticks: fc.integer({ min: 0, max: 4 }) };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant("action" as const), ...timing }),
  fc.record({ k: fc.constant("dtor" as const), size: fc.integer({ min: 0, max: 5000 }), ...timing }),
  fc.record({ k: fc.constant("alloc" as const), size: fc.integer({ min: 0, max: 5000 }) }),
);

/** Waits `ticks` turns: microtasks, and a macrotask for 4 (a timer lets other work interleave if it could). */
async function wait(ticks: number): Promise<void> {
  if (ticks === 4) await new Promise((resolve) => setTimeout(resolve, 0));
  else for (let i = 0; i < ticks; i++) await Promise.resolve();
}

/** What a thrown value chain looks like, as labels: "b3" or S(error, suppressed). */
function shape(e: unknown): string {
  if (e instanceof SuppressedError) {
    const s = e as Error & { error: unknown; suppressed: unknown };
    return `S(${shape(s.error)}, ${shape(s.suppressed)})`;
  }
  return e instanceof Error ? e.message : `!${String(e)}`;
}

/** The chain DisposableStack builds from errors thrown in this order. */
function chained(labels: string[]): string | undefined {
  let out: string | undefined;
  for (const label of labels) out = out === undefined ? label : `S(${label}, ${out})`;
  return out;
}

async function run(steps: Step[], retains: number, dispose: boolean, traced: boolean): Promise<void> {
  const heap = await Heap.create({ maxPages: 64, debug: true, onLeak: () => {} });
  const events: string[] = [];
  const trace = traced ? (e: TraceEvent) => events.push(`${e.op} ${e.kind}`) : undefined;
  const arena: Arena = heap.createArena({ name: "async", trace });
  const log: string[] = [];
  const expectedLog: string[] = [];
  const thrown: string[] = [];
  const expectedEvents: string[] = [];
  steps.forEach((s, i) => {
    const label = `b${i}`;
    if (s.k === "alloc") {
      arena.alloc(s.size);
      return;
    }
    const body = (check?: () => string) => {
      const finish = () => {
        log.push(`end ${i}${check === undefined ? "" : check()}`);
        if (s.throws) throw new Error(label);
      };
      log.push(`start ${i}`);
      if (!s.async) return finish();
      return wait(s.ticks).then(finish);
    };
    if (s.k === "action") arena.add(() => body());
    else {
      const ptr = arena.alloc(s.size, {
        // The memory must hold what was written until the destructor's promise settles.
        onRelease: (p) =>
          body(() => {
            const view = new Uint8Array(heap.memory.buffer, p, s.size);
            return p === ptr && view.every((b) => b === (i & 0xff)) ? "" : " clobbered";
          }),
      });
      new Uint8Array(heap.memory.buffer, ptr, s.size).fill(i & 0xff);
    }
  });
  // Newest first, one at a time; traced, every node is released in that order, plain allocations included.
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    expectedEvents.push(s.k === "action" ? "rel action" : "rel alloc");
    if (s.k === "alloc") continue;
    expectedLog.push(`start ${i}`, `end ${i}`);
    if (s.throws) thrown.push(`b${i}`);
  }
  events.length = 0;
  for (let r = 0; r < retains; r++) arena.retain();
  const release = () => (dispose ? arena[Symbol.asyncDispose]() : arena.releaseAsync());
  // Every release but the last only drops a reference.
  for (let r = 0; r < retains; r++) await release();
  expect(log).toEqual([]);
  expect(arena.released).toBe(false);
  let error: unknown;
  let rejected = false;
  await release().catch((e: unknown) => {
    rejected = true;
    error = e;
  });
  expect(log).toEqual(expectedLog);
  expect(rejected ? shape(error) : undefined).toBe(chained(thrown));
  if (traced) expect(events).toEqual(expectedEvents);
  expect(arena.released).toBe(true);
  expect(() => arena.stats()).toThrow(expect.objectContaining({ code: "ERELEASED" }));
  // A second release is a no-op.
  await release();
  expect(heap.check()).toBe(0);
}

describe("releaseAsync and Symbol.asyncDispose (property)", () => {
  it("run every callback newest-first, one at a time, with memory valid until each settles", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 12 }),
        fc.integer({ min: 0, max: 2 }),
        fc.boolean(),
        fc.boolean(),
        run,
      ),
      { numRuns: 300, seed: 20261126 },
    );
  });
});
