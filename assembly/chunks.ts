// Pages: the owner and start maps, the heap's free runs (coalesced with
// boundary tags in the start map) and growth of linear memory.
//
//   0            __heap_base   ownerMap            startMap            firstPage*64K
//   ┌────────────┬─────────────┬───────────────────┬───────────────────┬───────────────────────┐
//   │ static     │ (align 16)  │ u32 x mapCapacity │ u16 x mapCapacity │ runs: chunks, META,   │
//   │ data       │             │                   │                   │ free runs ...         │
//   └────────────┴─────────────┴───────────────────┴───────────────────┴───────────────────────┘
//
// The maps start small (enough for 64 MiB of memory, inside page 0 for a
// typical build) so that a heap costs one page before its first allocation.
// When memory grows past their reach they move to a META run at the top of
// memory, with room for at least twice as many pages, and from then on they
// stay on top: every growth copies them to its own last pages (into a larger
// run when it passes their reach again) and frees their old run, which
// coalesces with the free run below it and with the new pages above it. Free
// memory is never cut in two by the maps, and growth asks only for what the
// free run at the top (the old map run included) lacks:
//
//   before   ┌────────┬──────────┬──────┬──────┐
//            │ static │ runs ... │ free │ maps │
//            └────────┴──────────┴──────┴──────┘
//                                              └ have: memory.size() before growing
//   after    ┌────────┬──────────┬─────────────────────────────┬──────┐
//            │ static │ runs ... │ free: old free + old maps + │ maps │
//            │        │          │ new pages, one run          │      │
//            └────────┴──────────┴─────────────────────────────┴──────┘
//
//   META map run:  ┌ u32 owner x cap ┬ u16 start x cap ┐   (no chunk head: the maps start at the run)
//
// Embedded in a program that has its own allocator (initForeignPages), the
// core owns only the pages it grows: the maps start in a run of their own on
// top of the program's pages, and pages grown by anyone else are marked
// FOREIGN when the core next grows (that growth then merges with nothing
// below it, but the maps still move to its top).
import {
  CHUNK_NEXT, CHUNK_PAGES, CHUNK_PREV, CHUNK_SLOTS, ENOMEM, OK, OWNER_FOREIGN, OWNER_META, OWNER_SUB, PAGE_BITS,
  PAGE_LIMIT, PAGE_SIZE, SLOT_BITS, SLOT_FREE, SLOT_TABLE_AT, SLOTS,
} from "./layout";
import {
  S_FIRST_PAGE, S_FREE_RUNS, S_KNOWN_PAGES, S_MAP_CAPACITY, S_OWNER_MAP, S_PAGE_LIMIT, S_START_MAP, SHARED, STATE,
} from "./threads";
import { flushCaches } from "./cache";

export let ownerMap: usize = 0;
export let startMap: usize = 0;
export let firstPage: u32 = 0;
export let pageLimit: u32 = 0;
/** Pages the maps can describe; memory never grows past it without moving them. */
export let mapCapacity: u32 = 0;
/** The META run holding the maps, 0 while they sit after the static data; when set, it ends at knownPages. */
export let mapRun: usize = 0;
export let mapRunPages: u32 = 0;
/** Pages of memory the core has accounted for; any above were grown by someone else. */
export let knownPages: u32 = 0;
const INITIAL_MAP_PAGES: u32 = 1024;
const MAP_BYTES_PER_PAGE: u32 = 6;
/** Newest free run; free runs are doubly linked through their chunk heads. */
export let freeRuns: usize = 0;

@inline export function ownerOf(page: u32): u32 {
  return load<u32>(ownerMap + (<usize>page << 2));
}
@inline export function setOwner(page: u32, owner: u32): void {
  store<u32>(ownerMap + (<usize>page << 2), owner);
}
@inline export function startOf(page: u32): u32 {
  return <u32>load<u16>(startMap + (<usize>page << 1));
}
@inline function setStart(page: u32, start: u32): void {
  store<u16>(startMap + (<usize>page << 1), <u16>start);
}
@inline export function pageBase(page: u32): usize {
  return <usize>page << PAGE_BITS;
}
@inline export function memoryPages(): u32 {
  return <u32>memory.size();
}

