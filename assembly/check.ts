// The invariant checker of the debug build: walks the free runs and every
// live arena (chunks, release list, callback list, free lists, bitmaps) and
// returns 0, or the number of the first rule broken (the numbers below, each
// described in CHECK_RULES of src/debug.ts; a test keeps the two in step).

import {
  A_ACTIONS, A_ALLOCATIONS, A_CB_HEAD, A_CHILDREN, A_GROUPS, CB_EXTRA, KIND_CHILD, KIND_CLOSE, KIND_DTOR, KIND_GROUP,
  KIND_POPPED, KIND_DYING, KIND_QUARANTINED, KIND_REMOTE, META_DTOR, A_REMOTE, FLAG_REMOTE, A_CHUNKS, A_CUR, A_END, A_FLAGS, A_FREE, A_HEAD, A_LIVE_BYTES,
  A_LIVE_NEXT, A_LIVE_PREV, A_PEAK_BYTES, A_QUARANTINE_BYTES, A_QUARANTINE_HEAD, A_QUARANTINE_LIMIT,
  A_QUARANTINE_TAIL, A_RESERVED, BITMAP_AT, CB_NEWER, CB_OLDER, CHUNK_HEAD, CHUNK_NEXT, CHUNK_PAGES, CHUNK_PAYLOAD,
  CHUNK_PREV, CHUNK_SLOTS, CLASSES, FLAG_QUARANTINE, HEADER, KIND_ACTION, KIND_ALLOC, KIND_FREE, LARGE_CLASS,
  NODE_META, NODE_NEXT, NODE_PREV, NODE_SIZE, OWNER_FOREIGN, OWNER_LARGE, OWNER_META, OWNER_RUN, OWNER_SUB, PAGE_BITS,
  PAGE_SIZE, SLOT_BITS, SLOT_FREE, SLOT_SIZE, SLOTS, A_CACHE, metaAlignLog2, metaClass, metaKind,
} from "./layout";
import {
  chunkBytes, firstPage, freeRuns, freeSlotTag, knownPages, mapCapacity, mapRun, mapRunPages, ownerAt, ownerMap,
  ownerOf, pageBase, pageLimit, slotEntry, slotListHead, slotListed, slotOwner, startOf,
} from "./chunks";
import { bitWord, capacityOfNode, field, findLive, isStart, minAlignLog2, runOf } from "./nodes";
import { liveArenas } from "./arena";
import { lock, S_THREAD_BLOCKS, SHARED, STATE, unlock } from "./threads";
import {
  CACHE_RECORDS, CACHE_RUN_SLOTS, CACHE_SLOTS, cachedEntry, letGoCache, RECORD_CACHED, runList, T_LIVE, T_NEXT,
  T_RECORD_COUNT, T_RECORDS, T_SLOTS, tryHoldCache,
} from "./cache";

/**
 * Checks every invariant of the heap: 0 when every invariant holds, else the number of the first one broken.
 * On a shared heap it takes the heap lock, but arenas of other threads
 * change without it: call it when no other thread is working on the heap.
 */
export function check(): u32 {
  lock();
  const result = checkLocked();
  unlock();
  return result;
}

