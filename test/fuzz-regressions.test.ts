// Defects the fuzzer found, as the shrunk command lists it printed (the fuzz
// command's replay files), replayed against the model in a worker. Each test
// states the behaviour the contract asks for and fails until the defect is
// fixed; docs: DESIGN.md §3-5, docs/facade-spec.md.
import { describe, expect, it } from "vitest";
import type { FuzzConfig } from "../tools/fuzz/commands.js";
import type { BehaviourSpec, Spec } from "../tools/fuzz/spec.js";
import { describeFailure, replay, SMALL } from "./fuzz-support.js";

/** The shrunk case of the closeGroup ENOMEM defect, as the fuzzer wrote it (seed 1577380709). */
const CONFIG_CLOSE: FuzzConfig = {
  maxPages: 4,
  minAlign: 4096,
  maxBytes: 4294967295,
  poison: true,
  trace: false,
  differential: false,
};
const COMMANDS_CLOSE = [
  {
    t: "group",
    body: [
      { t: "alloc", size: 0 },
      { t: "alloc", size: 65 },
      { t: "alloc", size: 0 },
    ],
    fail: false,
  },
  { t: "add", behaviour: { throws: false, effects: [] } },
  { t: "allocArray", count: 0, size: 0 },
  { t: "add", behaviour: { throws: false, effects: [] } },
  { t: "alloc", size: 0 },
  {
    t: "group",
    body: [{ t: "add", behaviour: { throws: false, effects: [{ op: "openGroup", pick: 0, size: 0 }] } }],
    fail: true,
  },
  { t: "allocArray", count: 0, size: 0 },
  { t: "alloc", size: 0 },
  { t: "openGroup" },
  { t: "createChild", actions: 0, allocs: [] },
  { t: "releaseGroup", handle: { k: "live", pick: 0 } },
  { t: "closeGroup", handle: { k: "live", pick: 21 } },
];

const plain: BehaviourSpec = { throws: false, effects: [] };
const doing = (...effects: BehaviourSpec["effects"]): BehaviourSpec => ({ throws: false, effects });

async function holds(config: FuzzConfig, commands: Spec[], skip?: string[]): Promise<void> {
  const result = await replay(config, commands, skip);
  expect(describeFailure(result.failure)).toBe("no failure");
}