/**
 * Shared build: copies the page state that changes (knownPages, freeRuns)
 * between the heap header and this thread's globals (assembly/threads.ts).
 */
export function syncPages(toHeader: bool): void {
  if (toHeader) {
    store<u32>(STATE, knownPages, S_KNOWN_PAGES);
    store<u32>(STATE, <u32>freeRuns, S_FREE_RUNS);
  } else {
    knownPages = load<u32>(STATE, S_KNOWN_PAGES);
    freeRuns = load<u32>(STATE, S_FREE_RUNS);
  }
}

/** Shared build: the maps' place and reach, which never change after init, from the heap header (attach). */
export function attachPages(): void {
  ownerMap = load<u32>(STATE, S_OWNER_MAP);
  startMap = load<u32>(STATE, S_START_MAP);
  firstPage = load<u32>(STATE, S_FIRST_PAGE);
  pageLimit = load<u32>(STATE, S_PAGE_LIMIT);
  mapCapacity = load<u32>(STATE, S_MAP_CAPACITY);
}

/**
 * Lays out the page maps for the memory at hand (growing later) and frees
 * every page above them. In the shared build the maps reach pageLimit from
 * the start (6 bytes a page: 384 KiB for 4 GiB), so that they never move
 * under a thread reading them without the lock.
 */
export function initPages(maxPages: u32): u32 {
  pageLimit = min(maxPages, PAGE_LIMIT);
  mapCapacity = SHARED ? pageLimit : min(pageLimit, max(INITIAL_MAP_PAGES, memoryPages()));
  ownerMap = (__heap_base + 15) & ~15;
  startMap = ownerMap + (<usize>mapCapacity << 2);
  firstPage = <u32>((startMap + (<usize>mapCapacity << 1) + 0xffff) >> PAGE_BITS);
  if (firstPage >= pageLimit) return ENOMEM;
  const have = memoryPages();
  if (have < firstPage && memory.grow(<i32>(firstPage - have)) < 0) return ENOMEM;
  const now = min(memoryPages(), pageLimit);
  knownPages = now;
  if (now > firstPage) freeRun(firstPage, now - firstPage);
  if (SHARED) {
    store<u32>(STATE, <u32>ownerMap, S_OWNER_MAP);
    store<u32>(STATE, <u32>startMap, S_START_MAP);
    store<u32>(STATE, firstPage, S_FIRST_PAGE);
    store<u32>(STATE, pageLimit, S_PAGE_LIMIT);
    store<u32>(STATE, mapCapacity, S_MAP_CAPACITY);
  }
  return OK;
}

/**
 * Like initPages for a core inside a program whose own allocator owns every
 * page there is: the maps go to a run the core grows, and only pages the
 * core grows from then on are ever used.
 */
export function initForeignPages(maxPages: u32): u32 {
  pageLimit = min(maxPages, PAGE_LIMIT);
  const have = memoryPages();
  const capacity = min(pageLimit, max(INITIAL_MAP_PAGES, have + 8));
  const pages = (capacity * MAP_BYTES_PER_PAGE + PAGE_SIZE - 1) >> PAGE_BITS;
  if (have >= pageLimit || pageLimit - have < pages || memory.grow(<i32>pages) < 0) return ENOMEM;
  firstPage = have;
  ownerMap = pageBase(have);
  startMap = ownerMap + (<usize>capacity << 2);
  mapCapacity = capacity;
  mapRun = ownerMap;
  mapRunPages = pages;
  knownPages = have + pages;
  for (let page = have; page < knownPages; page++) {
    setOwner(page, OWNER_META);
    setStart(page, have);
  }
  return OK;
}

/** Marks pages [knownPages, upTo), grown by someone else since the core last looked, as FOREIGN. */
function claimForeign(upTo: u32): void {
  for (let page = knownPages; page < upTo; page++) setOwner(page, OWNER_FOREIGN);
  if (upTo > knownPages) knownPages = upTo;
}

