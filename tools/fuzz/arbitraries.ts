// Generators: valid inputs of every size class, and dedicated generators for
// the edges the contract names (DESIGN §2-4): sizes 0, 1, powers of two ±1,
// 2^31, 2^32-1, 2^32, 2^32+16, 2^53, the header-overflow boundary for every
// alignment, negatives, fractions, -0, NaN, ±Infinity, strings, bigints,
// objects; valid and invalid alignments; allocArray counts whose product is
// just below, at or above 2^32; interior, freed, foreign and out-of-memory
// pointers; stale, foreign and wrong-kind handles; dup and strdup of views
// of every type, empty and long inputs, strings with multi-byte characters,
// NULs and lone surrogates, and arguments that are not bytes or strings at
// all. Profiles weight the
// commands for one concern each: the whole model, edges, memory pressure, and
// re-entrancy (actions and destructors that call back into the arena), many
// small arenas sharing subdivided pages, and sizes around the boundaries of
// the layout (small, medium and large blocks, slots and pages).

import fc from "fast-check";
import { ArenaCommand, type FuzzConfig } from "./commands.js";
import { U32_MAX } from "./model.js";
import {
  type BehaviourSpec,
  type BodySpec,
  type DupSource,
  EFFECT_OPS,
  type EffectOp,
  type EffectSpec,
  type HandleRef,
  type PtrRef,
  type Spec,
  VIEW_TYPES,
  type ViewType,
} from "./spec.js";
import { type Arg, num } from "./values.js";

export type Profile = "model" | "edges" | "pressure" | "reentrancy" | "small-arenas" | "page-sizes";
export const PROFILES: readonly Profile[] = ["model", "edges", "pressure", "reentrancy", "small-arenas", "page-sizes"];

const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });

// ---- numbers -------------------------------------------------------------------

/** 2^k - 1, 2^k, 2^k + 1 for k in 0..maxExp (never negative). */
export function aroundPowersOfTwo(maxExp: number): fc.Arbitrary<number> {
  return fc
    .tuple(fc.integer({ min: 0, max: maxExp }), fc.constantFrom(-1, 0, 1))
    .map(([k, d]) => Math.max(0, 2 ** k + d));
}

/** Sizes an allocation may well get: mostly small, some in every size class, a few large. */
export function validSize(max: number): fc.Arbitrary<number> {
  return fc.oneof(
    w(fc.integer({ min: 0, max: 64 }), 6),
    w(fc.integer({ min: 65, max: 2048 }), 3),
    w(aroundPowersOfTwo(Math.min(20, Math.floor(Math.log2(max)))), 3),
    w(fc.integer({ min: 2049, max }), 1),
  );
}

/** Numbers at the edges of the u32 size space and of JS numbers. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  1,
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 16,
  2 ** 53,
  2 ** 53 + 2,
  -1,
  -16,
  -(2 ** 31),
  -(2 ** 32),
  0.5,
  1.5,
  16.25,
  2 ** 32 - 0.5,
  1e-9,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
];

/** Values that are not numbers at all. */
export const NON_NUMBERS: readonly Arg[] = [
  "16",
  "0",
  "",
  "0x10",
  { $: "bigint", v: "16" },
  { $: "bigint", v: "0" },
  { $: "bigint", v: "-1" },
  { $: "object" },
  { $: "array" },
  { $: "boxed" },
  { $: "valueOf" },
  { $: "symbol" },
  { $: "function" },
  null,
  { $: "undefined" },
  true,
  false,
];

/** Sizes around the header-overflow boundary 2^32-1 - 16 - (align-1), for every alignment the arena can have. */
export const overflowBoundary: fc.Arbitrary<number> = fc
  .tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -2, max: 2 }))
  .map(([a, d]) => U32_MAX - 16 - (2 ** a - 1) + d);

/** Any size argument: edges, non-numbers, powers of two up to 2^33 and the overflow boundary. */
export const edgeSize: fc.Arbitrary<Arg> = fc.oneof(
  w(fc.constantFrom(...EDGE_NUMBERS).map(num), 4),
  w(fc.constantFrom(...NON_NUMBERS), 2),
  w(aroundPowersOfTwo(33).map(num), 3),
  w(overflowBoundary.map(num), 2),
  w(fc.integer({ min: -(2 ** 33), max: 2 ** 33 }).map(num), 1),
  w(fc.double({ min: -(2 ** 34), max: 2 ** 34, noNaN: false }).map(num), 1),
);

export const VALID_ALIGNS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

export const validAlign: fc.Arbitrary<Arg> = fc.constantFrom(...VALID_ALIGNS);

