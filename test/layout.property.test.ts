// The layout's own profiles: many small child arenas whose chunks share
// subdivided pages slot by slot (made, filled and released in any order
// between the parent's allocations and frees), and sizes around every
// boundary of the layout (4 KiB small blocks, medium runs of slots up to
// 62 KiB, a page, a few pages and a tail of slots), with alignments. Both
// run the whole model and check() after every command, so a slot owned
// twice, a free run not merged or a page not given back is caught.
import { describe, expect, it } from "vitest";
// A fixed seed keeps CI deterministic; `managed-arena fuzz` (also in npm test) explores new seeds.
import { checkProfile, describeFailure } from "./fuzz-support.js";

describe("layout: small arenas and sizes around slots and pages", () => {
  it("holds for 1500 sequences of many small child arenas", async () => {
    const result = await checkProfile("small-arenas", { numRuns: 1500, seed: 20261203 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });

  it("holds for 400 sequences of sizes around the boundaries of small, medium and large blocks", async () => {
    const result = await checkProfile("page-sizes", { numRuns: 400, seed: 20261203 });
    expect(describeFailure(result.failure)).toBe("no failure");
    expect(result.ops).toBeGreaterThan(5000);
  });
});
