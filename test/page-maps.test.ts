// Where the page maps live (issue 11, defect 4). Once growth has moved the
// owner and start maps out of the static pages, they sit at the top of
// memory and every growth moves them to its own last pages: free memory below
// them, their old run and the new pages coalesce into one run. They used to
// stay at the bottom of the growth that moved them, cutting free memory in
// two: at maxPages 4096, alloc(64 MiB), release, alloc(200 MiB) was ENOMEM,
// and a 4 GiB heap that had grown past 64 MiB once could allocate about
// 2 GiB at most after a full release.
//
// The heap's free runs and the maps are read through the core's mapInfo()
// export, as src/memory-map.ts reads them. `managed-arena fuzz` runs on heaps
// of a few pages, where the maps never move: the property at the end covers
// growth past 64 MiB instead.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Arena, ArenaError, Heap, type Ptr } from "../src/index.js";
import { type MapInfo, readMapInfo } from "../src/memory-map.js";

const PAGE = 65536;
const MiB = 1 << 20;
/** Bytes of a large run that are not payload: chunk head, node header, alignment slack. */
const LARGE_OVERHEAD = 64;

/** The core's page-map addresses and counters (assembly/index.ts mapInfo), as the memory map reads them. */
function mapInfo(heap: Heap): MapInfo {
  return readMapInfo(heap, heap.u32());
}

/** Pages of the META run that holds the maps (assembly/chunks.ts), 0 while they sit in the static pages. */
function mapRunPages(info: MapInfo): number {
  return info.ownerMap >= info.firstPage * PAGE ? Math.ceil((info.mapCapacity * 6) / PAGE) : 0;
}

/** The heap's free runs, lowest first. */
function freeRuns(heap: Heap): { first: number; pages: number }[] {
  const words = heap.u32();
  const runs: { first: number; pages: number }[] = [];
  for (let run = mapInfo(heap).freeRuns; run !== 0; run = words[run >>> 2]) {
    runs.push({ first: run / PAGE, pages: words[(run + 8) >>> 2] });
    if (runs.length > 65536) throw new Error("free-run list does not end");
  }
  return runs.sort((a, b) => a.first - b.first);
}

/** Pages owned by META in the owner map (arena records and the map run). */
function metaPages(heap: Heap): number {
  const info = mapInfo(heap);
  const words = heap.u32();
  let count = 0;
  for (let page = info.firstPage; page < info.knownPages; page++)
    if (words[(info.ownerMap >>> 2) + page] === 2) count++;
  return count;
}

/** Whether an allocation of `pages` whole pages (less the run's overhead) succeeds in a new arena of `heap`. */
function fits(heap: Heap, pages: number): boolean {
  const arena = heap.createArena();
  try {
    arena.alloc(pages * PAGE - LARGE_OVERHEAD);
    return true;
  } catch (error) {
    if (error instanceof ArenaError && error.code === "ENOMEM") return false;
    throw error;
  } finally {
    arena.release();
  }
}

