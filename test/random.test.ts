// Seeded model-based test: thousands of mixed operations on two arenas of one
// debug heap, each checked against a tiny model (live blocks with their size
// and pattern, registered actions), with heap.check() after every operation.
import { describe, expect, it } from "vitest";
import { type ActionHandle, type Arena, Heap, type Ptr } from "../src/index.js";
import { asPtr, bad, capture, type ErrorCode, expectCode, fill, firstMismatch, mulberry32 } from "./helpers.js";

interface Block {
  ptr: Ptr;
  size: number;
  seed: number;
  align: number;
}

interface ActionRecord {
  id: number;
  handle: ActionHandle;
  data: { id: number };
  registered: boolean;
}

interface Model {
  name: string;
  arena: Arena;
  minAlign: number;
  maxBytes: number;
  blocks: Block[];
  index: Map<number, number>; // ptr -> position in blocks
  actions: ActionRecord[];
  registered: number;
  liveBytes: number;
  peakSeen: number;
  freed: Ptr[]; // recently freed pointers (may be live again later)
  ran: unknown[]; // data received by actions, in run order
}

function newModel(heap: Heap, name: string, minAlign: number, maxBytes: number): Model {
  const options: { minAlign?: number; maxBytes?: number } = {};
  if (minAlign !== 16) options.minAlign = minAlign;
  if (maxBytes !== 2 ** 32 - 1) options.maxBytes = maxBytes;
  return {
    name,
    arena: heap.createArena(options),
    minAlign,
    maxBytes,
    blocks: [],
    index: new Map(),
    actions: [],
    registered: 0,
    liveBytes: 0,
    peakSeen: 0,
    freed: [],
    ran: [],
  };
}

function addBlock(m: Model, b: Block): void {
  expect(m.index.has(b.ptr), `${m.name}: ptr ${b.ptr} handed out twice`).toBe(false);
  m.index.set(b.ptr, m.blocks.length);
  m.blocks.push(b);
  m.liveBytes += b.size;
}

function removeBlock(m: Model, at: number): Block {
  const b = m.blocks[at];
  const last = m.blocks.pop() as Block;
  if (at < m.blocks.length) {
    m.blocks[at] = last;
    m.index.set(last.ptr, at);
  }
  m.index.delete(b.ptr);
  m.liveBytes -= b.size;
  m.freed.push(b.ptr);
  if (m.freed.length > 64) m.freed.shift();
  return b;
}

function verifyBlock(m: Model, b: Block, what: string): void {
  expect(m.arena.sizeOf(b.ptr), `${what}: size of ${b.ptr}`).toBe(b.size);
  const at = firstMismatch(m.arena, b.ptr, b.seed);
  expect(at, `${what}: ${m.name} block ${b.ptr} (size ${b.size}) differs at ${at}`).toBe(-1);
}

const SEEDS = [0x1234abcd, 0x00c0ffee, 0x5eed0003];
const OPS = 2500;