function checkLocked(): u32 {
  // Pages grown by someone else and not yet seen by the core are not its business.
  const pages = min(knownPages, pageLimit);
  livePages = 0;
  liveSlots = 0;
  // The maps describe every page; once they have left the static pages, they sit in a
  // META run of their own at the top of the core's memory (assembly/chunks.ts).
  if (mapCapacity < pages) return 9;
  if (mapRun) {
    const first = <u32>(mapRun >> PAGE_BITS);
    if (ownerMap != mapRun || first + mapRunPages != pages || <u64>mapRunPages << PAGE_BITS < <u64>mapCapacity * 6) {
      return 10;
    }
    for (let page = first; page < pages; page++) if (ownerOf(page) != OWNER_META || startOf(page) != first) return 10;
  }
  let freePages: u32 = 0;
  let run = freeRuns;
  let prev: usize = 0;
  let guard = pages;
  while (run) {
    if (guard-- == 0) return 1;
    if (<usize>load<u32>(run, CHUNK_PREV) != prev) return 2;
    const start = <u32>(run >> PAGE_BITS);
    const count = load<u32>(run, CHUNK_PAGES);
    if (count == 0 || start < firstPage || start + count > pages) return 3;
    if (startOf(start) != start || startOf(start + count - 1) != start) return 4;
    for (let page = start; page < start + count; page++) if (ownerOf(page) != 0) return 5;
    if (start + count < pages && ownerOf(start + count) == 0) return 6;
    freePages += count;
    prev = run;
    run = load<u32>(run, CHUNK_NEXT);
  }
  let metaPages: u32 = 0;
  let subPages: u32 = 0;
  let freeSlots: u32 = 0;
  let ownedSlots: u32 = 0;
  for (let page = firstPage; page < pages; page++) {
    const owner = ownerOf(page);
    if (owner == OWNER_META || owner == OWNER_FOREIGN) metaPages++;
    if (owner != OWNER_SUB) continue;
    subPages++;
    const base = pageBase(page);
    for (let slot: u32 = SLOTS; slot < 256; slot++) if (load<u32>(slotEntry(base) + (slot << 2)) != OWNER_META) return 11;
    let slot: u32 = 0;
    while (slot < SLOTS) {
      const entry = slotOwner(base + (slot << SLOT_BITS));
      if (entry & SLOT_FREE) {
        const len = entry >> 4;
        if (len == 0 || slot + len > SLOTS || slotOwner(base + ((slot + len - 1) << SLOT_BITS)) != entry) return 12;
        if (slot + len < SLOTS && slotOwner(base + ((slot + len) << SLOT_BITS)) & SLOT_FREE) return 12;
        if (len == SLOTS) return 17;
        freeSlots += len;
        slot += len;
      } else {
        // Owned by an arena (its chunks' walk checks which); 0 would be a slot nobody holds.
        if (entry < PAGE_SIZE) return 12;
        ownedSlots++;
        slot++;
      }
    }
  }
  const lists = checkSlotLists(pages);
  if (lists == 0xffffffff) return 15;
  if (lists != freeSlots) return 13;
  // Shared build: the live arenas are listed per thread, with each thread's cache (assembly/cache.ts).
  const broken = SHARED ? checkThreads(pages) : checkLive(liveArenas, 0);
  if (broken) return broken;
  const arenaPages = livePages;
  const arenaSlots = liveSlots;
  if (metaPages + subPages + freePages + arenaPages != pages - firstPage) return 7;
  if (arenaSlots != ownedSlots) return 14;
  return 0;
}

/**
 * Walks the lists of free runs of slots (rule 15): each run is in the
 * list of its length, in a subdivided page, tagged at both ends, linked both
 * ways; a list's summary bit is set exactly when it has runs. Returns the
 * slots they hold, or 0xffffffff when a rule is broken.
 */
function checkSlotLists(pages: u32): u32 {
  let total: u32 = 0;
  for (let len: u32 = 1; len <= SLOTS; len++) {
    const head = <usize>load<u32>(slotListHead(len));
    if (slotListed(len) != (head != 0)) return 0xffffffff;
    let run = head;
    let prev: usize = 0;
    let guard = pages * SLOTS;
    while (run) {
      if (guard-- == 0 || <usize>load<u32>(run, CHUNK_PREV) != prev) return 0xffffffff;
      const page = <u32>(run >> PAGE_BITS);
      if (page < firstPage || page >= pages || ownerOf(page) != OWNER_SUB || run & (SLOT_SIZE - 1)) return 0xffffffff;
      if (slotOwner(run) != freeSlotTag(len)) return 0xffffffff;
      if (slotOwner(run + ((len - 1) << SLOT_BITS)) != freeSlotTag(len)) return 0xffffffff;
      total += len;
      prev = run;
      run = load<u32>(run, CHUNK_NEXT);
    }
  }
  return total;
}