/** Alignments alloc must refuse with EINVAL (and undefined, which means the default). */
export const invalidAlign: fc.Arbitrary<Arg> = fc.constantFrom<Arg>(
  0,
  3,
  6,
  12,
  24,
  4095,
  4097,
  8192,
  65536,
  2 ** 31,
  2 ** 32,
  -8,
  1.5,
  { $: "NaN" },
  { $: "Infinity" },
  { $: "-0" },
  "16",
  { $: "bigint", v: "16" },
  null,
  true,
  { $: "object" },
);

/** allocArray (count, size) pairs whose product lies just below, at or just above 2^32 (and the header boundary). */
export const arrayEdge: fc.Arbitrary<{ count: Arg; size: Arg }> = fc.oneof(
  w(
    fc
      .tuple(
        fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 255, 256, 257, 4095, 4096, 4097, 65535, 65536, 65537, 2 ** 31),
        fc.constantFrom(2 ** 32, U32_MAX, U32_MAX - 16 - 15, U32_MAX - 16 - 4095, 2 ** 31),
        fc.integer({ min: -1, max: 1 }),
        fc.boolean(),
      )
      .map(([d, boundary, delta, swap]) => {
        const other = Math.max(0, Math.floor(boundary / d) + delta);
        return swap ? { count: d, size: other } : { count: other, size: d };
      }),
    5,
  ),
  w(
    fc.constantFrom(
      { count: 0, size: U32_MAX },
      { count: U32_MAX, size: 0 },
      { count: U32_MAX, size: 1 },
      { count: 1, size: U32_MAX },
      { count: 65536, size: 65536 },
      { count: 65537, size: 65535 },
      { count: 3, size: 1431655765 },
      { count: 2, size: 2 ** 31 },
    ),
    2,
  ),
  w(fc.record({ count: edgeSize, size: edgeSize }), 1),
);

// ---- pointers and handles --------------------------------------------------------

const rawPtrs: readonly Arg[] = [
  0,
  1,
  8,
  16,
  4096,
  65536,
  U32_MAX,
  U32_MAX - 7,
  U32_MAX - 15,
  2 ** 32,
  2 ** 40,
  -16,
  { $: "-0" },
  1.5,
  { $: "NaN" },
  { $: "Infinity" },
  "16",
  { $: "bigint", v: "65536" },
  null,
  { $: "object" },
  { $: "undefined" },
];

/** A pointer argument: mostly bad ones. */
export const badPtr: fc.Arbitrary<PtrRef> = fc.oneof(
  w(fc.record({ k: fc.constant("dead" as const), pick: fc.nat(63) }), 4),
  w(fc.record({ k: fc.constant("interior" as const), pick: fc.nat(63), offset: fc.integer({ min: 1, max: 80 }) }), 4),
  w(fc.record({ k: fc.constant("foreign" as const), pick: fc.nat(7) }), 2),
  w(
    fc.record({ k: fc.constant("beyond" as const), offset: fc.constantFrom(0, 8, 16, 4096, 65536, 1 << 20, 2 ** 31) }),
    2,
  ),
  w(
    fc.record({
      k: fc.constant("page" as const),
      page: fc.nat(15),
      offset: fc.constantFrom(0, 8, 16, 1040, 1056, 1064, 1072, 4096, 65520),
    }),
    2,
  ),
  w(fc.record({ k: fc.constant("raw" as const), value: fc.constantFrom(...rawPtrs) }), 3),
);

const livePtr: fc.Arbitrary<PtrRef> = fc.record({ k: fc.constant("live" as const), pick: fc.nat(63) });

/**
 * heap.free's pointer: mostly a live allocation of the fuzzed arena, else one heap.free queued
 * already, the other arena's, or any bad one.
 */
const heapFreePtr: fc.Arbitrary<PtrRef> = fc.oneof(
  w(livePtr, 6),
  w(fc.record({ k: fc.constant("queued" as const), pick: fc.nat(7) }), 2),
  w(fc.record({ k: fc.constant("foreign" as const), pick: fc.nat(7) }), 2),
  w(badPtr, 3),
);

/**
 * How often each profile calls heap.free: on a shared heap (`--threads` and its replays) as often
 * as a plain free, so that queues build up and are applied by every kind of call; on a plain heap,
 * where it is always EINVAL, rarely.
 */
const HEAP_FREE_WEIGHT: Record<Profile, { shared: number; plain: number }> = {
  model: { shared: 6, plain: 1 },
  edges: { shared: 4, plain: 1 },
  pressure: { shared: 4, plain: 0 },
  reentrancy: { shared: 4, plain: 0 },
  "small-arenas": { shared: 3, plain: 0 },
  "page-sizes": { shared: 3, plain: 0 },
};

