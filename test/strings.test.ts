// Copies into the arena: dup(bytes) [kmemdup], strdup(text) as UTF-8 plus a
// NUL [kstrdup], and readString(ptr) reading UTF-8 back up to the first NUL.
import { describe, expect, it } from "vitest";
import { asPtr, bad, expectCode, fill } from "./helpers.js";
import { contents, cString, expectStats, ok, setup } from "./helpers3.js";

describe("dup", () => {
  it("copies a Uint8Array: size = byteLength, same bytes, an independent copy", async () => {
    const { heap, arena } = await setup();
    const src = Uint8Array.from([1, 2, 3, 250, 0, 7]);
    const p = arena.dup(src);
    expect(arena.sizeOf(p)).toBe(6);
    expect(contents(arena, p)).toEqual([1, 2, 3, 250, 0, 7]);
    src[0] = 99;
    expect(arena.bytes(p)[0]).toBe(1);
    arena.bytes(p)[1] = 42;
    expect(src[1]).toBe(2);
    expectStats(arena, { allocations: 1, liveBytes: 6 });
    ok(heap);
    arena.free(p);
    expectStats(arena, { allocations: 0, liveBytes: 0 });
    ok(heap);
  });

  it("copies only the bytes of a view with an offset (subarray, DataView, Int32Array, Float64Array)", async () => {
    const { heap, arena } = await setup();
    const buffer = new ArrayBuffer(64);
    const all = new Uint8Array(buffer);
    for (let i = 0; i < 64; i++) all[i] = i + 1;

    const sub = all.subarray(5, 12);
    expect(contents(arena, arena.dup(sub))).toEqual([6, 7, 8, 9, 10, 11, 12]);

    const dv = new DataView(buffer, 20, 3);
    expect(contents(arena, arena.dup(dv))).toEqual([21, 22, 23]);

    const i32 = new Int32Array(buffer, 8, 2);
    const p32 = arena.dup(i32);
    expect(arena.sizeOf(p32)).toBe(8);
    expect(contents(arena, p32)).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);

    const f64 = Float64Array.of(1.5, -2);
    const pf = arena.dup(f64);
    expect(arena.sizeOf(pf)).toBe(16);
    expect(contents(arena, pf)).toEqual(Array.from(new Uint8Array(f64.buffer)));

    expectStats(arena, { allocations: 4, liveBytes: 7 + 3 + 8 + 16 });
    ok(heap);
  });

  it("copies a whole ArrayBuffer", async () => {
    const { heap, arena } = await setup();
    const buffer = new ArrayBuffer(300);
    const view = new Uint8Array(buffer);
    for (let i = 0; i < 300; i++) view[i] = (i * 7) & 0xff;
    const p = arena.dup(buffer);
    expect(arena.sizeOf(p)).toBe(300);
    expect(contents(arena, p)).toEqual(Array.from(view));
    ok(heap);
  });

  it("an empty buffer or view gives a live, unique, freeable zero-sized allocation", async () => {
    const { heap, arena } = await setup();
    const a = arena.dup(new Uint8Array(0));
    const b = arena.dup(new ArrayBuffer(0));
    expect(a).not.toBe(b);
    expect(arena.sizeOf(a)).toBe(0);
    expect(arena.sizeOf(b)).toBe(0);
    expectStats(arena, { allocations: 2, liveBytes: 0 });
    arena.free(a);
    arena.free(b);
    expectStats(arena, { allocations: 0, liveBytes: 0 });
    ok(heap);
  });

  it("copies bytes of the arena's own memory, even when the copy makes memory grow", async () => {
    const { heap, arena } = await setup();
    const size = 30_000;
    const p = arena.alloc(size);
    fill(arena, p, 11);
    const expected = contents(arena, p);
    const before = heap.memory.buffer.byteLength;
    let q = p;
    // Keep duplicating the newest copy from a view on heap.memory until one copy has grown memory.
    for (let i = 0; i < 64 && heap.memory.buffer.byteLength === before; i++) {
      q = arena.dup(arena.bytes(q));
      expect(contents(arena, q)).toEqual(expected);
    }
    expect(heap.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(contents(arena, q)).toEqual(expected);
    ok(heap);
  });

  it("non-buffers -> EINVAL with nothing changed", async () => {
    const { heap, arena } = await setup();
    arena.alloc(3);
    const before = arena.stats();
    for (const value of ["abc", 42, null, undefined, [1, 2, 3], {}, { byteLength: 4 }, 7n]) {
      expectCode(() => arena.dup(bad(value)), "EINVAL");
      expect(arena.stats()).toEqual(before);
    }
    ok(heap);
  });

  it("over maxBytes -> ENOMEM with nothing changed; exactly at it fits", async () => {
    const { heap, arena } = await setup({}, { maxBytes: 10 });
    expectCode(() => arena.dup(new Uint8Array(11)), "ENOMEM");
    expectCode(() => arena.strdup("0123456789"), "ENOMEM");
    expectStats(arena, { allocations: 0, liveBytes: 0, peakBytes: 0 });
    const p = arena.strdup("012345678");
    expect(arena.sizeOf(p)).toBe(10);
    ok(heap);
  });

  it("during release -> EBUSY; after release -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    arena.add(() => {
      codes.push(expectCode(() => arena.dup(new Uint8Array(2)), "EBUSY").code);
      codes.push(expectCode(() => arena.strdup("x"), "EBUSY").code);
    });
    arena.release();
    expect(codes).toEqual(["EBUSY", "EBUSY"]);
    expectCode(() => arena.dup(new Uint8Array(2)), "ERELEASED");
    expectCode(() => arena.strdup("x"), "ERELEASED");
    expectCode(() => arena.readString(asPtr(65536)), "ERELEASED");
    ok(heap);
  });
});