/** Whole pages and slots of the arena checkArena last walked, for the heap's totals (rules 7, 14). */
let chunkPages: u32 = 0;
let chunkSlots: u32 = 0;
/** Whole pages and slots of every live arena walked so far (checkLive), and of the caches' runs (checkThread). */
let livePages: u32 = 0;
let liveSlots: u32 = 0;

/**
 * Checks the list of live arenas from `arena`: linked both ways (rule 8),
 * each whole (checkArena); in the shared build each naming `block`, its
 * thread's, as its cache (80). Adds their pages and slots to the totals.
 */
function checkLive(arena: usize, block: usize): u32 {
  let prev: usize = 0;
  while (arena) {
    if (<usize>field(arena, A_LIVE_PREV) != prev) return 8;
    if (SHARED && <usize>field(arena, A_CACHE) != block) return 80;
    const broken = checkArena(arena);
    if (broken) return broken;
    livePages += chunkPages;
    liveSlots += chunkSlots;
    prev = arena;
    arena = field(arena, A_LIVE_NEXT);
  }
  return 0;
}

/** Checks one arena; 0 when all its invariants hold. */
function checkArena(arena: usize): u32 {
  const minLog2 = minAlignLog2(arena);
  let reserved: u64 = 0;
  let quarantinedRuns: u32 = 0;
  let run = <usize>field(arena, A_CHUNKS);
  let prev: usize = 0;
  chunkPages = 0;
  chunkSlots = 0;
  while (run) {
    if (<usize>load<u32>(run, CHUNK_PREV) != prev) return 20;
    const start = <u32>(run >> PAGE_BITS);
    const count = <u32>load<u16>(run, CHUNK_PAGES);
    const slots = <u32>load<u16>(run, CHUNK_SLOTS);
    const payload = <usize>load<u32>(run, CHUNK_PAYLOAD);
    if (!payload) {
      // A small chunk: a whole page of the arena's, or a run of the arena's slots.
      if (count == 1 && slots == 0 && ownerOf(start) == <u32>arena) {
        if (!startsAreBlocks(run, run + BITMAP_AT)) return 41;
      } else {
        if (count != 0 || slots == 0 || !ownsSlots(run, slots, <u32>arena)) return 21;
        if (!startsAreBlocks(run, run + (slots << SLOT_BITS))) return 41;
      }
    } else {
      // A block of its own: whole pages (each LARGE, the start map pointing at the first)
      // and a tail of slots in the next page, or a run of slots whose first is OWNER_RUN.
      for (let page = start; page < start + count; page++) {
        if (ownerOf(page) != (<u32>arena | OWNER_LARGE) || startOf(page) != start) return 22;
      }
      const tail = run + (<usize>count << PAGE_BITS);
      if (slots && (ownerOf(<u32>(tail >> PAGE_BITS)) != OWNER_SUB || tail & (SLOT_SIZE - 1))) return 22;
      if (((<u32>tail & (PAGE_SIZE - 1)) >> SLOT_BITS) + slots > SLOTS) return 22;
      for (let slot: u32 = 0; slot < slots; slot++) {
        const head = count == 0 && slot == 0 ? OWNER_RUN : 0;
        if (slotOwner(tail + (slot << SLOT_BITS)) != (<u32>arena | OWNER_LARGE | head)) return 22;
      }
      if (runOf(payload - HEADER) != run || payload - HEADER < run + 16) return 22;
      const node = payload - HEADER;
      const meta = load<u32>(node, NODE_META);
      const kind = metaKind(meta);
      // A large run holds a live allocation, a quarantined one, or one whose destructor is running.
      if (
        (kind != KIND_ALLOC && kind != KIND_QUARANTINED && kind != KIND_DYING && kind != KIND_REMOTE) ||
        metaClass(meta) != LARGE_CLASS
      )
        return 23;
      if (kind == KIND_QUARANTINED) quarantinedRuns++;
    }
    chunkPages += count;
    chunkSlots += slots;
    reserved += chunkBytes(run);
    prev = run;
    run = load<u32>(run, CHUNK_NEXT);
  }
  if (reserved != <u64>field(arena, A_RESERVED)) return 24;
  const limit = <u32>(reserved >> 4) + 1;
  let guard = limit;
  let allocations: u32 = 0;
  let actions: u32 = 0;
  let groups: u32 = 0;
  let children: u32 = 0;
  let destructors: u32 = 0;
  let remote: u32 = 0;
  let live: u64 = 0;
  let node = <usize>field(arena, A_HEAD);
  let next: usize = 0;
  while (node) {
    if (guard-- == 0) return 30;
    if (<usize>load<u32>(node, NODE_NEXT) != next) return 31;
    if ((ownerAt(node) & ~(OWNER_LARGE | OWNER_RUN)) != <u32>arena) return 32;
    const meta = load<u32>(node, NODE_META);
    const kind = metaKind(meta);
    if (kind == KIND_ALLOC) {
      const payload = node + HEADER;
      if (findLive(arena, payload) != node) return 33;
      const alignMask = (<usize>1 << max(metaAlignLog2(meta), minLog2)) - 1;
      if (payload & alignMask) return 34;
      if (load<u32>(node, NODE_SIZE) > capacityOfNode(node)) return 35;
      allocations++;
      live += load<u32>(node, NODE_SIZE);
      if (meta & META_DTOR) {
        if (!next || metaKind(load<u32>(next, NODE_META)) != KIND_DTOR) return 46;
        if (<usize>load<u32>(next, CB_EXTRA) != node) return 47;
      }
    } else if (SHARED && kind == KIND_REMOTE) {
      // Queued by another thread's heap.free: still counted, in the release list until drained.
      if (meta & META_DTOR) return 76;
      allocations++;
      live += load<u32>(node, NODE_SIZE);
      remote++;
    } else if (kind == KIND_DTOR) {
      const target = <usize>load<u32>(node, CB_EXTRA);
      if (<usize>load<u32>(node, NODE_PREV) != target || !(load<u32>(target, NODE_META) & META_DTOR)) return 48;
      destructors++;
    } else if (kind == KIND_ACTION) actions++;
    else if (kind == KIND_GROUP) groups++;
    else if (kind == KIND_CHILD) children++;
    else if (kind != KIND_CLOSE && kind != KIND_POPPED) return 36;
    next = node;
    node = load<u32>(node, NODE_PREV);
  }
  if (allocations != field(arena, A_ALLOCATIONS)) return 37;
  if (actions != field(arena, A_ACTIONS)) return 38;
  if (groups != field(arena, A_GROUPS) || children != field(arena, A_CHILDREN)) return 49;
  if (live != <u64>field(arena, A_LIVE_BYTES)) return 39;
  if (field(arena, A_PEAK_BYTES) < field(arena, A_LIVE_BYTES)) return 40;
  let callbacks: u32 = 0;
  let newer: usize = 0;
  node = field(arena, A_CB_HEAD);
  guard = limit;
  while (node) {
    if (guard-- == 0) return 42;
    const kind = metaKind(load<u32>(node, NODE_META));
    if (kind != KIND_ACTION && kind != KIND_DTOR && kind != KIND_GROUP && kind != KIND_CHILD) return 43;
    if (<usize>load<u32>(node, CB_NEWER) != newer) return 44;
    callbacks++;
    newer = node;
    node = load<u32>(node, CB_OLDER);
  }
  if (callbacks != actions + groups + children + destructors) return 45;
  for (let cls: u32 = 0; cls < CLASSES; cls++) {
    node = load<u32>(arena + A_FREE + (cls << 2));
    guard = limit;
    while (node) {
      if (guard-- == 0) return 51;
      const meta = load<u32>(node, NODE_META);
      if (metaKind(meta) != KIND_FREE || metaClass(meta) != cls) return 52;
      if (ownerAt(node) != <u32>arena) return 53;
      if (!isStart(node + HEADER)) return 54;
      if ((node + HEADER) & ((<usize>1 << minLog2) - 1)) return 55;
      node = load<u32>(node, NODE_PREV);
    }
  }
  const cur = field(arena, A_CUR);
  const end = field(arena, A_END);
  if (cur > end) return 56;
  if (end && ownerAt(end - 1) != <u32>arena) return 57;
  const quarantine = checkQuarantine(arena, limit, quarantinedRuns);
  if (quarantine) return quarantine;
  if (SHARED) {
    const queued = checkRemote(arena, limit, remote);
    if (queued) return queued;
  }
  const twice = markBlocks(arena, true);
  markBlocks(arena, false);
  if (twice) return twice;
  // After the walk, so that a block held in a list there is named by rule 71.
  return cur < end && anyStart(cur, end) ? 58 : 0;
}