/** An allocation heap.free queued, not applied yet, handed to the calls that take a live one (EBADPTR). */
const queuedPtr: fc.Arbitrary<PtrRef> = fc.record({ k: fc.constant("queued" as const), pick: fc.nat(7) });

export const badHandle: fc.Arbitrary<HandleRef> = fc.oneof(
  w(fc.record({ k: fc.constant("dead" as const), pick: fc.nat(63) }), 4),
  w(fc.constantFrom<HandleRef>({ k: "foreign" }, { k: "alien" }, { k: "wrong" }), 3),
  w(
    fc.record({
      k: fc.constant("raw" as const),
      value: fc.constantFrom<Arg>({ $: "object" }, null, { $: "undefined" }, 5, "handle", { $: "function" }),
    }),
    2,
  ),
);

const liveHandle: fc.Arbitrary<HandleRef> = fc.record({ k: fc.constant("live" as const), pick: fc.nat(63) });

// ---- dup and strdup ---------------------------------------------------------------------

/** Byte lengths for dup: mostly small, empty, some medium (a run of slots) and past a page (a large block with a tail). */
const dupLength: fc.Arbitrary<number> = fc.oneof(
  w(fc.integer({ min: 0, max: 64 }), 6),
  w(fc.constant(0), 2),
  w(fc.integer({ min: 65, max: 4096 }), 2),
  w(fc.constantFrom(4097, 32767, 32768, 32769, 65536, 70_000, 200_000), 1),
);

/** A source of bytes: seed 0 gives zeros (so readString reads ""), others a pattern with a few NULs in it. */
function byteSource(len: fc.Arbitrary<number>): fc.Arbitrary<DupSource> {
  const seed = fc.oneof(w(fc.integer({ min: 1, max: 255 }), 4), w(fc.constant(0), 1));
  const types = Object.keys(VIEW_TYPES) as ViewType[];
  return fc.oneof(
    w(fc.record({ k: fc.constantFrom("u8" as const, "buffer" as const, "shared" as const), len, seed }), 4),
    w(
      fc
        .record({ type: fc.constantFrom(...types), len, seed, offset: fc.constantFrom(0, 1, 8, 24) })
        .map(({ type, len, seed, offset }): DupSource => {
          // A typed array holds whole elements: round the length down to a multiple of the element size.
          const size = VIEW_TYPES[type];
          return { k: "view", type, len: len - (len % size), seed, offset };
        }),
      3,
    ),
    w(fc.record({ k: fc.constant("self" as const), pick: fc.nat(63) }), 2),
  );
}

/** dup arguments that are not bytes: strings, arrays, numbers, plain objects, functions (all EINVAL). */
const notBytes: fc.Arbitrary<DupSource> = fc
  .constantFrom<Arg>(
    "abc",
    "",
    16,
    { $: "array" },
    { $: "object" },
    null,
    { $: "undefined" },
    { $: "function" },
    {
      $: "symbol",
    },
    { $: "bigint", v: "16" },
    { $: "boxed" },
    true,
  )
  .map((value) => ({ k: "raw", value }));

/** Strings whose UTF-8 differs from their UTF-16: 2-, 3- and 4-byte characters, NUL, lone and reversed surrogates. */
export const TRICKY_STRINGS: readonly string[] = [
  "",
  "a",
  "héllo",
  "ε-名前",
  "日本語",
  "😀",
  "a😀b",
  "\u0080\u07ff\u0800\uffff",
  "\u{10000}\u{10ffff}",
  "\ud800",
  "\udfff",
  "a\ud800b",
  "\udc00\ud800",
  "😀".slice(0, 1),
  "a\0b",
  "\0",
  // U+FEFF, leading (a decoder strips it as a byte order mark unless told not to) and not.
  "\ufeffBOM",
  "BOM\ufeff",
  "\r\n\t",
];

/**
 * One code point of every UTF-8 length, surrogates (lone, as strings hold
 * them) and NUL. Built from integers: drawing from fc.string's units
 * rebuilt a table of every code point, which halved the fuzzer's throughput.
 */
const codePoint: fc.Arbitrary<string> = fc
  .oneof(
    w(fc.integer({ min: 0x20, max: 0x7e }), 4),
    w(fc.integer({ min: 0x80, max: 0x7ff }), 2),
    w(fc.integer({ min: 0x800, max: 0xffff }), 2),
    w(fc.integer({ min: 0xd800, max: 0xdfff }), 1),
    w(fc.integer({ min: 0x10000, max: 0x10ffff }), 2),
    w(fc.constant(0), 1),
  )
  .map((c) => String.fromCodePoint(c));