/** The largest allocation, in pages, that succeeds on a heap made by `make` (a new heap for every try). */
async function largestPages(make: () => Promise<Heap>): Promise<number> {
  let low = 0;
  let high = 65536;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (fits(await make(), mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** A default (4 GiB) heap whose memory grew past 64 MiB once and whose arenas are all released. */
async function grownOnce(): Promise<Heap> {
  const heap = await Heap.create();
  const arena = heap.createArena();
  arena.alloc(64 * MiB);
  arena.release();
  expect(heap.memory.buffer.byteLength).toBeGreaterThan(64 * MiB);
  return heap;
}

describe("page maps moved by growth", () => {
  it("maxPages 4096: alloc(64 MiB), release, then alloc(200 MiB) succeeds", async () => {
    const heap = await Heap.create({ maxPages: 4096, debug: true });
    const first = heap.createArena();
    first.alloc(64 * MiB);
    first.release();
    expect(heap.check()).toBe(0);
    const second = heap.createArena();
    const ptr = second.alloc(200 * MiB);
    expect(second.sizeOf(ptr)).toBe(200 * MiB);
    expect(heap.check()).toBe(0);
    second.release();
    expect(heap.check()).toBe(0);
  });

  it("a 4 GiB heap that grew past 64 MiB once allocates, after a full release, as much as a fresh heap", async () => {
    const fresh = await largestPages(() => Heap.create());
    const grown = await largestPages(grownOnce);
    // A fresh heap gives all but the static page, a page of arena records and the maps (6 pages at 4 GiB).
    expect(fresh).toBeGreaterThan(65535 - 16);
    expect(grown).toBeGreaterThanOrEqual(fresh - 2);
  }, 30_000);

  it("growth asks only for what the free pages below the maps lack: the heap fills to its last page", async () => {
    const heap = await Heap.create({ maxPages: 2048, debug: true });
    const first = heap.createArena();
    first.alloc(10 * MiB);
    first.alloc(64 * MiB); // past the reach of the maps in the static page: they move, above the 10 MiB
    first.release();
    const info = mapInfo(heap);
    expect(mapRunPages(info)).toBeGreaterThan(0);
    // Everything but the static pages, the page of arena records and the map run.
    const room = 2048 - info.firstPage - metaPages(heap);
    expect(fits(heap, room)).toBe(true);
    expect(heap.memory.buffer.byteLength).toBe(2048 * PAGE);
    expect(fits(heap, room + 1)).toBe(false);
    expect(heap.check()).toBe(0);
  });

  it("after growth steps that move the maps several times, a full release leaves one free run, right below them", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const places = new Set<number>();
    for (let size = MiB; heap.memory.buffer.byteLength < 600 * MiB; size *= 2) {
      arena.alloc(size);
      for (let i = 0; i < 40; i++) arena.alloc(1000 + i * 700); // small chunks between the large runs
      places.add(mapInfo(heap).ownerMap);
      expect(heap.check()).toBe(0);
    }
    expect(places.size).toBeGreaterThanOrEqual(4);
    arena.release();
    expect(heap.check()).toBe(0);
    const info = mapInfo(heap);
    const mapPage = info.ownerMap / PAGE;
    // The maps end where memory ends, and every free page is in one run just below them.
    expect(info.knownPages).toBe(heap.memory.buffer.byteLength / PAGE);
    expect(mapPage + mapRunPages(info)).toBe(info.knownPages);
    const runs = freeRuns(heap);
    expect(runs).toHaveLength(1);
    expect(runs[0].first + runs[0].pages).toBe(mapPage);
    expect(runs[0].pages).toBe(info.knownPages - info.firstPage - metaPages(heap));
  });

  it("pages grown by someone else are never touched; free memory coalesces on either side of them", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    arena.alloc(64 * MiB); // the maps move to the top
    const foreign = heap.memory.grow(3); // from JS: the core never hears of it
    new Uint8Array(heap.memory.buffer, foreign * PAGE, 3 * PAGE).fill(0xee);
    arena.alloc(100 * MiB); // grows above the foreign pages: the maps move past them
    for (let i = 0; i < 100; i++) arena.alloc(30_000);
    arena.alloc(300 * MiB);
    expect(heap.check()).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
    expect(new Uint8Array(heap.memory.buffer, foreign * PAGE, 3 * PAGE).every((byte) => byte === 0xee)).toBe(true);
    const info = mapInfo(heap);
    const mapPage = info.ownerMap / PAGE;
    expect(mapPage + mapRunPages(info)).toBe(info.knownPages);
    // Two free runs: from the page of arena records to the foreign pages, and from them to the maps.
    expect(freeRuns(heap)).toEqual([
      { first: info.firstPage + 1, pages: foreign - info.firstPage - 1 },
      { first: foreign + 3, pages: mapPage - foreign - 3 },
    ]);
  });

  it("check() reports a map run that is not all META pages at the top of memory (rule 10)", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    arena.alloc(64 * MiB);
    expect(heap.check()).toBe(0);
    const info = mapInfo(heap);
    const words = heap.u32();
    const entry = (info.ownerMap >>> 2) + info.ownerMap / PAGE; // the owner of the map run's first page
    expect(words[entry]).toBe(2);
    words[entry] = 0;
    expect(heap.check()).toBe(10);
    words[entry] = 2;
    expect(heap.check()).toBe(0);
    arena.release();
  });
});

type Step =
  | { t: "large"; arena: number; pages: number }
  | { t: "small"; arena: number; count: number }
  | { t: "release"; arena: number }
  | { t: "foreign"; pages: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      t: fc.constant("large" as const),
      arena: fc.nat(2),
      pages: fc.integer({ min: 1, max: 2500 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      t: fc.constant("small" as const),
      arena: fc.nat(2),
      count: fc.integer({ min: 1, max: 60 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ t: fc.constant("release" as const), arena: fc.nat(2) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant("foreign" as const), pages: fc.integer({ min: 1, max: 4 }) }), weight: 1 },
);

describe("page maps: growth, releases and foreign pages in any order", () => {
  it("keep the heap whole, foreign pages untouched, and free runs cut by nothing but foreign pages", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(2048, 4096, 65536),
        fc.array(step, { maxLength: 24 }),
        async (maxPages, steps) => {
          const heap = await Heap.create({ maxPages, debug: true });
          const arenas: Arena[] = [0, 1, 2].map(() => heap.createArena());
          const foreign: number[] = [];
          const pages = () => heap.memory.buffer.byteLength / PAGE;
          for (const s of steps) {
            try {
              if (s.t === "large") arenas[s.arena].alloc(s.pages * PAGE - LARGE_OVERHEAD);
              else if (s.t === "small") for (let i = 0; i < s.count; i++) arenas[s.arena].alloc(2000 + i * 500);
              else if (s.t === "release") {
                arenas[s.arena].release();
                arenas[s.arena] = heap.createArena();
              } else if (pages() + s.pages <= maxPages) {
                const first = heap.memory.grow(s.pages);
                new Uint8Array(heap.memory.buffer, first * PAGE, s.pages * PAGE).fill(0xee);
                for (let p = first; p < first + s.pages; p++) foreign.push(p);
              }
            } catch (error) {
              if (!(error instanceof ArenaError && error.code === "ENOMEM")) throw error;
            }
            expect(heap.check()).toBe(0);
          }
          for (const arena of arenas) arena.release();
          expect(heap.check()).toBe(0);
          const bytes = new Uint8Array(heap.memory.buffer);
          for (const p of foreign) expect(bytes.subarray(p * PAGE, (p + 1) * PAGE).every((b) => b === 0xee)).toBe(true);
          // Between two free runs, only pages grown by someone else: the maps and the new pages never cut one.
          const info = mapInfo(heap);
          const words = heap.u32();
          const owner = (page: number) => words[(info.ownerMap >>> 2) + page];
          const runs = freeRuns(heap);
          for (let i = 1; i < runs.length; i++) {
            for (let p = runs[i - 1].first + runs[i - 1].pages; p < runs[i].first; p++) expect(owner(p)).toBe(4);
          }
          return true;
        },
      ),
      { numRuns: 60, seed: 20261211 },
    );
  }, 60_000);
});

