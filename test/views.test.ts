// arena.view(ptr, Type?, length?): a typed view of one allocation, with its
// Type and bounds checked, in place of `new Float32Array(heap.memory.buffer, p, n)`
// by hand.
import { describe, expect, expectTypeOf, it } from "vitest";
import { Arena } from "../src/index.js";
import { bad, expectCode } from "./helpers.js";
import { ok, setup } from "./helpers3.js";

describe("arena.view", () => {
  it("defaults to a Uint8Array over the whole allocation, sharing its bytes", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(24);
    const v = arena.view(p);
    expectTypeOf(v).toExtend<Uint8Array>();
    expect(v).toBeInstanceOf(Uint8Array);
    expect([v.byteOffset, v.length]).toEqual([p, 24]);
    v[23] = 0xab;
    expect(arena.bytes(p)[23]).toBe(0xab);
    ok(heap);
  });

  it("gives as many whole elements of Type as the allocation holds, or `length` of them", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(20);
    const f32 = arena.view(p, Float32Array);
    expectTypeOf(f32).toExtend<Float32Array>();
    expectTypeOf(f32).not.toExtend<Float64Array>();
    expect(f32.length).toBe(5);
    f32[1] = 1.5;
    expect(new DataView(heap.memory.buffer).getFloat32(p + 4, true)).toBe(1.5);
    const f64 = arena.view(p, Float64Array);
    expect(f64.length).toBe(2); // 20 bytes hold two whole doubles
    expect(f64.byteOffset % 8).toBe(0);
    expect(arena.view(p, Int16Array, 3).length).toBe(3);
    const big = arena.view(p, BigUint64Array, 1);
    big[0] = 2n ** 64n - 1n;
    expect(Array.from(arena.bytes(p, 8))).toEqual(new Array(8).fill(0xff));
    expect(arena.view(arena.alloc(0), Float32Array).length).toBe(0);
    ok(heap);
  });

  it("gives a DataView over the allocation's bytes, or its first `length`", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(12);
    const dv = arena.view(p, DataView);
    expectTypeOf(dv).toEqualTypeOf<DataView>();
    expect([dv.byteOffset, dv.byteLength]).toEqual([p, 12]);
    dv.setUint32(8, 0xdeadbeef, true);
    expect(arena.view(p, Uint32Array)[2]).toBe(0xdeadbeef);
    expect(arena.view(p, DataView, 4).byteLength).toBe(4);
    ok(heap);
  });

  it("EINVAL past the allocation, or for a Type that is not a TypedArray constructor or DataView", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(16);
    expectCode(() => arena.view(p, Float32Array, 5), "EINVAL");
    expectCode(() => arena.view(p, Float64Array, 3), "EINVAL");
    expectCode(() => arena.view(p, DataView, 17), "EINVAL");
    expectCode(() => arena.view(p, Uint8Array, -1), "EINVAL");
    expectCode(() => arena.view(p, Uint8Array, 2 ** 32), "EINVAL");
    class Sneaky extends Uint8Array {}
    for (const type of [Array, Sneaky, {}, null, "Float32Array", ArrayBuffer]) {
      expectCode(() => arena.view(p, bad(type)), "EINVAL");
    }
    expect(arena.stats()).toMatchObject({ allocations: 1, liveBytes: 16 });
    ok(heap);
  });

  it("EBADPTR unless ptr starts a live allocation of this arena; ERELEASED after release", async () => {
    const { heap, arena } = await setup();
    const other = heap.createArena();
    const p = arena.alloc(32);
    const q = other.alloc(32);
    expectCode(() => arena.view(bad(p + 8), Float64Array), "EBADPTR");
    expectCode(() => arena.view(q, Float64Array), "EBADPTR");
    arena.free(p);
    expectCode(() => arena.view(p), "EBADPTR");
    other.release();
    arena.release();
    expectCode(() => arena.view(q), "ERELEASED");
    ok(heap);
  });

  it("goes stale (length 0) when memory grows, like bytes(): take a new one after anything that may allocate", async () => {
    const { arena } = await setup();
    const p = arena.alloc(16);
    const before = arena.view(p, Float32Array);
    arena.alloc(4 << 20);
    expect(before.length).toBe(0);
    expect(arena.view(p, Float32Array).length).toBe(4);
  });

  it("runs as the README shows it", async () => {
    const arena = await Arena.create({ name: "device" });
    const buf = arena.alloc(64, { align: 64 });
    arena.bytes(buf).set([1, 2, 3]);
    arena.view(buf, Float32Array)[0] = 1.5;
    expect(arena.view(buf, Float32Array).length).toBe(16);
    expect(arena.view(buf, DataView).getFloat32(0, true)).toBe(1.5);
    arena.release();
  });
});