/** Text for strdup: tricky strings, and random text of every kind of code point. */
const strdupValue: fc.Arbitrary<string> = fc
  .oneof(
    w(fc.constantFrom(...TRICKY_STRINGS), 3),
    w(
      fc.array(codePoint, { maxLength: 16 }).map((parts) => parts.join("")),
      4,
    ),
  )
  .map((text) => (text.startsWith("\ufeff") ? `x${text}` : text));

/** strdup specs: valid text, sometimes repeated into a long string (past a chunk or a page of UTF-8). */
function strdupSpec(longOdds: number): fc.Arbitrary<Spec> {
  return fc.oneof(
    w(
      strdupValue.map((value): Spec => ({ t: "strdup", value })),
      longOdds,
    ),
    w(
      fc
        .tuple(fc.constantFrom("x", "ε", "日本", "😀", "\ud800"), fc.constantFrom(8191, 16384, 32767, 40_000))
        .map(([value, repeat]): Spec => ({ t: "strdup", value, repeat })),
      1,
    ),
  );
}

/** strdup arguments that are not strings (EINVAL); a repeat count does not make them strings. */
const notText: fc.Arbitrary<Spec> = fc
  .tuple(
    fc.constantFrom<Arg>(
      16,
      null,
      { $: "undefined" },
      { $: "object" },
      { $: "array" },
      { $: "boxed" },
      true,
      {
        $: "symbol",
      },
      { $: "bigint", v: "1" },
      { $: "function" },
    ),
    fc.option(fc.constant(3), { nil: undefined }),
  )
  .map(([value, repeat]): Spec => (repeat === undefined ? { t: "strdup", value } : { t: "strdup", value, repeat }));

// ---- behaviours -------------------------------------------------------------------------

function effectArb(ops: readonly EffectOp[]): fc.Arbitrary<EffectSpec> {
  return fc.record({
    op: fc.constantFrom(...ops),
    pick: fc.nat(63),
    size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 65, max: 40000 })),
  });
}

/** What an action or destructor does: `maxEffects` calls back into the arena; throws 1 in `throwOdds`. */
export function behaviourArb(
  maxEffects: number,
  throwOdds: number,
  without: readonly string[] = [],
): fc.Arbitrary<BehaviourSpec> {
  const ops = EFFECT_OPS.filter((op) => !without.includes(op));
  return fc.record({
    throws: fc.oneof(w(fc.constant(false), throwOdds - 1), w(fc.constant(true), 1)),
    effects:
      maxEffects === 0 || ops.length === 0 ? fc.constant([]) : fc.array(effectArb(ops), { maxLength: maxEffects }),
  });
}

// ---- commands ----------------------------------------------------------------------------

interface Shape {
  sizes: fc.Arbitrary<number>;
  /** Sizes of child arenas' allocations (createChild, childAlloc); default 0..3000 and 0..5000. */
  childSizes?: fc.Arbitrary<number>;
  behaviour: fc.Arbitrary<BehaviourSpec>;
  weights: Partial<Record<string, number>>;
}

const names: fc.Arbitrary<Arg> = fc.constantFrom<Arg>("buf", "hdr", "", "ε-名前");
const badNames: fc.Arbitrary<Arg> = fc.constantFrom<Arg>(5, null, true, { $: "object" }, { $: "bigint", v: "1" });