/** Copies the maps into pages [at, at+pages), with room for `capacity` pages; the caller frees their old run. */
function moveMaps(at: u32, pages: u32, capacity: u32): void {
  const run = pageBase(at);
  memory.copy(run, ownerMap, <usize>mapCapacity << 2);
  memory.copy(run + (<usize>capacity << 2), startMap, <usize>mapCapacity << 1);
  ownerMap = run;
  startMap = run + (<usize>capacity << 2);
  mapCapacity = capacity;
  mapRun = run;
  mapRunPages = pages;
  for (let page = at; page < at + pages; page++) {
    setOwner(page, OWNER_META);
    setStart(page, at);
  }
}

/** Unlinks a free run from the heap's list. */
function unlinkFree(run: usize): void {
  const next = load<u32>(run, CHUNK_NEXT);
  const prev = load<u32>(run, CHUNK_PREV);
  if (next) store<u32>(next, prev, CHUNK_PREV);
  if (prev) store<u32>(prev, next, CHUNK_NEXT);
  else freeRuns = next;
}

/**
 * Returns pages [start, start+count) to the heap, merged with free
 * neighbours. `owned`: whether the pages have owners to clear, O(count);
 * false for the remainder of a free run being split, whose owner entries are
 * already 0 (as every free page's), so that it costs only its chunk head and
 * its boundary tags (the start map's entries of its first and last page).
 */
export function freeRun(start: u32, count: u32, owned: bool = true): void {
  assert(count > 0 && start >= firstPage, "bad run");
  if (owned) for (let page = start; page < start + count; page++) setOwner(page, 0);
  if (start > firstPage && ownerOf(start - 1) == 0) {
    const left = startOf(start - 1);
    unlinkFree(pageBase(left));
    count += start - left;
    start = left;
  }
  const right = start + count;
  if (right < knownPages && ownerOf(right) == 0) {
    const run = pageBase(right);
    count += load<u32>(run, CHUNK_PAGES);
    unlinkFree(run);
  }
  const run = pageBase(start);
  store<u32>(run, count, CHUNK_PAGES);
  store<u32>(run, 0, CHUNK_PREV);
  store<u32>(run, <u32>freeRuns, CHUNK_NEXT);
  if (freeRuns) store<u32>(freeRuns, <u32>run, CHUNK_PREV);
  freeRuns = run;
  setStart(start, start);
  setStart(start + count - 1, start);
}

/**
 * Grows memory until a free run of `count` pages exists (growing more when
 * allowed, to grow less often). Once the maps have left the static pages,
 * every growth moves them to its last pages: the old map run, the free run
 * below it and the new pages coalesce, and growth asks only for what they lack.
 */
function growPages(count: u32): bool {
  const have = memoryPages();
  if (have >= pageLimit) return false;
  // Pages at the top of memory that the growth will merge with: the map run (it ends at
  // knownPages and moves up) and the free run right below it. None when others grew memory.
  let merge: u32 = 0;
  if (knownPages == have) {
    const top = have - mapRunPages;
    merge = mapRunPages;
    if (top > firstPage && ownerOf(top - 1) == 0) merge += top - startOf(top - 1);
  }
  const extra = count > merge ? count - merge : 0;
  let capacity = mapCapacity;
  let mapPages = mapRunPages;
  if (have + extra + mapPages > capacity) {
    capacity = min(pageLimit, max(capacity << 1, have + extra + 8));
    mapPages = (capacity * MAP_BYTES_PER_PAGE + PAGE_SIZE - 1) >> PAGE_BITS;
  }
  const need = extra + mapPages;
  if (pageLimit - have < need) return false;
  let grown = min(max(need, have >> 4), capacity - have);
  if (memory.grow(<i32>grown) < 0) {
    grown = need;
    if (memory.grow(<i32>grown) < 0) return false;
  }
  const end = have + grown;
  const oldRun = mapRun;
  const oldPages = mapRunPages;
  if (mapPages) moveMaps(end - mapPages, mapPages, capacity);
  claimForeign(have);
  knownPages = end;
  // The new pages first, then the old map run: it coalesces with the free runs on both sides.
  if (end - mapPages > have) freeRun(have, end - mapPages - have);
  if (oldRun) freeRun(<u32>(oldRun >> PAGE_BITS), oldPages);
  return true;
}

