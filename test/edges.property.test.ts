// Edge inputs (tools/fuzz/arbitraries.ts): sizes 0, 1, powers of two ±1, 2^31,
// 2^32-1, 2^32, 2^32+16, 2^53, the header-overflow boundary of every
// alignment, negatives, fractions, -0, NaN, ±Infinity, strings, bigints and
// objects; valid and invalid alignments and options; allocArray products just
// below, at and above 2^32; interior, freed, foreign and out-of-memory
// pointers; stale, foreign and wrong-kind handles. Each must give the code the
// contract names and change nothing.
import { describe, expect, it } from "vitest";
import { checkProfile, describeFailure } from "./fuzz-support.js";

describe("edges: every bad argument gets its code and changes nothing", () => {
  // A fixed seed keeps CI deterministic; `managed-arena fuzz --profile edges` explores new seeds.
  it("holds for 3000 sequences of edge arguments (seed 20261124)", async () => {
    const result = await checkProfile("edges", { numRuns: 3000, seed: 20261124 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });
});