function shapes(profile: Profile, without: readonly string[]): Shape {
  switch (profile) {
    case "model":
      return {
        sizes: validSize(70_000),
        behaviour: behaviourArb(1, 10, without),
        weights: {
          alloc: 10,
          allocOptions: 4,
          allocDtor: 3,
          allocZeroed: 2,
          allocArray: 2,
          realloc: 4,
          free: 7,
          badFree: 1,
          reuse: 3,
          sizeOf: 2,
          bytes: 1,
          write: 1,
          dup: 2,
          strdup: 2,
          readString: 2,
          add: 6,
          addOrReset: 1,
          removeAction: 2,
          releaseAction: 2,
          hasAction: 2,
          badHandle: 1,
          openGroup: 3,
          closeGroup: 3,
          releaseGroup: 2,
          removeGroup: 1,
          group: 2,
          createChild: 1,
          releaseChild: 1,
          childAlloc: 1,
          retain: 1,
          release: 1,
          reset: 1,
          stats: 1,
        },
      };
    case "edges":
      return {
        sizes: validSize(70_000),
        behaviour: behaviourArb(1, 10, without),
        weights: {
          alloc: 3,
          edgeAlloc: 8,
          badAlign: 4,
          badOptions: 3,
          edgeZeroed: 2,
          arrayEdge: 6,
          edgeRealloc: 3,
          free: 3,
          badFree: 8,
          reuse: 2,
          badSizeOf: 4,
          badBytes: 3,
          dup: 2,
          edgeDup: 4,
          strdup: 2,
          edgeStrdup: 4,
          readString: 2,
          badReadString: 3,
          add: 3,
          badAction: 2,
          badHandle: 6,
          removeAction: 1,
          releaseAction: 1,
          openGroup: 2,
          badGroupName: 1,
          closeGroup: 2,
          releaseGroup: 1,
          removeGroup: 1,
          badChild: 1,
          release: 1,
          reset: 1,
        },
      };
    case "pressure":
      return {
        sizes: fc.oneof(w(validSize(70_000), 4), w(fc.integer({ min: 30_000, max: 400_000 }), 1)),
        behaviour: behaviourArb(1, 10, without),
        weights: {
          alloc: 12,
          allocOptions: 4,
          allocDtor: 3,
          allocZeroed: 2,
          allocArray: 3,
          arrayEdge: 1,
          realloc: 6,
          free: 5,
          reuse: 2,
          dup: 2,
          longStrdup: 2,
          add: 5,
          addOrReset: 2,
          openGroup: 3,
          closeGroup: 3,
          releaseGroup: 1,
          group: 2,
          createChild: 2,
          childAlloc: 2,
          releaseAction: 1,
          reset: 1,
          stats: 1,
        },
      };
    case "reentrancy":
      return {
        sizes: validSize(40_000),
        behaviour: behaviourArb(4, 3, without),
        weights: {
          alloc: 6,
          allocDtor: 6,
          free: 4,
          reuse: 1,
          realloc: 1,
          strdup: 1,
          readString: 1,
          add: 8,
          addOrReset: 2,
          removeAction: 1,
          releaseAction: 4,
          hasAction: 1,
          openGroup: 4,
          closeGroup: 3,
          releaseGroup: 4,
          removeGroup: 1,
          group: 3,
          createChild: 1,
          releaseChild: 1,
          retain: 1,
          release: 2,
          reset: 2,
          stats: 1,
        },
      };
    case "small-arenas":
      // Many child arenas with a few small blocks each, made and released in any order between
      // the parent's own allocations and frees: their chunks share subdivided pages slot by slot.
      return {
        sizes: fc.oneof(w(fc.integer({ min: 0, max: 300 }), 4), w(fc.integer({ min: 301, max: 9000 }), 1)),
        childSizes: fc.oneof(w(fc.integer({ min: 0, max: 128 }), 4), w(fc.integer({ min: 129, max: 6000 }), 1)),
        behaviour: behaviourArb(1, 10, without),
        weights: {
          alloc: 6,
          allocDtor: 1,
          free: 5,
          reuse: 1,
          realloc: 2,
          add: 2,
          createChild: 8,
          childAlloc: 10,
          releaseChild: 6,
          openGroup: 1,
          closeGroup: 1,
          releaseGroup: 1,
          reset: 1,
          stats: 1,
        },
      };
    case "page-sizes":
      return {
        sizes: fc.oneof(w(layoutSize(), 4), w(validSize(70_000), 1)),
        childSizes: layoutSize(),
        behaviour: behaviourArb(1, 10, without),
        weights: {
          alloc: 8,
          allocOptions: 4,
          allocDtor: 2,
          allocZeroed: 1,
          realloc: 6,
          free: 6,
          reuse: 2,
          dup: 1,
          add: 2,
          createChild: 3,
          childAlloc: 3,
          releaseChild: 2,
          group: 1,
          reset: 1,
          stats: 1,
        },
      };
  }
}