/** The first free run of at least `count` pages, or 0. */
function firstFit(count: u32): usize {
  let run = freeRuns;
  while (run && load<u32>(run, CHUNK_PAGES) < count) run = load<u32>(run, CHUNK_NEXT);
  return run;
}

/**
 * Takes `count` contiguous pages owned by `owner` (first fit, growing memory
 * if needed); 0 when out of memory. It costs O(count) and the first-fit walk,
 * however large the free run the pages are cut from: the remainder keeps its
 * owner entries (0, as every free page's) and gets a chunk head and its two
 * boundary tags, nothing per page.
 *
 *            s                                         e
 *   before   ┌─────────────────────────────────────────┐
 *            │ free run: head at page s                │   start map: s at s and at e; owners 0
 *            └─────────────────────────────────────────┘
 *            s             r = s + count               e
 *   after    ┌─────────────┬───────────────────────────┐
 *            │ taken: head │ free run: head at page r, │   start map: s on every taken page, r at r
 *            │ at page s   │ the newest on the list    │   and at e; owners: `owner` on the taken
 *            └─────────────┴───────────────────────────┘   pages, the remainder's 0s untouched
 */
export function takeRun(count: u32, owner: u32): usize {
  let run = firstFit(count);
  if (!run) {
    // Shared build: the runs the threads' caches hold come back before the heap gives up
    // (assembly/cache.ts), then a free run may fit, or growth may merge with one.
    if (!growPages(count) && !(SHARED && flushCaches() && (firstFit(count) || growPages(count)))) return 0;
    run = firstFit(count);
    if (!run) return 0;
  }
  return carve(run, <u32>(run >> PAGE_BITS), count, owner);
}

/**
 * Takes pages [first, first+count) out of the free run `run` for `owner`
 * and returns their address; what is left of the run on either side stays
 * free, re-headed without touching its owner entries. Owners first:
 * freeRun must not see the pages just taken as free. Then nothing merges:
 * the neighbours of the old run are not free either (free runs are
 * coalesced).
 */
function carve(run: usize, first: u32, count: u32, owner: u32): usize {
  const start = <u32>(run >> PAGE_BITS);
  const end = start + load<u32>(run, CHUNK_PAGES);
  unlinkFree(run);
  for (let page = first; page < first + count; page++) {
    setOwner(page, owner);
    setStart(page, first);
  }
  if (first > start) freeRun(start, first - start, false);
  if (end > first + count) freeRun(first + count, end - first - count, false);
  const taken = pageBase(first);
  store<u32>(taken, count, CHUNK_PAGES);
  return taken;
}

// ---- slots: runs inside subdivided pages -----------------------------------
//
// Free runs of slots are kept on one list per exact length, with a summary
// bit per list, so that the smallest run that fits is found with a few bit
// scans and taking or giving back a run costs O(its slots), at most SLOTS,
// whatever the size of the heap. A run given back merges with the free runs
// beside it (their first and last slot entries are boundary tags). A page
// whose slots are all free again goes back to the heap at once: memory
// comes back by whole pages, and no empty subdivided page stands between
// free pages that a large run could use.

/** Heads of the free-run lists, index len - 1; static data, below every page the core manages. */
const SLOT_LISTS = memory.data(SLOTS << 2);
/** Bit len - 1 set when the list of runs of `len` slots is not empty. */
const SLOT_SUMMARY = memory.data(((SLOTS + 31) >> 5) << 2);

/** Address of the slot entry of `at` (any address inside a subdivided page's runs). */
@inline export function slotEntry(at: usize): usize {
  return (at & ~(<usize>PAGE_SIZE - 1)) | (SLOT_TABLE_AT + (((<u32>at >> SLOT_BITS) & 255) << 2));
}
@inline export function slotOwner(at: usize): u32 {
  return load<u32>(slotEntry(at));
}
/** The owner of the memory at `at`: its page's entry in the owner map, or its slot's when the page is subdivided. */
@inline export function ownerAt(at: usize): u32 {
  const owner = ownerOf(<u32>(at >> PAGE_BITS));
  return owner == OWNER_SUB ? slotOwner(at) : owner;
}
@inline export function slotListHead(len: u32): usize {
  return SLOT_LISTS + ((len - 1) << 2);
}
@inline function summaryWord(len: u32): usize {
  return SLOT_SUMMARY + (((len - 1) >> 5) << 2);
}
@inline function summaryBit(len: u32): u32 {
  return <u32>1 << ((len - 1) & 31);
}
/** Sets the slot entries of the `len` slots at `run` to `owner`. */
function ownSlots(run: usize, len: u32, owner: u32): void {
  const entry = slotEntry(run);
  for (let slot: u32 = 0; slot < len; slot++) store<u32>(entry + (slot << 2), owner);
}

