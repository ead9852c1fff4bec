// The quarantine (option `quarantine: bytes` on createArena, createChild,
// Heap.create and Arena.create): freed blocks are held back from reuse, in a
// FIFO, until more than that many bytes (each block: its size plus its
// 16-byte header) are held; the oldest then go back to be reused. While a
// block is held, free() of a stale pointer to it is EBADPTR instead of
// freeing the allocation that would otherwise have been handed the block.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Arena, CHECK_RULES, Heap, renderMemoryMap } from "../src/index.js";
import { bad, expectCode, expectCodeAsync, fill } from "./helpers.js";
import { expectFilled, ok, raw, setup } from "./helpers3.js";

const HEADER = 16;
/** What a freed block of `size` bytes counts in the quarantine. */
const charge = (size: number) => size + HEADER;

/** Byte offsets of the quarantine words in the arena record (assembly/layout.ts). */
const Q_HEAD = 256;
const Q_TAIL = 260;
const Q_BYTES = 264;
const Q_LIMIT = 268;
const FLAGS = 20;
const KIND_FREE = 0;

function recordOf(arena: Arena): number {
  return (arena as unknown as { state: { record: number } }).state.record;
}

function word(heap: Heap, address: number): number {
  return new Uint32Array(heap.memory.buffer)[address >>> 2];
}

function setWord(heap: Heap, address: number, value: number): void {
  new Uint32Array(heap.memory.buffer)[address >>> 2] = value;
}

describe("a double free after the block was reused", () => {
  it("without a quarantine, frees the new owner (documented: a stale pointer is the new owner's pointer)", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(16);
    arena.free(p);
    const q = arena.alloc(16);
    expect(q).toBe(p); // the block is reused at once (newest freed first)
    arena.free(p); // not caught: it frees q
    expectCode(() => arena.sizeOf(q), "EBADPTR");
    expect(arena.stats().allocations).toBe(0);
    ok(heap);
  });

  it("with a quarantine, is EBADPTR; the new allocation stays live and stats are unchanged", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const p = arena.alloc(16);
    fill(arena, p, 1);
    arena.free(p);
    ok(heap);
    const q = arena.alloc(16);
    expect(q).not.toBe(p);
    fill(arena, q, 2);
    const before = arena.stats();
    const error = expectCode(() => arena.free(p), "EBADPTR");
    expect(error.message).toMatch(/freed, and its block is held in the quarantine/);
    expect(arena.stats()).toEqual(before);
    expect(arena.sizeOf(q)).toBe(16);
    expect(arena.resources()).toEqual([{ kind: "alloc", name: "alloc", size: 16, ptr: q }]);
    arena.free(q);
    expectCode(() => arena.free(q), "EBADPTR");
    ok(heap);
  });

  it("sizeOf, bytes, realloc and readString of a quarantined pointer are EBADPTR", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const p = arena.alloc(32);
    arena.free(p);
    arena.alloc(32);
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    expectCode(() => arena.bytes(p), "EBADPTR");
    expectCode(() => arena.readString(p), "EBADPTR");
    expectCode(() => arena.realloc(p, 64), "EBADPTR");
    ok(heap);
  });
});

describe("eviction", () => {
  it("is first in, first out, by bytes (size + 16 each): the oldest block is reused first", async () => {
    const { heap, arena } = await setup({}, { quarantine: charge(20) + charge(30) + charge(10) - 1 });
    const a = arena.alloc(20);
    const b = arena.alloc(30);
    const c = arena.alloc(10);
    arena.free(a);
    arena.free(b);
    ok(heap);
    // a and b are held (36 + 46 = 82 bytes of 81 + 1): a new allocation of either size gets fresh memory.
    const a2 = arena.alloc(20);
    const b2 = arena.alloc(30);
    expect([a, b]).not.toContain(a2);
    expect([a, b]).not.toContain(b2);
    // c makes 108 > 107: a, the oldest, goes; b and c stay.
    arena.free(c);
    ok(heap);
    expect(arena.alloc(20)).toBe(a);
    expect([b, c]).not.toContain(arena.alloc(30));
    expect([b, c]).not.toContain(arena.alloc(10));
    expectCode(() => arena.free(b), "EBADPTR");
    expectCode(() => arena.free(c), "EBADPTR");
    // Two more frees of 20 bytes (36 each): b (46) must go, then c (26).
    arena.free(a2);
    expect(arena.alloc(30)).toBe(b);
    expectCode(() => arena.free(c), "EBADPTR");
    arena.free(b2);
    expect(arena.alloc(10)).toBe(c);
    ok(heap);
  });

  it("holds exactly up to the limit: a block that makes the total equal to it stays", async () => {
    const { heap, arena } = await setup({}, { quarantine: 2 * charge(16) });
    const x = arena.alloc(16);
    const y = arena.alloc(16);
    arena.free(x);
    arena.free(y);
    expect([x, y]).not.toContain(arena.alloc(16));
    const z = arena.alloc(16);
    arena.free(z); // 96 > 64: x goes
    expect(arena.alloc(16)).toBe(x);
    ok(heap);
  });

  it("zero-size allocations count 16 bytes each, so a quarantine of them is bounded too", async () => {
    const { heap, arena } = await setup({}, { quarantine: 3 * HEADER });
    const ptrs = [0, 1, 2, 3].map(() => arena.alloc(0));
    for (const p of ptrs) arena.free(p);
    // Four freed, three held: the first is back.
    expect(arena.alloc(0)).toBe(ptrs[0]);
    expectCode(() => arena.free(ptrs[1]), "EBADPTR");
    ok(heap);
  });

  it("a block that counts more than the limit is not held (it would push out every other block)", async () => {
    const { heap, arena } = await setup({}, { quarantine: charge(100) });
    const small = arena.alloc(100);
    arena.free(small);
    const big = arena.alloc(101);
    arena.free(big);
    expect(arena.alloc(101)).toBe(big); // reused at once, as without a quarantine
    expectCode(() => arena.free(small), "EBADPTR"); // still held
    ok(heap);
  });
});