function specArbitraries(s: Shape): Record<string, fc.Arbitrary<Spec>> {
  const size = s.sizes.map((n): Arg => n);
  const bool = fc.boolean().map((b): Arg => b);
  return {
    alloc: size.map((n) => ({ t: "alloc", size: n })),
    allocOptions: fc.record(
      { t: fc.constant("alloc" as const), size, align: validAlign, zero: bool, name: names },
      { requiredKeys: ["t", "size"] },
    ),
    allocDtor: fc.record(
      { t: fc.constant("alloc" as const), size, dtor: s.behaviour, align: validAlign, name: names },
      { requiredKeys: ["t", "size", "dtor"] },
    ),
    allocZeroed: size.map((n) => ({ t: "allocZeroed", size: n })),
    allocArray: fc.record(
      {
        t: fc.constant("allocArray" as const),
        count: fc.integer({ min: 0, max: 40 }),
        size: fc.integer({ min: 0, max: 300 }),
        zero: bool,
      },
      { requiredKeys: ["t", "count", "size"] },
    ),
    edgeAlloc: fc.record(
      { t: fc.constant("alloc" as const), size: edgeSize, align: fc.oneof(validAlign, invalidAlign) },
      { requiredKeys: ["t", "size"] },
    ),
    badAlign: fc.record({ t: fc.constant("alloc" as const), size, align: invalidAlign }),
    badOptions: fc.oneof(
      fc.record({
        t: fc.constant("alloc" as const),
        size,
        options: fc.constantFrom<Arg>(
          null,
          5,
          "opts",
          true,
          { $: "function" },
          { $: "symbol" },
          { $: "object" },
          {
            $: "array",
          },
        ),
      }),
      fc.record({
        t: fc.constant("alloc" as const),
        size,
        zero: fc.constantFrom<Arg>(1, "yes", null, { $: "object" }),
      }),
      fc.record({ t: fc.constant("alloc" as const), size, name: badNames }),
      fc.record({
        t: fc.constant("alloc" as const),
        size,
        onRelease: fc.constantFrom<Arg>(5, "f", null, { $: "object" }, true),
      }),
      fc.record({
        t: fc.constant("allocArray" as const),
        count: fc.integer({ min: 0, max: 8 }),
        size: fc.integer({ min: 0, max: 64 }),
        options: fc.constantFrom<Arg>(null, 5, "opts", { $: "object" }),
      }),
    ),
    edgeZeroed: edgeSize.map((n) => ({ t: "allocZeroed", size: n })),
    arrayEdge: fc
      .tuple(arrayEdge, fc.option(bool, { nil: undefined }))
      .map(([p, zero]) => (zero === undefined ? { t: "allocArray", ...p } : { t: "allocArray", ...p, zero })),
    realloc: fc.record({ t: fc.constant("realloc" as const), ptr: livePtr, size }),
    edgeRealloc: fc.oneof(
      fc.record({ t: fc.constant("realloc" as const), ptr: livePtr, size: edgeSize }),
      fc.record({ t: fc.constant("realloc" as const), ptr: badPtr, size }),
    ),
    free: fc.record({ t: fc.constant("free" as const), ptr: livePtr }),
    badFree: fc.record({ t: fc.constant("free" as const), ptr: badPtr }),
    sizeOf: fc.record({ t: fc.constant("sizeOf" as const), ptr: livePtr }),
    badSizeOf: fc.record({ t: fc.constant("sizeOf" as const), ptr: badPtr }),
    bytes: fc.record(
      { t: fc.constant("bytes" as const), ptr: livePtr, length: fc.integer({ min: 0, max: 64 }) },
      { requiredKeys: ["t", "ptr"] },
    ),
    badBytes: fc.oneof(
      fc.record({ t: fc.constant("bytes" as const), ptr: livePtr, length: edgeSize }),
      fc.record({ t: fc.constant("bytes" as const), ptr: badPtr }),
    ),
    write: fc.record({ t: fc.constant("write" as const), pick: fc.nat(63) }),
    dup: byteSource(dupLength).map((source): Spec => ({ t: "dup", source })),
    edgeDup: fc.oneof(
      w(
        notBytes.map((source): Spec => ({ t: "dup", source })),
        3,
      ),
      w(
        byteSource(fc.constantFrom(0, 0, 1, 7, 65536, 300_000)).map((source): Spec => ({ t: "dup", source })),
        2,
      ),
      // A detached buffer, or a view of one: what a stale arena.bytes() view is once memory grows.
      w(
        fc.boolean().map((view): Spec => ({ t: "dup", source: { k: "detached", view } })),
        1,
      ),
    ),
    strdup: strdupSpec(20),
    longStrdup: strdupSpec(1),
    edgeStrdup: fc.oneof(w(notText, 2), w(strdupSpec(2), 3)),
    readString: fc.record({ t: fc.constant("readString" as const), ptr: livePtr }),
    badReadString: fc.record({ t: fc.constant("readString" as const), ptr: badPtr }),
    add: fc.record(
      { t: fc.constant("add" as const), behaviour: s.behaviour, name: names },
      { requiredKeys: ["t", "behaviour"] },
    ),
    addOrReset: fc.record({ t: fc.constant("add" as const), behaviour: s.behaviour, orReset: fc.constant(true) }),
    badAction: fc.record({
      t: fc.constant("addBad" as const),
      action: fc.constantFrom<Arg>(null, { $: "undefined" }, 5, "fn", { $: "object" }, { $: "symbol" }),
      orReset: fc.boolean(),
    }),
    removeAction: fc.record({ t: fc.constant("removeAction" as const), handle: liveHandle }),
    releaseAction: fc.record({ t: fc.constant("releaseAction" as const), handle: liveHandle }),
    hasAction: fc.record({ t: fc.constant("hasAction" as const), handle: fc.oneof(liveHandle, badHandle) }),
    badHandle: fc.record({
      t: fc.constantFrom("removeAction" as const, "releaseAction" as const, "hasAction" as const),
      handle: badHandle,
    }) as fc.Arbitrary<Spec>,
    openGroup: fc.record({ t: fc.constant("openGroup" as const), name: names }, { requiredKeys: ["t"] }),
    badGroupName: fc.record({ t: fc.constant("openGroup" as const), name: badNames }),
    closeGroup: fc.oneof(
      fc.constant<Spec>({ t: "closeGroup" }),
      fc.record({ t: fc.constant("closeGroup" as const), handle: fc.oneof(liveHandle, liveHandle, badHandle) }),
    ),
    releaseGroup: fc.record({
      t: fc.constant("releaseGroup" as const),
      handle: fc.oneof(liveHandle, liveHandle, badHandle),
    }),
    removeGroup: fc.record({
      t: fc.constant("removeGroup" as const),
      handle: fc.oneof(liveHandle, liveHandle, badHandle),
    }),
    group: fc.record(
      {
        t: fc.constant("group" as const),
        body: fc.array(
          fc.oneof(
            s.sizes.map((n): BodySpec => ({ t: "alloc", size: n })),
            s.behaviour.map((b): BodySpec => ({ t: "add", behaviour: b })),
          ),
          { maxLength: 3 },
        ),
        fail: fc.boolean(),
        name: fc.constantFrom("probe", "init"),
      },
      { requiredKeys: ["t", "body", "fail"] },
    ),
    createChild: fc.record(
      {
        t: fc.constant("createChild" as const),
        actions: fc.integer({ min: 0, max: 3 }),
        allocs: fc.array(s.childSizes ?? fc.integer({ min: 0, max: 5000 }), { maxLength: 3 }),
        name: names,
        minAlign: fc.constantFrom<Arg>(8, 16, 64),
      },
      { requiredKeys: ["t", "actions", "allocs"] },
    ),
    badChild: fc.oneof(
      fc.record({
        t: fc.constant("createChild" as const),
        actions: fc.constant(0),
        allocs: fc.constant<number[]>([]),
        minAlign: fc.constantFrom<Arg>(0, 1, 4, 3, 8192, "16", null, { $: "NaN" }),
      }),
      fc.record({
        t: fc.constant("createChild" as const),
        actions: fc.constant(0),
        allocs: fc.constant<number[]>([]),
        name: badNames,
      }),
    ),
    releaseChild: fc.record({ t: fc.constant("releaseChild" as const), pick: fc.nat(15) }),
    childAlloc: fc.record({
      t: fc.constant("childAlloc" as const),
      pick: fc.nat(15),
      size: s.childSizes ?? fc.integer({ min: 0, max: 3000 }),
    }),
    retain: fc.constant<Spec>({ t: "retain" }),
    release: fc.record({ t: fc.constant("release" as const), dispose: fc.boolean() }),
    reset: fc.constant<Spec>({ t: "reset" }),
    stats: fc.constant<Spec>({ t: "stats" }),
    reuse: fc.record({ t: fc.constant("reuse" as const), pick: fc.nat(7) }),
    heapFree: fc.record({ t: fc.constant("heapFree" as const), ptr: heapFreePtr }),
    queuedUse: fc.oneof(
      fc.record({ t: fc.constantFrom("free" as const, "sizeOf" as const, "readString" as const), ptr: queuedPtr }),
      fc.record({ t: fc.constant("realloc" as const), ptr: queuedPtr, size }),
      fc.record({ t: fc.constant("bytes" as const), ptr: queuedPtr }),
    ) as fc.Arbitrary<Spec>,
  };
}

