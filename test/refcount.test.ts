// Reference counting [drm_dev_get / drm_dev_put]: an arena starts with one
// reference; retain() adds one, release() drops one, and teardown happens at
// the last release(). The seed's point: the user-facing object can outlive the
// device, so its resources belong to the last reference, not to the device.
import { describe, expect, it } from "vitest";
import type { Arena } from "../src/index.js";
import { expectCode, fill } from "./helpers.js";
import { expectStats, ok, raw, setup } from "./helpers3.js";

describe("retain / release", () => {
  it("retain() returns the arena; teardown happens only at the last release()", async () => {
    const { heap, arena } = await setup();
    let runs = 0;
    arena.add(() => runs++);
    const p = arena.alloc(32);
    expect(arena.retain()).toBe(arena);
    arena.retain();
    arena.release(); // 3 -> 2
    expect(arena.released).toBe(false);
    expect(runs).toBe(0);
    expect(arena.sizeOf(p)).toBe(32);
    arena.release(); // 2 -> 1
    expect(arena.released).toBe(false);
    expect(runs).toBe(0);
    expectStats(arena, { actions: 1, allocations: 1, liveBytes: 32 });
    ok(heap);
    arena.release(); // 1 -> 0: teardown
    expect(arena.released).toBe(true);
    expect(runs).toBe(1);
    arena.release(); // no-op
    expect(runs).toBe(1);
    ok(heap);
  });

  it("between releases the arena is fully usable", async () => {
    const { heap, arena } = await setup();
    arena.retain();
    arena.release();
    const p = arena.alloc(10);
    const h = arena.add(() => {});
    expect(arena.hasAction(h)).toBe(true);
    arena.free(p);
    expectStats(arena, { actions: 1, allocations: 0 });
    ok(heap);
  });

  it("Symbol.dispose counts as one release", async () => {
    const { heap, arena } = await setup();
    let runs = 0;
    arena.add(() => runs++);
    arena.retain();
    arena[Symbol.dispose]();
    expect(arena.released).toBe(false);
    expect(runs).toBe(0);
    arena[Symbol.dispose]();
    expect(arena.released).toBe(true);
    expect(runs).toBe(1);
    ok(heap);
  });

  it("retain() after the last release -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    arena.release();
    expectCode(() => arena.retain(), "ERELEASED");
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("retain() during release -> EBUSY, and the teardown still completes", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    let after = 0;
    arena.add(() => after++);
    arena.add(() => codes.push(expectCode(() => arena.retain(), "EBUSY").code));
    arena.release();
    expect(codes).toEqual(["EBUSY"]);
    expect(after).toBe(1);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("release() from an action during teardown is a no-op (does not drop a reference twice)", async () => {
    const { heap, arena } = await setup();
    let runs = 0;
    arena.add(() => runs++);
    arena.add(() => arena.release());
    arena.release();
    expect(runs).toBe(1);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("many retains need as many releases", async () => {
    const { heap, arena } = await setup();
    for (let i = 0; i < 100; i++) arena.retain();
    for (let i = 0; i < 100; i++) {
      arena.release();
      expect(arena.released).toBe(false);
    }
    arena.release();
    expect(arena.released).toBe(true);
    ok(heap);
  });
});

describe("hot-unplug (the seed's story)", () => {
  /** A user-facing object with its own arena; open handles retain it. */
  function openHandle(user: Arena) {
    user.retain();
    return { close: () => user.release() };
  }

  it("the device arena goes at unplug; the user-facing arena lives until both handles close", async () => {
    const { heap } = await setup();
    const log: string[] = [];
    const device = heap.createArena({ name: "device" });
    device.add(() => log.push("device: mmio unmapped"));

    // The user-facing object: not owned by the device, its lifetime follows its references.
    const user = heap.createArena({ name: "user" });
    const state = user.alloc(64, { name: "state" });
    fill(user, state, 3);
    user.add(() => log.push("user: freed"));
    // The driver's own reference is dropped at unplug, like drm_dev_put in a devm action.
    device.add(() => user.release());

    const h1 = openHandle(user);
    const h2 = openHandle(user);

    device.release(); // hot-unplug
    expect(device.released).toBe(true);
    expect(user.released).toBe(false);
    expect(log).toEqual(["device: mmio unmapped"]);
    // Userspace can still use its object.
    const before = Array.from(user.bytes(state));
    expect(user.sizeOf(state)).toBe(64);
    user.alloc(8);
    expect(Array.from(user.bytes(state))).toEqual(before);
    ok(heap);

    h1.close();
    expect(user.released).toBe(false);
    expect(log).toEqual(["device: mmio unmapped"]);
    expect(Array.from(raw(heap, state, 64))).toEqual(before);

    h2.close(); // the last reference
    expect(user.released).toBe(true);
    expect(log).toEqual(["device: mmio unmapped", "user: freed"]);
    ok(heap);
  });

  it("if the handles close before the unplug, teardown waits for the device's reference", async () => {
    const { heap } = await setup();
    const log: string[] = [];
    const device = heap.createArena({ name: "device" });
    const user = heap.createArena({ name: "user" });
    user.add(() => log.push("user"));
    device.add(() => user.release());
    device.add(() => log.push("device"));
    const h = openHandle(user);
    h.close();
    expect(user.released).toBe(false);
    device.release();
    expect(log).toEqual(["device", "user"]);
    expect(user.released).toBe(true);
    ok(heap);
  });
});