describe("what goes through the quarantine", () => {
  it("large runs: held (reservedBytes keeps them, liveBytes does not), then given back to the heap", async () => {
    const { heap, arena } = await setup({}, { quarantine: charge(200_000) });
    const p = arena.alloc(200_000);
    fill(arena, p, 3, 64);
    const reserved = arena.stats().reservedBytes;
    arena.free(p);
    expect(arena.stats()).toMatchObject({ allocations: 0, liveBytes: 0, reservedBytes: reserved });
    ok(heap);
    const q = arena.alloc(200_000);
    expect(q).not.toBe(p);
    expectCode(() => arena.free(p), "EBADPTR");
    expect(arena.sizeOf(q)).toBe(200_000);
    arena.free(q); // p's run goes back to the heap: q's run is held instead
    expect(arena.stats().reservedBytes).toBe(reserved);
    expect(arena.alloc(200_000)).toBe(p);
    ok(heap);
  });

  it("realloc that moves: the old block is held", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const p = arena.alloc(16);
    const moved = arena.realloc(p, 1000);
    expect(moved).not.toBe(p);
    const q = arena.alloc(16);
    expect(q).not.toBe(p);
    expectCode(() => arena.free(p), "EBADPTR");
    expect(arena.sizeOf(moved)).toBe(1000);
    ok(heap);
  });

  it("an allocation freed after its destructor ran: held", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const ran: number[] = [];
    const p = arena.alloc(24, { onRelease: (ptr) => ran.push(ptr) });
    arena.free(p);
    expect(ran).toEqual([p]);
    expect(arena.alloc(24)).not.toBe(p);
    expectCode(() => arena.free(p), "EBADPTR");
    ok(heap);
  });

  it("allocations a releaseGroup walk frees: held", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const g = arena.openGroup();
    const p = arena.alloc(40);
    const r = arena.alloc(40, { onRelease: () => {} });
    arena.closeGroup(g);
    arena.releaseGroup(g);
    ok(heap);
    const fresh = [arena.alloc(40), arena.alloc(40)];
    expect(fresh).not.toContain(p);
    expect(fresh).not.toContain(r);
    expectCode(() => arena.free(p), "EBADPTR");
    expectCode(() => arena.free(r), "EBADPTR");
    ok(heap);
  });

  it("traced arenas too (free and the traced walk of releaseGroup)", async () => {
    const events: string[] = [];
    const { heap, arena } = await setup({}, { quarantine: 4096, trace: (e) => events.push(`${e.op} ${e.ptr}`) });
    const p = arena.alloc(16);
    arena.free(p);
    const g = arena.openGroup();
    const r = arena.alloc(16);
    arena.releaseGroup(g);
    const fresh = [arena.alloc(16), arena.alloc(16)];
    expect(fresh).not.toContain(p);
    expect(fresh).not.toContain(r);
    expectCode(() => arena.free(p), "EBADPTR");
    expect(events).toContain(`rel ${r}`);
    ok(heap);
  });
});

