// Differential: every sequence runs on the debug core and again on the release
// core (-O3, no assertions); both must satisfy the model and give identical
// logs: results, pointers, error codes, contents and action order.
import { describe, expect, it } from "vitest";
// A fixed seed keeps CI deterministic; `managed-arena fuzz` (also in npm test) explores new seeds.
import { checkProfile, describeFailure } from "./fuzz-support.js";

describe("differential: the release and debug cores agree", () => {
  it("holds for 1500 sequences of every profile, run on both cores", async () => {
    const result = await checkProfile("mixed", { numRuns: 1500, differential: true, seed: 20261125 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });
});