/**
 * Whether the `len` slots from `run` lie in one subdivided page, `run` at a
 * slot's start, and every one's entry is `entry`: an arena's small chunk
 * (rule 21), a run a thread's cache holds (82).
 */
function ownsSlots(run: usize, len: u32, entry: u32): bool {
  if (ownerOf(<u32>(run >> PAGE_BITS)) != OWNER_SUB || run & (SLOT_SIZE - 1)) return false;
  if (((<u32>run & (PAGE_SIZE - 1)) >> SLOT_BITS) + len > SLOTS) return false;
  for (let slot: u32 = 0; slot < len; slot++) if (slotOwner(run + (slot << SLOT_BITS)) != entry) return false;
  return true;
}

// ---- thread caches (shared build) ------------------------------------------

/** Whether `at` lies in a META page below `pages`. */
function inMeta(at: usize, pages: u32): bool {
  const page = <u32>(at >> PAGE_BITS);
  return page >= firstPage && page < pages && ownerOf(page) == OWNER_META;
}

/**
 * Shared build: walks every thread's block (rule 79: the list of blocks
 * ends, each block lies in a META page), holding its cache's lock when it
 * is free: its live arenas and its cache (checkThread).
 */
function checkThreads(pages: u32): u32 {
  // More blocks than META pages could hold is a list that does not end.
  let guard = pages << 10;
  for (let block = <usize>load<u32>(STATE, S_THREAD_BLOCKS); block; block = load<u32>(block, T_NEXT)) {
    if (guard-- == 0 || block & 15 || !inMeta(block, pages)) return 79;
    const held = tryHoldCache(block);
    const broken = checkThread(block, pages);
    if (held) letGoCache(block);
    if (broken) return broken;
  }
  return 0;
}

