// heap.free in the fuzzer's command language (heapFree, tools/fuzz): hand-written
// cases replayed on a shared heap in one thread, as a `--threads` failure is
// replayed. The model predicts each call's result, which calls find an
// allocation heap.free queued not live, and where its arena applies the queue
// (its next alloc, free, release, reset, releaseGroup or stats), with the
// trace events that frees there; report(), which does not apply the queue,
// must count a queued allocation until then. README, "One heap, many threads".
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runFuzz } from "../tools/fuzz/command.js";
import type { FuzzConfig } from "../tools/fuzz/commands.js";
import type { Spec } from "../tools/fuzz/spec.js";
import { captureIO, describeFailure, replay, SMALL, workerTarget } from "./fuzz-support.js";

const SHARED: FuzzConfig = { ...SMALL, shared: true };
const TRACED: FuzzConfig = { ...SHARED, trace: true };

async function holds(config: FuzzConfig, commands: Spec[]): Promise<void> {
  const result = await replay(config, commands);
  expect(describeFailure(result.failure)).toBe("no failure");
}

/** Two allocations, the older one queued by heap.free. */
const QUEUED: Spec[] = [
  { t: "alloc", size: 24, name: "buf" },
  { t: "alloc", size: 100 },
  { t: "heapFree", ptr: { k: "live", pick: 0 } },
];