describe("strdup", () => {
  const cases: [string, string][] = [
    ["ASCII", "hello, arena"],
    ["multi-byte UTF-8", "héllo wörld — ¿qué tal? 日本語"],
    ["emoji (4-byte UTF-8, surrogate pairs in JS)", "😀 a 👍🏽 b 🏳️‍🌈"],
    ["the empty string", ""],
  ];

  for (const [label, text] of cases) {
    it(`${label}: size = UTF-8 length + 1, bytes are UTF-8 then NUL, readString gives it back`, async () => {
      const { heap, arena } = await setup();
      const expected = cString(text);
      const p = arena.strdup(text);
      expect(arena.sizeOf(p)).toBe(expected.length);
      expect(contents(arena, p)).toEqual(Array.from(expected));
      expect(arena.bytes(p)[expected.length - 1]).toBe(0);
      expect(arena.readString(p)).toBe(text);
      expectStats(arena, { allocations: 1, liveBytes: expected.length });
      ok(heap);
    });
  }

  it("sizes are byte counts, not UTF-16 lengths", async () => {
    const { arena } = await setup();
    expect(arena.sizeOf(arena.strdup("é"))).toBe(3);
    expect(arena.sizeOf(arena.strdup("€"))).toBe(4);
    expect(arena.sizeOf(arena.strdup("😀"))).toBe(5);
    expect(arena.sizeOf(arena.strdup(""))).toBe(1);
  });

  it("a long string round-trips", async () => {
    const { heap, arena } = await setup();
    const text = Array.from({ length: 5000 }, (_, i) => String.fromCodePoint(32 + ((i * 131) % 20000))).join("");
    const p = arena.strdup(text);
    expect(arena.sizeOf(p)).toBe(new TextEncoder().encode(text).length + 1);
    expect(arena.readString(p)).toBe(text);
    ok(heap);
  });

  it("non-strings -> EINVAL with nothing changed", async () => {
    const { heap, arena } = await setup();
    const before = arena.stats();
    for (const value of [42, null, undefined, {}, ["a"], new Uint8Array(2), Symbol("s"), 1n]) {
      expectCode(() => arena.strdup(bad(value)), "EINVAL");
      expect(arena.stats()).toEqual(before);
    }
    ok(heap);
  });
});

describe("readString", () => {
  it("stops at the first NUL", async () => {
    const { arena } = await setup();
    const p = arena.dup(Uint8Array.from([0x61, 0x62, 0, 0x63, 0x64, 0]));
    expect(arena.readString(p)).toBe("ab");
    const q = arena.dup(Uint8Array.from([0, 0x61]));
    expect(arena.readString(q)).toBe("");
  });

  it("without a NUL, reads to the allocation's end", async () => {
    const { arena } = await setup();
    const p = arena.dup(new TextEncoder().encode("no terminator ✓"));
    expect(arena.readString(p)).toBe("no terminator ✓");
    expect(arena.readString(arena.alloc(0))).toBe("");
  });

  it("reads a string written by hand into alloc'ed memory", async () => {
    const { arena } = await setup();
    const p = arena.alloc(16);
    arena.bytes(p).set(cString("größe"));
    expect(arena.readString(p)).toBe("größe");
  });

  it("bad pointers -> EBADPTR (freed, interior, foreign, 0); non-u32 -> EINVAL", async () => {
    const { heap, arena } = await setup();
    const other = heap.createArena();
    const p = arena.strdup("abcdef");
    const foreign = other.strdup("xyz");
    expectCode(() => arena.readString(asPtr(p + 1)), "EBADPTR");
    expectCode(() => arena.readString(foreign), "EBADPTR");
    expectCode(() => arena.readString(asPtr(0)), "EBADPTR");
    expectCode(() => arena.readString(asPtr(heap.memory.buffer.byteLength + 64)), "EBADPTR");
    for (const value of [-16, 1.5, 2 ** 40, Number.NaN, "16"]) {
      expectCode(() => arena.readString(bad(value)), "EINVAL");
    }
    arena.free(p);
    expectCode(() => arena.readString(p), "EBADPTR");
    ok(heap);
  });
});