/**
 * One thread's block: its live arenas (checkLive, rules 8 and 80); its cached
 * records are at most CACHE_RECORDS, as many as it counts, each 16-aligned
 * in a META page and marked cached, so that none is also live (81); its
 * cached runs are runs of slots of the length of their list in subdivided
 * pages, shaped as small chunks, every slot entry the cache's, at most
 * CACHE_SLOTS in all (82), as many slots as it counts (83).
 */
function checkThread(block: usize, pages: u32): u32 {
  const broken = checkLive(load<u32>(block, T_LIVE), block);
  if (broken) return broken;
  let records: u32 = 0;
  for (let arena = <usize>load<u32>(block, T_RECORDS); arena; arena = field(arena, A_LIVE_NEXT)) {
    if (records++ == CACHE_RECORDS || arena & 15 || !inMeta(arena, pages)) return 81;
    if (field(arena, A_LIVE_PREV) != (<u32>block | RECORD_CACHED)) return 81;
  }
  if (records != load<u32>(block, T_RECORD_COUNT)) return 81;
  let slots: u32 = 0;
  for (let len: u32 = 1; len <= CACHE_RUN_SLOTS; len++) {
    for (let run = <usize>load<u32>(runList(block, len)); run; run = load<u32>(run, CHUNK_NEXT)) {
      slots += len;
      if (slots > CACHE_SLOTS) return 82;
      const page = <u32>(run >> PAGE_BITS);
      if (page < firstPage || page >= pages || !ownsSlots(run, len, cachedEntry(block))) return 82;
      if (load<u32>(run, CHUNK_PAGES) != len << 16) return 82;
    }
  }
  if (slots != load<u32>(block, T_SLOTS)) return 83;
  liveSlots += slots;
  return 0;
}