/** Whether the summary says the list of runs of `len` slots has any (check() compares). */
export function slotListed(len: u32): bool {
  return (load<u32>(summaryWord(len)) & summaryBit(len)) != 0;
}
@inline export function freeSlotTag(len: u32): u32 {
  return (len << 4) | SLOT_FREE;
}

/** Puts the free run of `len` slots at `run` on its list, with its boundary tags. */
function pushSlots(run: usize, len: u32): void {
  store<u32>(slotEntry(run), freeSlotTag(len));
  store<u32>(slotEntry(run + ((len - 1) << SLOT_BITS)), freeSlotTag(len));
  const list = slotListHead(len);
  const head = load<u32>(list);
  store<u32>(run, head, CHUNK_NEXT);
  store<u32>(run, 0, CHUNK_PREV);
  if (head) store<u32>(head, <u32>run, CHUNK_PREV);
  store<u32>(list, <u32>run);
  const word = summaryWord(len);
  store<u32>(word, load<u32>(word) | summaryBit(len));
}

/** Takes the free run of `len` slots at `run` off its list (its tags stay until overwritten). */
function unlinkSlots(run: usize, len: u32): void {
  const next = load<u32>(run, CHUNK_NEXT);
  const prev = load<u32>(run, CHUNK_PREV);
  if (next) store<u32>(next, prev, CHUNK_PREV);
  if (prev) store<u32>(prev, next, CHUNK_NEXT);
  else {
    store<u32>(slotListHead(len), next);
    if (!next) {
      const word = summaryWord(len);
      store<u32>(word, load<u32>(word) & ~summaryBit(len));
    }
  }
}

/** The smallest length >= `len` whose list has a run, or 0. */
function fittingLength(len: u32): u32 {
  let index = len - 1;
  let bits = load<u32>(summaryWord(len)) & (<u32>0xffffffff << (index & 31));
  while (!bits) {
    index = (index | 31) + 1;
    if (index >= SLOTS) return 0;
    bits = load<u32>(summaryWord(index + 1));
  }
  return (index & ~31) + ctz<u32>(bits) + 1;
}

/**
 * Takes a run of `len` slots (1..SLOTS) owned by `owner`, the smallest free
 * run that fits, cut to size, or else a new subdivided page (always, with
 * `fresh`: the run starts the page, the rest of it free); 0 when the heap
 * is out of pages. Every slot entry of the run is set to `owner`.
 */
export function takeSlots(len: u32, owner: u32, fresh: bool = false): usize {
  const have = fresh ? <u32>0 : fittingLength(len);
  if (!have) {
    const run = takeRun(1, OWNER_SUB);
    if (run) subdivideFor(<u32>(run >> PAGE_BITS), len, owner);
    return run;
  }
  const run = <usize>load<u32>(slotListHead(have));
  cutSlots(run, have, len, owner);
  return run;
}

/**
 * Gives back `len` slots at `run`, merged with the free runs beside them. A
 * page left with every slot free goes back to the heap.
 */
export function freeSlots(run: usize, len: u32): void {
  const entry = slotEntry(run);
  memory.fill(entry, 0, len << 2);
  const base = run & ~(<usize>PAGE_SIZE - 1);
  if (entry > base + SLOT_TABLE_AT) {
    const left = load<u32>(entry - 4);
    if (left & SLOT_FREE) {
      const count = left >> 4;
      run -= count << SLOT_BITS;
      len += count;
      unlinkSlots(run, count);
    }
  }
  // The entry after the last data slot is META, never a free tag; an arena's
  // entries (16-aligned, maybe | LARGE | RUN) never have the SLOT_FREE bit.
  const right = load<u32>(slotEntry(run) + (len << 2));
  if (right & SLOT_FREE) {
    const count = right >> 4;
    unlinkSlots(run + (len << SLOT_BITS), count);
    len += count;
  }
  if (len == SLOTS) freeRun(<u32>(base >> PAGE_BITS), 1);
  else pushSlots(run, len);
}