/**
 * Sizes at the boundaries of the core's layout (assembly/layout.ts): the
 * largest small block (4096), a medium block's largest run of slots (63,488
 * bytes with its chunk head and header), a page (65,536) and a few pages,
 * each give or take a header, a slot and a byte.
 */
export function layoutSize(): fc.Arbitrary<number> {
  const edges = [4096, 63_488 - 32, 65_536 - 32, 65_536, 2 * 65_536 - 32, 2 * 65_536, 3 * 65_536 + 4096];
  return fc
    .tuple(fc.constantFrom(...edges), fc.constantFrom(-257, -256, -17, -16, -1, 0, 1, 16, 17, 255, 256, 257))
    .map(([edge, d]) => Math.max(0, edge + d));
}

/** One command of a profile, weighted; `shared`: the heap is shared (heap.free works there). */
export function specArbitrary(profile: Profile, without: readonly string[] = [], shared = false): fc.Arbitrary<Spec> {
  const shape = shapes(profile, without);
  const all = specArbitraries(shape);
  const heapFree = HEAP_FREE_WEIGHT[profile][shared ? "shared" : "plain"];
  const weights = heapFree > 0 ? { ...shape.weights, heapFree } : shape.weights;
  // Calls that must find a queued allocation not live: only where heap.free queues any.
  if (shared) weights.queuedUse = Math.ceil(heapFree / 3);
  const weighted = Object.entries(weights).map(([name, weight]) => {
    const arbitrary = all[name];
    if (arbitrary === undefined) throw new Error(`no command arbitrary ${name}`);
    return w(arbitrary, weight ?? 1);
  });
  return fc.oneof(...weighted);
}

