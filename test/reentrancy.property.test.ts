// Re-entrancy: actions and destructors whose effects call back into the arena
// while they run (from release, reset, releaseGroup, releaseAction, free,
// group unwinding): free, realloc, removeAction, releaseAction, releaseGroup,
// removeGroup, closeGroup, add, alloc, openGroup, release, reset, retain,
// stats, child release; some throw. Order, codes (EBUSY during release),
// error chains and counters must match the model.
import { describe, expect, it } from "vitest";
// A fixed seed keeps CI deterministic; `managed-arena fuzz` (also in npm test) explores new seeds.
import { checkProfile, describeFailure } from "./fuzz-support.js";

describe("re-entrancy: callbacks that call back into the arena", () => {
  it("holds for 2500 sequences of re-entrant actions and destructors", async () => {
    const result = await checkProfile("reentrancy", { numRuns: 2500, seed: 20261125 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });
});