// Taking pages cuts them from the front of a free run; the remainder stays a
// free run with its own chunk head and boundary tags, and its owner entries,
// 0 already, are not rewritten: taking a page costs the same from a run of
// 1 MiB as from one of 1 GiB (`managed-arena bench --only arena-cycle`).
describe("page maps: taking pages from a free run", () => {
  it("one page from a 1 GiB free run: the rest is one free run, the newest, and every invariant holds", async () => {
    const heap = await Heap.create({ initialPages: 16400, debug: true });
    const before = freeRuns(heap);
    expect(before).toHaveLength(1);
    const whole = before[0];
    expect(whole.pages).toBeGreaterThan(16384);
    const arena = heap.createArena();
    const taken = Math.floor(arena.alloc(32) / PAGE);
    expect(heap.check()).toBe(0);
    // The arena record took the run's first page, the chunk the next one.
    const rest = freeRuns(heap);
    expect(rest).toEqual([{ first: taken + 1, pages: whole.first + whole.pages - taken - 1 }]);
    expect(mapInfo(heap).freeRuns).toBe((taken + 1) * PAGE);
    const info = mapInfo(heap);
    const words = heap.u32();
    const owner = (page: number) => words[(info.ownerMap >>> 2) + page];
    const start = (page: number) => new Uint16Array(heap.memory.buffer)[info.startMap / 2 + page];
    expect(start(taken + 1)).toBe(taken + 1);
    expect(start(whole.first + whole.pages - 1)).toBe(taken + 1);
    expect(owner(taken)).not.toBe(0);
    for (let p = taken + 1; p < whole.first + whole.pages; p++) expect(owner(p)).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
    expect(freeRuns(heap)).toEqual([{ first: whole.first + 1, pages: whole.pages - 1 }]);
  });

  it("runs of every size taken from free runs anywhere on the list, first fit: check() holds after every step", async () => {
    const heap = await Heap.create({ maxPages: 512, debug: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(7), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 60 }),
        (steps) => {
          const arenas: Arena[] = Array.from({ length: 8 }, () => heap.createArena());
          const live: { arena: number; ptr: Ptr }[] = [];
          for (const [a, pages] of steps) {
            try {
              if (pages === 0) {
                if (live.length === 0) continue;
                const { arena, ptr } = live.splice(a % live.length, 1)[0];
                arenas[arena].free(ptr);
              } else if (pages === 1) {
                arenas[a].release();
                arenas[a] = heap.createArena();
                for (let i = live.length - 1; i >= 0; i--) if (live[i].arena === a) live.splice(i, 1);
              } else {
                // A large allocation of `pages` pages, or a small one (a chunk of one page).
                const size = pages === 2 ? 16 : pages * PAGE - LARGE_OVERHEAD;
                live.push({ arena: a, ptr: arenas[a].alloc(size) });
              }
            } catch (error) {
              if (!(error instanceof ArenaError && error.code === "ENOMEM")) throw error;
            }
            expect(heap.check()).toBe(0);
          }
          for (const arena of arenas) arena.release();
          expect(heap.check()).toBe(0);
          // Everything back: free runs are coalesced, so nothing but META pages separates them.
          const runs = freeRuns(heap);
          const info = mapInfo(heap);
          const words = heap.u32();
          for (let i = 1; i < runs.length; i++) {
            for (let p = runs[i - 1].first + runs[i - 1].pages; p < runs[i].first; p++) {
              expect(words[(info.ownerMap >>> 2) + p]).toBe(2);
            }
          }
          return true;
        },
      ),
      { numRuns: 80, seed: 20261212 },
    );
  }, 60_000);
});