describe("defects found by the fuzzer (each replays its shrunk case)", () => {
  it("the heap grows by what is missing: a free run at the end of memory counts towards a large request", async () => {
    // maxPages 4: page 0 static data, page 1 arena records. The other arena's allocations take
    // page 2; once every arena is released, pages 2..3 (one free, one not grown yet) must
    // serve an allocation of two pages. ENOMEM is only for a heap at maxPages.
    await holds({ ...SMALL, maxPages: 4 }, [], []);
  });

  it("releaseGroup forgets the names of the allocations it frees", async () => {
    // A new allocation at the same address must not inherit the freed one's name in resources().
    await holds({ ...SMALL, maxPages: 4, minAlign: 8 }, [
      { t: "openGroup" },
      { t: "alloc", size: 17, name: "buf" },
      { t: "releaseGroup", handle: { k: "live", pick: 0 } },
      { t: "allocZeroed", size: 17 },
    ]);
  });

  it("stats().actions is exact while release() runs actions", async () => {
    // x1 is still registered (hasAction true, removable) while x2 runs: actions must read 1.
    await holds(SMALL, [
      { t: "add", behaviour: plain },
      { t: "add", behaviour: doing({ op: "stats", pick: 0 }) },
      { t: "release" },
    ]);
  });

  it("releaseGroup called by an action during release() runs the group's actions before it returns", async () => {
    // g1 = { x2, x3 }; x3 calls releaseGroup(g1) while release() runs (it was popped first):
    // x2 must run inside that call, newest first, not after it returns.
    await holds(SMALL, [
      { t: "openGroup" },
      { t: "add", behaviour: plain },
      { t: "add", behaviour: doing({ op: "releaseGroup", pick: 0 }) },
      { t: "release" },
    ]);
  });

  it("releasing an enclosing group from a callback of a nested group's release returns (no infinite loop)", async () => {
    // outer { inner { x3: releaseGroup(outer); x4 } }: releaseGroup(inner) runs x4, then x3, which
    // releases outer (inner with it). The inner walk must then stop; the core loops forever instead.
    await holds(SMALL, [
      { t: "openGroup" },
      { t: "openGroup" },
      { t: "add", behaviour: doing({ op: "releaseGroup", pick: 0 }) },
      { t: "add", behaviour: plain },
      { t: "releaseGroup", handle: { k: "live", pick: 1 } },
    ]);
  });

  it("reset() inside a destructor run by free() does not hand the dying block out twice", async () => {
    // The destructor resets the arena and adds an action; when it returns, free() must not put a
    // block back on a free list that the new action's node now uses (heap.check() reported 52).
    await holds({ ...SMALL, maxPages: 6, minAlign: 8 }, [
      { t: "alloc", size: 9, dtor: doing({ op: "reset", pick: 0 }, { op: "add", pick: 0 }) },
      { t: "free", ptr: { k: "live", pick: 0 } },
      { t: "alloc", size: 0 },
    ]);
  });

  it("release() inside a destructor run by free() leaves the dying allocation's memory alone until it returns", async () => {
    // With poison on, the release fills every chunk with 0x6b, the dying allocation included,
    // while its destructor still runs.
    await holds({ ...SMALL, maxPages: 6, minAlign: 8, poison: true }, [
      { t: "alloc", size: 65, dtor: doing({ op: "release", pick: 0 }) },
      { t: "free", ptr: { k: "live", pick: 0 } },
    ]);
  });

  it("reset() inside a destructor run by free() is EBUSY and leaves the dying allocation's memory alone", async () => {
    // The reset gave the dying block back with the chunks while its destructor still ran: with
    // poison on it was refilled with 0x6b, and the next alloc could land on it.
    await holds({ ...SMALL, maxPages: 6, minAlign: 8, poison: true }, [
      { t: "alloc", size: 65, dtor: doing({ op: "reset", pick: 0 }, { op: "alloc", pick: 0, size: 65 }) },
      { t: "free", ptr: { k: "live", pick: 0 } },
      { t: "alloc", size: 65 },
    ]);
  });

  it("removeGroup of a nested group whose close marker an enclosing walk has passed removes nothing else", async () => {
    // releaseGroup(g1) walks g1 = { g2 = { x3 }, x4 } newest first: x4, g2's close marker, then x3,
    // which adds two actions and removes g2. The second new action reuses the block of g2's passed
    // close marker, and removeGroup(g2) removes that action instead: it never runs, stats() and
    // resources() miss it while hasAction() says true.
    await holds(SMALL, [
      { t: "openGroup" },
      { t: "openGroup" },
      {
        t: "add",
        behaviour: doing({ op: "add", pick: 0 }, { op: "add", pick: 0 }, { op: "removeGroup", pick: 1 }),
      },
      { t: "closeGroup", handle: { k: "live", pick: 1 } },
      { t: "add", behaviour: plain },
      { t: "releaseGroup", handle: { k: "live", pick: 0 } },
    ]);
  });

  it("releaseGroup of a nested group whose close marker an enclosing walk has passed returns", async () => {
    // Same shape: x4 releases g2 while g1's walk has already dropped g2's close marker; the walk of
    // g2 starts from the freed marker and never ends.
    await holds(SMALL, [
      { t: "openGroup" },
      { t: "openGroup" },
      { t: "alloc", size: 8, dtor: plain },
      { t: "add", behaviour: doing({ op: "releaseGroup", pick: 1 }) },
      { t: "closeGroup", handle: { k: "live", pick: 1 } },
      { t: "add", behaviour: plain },
      { t: "releaseGroup", handle: { k: "live", pick: 0 } },
    ]);
  });

  it("a release() deferred until a destructor returns keeps the destructor's error", async () => {
    // x1 throws when the deferred teardown runs it; the destructor threw first: free() must throw
    // SuppressedError(x1's error, the destructor's), as release() chains errors. It throws x1's only.
    await holds({ ...SMALL, differential: true }, [
      { t: "add", behaviour: { throws: true, effects: [] } },
      { t: "alloc", size: 8, dtor: { throws: true, effects: [{ op: "release", pick: 0 }] } },
      { t: "free", ptr: { k: "live", pick: 0 } },
    ]);
  });

  it("a release() deferred until a group walk ends keeps the walk's errors", async () => {
    // x3 (in the group) asks for release() and throws; the deferred teardown runs x1, which throws
    // too: releaseGroup must throw SuppressedError(x1's error, x3's). It throws x1's only.
    await holds({ ...SMALL, differential: true }, [
      { t: "add", behaviour: { throws: true, effects: [] } },
      { t: "openGroup" },
      { t: "add", behaviour: { throws: true, effects: [{ op: "release", pick: 0 }] } },
      { t: "releaseGroup", handle: { k: "live", pick: 0 } },
    ]);
  });

  it("releaseGroup of a nested group whose end an enclosing walk passed releases only what the group holds", async () => {
    // g1 = { g2 = { a3, x4 }, x5 }, then x6 after g1's end. releaseGroup(g1) runs x5, then x4, which
    // releases g2: that must release a3 (its destructor runs) and nothing outside g2; x6 must stay.
    // With a group that "loses its end" when a walk passes it, g2 is closed anew at the end of the
    // list and its release runs x6 as well.
    await holds(SMALL, [
      { t: "openGroup" },
      { t: "openGroup" },
      { t: "alloc", size: 8, dtor: plain },
      { t: "add", behaviour: doing({ op: "releaseGroup", pick: 1 }) },
      { t: "closeGroup", handle: { k: "live", pick: 1 } },
      { t: "add", behaviour: plain },
      { t: "closeGroup", handle: { k: "live", pick: 0 } },
      { t: "add", behaviour: plain },
      { t: "releaseGroup", handle: { k: "live", pick: 0 } },
    ]);
  });

  it("what a callback adds while its group is released stays, even if it released a nested group first", async () => {
    // g1 = { g2 = { x3 } }; releaseGroup(g1) runs x3, which releases g2 and then allocates a4.
    // a4 was added while g1 unwinds, after g1's end: it must stay (README: "what its actions add
    // while it unwinds stays"). The release of g2 walks past g1's end, g1 "loses its end", and
    // g1's walk then frees a4.
    await holds(SMALL, [
      { t: "openGroup" },
      { t: "openGroup" },
      { t: "add", behaviour: doing({ op: "releaseGroup", pick: 1 }, { op: "alloc", pick: 0, size: 65 }) },
      { t: "releaseGroup", handle: { k: "live", pick: 0 } },
    ]);
  });

  it("closeGroup / releaseGroup that fail with ENOMEM leave the nested open groups open", async () => {
    // releaseGroup(outer) must first close it, with the inner group still open: closing adds the
    // inner marker, then the outer one fails (ENOMEM). The inner group was left closed, so that a
    // failed call changed the arena (a later closeGroup(inner) said EINVAL "is closed").
    await holds(CONFIG_CLOSE, COMMANDS_CLOSE as Spec[]);
  });

  it("readString keeps a leading U+FEFF (it is text strdup copied, not a byte order mark)", async () => {
    await holds({ ...SMALL, maxPages: 4, minAlign: 8 }, [
      { t: "strdup", value: "\ufeffBOM" },
      { t: "readString", ptr: { k: "live", pick: 0 } },
    ]);
  });

  it("dup of a detached ArrayBuffer, or of a view of one (a stale arena.bytes()), is EINVAL, not a TypeError", async () => {
    for (const view of [false, true]) {
      await holds({ ...SMALL, maxPages: 4, minAlign: 8 }, [{ t: "dup", source: { k: "detached", view } }]);
    }
  });
});
