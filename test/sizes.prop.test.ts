// The size and alignment arithmetic, property by property, in this process
// (@fast-check/vitest: each property is a test, its counterexample shrunk and
// printed by vitest). An oracle written from the contract alone predicts the
// outcome of alloc(size, { align }) and allocArray(count, size): EINVAL for a
// value that is not a u32 or an alignment that is not a power of two in
// 1..4096, EOVERFLOW when header + padding + size passes 2^32 - 1 (or
// count * size does), ENOMEM beyond the heap's 16 MiB; otherwise a pointer
// aligned to max(align, minAlign) whose allocation has exactly that size.
// A failed call must leave stats() as it was. The model-based suites in
// tools/fuzz cover the same edges in sequences; these pin the arithmetic alone.
import { fc, test } from "@fast-check/vitest";
import { beforeAll, describe, expect } from "vitest";
import { type Arena, ArenaError, Heap, type Ptr } from "../src/index.js";

const HEADER = 16;
const MIN_ALIGN = 16;
const MAX_PAGES = 256; // 16 MiB: sizes up to 8 MiB must fit, sizes over 16 MiB cannot
const U32_MAX = 2 ** 32 - 1;

const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= U32_MAX;

/** A number around every edge of 32-bit size arithmetic, or something that is not a size at all. */
const sizeArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 0, max: 52 }).chain((k) => fc.constantFrom(2 ** k - 1, 2 ** k, 2 ** k + 1)),
  // The overflow boundary of every alignment, ±2 (written out, not derived from the oracle's constants).
  fc
    .tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -2, max: 2 }))
    .map(([k, d]) => 4294967295 - 16 - (2 ** k - 1) + d),
  fc.integer({ min: 0, max: 1 << 16 }),
  fc.constantFrom(2 ** 32 + 16, 2 ** 53, -1, -0, 0.5, -0.5, Number.NaN, Infinity, -Infinity),
  fc.double(),
  fc.oneof(fc.string({ maxLength: 4 }), fc.bigInt(), fc.constant(null), fc.constant(undefined), fc.object()),
);

/** Every valid alignment, and values near them that are not. */
const alignArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 0, max: 12 }).map((k) => 2 ** k),
  fc.constantFrom(0, 3, 6, 8192, 2 ** 31, -8, 8.5, Number.NaN, "8", 8n),
);

type Outcome = { code: string } | { ok: true; align: number };

/** What alloc(size, { align }) must do, from the contract alone; "either" where the heap's limit is near. */
function expectAlloc(size: unknown, align: unknown): Outcome | "ok-or-ENOMEM" {
  if (!isU32(size)) return { code: "EINVAL" };
  if (!isU32(align) || align < 1 || align > 4096 || (align & (align - 1)) !== 0) return { code: "EINVAL" };
  const effective = Math.max(align, MIN_ALIGN);
  if (size > U32_MAX - HEADER - (effective - 1)) return { code: "EOVERFLOW" };
  if (size > MAX_PAGES * 65536) return { code: "ENOMEM" };
  if (size <= (MAX_PAGES / 2) * 65536) return { ok: true, align: effective };
  return "ok-or-ENOMEM";
}

let heap: Heap;
let arena: Arena;
beforeAll(async () => {
  heap = await Heap.create({ maxPages: MAX_PAGES, debug: true });
  arena = heap.createArena({ name: "sizes" });
});

/** Runs `call`; on success checks and frees the allocation, on failure checks the code and that nothing changed. */
function judge(call: () => number, expected: Outcome | "ok-or-ENOMEM", size: number | undefined): void {
  const before = arena.stats();
  let ptr: number;
  try {
    ptr = call();
  } catch (error) {
    expect(error).toBeInstanceOf(ArenaError);
    const code = (error as ArenaError).code;
    if (expected === "ok-or-ENOMEM") expect(code).toBe("ENOMEM");
    else expect({ code }).toEqual(expected);
    expect(arena.stats()).toEqual(before);
    expect(heap.check()).toBe(0);
    return;
  }
  if (expected !== "ok-or-ENOMEM" && !("ok" in expected)) expect.fail(`succeeded; expected ${expected.code}`);
  const align = expected === "ok-or-ENOMEM" ? MIN_ALIGN : expected.align;
  expect(ptr % align).toBe(0);
  expect(arena.sizeOf(ptr as Ptr)).toBe((size as number) + 0); // + 0: a size of -0 is the size 0
  expect(arena.stats().allocations).toBe(before.allocations + 1);
  arena.free(ptr as Ptr);
  expect(arena.stats()).toMatchObject({ allocations: before.allocations, liveBytes: before.liveBytes });
  expect(heap.check()).toBe(0);
}

describe("size and alignment arithmetic (oracle from the contract)", () => {
  test.prop([sizeArb, alignArb], { numRuns: 2000, seed: 20261125 })(
    "alloc(size, { align }) gives the predicted pointer or code, and a failure changes nothing",
    (size, align) => {
      judge(() => arena.alloc(size as number, { align: align as number }), expectAlloc(size, align), size as number);
    },
  );

  test.prop([sizeArb], { numRuns: 1000, seed: 20261125 })("alloc(size) is alloc(size, { align: 1 })", (size) => {
    judge(() => arena.alloc(size as number), expectAlloc(size, 1), size as number);
  });

  test.prop(
    [
      fc.oneof(
        fc.integer({ min: 0, max: 32 }).map((k) => 2 ** k),
        fc.integer({ min: 0, max: 70_000 }),
        sizeArb,
      ),
      fc.oneof(
        fc.integer({ min: 0, max: 32 }).chain((k) => fc.constantFrom(2 ** k - 1, 2 ** k, 2 ** k + 1)),
        sizeArb,
      ),
    ],
    { numRuns: 2000, seed: 20261125 },
  )("allocArray(count, size): EOVERFLOW exactly when count * size passes 2^32 - 1", (count, size) => {
    let expected: Outcome | "ok-or-ENOMEM";
    if (!isU32(count) || !isU32(size)) expected = { code: "EINVAL" };
    else if (BigInt(count) * BigInt(size) > BigInt(U32_MAX)) expected = { code: "EOVERFLOW" };
    else expected = expectAlloc(count * size, 1);
    const bytes = isU32(count) && isU32(size) ? count * size : undefined;
    judge(() => arena.allocArray(count as number, size as number), expected, bytes);
  });
});