/**
 * Takes `pages` whole pages and, in the page after them, a tail of `slots`
 * slots, for one large block owned by `owner`; 0 when out of memory. The
 * tail first looks for a home in a subdivided page whose first slots are
 * free and whose page before ends a free run long enough: so a large block
 * freed while others still use its tail page leaves room for its like. Else
 * it takes pages + 1 fresh pages, the last subdivided for the tail.
 */
export function takeLargeRun(pages: u32, slots: u32, owner: u32): usize {
  // One walk: the home for the tail, else the first run that fits pages + 1 (as takeRun's first fit).
  let fit: usize = 0;
  let run = freeRuns;
  while (run) {
    const start = <u32>(run >> PAGE_BITS);
    const count = load<u32>(run, CHUNK_PAGES);
    const after = start + count;
    if (count >= pages && after < knownPages && ownerOf(after) == OWNER_SUB) {
      const tail = pageBase(after);
      const free = slotOwner(tail);
      if (free & SLOT_FREE && free >> 4 >= slots) {
        // The last `pages` pages of the free run, and the first slots of the free run after them.
        cutSlots(tail, free >> 4, slots, owner);
        return carve(run, after - pages, pages, owner);
      }
    }
    if (!fit && count > pages) fit = run;
    run = load<u32>(run, CHUNK_NEXT);
  }
  run = fit ? carve(fit, <u32>(fit >> PAGE_BITS), pages + 1, owner) : takeRun(pages + 1, owner);
  if (run) subdivideFor(<u32>(run >> PAGE_BITS) + pages, slots, owner);
  return run;
}

/**
 * Subdivides page `page`, just taken from the heap (a page of its own, or the
 * last of a large run, whose tail it is to hold), and gives its first
 * `slots` slots to `owner`; the rest are free runs for anyone.
 */
function subdivideFor(page: u32, slots: u32, owner: u32): void {
  setOwner(page, OWNER_SUB);
  const run = pageBase(page);
  // Every entry 0 (nobody's) but those of the table and the bitmap themselves.
  memory.fill(run + SLOT_TABLE_AT, 0, SLOTS << 2);
  for (let slot = SLOTS; slot < 256; slot++) store<u32>(run + SLOT_TABLE_AT + (slot << 2), OWNER_META);
  ownSlots(run, slots, owner);
  if (slots < SLOTS) pushSlots(run + (slots << SLOT_BITS), SLOTS - slots);
}

/** Bytes a chunk covers: its whole pages and its slots. */
@inline export function chunkBytes(run: usize): u32 {
  return (<u32>load<u16>(run, CHUNK_PAGES) << PAGE_BITS) + (<u32>load<u16>(run, CHUNK_SLOTS) << SLOT_BITS);
}

/** Gives a chunk back: its whole pages to the heap, then its slots to their page. */
export function freeChunk(run: usize): void {
  const pages = <u32>load<u16>(run, CHUNK_PAGES);
  const slots = <u32>load<u16>(run, CHUNK_SLOTS);
  if (pages) freeRun(<u32>(run >> PAGE_BITS), pages);
  if (slots) freeSlots(run + (<usize>pages << PAGE_BITS), slots);
}