describe("poison and quarantine", () => {
  it("quarantined payloads stay 0x6b until reused (then 0x5a)", async () => {
    const { heap, arena } = await setup({}, { poison: true, quarantine: 2 * charge(64) });
    const p = arena.alloc(64);
    fill(arena, p, 4);
    arena.free(p);
    expectFilled(raw(heap, p, 64), 0x6b, "freed");
    for (let i = 0; i < 5; i++) fill(arena, arena.alloc(64), 5 + i); // none of them is p
    expectFilled(raw(heap, p, 64), 0x6b, "still quarantined");
    const q = arena.alloc(64);
    arena.free(q);
    const s = arena.alloc(64);
    arena.free(s); // 3 x 80 > 160: p goes
    const reused = arena.alloc(64);
    expect(reused).toBe(p);
    expectFilled(arena.bytes(reused), 0x5a, "reused");
    ok(heap);
  });
});

describe("whole releases", () => {
  it("reset drops the quarantine with the chunks and keeps the option", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const record = recordOf(arena);
    const p = arena.alloc(16);
    arena.free(p);
    arena.alloc(100_000);
    const big = arena.alloc(50_000);
    arena.free(big);
    expect(word(heap, record + Q_BYTES)).toBe(charge(16));
    arena.reset();
    expect(arena.stats()).toMatchObject({ allocations: 0, liveBytes: 0, reservedBytes: 0 });
    expect([word(heap, record + Q_HEAD), word(heap, record + Q_TAIL), word(heap, record + Q_BYTES)]).toEqual([0, 0, 0]);
    expect(word(heap, record + Q_LIMIT)).toBe(4096);
    ok(heap);
    const x = arena.alloc(16);
    arena.free(x);
    expect(arena.alloc(16)).not.toBe(x);
    expectCode(() => arena.free(x), "EBADPTR");
    ok(heap);
  });

  it("release gives every page back, quarantined runs included", async () => {
    const heap = (await setup({ maxPages: 8 })).heap;
    const arena = heap.createArena({ quarantine: 1 << 20 });
    const big = arena.alloc(3 * 65536);
    arena.free(big);
    const p = arena.alloc(100);
    arena.free(p);
    arena.release();
    ok(heap);
    // Everything but the static page and the arena records page is one free run again.
    const next = heap.createArena();
    next.alloc(5 * 65536);
    ok(heap);
  });

  it("quarantined memory is held at maxPages: ENOMEM changes nothing, and is not a reason to let it go", async () => {
    const heap = (await setup({ maxPages: 6 })).heap;
    const arena = heap.createArena({ quarantine: 1 << 20 });
    const big = arena.alloc(2 * 65536);
    arena.free(big);
    const before = arena.stats();
    expectCode(() => arena.alloc(3 * 65536), "ENOMEM");
    expect(arena.stats()).toEqual(before);
    expectCode(() => arena.free(big), "EBADPTR");
    ok(heap);
  });
});

describe("the option", () => {
  it.each([-1, 1.5, 2 ** 32, Number.NaN, Number.POSITIVE_INFINITY, "16", null, true, 16n])(
    "quarantine: %s is EINVAL everywhere",
    async (value) => {
      const { heap, arena } = await setup();
      expectCode(() => heap.createArena({ quarantine: bad(value) }), "EINVAL");
      expectCode(() => arena.createChild({ quarantine: bad(value) }), "EINVAL");
      await expectCodeAsync(() => Heap.create({ quarantine: bad(value) }), "EINVAL");
      await expectCodeAsync(() => Arena.create({ quarantine: bad(value) }), "EINVAL");
      expect(arena.stats().children).toBe(0);
      ok(heap);
    },
  );

  it("0 and 2^32-1 are valid; 0 is off", async () => {
    const { heap } = await setup();
    const off = heap.createArena({ quarantine: 0 });
    const p = off.alloc(16);
    off.free(p);
    expect(off.alloc(16)).toBe(p);
    const all = heap.createArena({ quarantine: 2 ** 32 - 1 });
    const q = all.alloc(16);
    all.free(q);
    expect(all.alloc(16)).not.toBe(q);
    ok(heap);
  });

  it("a default on Heap.create and Arena.create, inherited by children; an arena's own value wins", async () => {
    const { heap } = await setup({ quarantine: 4096 });
    const held = (arena: Arena) => {
      const p = arena.alloc(16);
      arena.free(p);
      return arena.alloc(16) !== p;
    };
    const arena = heap.createArena();
    expect(held(arena)).toBe(true);
    expect(held(arena.createChild())).toBe(true);
    expect(held(arena.createChild({ quarantine: 0 }))).toBe(false);
    const plain = heap.createArena({ quarantine: 0 });
    expect(held(plain)).toBe(false);
    expect(held(plain.createChild())).toBe(false);
    expect(held(plain.createChild({ quarantine: 64 }))).toBe(true);
    expect(held(await Arena.create({ quarantine: 64 }))).toBe(true);
    ok(heap);
  });
});