/** The heap and arena a profile runs on: tiny heaps, so that ENOMEM is reached. */
export function configArbitrary(profile: Profile, differential: boolean | "sometimes"): fc.Arbitrary<FuzzConfig> {
  const pages = {
    model: fc.integer({ min: 4, max: 40 }),
    edges: fc.integer({ min: 3, max: 16 }),
    pressure: fc.integer({ min: 3, max: 7 }),
    reentrancy: fc.integer({ min: 6, max: 24 }),
    "small-arenas": fc.integer({ min: 4, max: 12 }),
    "page-sizes": fc.integer({ min: 6, max: 40 }),
  }[profile];
  const maxBytes =
    profile === "pressure"
      ? fc.oneof(w(fc.constant(U32_MAX), 1), w(fc.integer({ min: 0, max: 80_000 }), 1))
      : fc.oneof(w(fc.constant(U32_MAX), 4), w(fc.integer({ min: 0, max: 300_000 }), 1));
  return fc.record({
    maxPages: pages,
    minAlign: fc.constantFrom(8, 16, 16, 16, 32, 64, 256, 4096),
    maxBytes,
    poison: fc.oneof(w(fc.constant(false), 3), w(fc.constant(true), 1)),
    // One in four holds freed blocks back from reuse: from a block or two to more than the heap.
    quarantine: fc.oneof(
      w(fc.constant(0), 3),
      w(fc.constantFrom(16, 32, 100, 256, 1024, 4096, 40_000, 300_000, U32_MAX), 1),
    ),
    // Traced scenarios take the facade's slow paths and log every event: one in four keeps throughput up.
    trace: fc.oneof(w(fc.constant(false), 3), w(fc.constant(true), 1)),
    differential:
      differential === "sometimes"
        ? fc.oneof(w(fc.constant(false), 3), w(fc.constant(true), 1))
        : fc.constant(differential),
  });
}

export interface Scenario {
  config: FuzzConfig;
  commands: Iterable<ArenaCommand>;
}

/** A config and a command list for one profile (or any profile: "mixed"). */
export function scenarioArbitrary(
  profile: Profile | "mixed",
  options: {
    maxCommands?: number;
    differential?: boolean | "sometimes";
    fault?: string;
    /** Effect ops callbacks never perform (to look past a known defect). */
    without?: readonly string[];
    /** Fields every config gets (`--threads`: the shared heap's maxPages, threads, shared, not differential). */
    override?: Partial<FuzzConfig>;
    /**
     * Run on a shared heap in this thread (config.shared; heap.free works there): always, never
     * (the default), or "sometimes" (one scenario in six).
     */
    shared?: boolean | "sometimes";
  } = {},
): fc.Arbitrary<Scenario> {
  if (profile === "mixed") return fc.oneof(...PROFILES.map((p) => scenarioArbitrary(p, options)));
  if (options.shared === "sometimes") {
    return fc.oneof(
      w(scenarioArbitrary(profile, { ...options, shared: false }), 5),
      w(scenarioArbitrary(profile, { ...options, shared: true }), 1),
    );
  }
  const shared = options.shared === true || options.override?.shared === true;
  const commands = fc.commands(
    [specArbitrary(profile, options.without, shared).map((spec) => new ArenaCommand(spec))],
    {
      maxCommands: options.maxCommands ?? 40,
      size: "medium",
    },
  ) as fc.Arbitrary<Iterable<ArenaCommand>>;
  const config = configArbitrary(profile, options.differential ?? false).map((c) => ({
    ...c,
    ...(options.fault === undefined ? {} : { fault: options.fault }),
    ...(options.shared === true ? { shared: true } : {}),
    ...options.override,
  }));
  return fc.record({ config, commands });
}