// ---- every block owned once ------------------------------------------------
//
// A block may stand in one place only: the release list, a free list, an
// open group's reserved close marker, or the quarantine; never twice, never in the bump range
// still to be handed out, and its bytes never reach another allocation's
// start. The walk marks blocks with a bit of the meta word the core never
// uses, then a second walk clears it: check() leaves memory as it found it.

const META_SEEN: u32 = 1 << 31;

/** Sets (or clears) the seen bit of every block `arena` holds; 0, or the rule a block breaks. */
function markBlocks(arena: usize, set: bool): u32 {
  let broken: u32 = 0;
  let node = <usize>field(arena, A_HEAD);
  while (node) {
    if (!broken) broken = visit(arena, node, set);
    const kind = metaKind(load<u32>(node, NODE_META));
    const reserve = <usize>load<u32>(node, CB_EXTRA);
    if (kind == KIND_GROUP && reserve && !broken) broken = visit(arena, reserve, set);
    node = load<u32>(node, NODE_PREV);
  }
  for (let cls: u32 = 0; cls < CLASSES; cls++) {
    node = load<u32>(arena + A_FREE + (cls << 2));
    while (node) {
      if (!broken) broken = visit(arena, node, set);
      node = load<u32>(node, NODE_PREV);
    }
  }
  for (node = field(arena, A_QUARANTINE_HEAD); node; node = load<u32>(node, NODE_PREV)) {
    if (!broken) broken = visit(arena, node, set);
  }
  return broken;
}

/** One block of the walk: 70 seen before, 71 inside the bump range, 72 reaching another block's start, 73 its own start bit clear. */
function visit(arena: usize, node: usize, set: bool): u32 {
  const meta = load<u32>(node, NODE_META);
  if (!set) {
    store<u32>(node, meta & ~META_SEEN, NODE_META);
    return 0;
  }
  if (meta & META_SEEN) return 70;
  store<u32>(node, meta | META_SEEN, NODE_META);
  if (node >= <usize>field(arena, A_CUR) && node < <usize>field(arena, A_END)) return 71;
  if (metaClass(meta) == LARGE_CLASS) return 0;
  // A small block's own start bit is set, and no other within the block.
  const payload = node + HEADER;
  if (!isStart(payload)) return 73;
  const end = payload + capacityOfNode(node);
  return anyStart(node, payload) || anyStart(payload + 8, end) ? 72 : 0;
}

/**
 * Whether every block-start bit set for [from, to), a small chunk, marks a
 * header of a small block there: a known kind, a small class, its payload
 * after the chunk head and inside the chunk.
 */
function startsAreBlocks(from: usize, to: usize): bool {
  const bitmap = (from & ~(<usize>PAGE_SIZE - 1)) + BITMAP_AT;
  const first = <u32>(from & (PAGE_SIZE - 1)) >> 8;
  const last = <u32>((to - 1) & (PAGE_SIZE - 1)) >> 8;
  for (let word = first; word <= last; word++) {
    let bits = load<u32>(bitmap + (word << 2));
    while (bits) {
      const payload = (from & ~(<usize>PAGE_SIZE - 1)) + (word << 8) + (ctz<u32>(bits) << 3);
      bits &= bits - 1;
      if (payload < from + CHUNK_HEAD + HEADER || payload >= to) return false;
      const meta = load<u32>(payload - HEADER, NODE_META);
      if (metaKind(meta) > KIND_REMOTE || metaClass(meta) >= CLASSES) return false;
    }
  }
  return true;
}

/** Whether any block-start bit is set for the granules of [from, to), within one small chunk. */
function anyStart(from: usize, to: usize): bool {
  const bitmap = (from & ~(<usize>PAGE_SIZE - 1)) + BITMAP_AT;
  let granule = <u32>(from & (PAGE_SIZE - 1)) >> 3;
  const last = <u32>((to - 1) & (PAGE_SIZE - 1)) >> 3;
  // A word of the bitmap at a time: the granules of one block share a handful of words.
  while (granule <= last) {
    const first = granule & 31;
    const count = min<u32>(32 - first, last - granule + 1);
    const mask = count == 32 ? <u32>0xffffffff : ((<u32>1 << count) - 1) << first;
    if (load<u32>(bitmap + ((granule >> 5) << 2)) & mask) return true;
    granule += count;
  }
  return false;
}

