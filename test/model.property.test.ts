// Model-based property test of the whole public API (tools/fuzz): random command
// sequences against the real arena and the reference model, checking results,
// error codes, sizes, contents, action order, resources() order and stats
// after every command, and the debug core's heap.check(). Runs in a worker
// (test/fuzz-support.ts) so that a hang fails instead of stalling the run.
import { describe, expect, it } from "vitest";
// A fixed seed keeps CI deterministic; `managed-arena fuzz` (also in npm test) explores new seeds.
import { checkProfile, describeFailure } from "./fuzz-support.js";

describe("model-based: the whole API against the reference model", () => {
  it("holds for 3000 random command sequences on tiny heaps", async () => {
    const result = await checkProfile("model", { numRuns: 3000, seed: 20261125 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });

  it("catches a model that is wrong, and shrinks the case to the one command that shows it", async () => {
    // The injected fault makes the model expect one byte too many in liveBytes once an
    // allocation of 1000 bytes or more is live: the suite must fail, pointing at it.
    const result = await checkProfile("edges", { numRuns: 300, fault: "liveBytes", seed: 4242 });
    expect(result.failure?.kind).toBe("mismatch");
    expect(result.failure?.message).toMatch(/stats\(\)\.liveBytes is \d+, expected \d+/);
    const commands = result.failure?.scenario.commands ?? [];
    expect(commands.length).toBe(1);
    // One command that allocates 1000 bytes or more (alloc*, or dup/strdup of that many).
    expect(commands[0]).toMatchObject({ t: expect.stringMatching(/^(alloc|dup$|strdup$)/) });
  });

  it("catches a model that predicts a wrong trace event (traced scenarios check every event)", async () => {
    // The injected fault lowercases the name the model expects in "add action" events.
    const result = await checkProfile("model", { numRuns: 300, fault: "traceName", seed: 4242 });
    expect(result.failure?.kind).toBe("mismatch");
    expect(result.failure?.message).toMatch(/expected: ~ add action "fuzzaction" 0 - \[fuzzed\]/);
    expect(result.failure?.scenario.config.trace).toBe(true);
    expect(result.failure?.scenario.commands.length).toBe(1);
  });

  it("catches a model that keeps blocks in the quarantine longer than the core does", async () => {
    // The injected fault doubles the quarantine limit in the model: the core reuses a block the
    // model still holds, and the pointer of that allocation is the failure.
    const result = await checkProfile("model", { numRuns: 300, fault: "quarantine", seed: 4242 });
    expect(result.failure?.kind).toBe("mismatch");
    expect(result.failure?.message).toMatch(/reuses the block of a\d+ at \d+, freed and still quarantined/);
    expect(result.failure?.scenario.config.quarantine).toBeGreaterThan(0);
  });

  it("catches a model that counts UTF-16 units as UTF-8 bytes in strdup", async () => {
    const result = await checkProfile("edges", { numRuns: 300, fault: "utf8", seed: 4242 });
    expect(result.failure?.kind).toBe("mismatch");
    // Seen in sizeOf() after the call, or first in the size of its trace event on a traced arena.
    expect(result.failure?.message).toMatch(
      /sizeOf\(\d+\) of a\d+ is \d+, expected \d+|expected: ~ add alloc "alloc" \d+/,
    );
    const commands = result.failure?.scenario.commands ?? [];
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ t: "strdup" });
  });
});
