// Resource pressure: heaps of 3 to 7 pages and arenas with small maxBytes, so
// that most sequences run out of memory. ENOMEM must come only when the heap
// cannot grow (or maxBytes is reached), and must leave stats (reservedBytes
// and peakBytes included), contents and release order unchanged. Once every
// arena is released, the whole heap must be reusable again.
import { describe, expect, it } from "vitest";
// A fixed seed keeps CI deterministic; `managed-arena fuzz` (also in npm test) explores new seeds.
import { checkProfile, describeFailure } from "./fuzz-support.js";

describe("pressure: out of memory changes nothing", () => {
  it("holds for 2500 sequences on heaps of 3 to 7 pages", async () => {
    const result = await checkProfile("pressure", { numRuns: 2500, seed: 20261125 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });

  it("after every arena is released, all pages but the core's own come back as one reusable run", async () => {
    // The "reclaim" check, on its own: the other suites leave it out so that its failure
    // (which needs no command at all) does not mask theirs.
    const result = await checkProfile("pressure", { numRuns: 500, skip: [], seed: 20261125 });
    expect(describeFailure(result.failure)).toBe("no failure");
  });
});