describe("randomized mixed operations against a model", () => {
  it.each(SEEDS.map((s) => [`0x${s.toString(16).padStart(8, "0")}`, s]))("seed %s", async (_, seed) => {
    const rand = mulberry32(seed as number);
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
    const randSize = () => {
      const r = rand();
      if (r < 0.55) return int(65);
      if (r < 0.85) return 65 + int(960);
      if (r < 0.97) return 1025 + int(19_000);
      return 20_001 + int(180_000);
    };
    const heap = await Heap.create({ debug: true });
    const models = [newModel(heap, "A", 16, 2 ** 32 - 1), newModel(heap, "B", 64, 3_000_000)];
    let opSeed = 1;
    let nextActionId = 0;

    const other = (m: Model) => (m === models[0] ? models[1] : models[0]);
    const isLiveAnywhere = (p: number) => models.some((x) => x.index.has(p));

    const doAlloc = (m: Model, kind: "alloc" | "zeroed" | "array") => {
      let size: number;
      let align = 1;
      let zero = kind === "zeroed";
      let call: () => Ptr;
      if (kind === "array") {
        const count = int(40);
        const each = int(300);
        size = count * each;
        zero = rand() < 0.5;
        call = () => m.arena.allocArray(count, each, { zero });
      } else if (kind === "zeroed") {
        size = randSize();
        call = () => m.arena.allocZeroed(size);
      } else {
        size = randSize();
        align = pick([1, 1, 1, 8, 16, 32, 64, 256, 1024, 4096]);
        zero = rand() < 0.2;
        const options = align === 1 && rand() < 0.5 ? { zero } : { align, zero };
        call = () => m.arena.alloc(size, options);
      }
      if (m.liveBytes + size > m.maxBytes) {
        expectCode(call, "ENOMEM");
        return;
      }
      const ptr = call();
      const effective = Math.max(align, m.minAlign);
      expect(ptr % effective, `alignment ${effective}`).toBe(0);
      expect(isLiveAnywhere(ptr), `ptr ${ptr} already live`).toBe(false);
      expect(m.arena.sizeOf(ptr)).toBe(size);
      if (zero) expect(m.arena.bytes(ptr).every((v) => v === 0)).toBe(true);
      const b: Block = { ptr, size, seed: opSeed++, align: effective };
      fill(m.arena, ptr, b.seed);
      addBlock(m, b);
    };

    const doFree = (m: Model) => {
      if (m.blocks.length === 0) return;
      const at = int(m.blocks.length);
      verifyBlock(m, m.blocks[at], "before free");
      m.arena.free(m.blocks[at].ptr);
      removeBlock(m, at);
    };

    const doRealloc = (m: Model) => {
      if (m.blocks.length === 0) return;
      const at = int(m.blocks.length);
      const b = m.blocks[at];
      const size = rand() < 0.5 ? randSize() : Math.max(0, b.size + int(200) - 100);
      if (size === 0) return; // realloc(p, 0) is left unspecified by the contract
      if (m.liveBytes - b.size + size > m.maxBytes) {
        expectCode(() => m.arena.realloc(b.ptr, size), "ENOMEM");
        return;
      }
      const ptr = m.arena.realloc(b.ptr, size);
      expect(ptr % b.align, "realloc keeps alignment").toBe(0);
      expect(m.arena.sizeOf(ptr)).toBe(size);
      const keep = Math.min(b.size, size);
      expect(firstMismatch(m.arena, ptr, b.seed, keep), "realloc keeps the prefix").toBe(-1);
      removeBlock(m, at);
      m.freed.pop(); // the old pointer is not "freed" for the double-free checks: it may be ptr itself
      const nb: Block = { ptr, size, seed: opSeed++, align: b.align };
      fill(m.arena, ptr, nb.seed);
      addBlock(m, nb);
    };

    const doAdd = (m: Model) => {
      const id = nextActionId++;
      const data = { id };
      const reset = rand() < 0.3;
      const action = (d: unknown) => {
        m.ran.push(d);
      };
      const handle = reset ? m.arena.addOrReset(action, data) : m.arena.add(action, data);
      m.actions.push({ id, handle, data, registered: true });
      m.registered++;
    };

    const registeredAction = (m: Model): ActionRecord | undefined => {
      const live = m.actions.filter((a) => a.registered);
      return live.length === 0 ? undefined : pick(live);
    };

    const doRemoveOrRelease = (m: Model, release: boolean) => {
      const a = registeredAction(m);
      if (a === undefined) return;
      const before = m.ran.length;
      if (release) m.arena.releaseAction(a.handle);
      else m.arena.removeAction(a.handle);
      a.registered = false;
      m.registered--;
      if (release) {
        expect(m.ran.length).toBe(before + 1);
        expect(m.ran[before]).toBe(a.data);
      } else expect(m.ran.length).toBe(before);
    };

    const doHas = (m: Model) => {
      if (m.actions.length === 0) return;
      const a = pick(m.actions);
      expect(m.arena.hasAction(a.handle)).toBe(a.registered);
      expect(other(m).arena.hasAction(a.handle)).toBe(false);
    };

    const doInvalid = (m: Model) => {
      const o = other(m);
      const choice = int(10);
      const fail = (fn: () => unknown, code: ErrorCode) => {
        expectCode(fn, code);
      };
      switch (choice) {
        case 0: {
          const p = m.freed.length > 0 ? pick(m.freed) : undefined;
          if (p !== undefined && !m.index.has(p)) fail(() => m.arena.free(p), "EBADPTR");
          break;
        }
        case 1: {
          const sized = m.blocks.filter((x) => x.size > 1);
          if (sized.length > 0) {
            const b = pick(sized);
            // Half of the time a granule-aligned interior pointer, which passes any alignment check.
            const inner = rand() < 0.5 ? b.ptr + 1 + int(b.size - 1) : b.ptr + 8 * (1 + int((b.size - 1) >> 3));
            if (!m.index.has(inner)) fail(() => m.arena.free(asPtr(inner)), "EBADPTR");
          }
          break;
        }
        case 2: {
          if (o.blocks.length > 0) {
            const p = pick(o.blocks).ptr;
            if (!m.index.has(p)) {
              fail(() => m.arena.free(p), "EBADPTR");
              fail(() => m.arena.sizeOf(p), "EBADPTR");
            }
          }
          break;
        }
        case 3:
          fail(() => m.arena.alloc(bad(pick([-1, 1.5, Number.NaN, 2 ** 32, 2 ** 32 + 16, "8", null]))), "EINVAL");
          break;
        case 4:
          fail(() => m.arena.alloc(pick([2 ** 32 - 1, 2 ** 32 - 16])), "EOVERFLOW");
          fail(() => m.arena.allocArray(65536, 65536), "EOVERFLOW");
          break;
        case 5: {
          const stale = m.actions.filter((a) => !a.registered);
          if (stale.length > 0) {
            const a = pick(stale);
            fail(() => m.arena.removeAction(a.handle), "ESTALE");
            fail(() => m.arena.releaseAction(a.handle), "ESTALE");
          }
          break;
        }
        case 6: {
          if (o.actions.length > 0) fail(() => m.arena.removeAction(pick(o.actions).handle), "ESTALE");
          break;
        }
        case 7:
          fail(() => m.arena.alloc(16, { align: pick([3, 24, 8192, 0]) }), "EINVAL");
          break;
        case 8:
          if (m.maxBytes < 2 ** 32 - 1) fail(() => m.arena.alloc(m.maxBytes - m.liveBytes + 1), "ENOMEM");
          break;
        default:
          if (m.blocks.length > 0) {
            const b = pick(m.blocks);
            fail(() => m.arena.bytes(b.ptr, b.size + 1), "EINVAL");
          }
      }
    };

    const ops: Array<[number, (m: Model) => void]> = [
      [20, (m) => doAlloc(m, "alloc")],
      [5, (m) => doAlloc(m, "zeroed")],
      [5, (m) => doAlloc(m, "array")],
      [22, doFree],
      [9, doRealloc],
      [10, doAdd],
      [4, (m) => doRemoveOrRelease(m, false)],
      [4, (m) => doRemoveOrRelease(m, true)],
      [3, doHas],
      [8, doInvalid],
    ];
    const totalWeight = ops.reduce((s, [w]) => s + w, 0);

    for (let step = 0; step < OPS; step++) {
      const m = pick(models);
      let r = int(totalWeight);
      let op = ops[0][1];
      for (const [w, f] of ops) {
        if (r < w) {
          op = f;
          break;
        }
        r -= w;
      }
      op(m);

      for (const x of models) {
        const s = x.arena.stats();
        expect(s.allocations, `${x.name} allocations at step ${step}`).toBe(x.blocks.length);
        expect(s.liveBytes, `${x.name} liveBytes at step ${step}`).toBe(x.liveBytes);
        expect(s.actions, `${x.name} actions at step ${step}`).toBe(x.registered);
        expect(s.peakBytes).toBeGreaterThanOrEqual(Math.max(x.peakSeen, x.liveBytes));
        x.peakSeen = s.peakBytes;
        for (let k = 0; k < 2 && x.blocks.length > 0; k++) verifyBlock(x, pick(x.blocks), `step ${step}`);
        if (step % 250 === 0) for (const b of x.blocks) verifyBlock(x, b, `full check at step ${step}`);
      }
      expect(heap.check(), `heap.check() after step ${step}`).toBe(0);
    }

    for (const m of models) {
      for (const b of m.blocks) verifyBlock(m, b, "final");
      const ranBefore = m.ran.length;
      const expected = m.actions.filter((a) => a.registered).map((a) => a.data);
      expected.reverse();
      const r = capture(() => m.arena.release());
      expect(r.threw).toBe(false);
      expect(m.ran.length - ranBefore).toBe(expected.length);
      m.ran.slice(ranBefore).forEach((d, i) => {
        expect(d).toBe(expected[i]);
      });
      expect(m.arena.released).toBe(true);
      expect(heap.check()).toBe(0);
    }
    // Sanity: the run exercised what it claims to.
    expect(models.every((m) => m.actions.length > 50)).toBe(true);
    expect(nextActionId).toBeGreaterThan(100);
  });
});
