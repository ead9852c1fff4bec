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
  CHUNK_NEXT, CHUNK_PAGES, CHUNK_PREV, ENOMEM, OK, OWNER_FOREIGN, OWNER_META, PAGE_BITS, PAGE_LIMIT, PAGE_SIZE,
} from "./layout";

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

/** Lays out the page maps for the memory at hand (growing later) and frees every page above them. */
export function initPages(maxPages: u32): u32 {
  pageLimit = min(maxPages, PAGE_LIMIT);
  mapCapacity = min(pageLimit, max(INITIAL_MAP_PAGES, memoryPages()));
  ownerMap = (__heap_base + 15) & ~15;
  startMap = ownerMap + (<usize>mapCapacity << 2);
  firstPage = <u32>((startMap + (<usize>mapCapacity << 1) + 0xffff) >> PAGE_BITS);
  if (firstPage >= pageLimit) return ENOMEM;
  const have = memoryPages();
  if (have < firstPage && memory.grow(<i32>(firstPage - have)) < 0) return ENOMEM;
  const now = min(memoryPages(), pageLimit);
  knownPages = now;
  if (now > firstPage) freeRun(firstPage, now - firstPage);
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

/** Returns pages [start, start+count) to the heap, merged with free neighbours. */
export function freeRun(start: u32, count: u32): void {
  assert(count > 0 && start >= firstPage, "bad run");
  for (let page = start; page < start + count; page++) setOwner(page, 0);
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
  let grown = min(max(need, have >> 2), capacity - have);
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

/** Takes `count` contiguous pages owned by `owner` (first fit, growing memory if needed); 0 when out of memory. */
export function takeRun(count: u32, owner: u32): usize {
  let run = firstFit(count);
  if (!run) {
    if (!growPages(count)) return 0;
    run = firstFit(count);
    if (!run) return 0;
  }
  const start = <u32>(run >> PAGE_BITS);
  const have = load<u32>(run, CHUNK_PAGES);
  unlinkFree(run);
  for (let page = start; page < start + count; page++) {
    setOwner(page, owner);
    setStart(page, start);
  }
  // Owners first: the remainder must not see its taken neighbour as free.
  if (have > count) freeRun(start + count, have - count);
  store<u32>(run, count, CHUNK_PAGES);
  return run;
}