describe("heap.free in the fuzzer (replays on a shared heap)", () => {
  it("a queued allocation is not live, still counted, and freed (traced) by its arena's next alloc", async () => {
    for (const config of [SHARED, TRACED, { ...TRACED, poison: true, quarantine: 256 }]) {
      await holds(config, [
        ...QUEUED,
        { t: "free", ptr: { k: "queued", pick: 0 } },
        { t: "sizeOf", ptr: { k: "queued", pick: 0 } },
        { t: "realloc", ptr: { k: "queued", pick: 0 }, size: 8 },
        { t: "bytes", ptr: { k: "queued", pick: 0 } },
        { t: "readString", ptr: { k: "queued", pick: 0 } },
        { t: "heapFree", ptr: { k: "queued", pick: 0 } },
        { t: "heapFree", ptr: { k: "live", pick: 0 } },
        { t: "alloc", size: 8 },
        { t: "heapFree", ptr: { k: "dead", pick: 0 } },
        { t: "stats" },
      ]);
    }
  });

  it("free, stats, reset, releaseGroup, release and a failing alloc each apply the queue first", async () => {
    const appliers: Spec[][] = [
      [{ t: "free", ptr: { k: "live", pick: 0 } }],
      [{ t: "free", ptr: { k: "interior", pick: 0, offset: 8 } }, { t: "stats" }],
      [{ t: "reset" }],
      [{ t: "openGroup" }, { t: "releaseGroup", handle: { k: "live", pick: 0 } }],
      [{ t: "retain" }, { t: "release" }, { t: "release" }],
      [{ t: "alloc", size: 4294967295 }],
      [{ t: "allocArray", count: 3, size: 4 }],
      [{ t: "strdup", value: "ε" }],
      // Not with a destructor: alloc with onRelease does not look at the queue.
      [{ t: "alloc", size: 8, dtor: { throws: false, effects: [] } }, { t: "stats" }],
    ];
    for (const applier of appliers) await holds(TRACED, [...QUEUED, ...applier]);
  });

  it("a destructor run by free() leaves the queue alone, and its own alloc applies it", async () => {
    await holds(TRACED, [
      ...QUEUED,
      { t: "alloc", size: 16, dtor: { throws: false, effects: [{ op: "stats", pick: 0 }] } },
      { t: "alloc", size: 16, dtor: { throws: false, effects: [{ op: "alloc", pick: 0, size: 32 }] } },
      // Live now: the 100 bytes, then the two with destructors.
      { t: "free", ptr: { k: "live", pick: 2 } },
      { t: "heapFree", ptr: { k: "live", pick: 0 } },
      { t: "free", ptr: { k: "live", pick: 1 } },
    ]);
  });

  it("the other arena's allocations, bad pointers, non-u32 values and destructors", async () => {
    // With `threads` (a --threads scenario or its replay) the pointers another thread's allocation
    // may start at (freed, beyond, in a page of the heap) go one byte off the 8-byte grain.
    for (const config of [TRACED, { ...TRACED, threads: true }]) {
      await holds(config, [
        { t: "alloc", size: 40, dtor: { throws: false, effects: [] } },
        { t: "alloc", size: 40 },
        { t: "alloc", size: 5000 },
        { t: "free", ptr: { k: "live", pick: 2 } },
        { t: "heapFree", ptr: { k: "dead", pick: 0 } },
        { t: "heapFree", ptr: { k: "live", pick: 0 } },
        { t: "heapFree", ptr: { k: "foreign", pick: 0 } },
        { t: "heapFree", ptr: { k: "foreign", pick: 0 } },
        { t: "heapFree", ptr: { k: "interior", pick: 1, offset: 16 } },
        { t: "heapFree", ptr: { k: "interior", pick: 1, offset: 3 } },
        { t: "heapFree", ptr: { k: "page", page: 0, offset: 16 } },
        { t: "heapFree", ptr: { k: "page", page: 2, offset: 16 } },
        { t: "heapFree", ptr: { k: "beyond", offset: 16 } },
        { t: "heapFree", ptr: { k: "raw", value: -16 } },
        { t: "heapFree", ptr: { k: "raw", value: 1.5 } },
        { t: "heapFree", ptr: { k: "raw", value: "16" } },
        { t: "heapFree", ptr: { k: "raw", value: { $: "NaN" } } },
        { t: "heapFree", ptr: { k: "live", pick: 1 } },
        { t: "release" },
      ]);
    }
  });

  it("on a heap that is not shared, heap.free is EINVAL and changes nothing", async () => {
    await holds({ ...SMALL, trace: true }, [
      { t: "alloc", size: 24 },
      { t: "heapFree", ptr: { k: "live", pick: 0 } },
      { t: "heapFree", ptr: { k: "raw", value: -1 } },
      { t: "free", ptr: { k: "live", pick: 0 } },
    ]);
  });

  it("a model that misses where alloc applies the queue fails: traced by the events, untraced by report()", async () => {
    const commands: Spec[] = [...QUEUED, { t: "alloc", size: 8 }];
    const traced = describeFailure((await replay({ ...TRACED, fault: "drain" }, commands)).failure);
    expect(traced).toMatch(
      /alloc\(8\)" differs at entry 0:\n\s+expected: an allocation with its pointer\n\s+actual:\s+~ del alloc "buf" 24 /,
    );
    const untraced = describeFailure((await replay({ ...SHARED, fault: "drain" }, commands)).failure);
    expect(untraced).toContain('after "alloc(8)":\n  report() reads "arena \\"fuzzed\\": 2 allocations');
  });

  it("a replay file with heapFree runs through the command; a malformed one is refused", async () => {
    const io = captureIO("fuzz-heap-free");
    const config = { ...TRACED, maxPages: 56 };
    writeFileSync(join(io.cwd, "case.json"), JSON.stringify({ config, commands: [...QUEUED, { t: "stats" }] }));
    expect(await runFuzz(["--replay", "case.json"], io, await workerTarget())).toBe(0);
    expect(io.lines.at(-1)).toMatch(/^fuzz: replay of case\.json passed: 4 commands, \d+ ops, 0 failures$/);
    const bad = captureIO("fuzz-heap-free");
    writeFileSync(
      join(bad.cwd, "bad.json"),
      JSON.stringify({ config, commands: [{ t: "heapFree", ptr: { k: "queued" } }] }),
    );
    expect(await runFuzz(["--replay", "bad.json"], bad)).toBe(2);
    expect(bad.errors.join("\n")).toContain("command 1: not a valid command");
  });
});