// ---- growing a block of its own in place -----------------------------------
//
// realloc grows a medium or large block where it stands when the memory right
// after it is free. Within its pages, its slots (a medium block's run, a large
// block's tail) take the first slots of the free run that follows them. Past
// them, the page of its slots becomes a whole page of the block when they
// start it and every other slot is free; further whole pages come from the
// free run of pages right after it, and the new tail from the next page: a
// free one, subdivided for it, or a subdivided one whose first slots are free.
//
//            page p (subdivided)                p+1 .. p+n-1    page p+n
//   before   ┌──────────────┬─────────────────┐ ┌────────────┐ ┌──────────────────────────┐
//            │ block's      │ free slots      │ │ free pages │ │ free, or subdivided with │
//            │ slots from 0 │ up to SLOTS     │ │            │ │ its first slots free     │
//            └──────────────┴─────────────────┘ └────────────┘ └──────────────────────────┘
//   after    ┌────────────────────────────────────────────────┐ ┌──────┬───────────────────┐
//            │ block: whole pages p .. p+n-1 (the block's     │ │ tail │ free slots, or    │
//            │ first page may lie before p)                   │ │      │ others' as before │
//            └────────────────────────────────────────────────┘ └──────┴───────────────────┘
//
// The pages taken are recorded as takeLarge's are: owner arena | LARGE and
// the block's first page in the start map for each whole page, the tail's
// slots owned by arena | LARGE in a subdivided page. Nothing is taken unless
// all of it is there, so a failed growth changes nothing.

/** Takes the first `take` slots of the free run of `len` slots at `run` for `owner`; the rest stays free. */
function cutSlots(run: usize, len: u32, take: u32, owner: u32): void {
  unlinkSlots(run, len);
  if (len > take) pushSlots(run + (take << SLOT_BITS), len - take);
  ownSlots(run, take, owner);
}

/** The length of the free run of slots that starts at `at` (a slot of a subdivided page, or its table), or 0. */
@inline function freeSlotsAt(at: usize): u32 {
  const entry = slotOwner(at);
  return entry & SLOT_FREE ? entry >> 4 : 0;
}

/**
 * Grows the block of its own whose chunk head is `run` to `pages` whole
 * pages and `slots` slots after them (a medium block: pages 0), at least
 * what it covers now, from the free memory right after it, for `owner` (its
 * arena | OWNER_LARGE); writes the new counts to its head. False, nothing
 * changed, when that memory is not free (this never grows memory). Costs
 * O(slots and pages taken) and never walks the free lists.
 */
export function extendRun(run: usize, pages: u32, slots: u32, owner: u32): bool {
  const first = <u32>(run >> PAGE_BITS);
  const had = <u32>load<u16>(run, CHUNK_PAGES);
  const hadSlots = <u32>load<u16>(run, CHUNK_SLOTS);
  // Where the block's slots are: a medium block's own run, a large block's tail (slot 0 of the page after its pages).
  const at = had ? pageBase(first + had) : run;
  const after = at + (hadSlots << SLOT_BITS);
  const free = hadSlots ? freeSlotsAt(after) : 0;
  const end = first + pages;
  // The new slots: right after the block's own (same pages), else at the start of the page after its pages.
  let tailAt = pageBase(end);
  let want = slots;
  let need: u32 = 0;
  if (pages == had) {
    if (hadSlots) {
      tailAt = after;
      want = slots - hadSlots;
    }
  } else {
    // The page of the block's slots becomes a whole page of it: they must start it and every other slot be free.
    if (hadSlots && (<u32>at & (PAGE_SIZE - 1) || hadSlots + free != SLOTS)) return false;
    need = end - (first + had + <u32>(hadSlots != 0));
  }
  const from = end - need;
  let tail: u32 = 0;
  if (want) {
    if (end >= knownPages) return false;
    const kind = ownerOf(end);
    if (kind == OWNER_SUB) {
      tail = freeSlotsAt(tailAt);
      if (tail < want) return false;
    } else if (kind == 0) need++;
    else return false;
  }
  // The free run of pages that supplies them starts at `from`: the page before it is the block's.
  if (need && (from >= knownPages || ownerOf(from) != 0 || load<u32>(pageBase(from), CHUNK_PAGES) < need)) return false;
  if (pages > had && free) unlinkSlots(after, free);
  if (need) carve(pageBase(from), from, need, owner);
  for (let page = first + had; page < end; page++) {
    setOwner(page, owner);
    setStart(page, first);
  }
  if (tail) cutSlots(tailAt, tail, want, owner);
  else if (want) subdivideFor(end, slots, owner);
  store<u32>(run, pages | (slots << 16), CHUNK_PAGES);
  return true;
}