/**
 * Shared build: checks an arena's remote-free stack (rules 75-78): it ends;
 * every block in it is a remotely freed allocation of the arena, without a
 * destructor, small blocks at their start bit; it holds every remotely freed
 * node of the release list (`remote` of them); and FLAG_REMOTE is set while
 * it holds any (check() runs under the heap lock, as pushes do).
 */
function checkRemote(arena: usize, guardLimit: u32, remote: u32): u32 {
  let count: u32 = 0;
  let guard = guardLimit;
  let node = <usize>field(arena, A_REMOTE);
  if (node && !(field(arena, A_FLAGS) & FLAG_REMOTE)) return 78;
  while (node) {
    if (guard-- == 0) return 75;
    const page = <u32>(node >> PAGE_BITS);
    if (page < firstPage || page >= knownPages) return 76;
    if ((ownerAt(node) & ~(OWNER_LARGE | OWNER_RUN)) != <u32>arena) return 76;
    const meta = load<u32>(node, NODE_META);
    if (metaKind(meta) != KIND_REMOTE || (meta & META_DTOR)) return 76;
    if (metaClass(meta) != LARGE_CLASS && !isStart(node + HEADER)) return 76;
    count++;
    node = load<u32>(node + HEADER);
  }
  return count != remote ? 77 : 0;
}

/**
 * Checks an arena's quarantine (rules 60-68): the flag agrees with the limit;
 * the queue ends; every block in it lies in the arena's chunks (a large one
 * is its run's block), is of kind quarantined (so it is in no free list and
 * not in the release list, whose walks accept no such kind) and is not live;
 * the tail is its last block; the byte count is what its blocks count (size
 * plus header each) and within the limit; and every large run whose block
 * is quarantined (counted by the chunk walk) is in it.
 */
function checkQuarantine(arena: usize, guardLimit: u32, quarantinedRuns: u32): u32 {
  const limit = field(arena, A_QUARANTINE_LIMIT);
  if (((field(arena, A_FLAGS) & FLAG_QUARANTINE) != 0) != (limit != 0)) return 60;
  const minMask = (<usize>1 << minAlignLog2(arena)) - 1;
  let bytes: u64 = 0;
  let runs: u32 = 0;
  let last: usize = 0;
  let guard = guardLimit;
  let node = <usize>field(arena, A_QUARANTINE_HEAD);
  while (node) {
    if (guard-- == 0) return 61;
    const page = <u32>(node >> PAGE_BITS);
    if (page < firstPage || page >= knownPages) return 62;
    const owner = ownerAt(node);
    const meta = load<u32>(node, NODE_META);
    const cls = metaClass(meta);
    if (cls == LARGE_CLASS) {
      if ((owner & ~OWNER_RUN) != (<u32>arena | OWNER_LARGE)) return 62;
      if (<usize>load<u32>(runOf(node), CHUNK_PAYLOAD) != node + HEADER) return 62;
      runs++;
    } else if (owner != <u32>arena || ((node + HEADER) & minMask) != 0) return 62;
    if (metaKind(meta) != KIND_QUARANTINED || (cls >= CLASSES && cls != LARGE_CLASS)) return 63;
    if (cls != LARGE_CLASS && !isStart(node + HEADER)) return 64;
    bytes += <u64>load<u32>(node, NODE_SIZE) + HEADER;
    last = node;
    node = load<u32>(node, NODE_PREV);
  }
  if (last != <usize>field(arena, A_QUARANTINE_TAIL)) return 65;
  if (bytes != <u64>field(arena, A_QUARANTINE_BYTES)) return 66;
  if (bytes > <u64>limit) return 67;
  if (runs != quarantinedRuns) return 68;
  return 0;
}