describe("pictures of memory", () => {
  it("renderMemoryMap draws quarantined blocks, small and large, as held back (not as free or live)", async () => {
    const { heap, arena } = await setup({}, { quarantine: 1 << 20 });
    const small = arena.alloc(24);
    const large = arena.alloc(70_000);
    arena.free(small);
    arena.free(large);
    const svg = renderMemoryMap(heap);
    expect(svg).toContain(`: 24 B freed, held back from reuse, at 0x${small.toString(16)}`);
    expect(svg).toContain(`: 70000 B freed, held back from reuse, at 0x${large.toString(16)}`);
    ok(heap);
  });
});

describe("check() verifies the quarantine", () => {
  it("CHECK_RULES names every number check() can return, and nothing else", () => {
    const source = readFileSync(new URL("../assembly/check.ts", import.meta.url), "utf8");
    const returned = new Set([...source.matchAll(/(?:return|\?) (\d+) ?[;:]/g)].map((m) => Number(m[1])));
    returned.delete(0);
    expect(
      Object.keys(CHECK_RULES)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([...returned].sort((a, b) => a - b));
  });

  /** A debug arena with three quarantined blocks (the middle one large) and something live. */
  async function quarantined() {
    const { heap, arena } = await setup({}, { quarantine: 1 << 20 });
    const blocks = [arena.alloc(16), arena.alloc(40_000), arena.alloc(48)];
    arena.alloc(8);
    for (const p of blocks) arena.free(p);
    ok(heap);
    return { heap, record: recordOf(arena), blocks: blocks.map((p) => p - HEADER) };
  }

  /** Writes words, expects check() to report `rule`, restores them, and expects 0 again. */
  function breaks(heap: Heap, address: number, value: number, rule: number, more: [number, number][] = []): void {
    const writes: [number, number][] = [[address, value], ...more];
    const saved = writes.map(([at]) => word(heap, at));
    for (const [at, v] of writes) setWord(heap, at, v);
    expect(heap.check()).toBe(rule);
    for (let i = writes.length - 1; i >= 0; i--) setWord(heap, writes[i][0], saved[i]);
    ok(heap);
  }

  it("the flag agrees with the limit (60)", async () => {
    const { heap, record } = await quarantined();
    breaks(heap, record + FLAGS, word(heap, record + FLAGS) & ~4, 60);
  });

  it("the queue ends (61)", async () => {
    const { heap, blocks } = await quarantined();
    breaks(heap, blocks[2], blocks[0], 61); // the newest links back to the oldest
  });

  it("every block lies in the arena's chunks (62)", async () => {
    const { heap, record } = await quarantined();
    breaks(heap, record + Q_HEAD, 8, 62);
  });

  it("every block is of kind quarantined: not also on a free list (63)", async () => {
    const { heap, blocks } = await quarantined();
    const meta = blocks[0] + 12;
    breaks(heap, meta, (word(heap, meta) & ~15) | KIND_FREE, 63);
  });

  it("the tail is the last block (65)", async () => {
    const { heap, record, blocks } = await quarantined();
    breaks(heap, record + Q_TAIL, blocks[1], 65);
  });

  it("the byte count is what the blocks count (66)", async () => {
    const { heap, record } = await quarantined();
    expect(word(heap, record + Q_BYTES)).toBe(charge(16) + charge(40_000) + charge(48));
    breaks(heap, record + Q_BYTES, word(heap, record + Q_BYTES) + 1, 66);
  });

  it("the byte count is within the limit (67)", async () => {
    const { heap, record } = await quarantined();
    breaks(heap, record + Q_LIMIT, 100, 67);
  });

  it("a large run whose block is quarantined is in the queue (68)", async () => {
    const { heap, record, blocks } = await quarantined();
    // A queue of the newest block alone, consistent in itself: the large run's block is in no list.
    breaks(heap, record + Q_HEAD, blocks[2], 68, [[record + Q_BYTES, charge(48)]]);
  });

  it("a block both quarantined and on a free list: a free list holds free blocks only (52)", async () => {
    const { heap, record, blocks } = await quarantined();
    const list = record + 64 + 5 * 4; // the free list of the 48-byte block's class
    expect(word(heap, list)).toBe(0);
    breaks(heap, list, blocks[2], 52);
  });

  it("a block both quarantined and in the release list: the release list holds no quarantined block (36)", async () => {
    const { heap, record, blocks } = await quarantined();
    const newest = word(heap, record); // the release list's head: the live 8-byte allocation
    breaks(heap, newest, blocks[2], 36); // its older neighbour is now the quarantined block
  });
});
