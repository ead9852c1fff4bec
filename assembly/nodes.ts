// Nodes: blocks carved from an arena's chunks (free list of the size class,
// else bump, else a new chunk; large allocations get a run of their own), the
// block-start bitmap that makes `free` deterministic, and the few list
// primitives every public call is built from: link, unlink, replace.

import {
  A_CB_HEAD, A_CHUNKS, A_CUR, A_END, A_FLAGS, A_FREE, A_HEAD, A_QUARANTINE_BYTES, A_QUARANTINE_HEAD,
  A_QUARANTINE_LIMIT, A_QUARANTINE_TAIL, A_RESERVED, ALIGN_MASK, FLAG_POISON, BITMAP_AT, BITMAP_BYTES, CB_NEWER, CB_OLDER,
  CHUNK_HEAD, CHUNK_NEXT, CHUNK_PAGES, CHUNK_PAYLOAD, CHUNK_PREV, GRANULE_BITS, GRANULE_MASK, HEADER, KIND_ALLOC,
  KIND_FREE, KIND_MASK, KIND_QUARANTINED, LARGE_CLASS, MEDIUM_MAX, META_DTOR, MIN_ALIGN_SHIFT, NODE_META, NODE_NEXT,
  NODE_PREV, NODE_SIZE, OWNER_LARGE, OWNER_RUN, OWNER_SUB, PAGE_BITS, PAGE_SIZE, SLOT_BITS, SLOT_SIZE, SLOTS,
  SMALL_MAX, alignUp, capacityOf, makeMeta, metaAlignLog2, metaClass, metaKind, smallClassOf,
} from "./layout";
import {
  chunkBytes, freeChunk, mapCapacity, ownerOf, pageBase, pageLimit, slotEntry, slotOwner, startOf, takeLargeRun, takeRun,
  takeSlots,
} from "./chunks";
import { lock, SHARED, unlock } from "./threads";
import { takeCachedRun } from "./cache";

@inline export function field(arena: usize, offset: u32): u32 {
  return load<u32>(arena + offset);
}
@inline export function setField(arena: usize, offset: u32, value: u32): void {
  store<u32>(arena + offset, value);
}
@inline export function minAlignLog2(arena: usize): u32 {
  return (field(arena, A_FLAGS) >> MIN_ALIGN_SHIFT) & ALIGN_MASK;
}

// ---- block-start bitmap ----------------------------------------------------
//
// A small block's bit is set when the block is carved (bumped, or a chunk's
// tail retired to a free list) and stays set while its chunk lives: a chunk's
// blocks never move or change class, so the bits mark exactly where headers
// are. A pointer whose bit is set therefore has a real header before it, and
// the header's kind tells a live allocation from a free, quarantined, dying
// or callback block. alloc and free write no bit: only the kind changes. A
// new chunk clears the bits of the memory it covers.

/** Address of the bitmap word holding the bit of `payload`, and the bit. */
@inline export function bitWord(payload: usize): usize {
  const offset = <u32>payload & (PAGE_SIZE - 1);
  return (payload & ~(<usize>PAGE_SIZE - 1)) | (BITMAP_AT + ((offset >> (GRANULE_BITS + 5)) << 2));
}
@inline export function bitMask(payload: usize): u32 {
  return <u32>1 << <u32>((payload >> GRANULE_BITS) & 31);
}
@inline export function markStart(payload: usize): void {
  const word = bitWord(payload);
  store<u32>(word, load<u32>(word) | bitMask(payload));
}
/** Clears a start bit: only for a block given back to the bump range, which carves anew. */
@inline export function clearStart(payload: usize): void {
  const word = bitWord(payload);
  store<u32>(word, load<u32>(word) & ~bitMask(payload));
}
@inline export function isStart(payload: usize): bool {
  return (load<u32>(bitWord(payload)) & bitMask(payload)) != 0;
}
/** The node of a small block of the arena's own whose payload is `ptr`, when it holds a live allocation; else 0. */
@inline function liveSmall(ptr: usize): usize {
  return isStart(ptr) && metaKind(load<u32>(ptr - HEADER, NODE_META)) == KIND_ALLOC ? ptr - HEADER : 0;
}

/**
 * The node of `ptr` when it is the start of a live allocation of `arena`,
 * else 0. One bound suffices: the owner map covers every page below
 * mapCapacity and says 0 for pages that are static data, maps, or not grown
 * yet, and no bit is ever set for a chunk head, a slot table or a bitmap,
 * where no payload can start. A small block is confirmed by its start bit,
 * set only where the core carved a block (so the header before it is the
 * core's), then by its kind. A block of its own is confirmed by its chunk
 * head, found from the maps alone (never from bytes a user could write): the
 * start map for a page run, the OWNER_RUN entry for a run of slots.
 */
export function findLive(arena: usize, ptr: usize): usize {
  const page = <u32>(ptr >> PAGE_BITS);
  if ((ptr & GRANULE_MASK) || page >= mapCapacity) return 0;
  let owner = ownerOf(page);
  let run: usize;
  if (owner == OWNER_SUB) {
    owner = slotOwner(ptr);
    if (owner == <u32>arena) return liveSmall(ptr);
    if ((owner & ~OWNER_RUN) != (<u32>arena | OWNER_LARGE)) return 0;
    // A medium block's payload lies less than a slot past its head + header (alignment <= SLOT_SIZE).
    if ((<u32>ptr & (PAGE_SIZE - 1)) < CHUNK_HEAD + HEADER) return 0;
    run = (ptr - CHUNK_HEAD - HEADER) & ~(<usize>SLOT_SIZE - 1);
    if (slotOwner(run) != (<u32>arena | OWNER_LARGE | OWNER_RUN)) return 0;
  } else {
    if (owner == <u32>arena) return liveSmall(ptr);
    if (owner != (<u32>arena | OWNER_LARGE)) return 0;
    run = pageBase(startOf(page));
  }
  if (load<u32>(run, CHUNK_PAYLOAD) != <u32>ptr) return 0;
  return metaKind(load<u32>(ptr - HEADER, NODE_META)) == KIND_ALLOC ? ptr - HEADER : 0;
}

/** The chunk head of a block of its own (class LARGE_CLASS): a run of slots, or of pages. */
export function runOf(node: usize): usize {
  if (ownerOf(<u32>(node >> PAGE_BITS)) == OWNER_SUB) return (node - CHUNK_HEAD) & ~(<usize>SLOT_SIZE - 1);
  return node & ~(<usize>PAGE_SIZE - 1);
}

// ---- chunks of an arena ----------------------------------------------------

function linkChunk(arena: usize, run: usize): void {
  const head = field(arena, A_CHUNKS);
  store<u32>(run, head, CHUNK_NEXT);
  store<u32>(run, 0, CHUNK_PREV);
  if (head) store<u32>(head, <u32>run, CHUNK_PREV);
  setField(arena, A_CHUNKS, <u32>run);
  setField(arena, A_RESERVED, field(arena, A_RESERVED) + chunkBytes(run));
}

function unlinkChunk(arena: usize, run: usize): void {
  const next = load<u32>(run, CHUNK_NEXT);
  const prev = load<u32>(run, CHUNK_PREV);
  if (next) store<u32>(next, prev, CHUNK_PREV);
  if (prev) store<u32>(prev, next, CHUNK_NEXT);
  else setField(arena, A_CHUNKS, next);
  setField(arena, A_RESERVED, field(arena, A_RESERVED) - chunkBytes(run));
}

/** Takes one chunk out of the arena's list and gives it back to the heap. */
@inline function dropChunk(arena: usize, run: usize): void {
  unlinkChunk(arena, run);
  lock();
  freeChunk(run);
  unlock();
}

/** Gives every chunk of `arena` back to the heap (the plain build; the shared one: dropThreadChunks). */
export function dropChunks(arena: usize): void {
  let run = <usize>field(arena, A_CHUNKS);
  while (run) {
    const next = load<u32>(run, CHUNK_NEXT);
    freeChunk(run);
    run = next;
  }
}

// ---- blocks ----------------------------------------------------------------

@inline function pushFree(arena: usize, node: usize, cls: u32): void {
  const list = arena + A_FREE + (cls << 2);
  store<u32>(node, load<u32>(list), NODE_PREV);
  store<u32>(list, <u32>node);
}

/** Puts the unused end of the bump range on a free list, so a new chunk wastes nothing. */
function retireTail(arena: usize): void {
  const end = field(arena, A_END);
  const alignLog2 = minAlignLog2(arena);
  const payload = alignUp(field(arena, A_CUR) + HEADER, alignLog2);
  if (payload >= end || end - payload < 8) return;
  const room = end - payload;
  let cls = smallClassOf(min(room, SMALL_MAX));
  if (capacityOf(cls) > room) cls--;
  const node = payload - HEADER;
  store<u32>(node, makeMeta(KIND_FREE, cls, alignLog2), NODE_META);
  markStart(payload);
  pushFree(arena, node, cls);
}

/**
 * Starts a new small chunk as the bump range, big enough for a block of
 * class `cls` at 2^alignLog2: as many bytes as the arena holds already (at
 * least a slot), a run of slots while that is at most half a page, else a
 * whole page. False when the heap is out of pages.
 */
function newSmallChunk(arena: usize, cls: u32, alignLog2: u32): bool {
  const need = CHUNK_HEAD + HEADER + ((<u32>1 << alignLog2) - 1) + capacityOf(cls);
  const slots = (max(field(arena, A_RESERVED), need) + SLOT_SIZE - 1) >> SLOT_BITS;
  let run: usize;
  let end: usize;
  if (slots > SLOTS >> 1) {
    lock();
    run = takeRun(1, <u32>arena);
    unlock();
    if (!run) return false;
    memory.fill(run + BITMAP_AT, 0, BITMAP_BYTES);
    end = run + BITMAP_AT;
  } else {
    // Shared build: a run this thread gave back, without the heap lock (assembly/cache.ts).
    if (SHARED) run = takeCachedRun(slots, arena);
    if (!SHARED || !run) {
      lock();
      run = takeSlots(slots, <u32>arena);
      unlock();
    }
    if (!run) return false;
    store<u32>(run, slots << 16, CHUNK_PAGES);
    memory.fill(bitWord(run), 0, slots << 2);
    end = run + (slots << SLOT_BITS);
  }
  store<u32>(run, 0, CHUNK_PAYLOAD);
  retireTail(arena);
  linkChunk(arena, run);
  setField(arena, A_CUR, <u32>run + CHUNK_HEAD);
  setField(arena, A_END, <u32>end);
  return true;
}

/**
 * The layout of a run of its own whose head, padding and block take `bytes`
 * at 2^alignLog2 in `arena`: whole pages in the low half, slots in the high
 * half. A run of slots (pages 0) up to MEDIUM_MAX when the alignment fits a
 * slot, so that a medium block's head is always in the slot before its
 * payload; else whole pages and a tail of slots in the page after them, or
 * no tail when the rest would not fit one, the alignment is above a slot or
 * the arena is poisoned (the free lists' links of a tail given back would
 * land in the freed payload, which must read 0x6b). takeLarge takes this
 * layout; realloc grows a block to it (growBlock).
 */
export function runShape(bytes: u64, alignLog2: u32, arena: usize): u64 {
  if (bytes <= <u64>MEDIUM_MAX && alignLog2 <= SLOT_BITS) return <u64>((<u32>bytes + SLOT_SIZE - 1) >> SLOT_BITS) << 32;
  let whole = bytes >> PAGE_BITS;
  let rest = <u32>bytes & (PAGE_SIZE - 1);
  if (rest > MEDIUM_MAX || alignLog2 > SLOT_BITS || field(arena, A_FLAGS) & FLAG_POISON) {
    whole += <u64>(rest != 0);
    rest = 0;
  }
  return whole | (<u64>((rest + SLOT_SIZE - 1) >> SLOT_BITS) << 32);
}

/**
 * A run of its own for one block larger than SMALL_MAX, 0 when the heap is
 * out of pages: a run of slots (medium), or whole pages and a tail of slots
 * in the page after them (large). Alignments above a slot take whole pages,
 * so that a medium block's head is always in the slot before its payload.
 * `fresh`: a medium block starts a page of its own (takeSlots), so that it
 * can grow in place into a large block (realloc).
 */
export function takeLarge(arena: usize, size: u32, alignLog2: u32, kind: u32, fresh: bool = false): usize {
  const shape = runShape(<u64>CHUNK_HEAD + HEADER + ((<u64>1 << alignLog2) - 1) + size, alignLog2, arena);
  const pages = <u32>shape;
  const slots = <u32>(shape >> 32);
  let run: usize;
  if (!pages) {
    lock();
    run = takeSlots(slots, <u32>arena | OWNER_LARGE, fresh);
    if (!run) {
      unlock();
      return 0;
    }
    // The slot table is the page's, shared with other arenas: written under the lock too.
    store<u32>(slotEntry(run), <u32>arena | OWNER_LARGE | OWNER_RUN);
    unlock();
  } else {
    if (pages + <u32>(slots != 0) > pageLimit) return 0;
    lock();
    run = slots ? takeLargeRun(pages, slots, <u32>arena | OWNER_LARGE) : takeRun(pages, <u32>arena | OWNER_LARGE);
    unlock();
    if (!run) return 0;
  }
  store<u32>(run, pages | (slots << 16), CHUNK_PAGES);
  const payload = alignUp(<u32>run + CHUNK_HEAD + HEADER, alignLog2);
  store<u32>(run, payload, CHUNK_PAYLOAD);
  linkChunk(arena, run);
  const node = <usize>payload - HEADER;
  store<u32>(node, makeMeta(kind, LARGE_CLASS, alignLog2), NODE_META);
  return node;
}

/**
 * A block whose payload holds `size` bytes aligned to 2^alignLog2, its meta
 * word written, not yet linked; 0 when the heap is out of pages. The caller
 * has checked that `size` and the alignment fit in 32 bits.
 */
export function takeBlock(arena: usize, size: u32, alignLog2: u32, kind: u32): usize {
  if (size > SMALL_MAX) return takeLarge(arena, size, alignLog2, kind);
  const cls = smallClassOf(size);
  const list = arena + A_FREE + (cls << 2);
  const head = <usize>load<u32>(list);
  if (head && ((head + HEADER) & ((<usize>1 << alignLog2) - 1)) == 0) {
    store<u32>(list, load<u32>(head, NODE_PREV));
    store<u32>(head, makeMeta(kind, cls, alignLog2), NODE_META);
    return head;
  }
  const node = bumpBlock(arena, cls, alignLog2);
  if (!node) return bumpNewChunk(arena, cls, alignLog2, kind);
  store<u32>(node, makeMeta(kind, cls, alignLog2), NODE_META);
  return node;
}

/**
 * A block of class `cls` at minAlign from the free list or the bump range,
 * its meta word not yet written; 0 when both are empty. Every block on a
 * free list is aligned to at least minAlign (freed allocations, retired
 * tails), so the list's head needs no check here.
 */
@inline export function takeSmallBlock(arena: usize, cls: u32, alignLog2: u32): usize {
  const list = arena + A_FREE + (cls << 2);
  const head = <usize>load<u32>(list);
  if (head) {
    store<u32>(list, load<u32>(head, NODE_PREV));
    return head;
  }
  return bumpBlock(arena, cls, alignLog2);
}

/** A block of class `cls` bumped from the current chunk (meta not written), or 0 when it does not fit. */
@inline function bumpBlock(arena: usize, cls: u32, alignLog2: u32): usize {
  const payload = alignUp(field(arena, A_CUR) + HEADER, alignLog2);
  const end = payload + capacityOf(cls);
  if (end > field(arena, A_END)) return 0;
  setField(arena, A_CUR, end);
  markStart(payload);
  return <usize>payload - HEADER;
}

/** The slow end of takeBlock: a new small chunk, then bump from it. */
function bumpNewChunk(arena: usize, cls: u32, alignLog2: u32, kind: u32): usize {
  if (!newSmallChunk(arena, cls, alignLog2)) return 0;
  const payload = alignUp(field(arena, A_CUR) + HEADER, alignLog2);
  setField(arena, A_CUR, payload + capacityOf(cls));
  markStart(payload);
  const node = <usize>payload - HEADER;
  store<u32>(node, makeMeta(kind, cls, alignLog2), NODE_META);
  return node;
}

/** Puts a small block on its class's free list (its start bit stays). */
@inline export function releaseSmallBlock(arena: usize, node: usize, meta: u32): void {
  store<u32>(node, (meta & ~(KIND_MASK | META_DTOR)) | KIND_FREE, NODE_META);
  pushFree(arena, node, metaClass(meta));
}

/**
 * Gives back the small chunk takeBlock has just started, whose only block
 * is still unlinked (allocWithDestructor's callback node when the block
 * itself then found no room), and leaves the bump range empty: the failed
 * call leaves reservedBytes as it found it. The tail the new chunk retired
 * stays on its free list.
 */
export function dropFreshChunk(arena: usize): void {
  dropChunk(arena, field(arena, A_CHUNKS));
  setField(arena, A_CUR, 0);
  setField(arena, A_END, 0);
}

/** Returns an unlinked node's block: to its free list, or its run to the heap. */
export function dropBlock(arena: usize, node: usize): void {
  const meta = load<u32>(node, NODE_META);
  assert(metaKind(meta) != KIND_FREE, "block dropped twice");
  const cls = metaClass(meta);
  if (cls == LARGE_CLASS) {
    dropChunk(arena, runOf(node));
    return;
  }
  releaseSmallBlock(arena, node, meta);
}

// ---- the quarantine --------------------------------------------------------
//
// With a quarantine limit (the `quarantine` option), an allocation's block
// does not go back to its free list (or its run to the heap) when the
// allocation is freed: it waits at the tail of a FIFO in the arena record,
// kind quarantined (so not live), so that free() of a stale pointer to it
// is EBADPTR like any pointer that is not live, rather than freeing whoever
// would otherwise have been handed the block next. Only blocks that held an
// allocation go there (free, a realloc that moved, a destructor's block once
// it returns, a group walk); callback nodes and blocks never handed out do
// not. Nothing here allocates: the queue is linked through the blocks'
// headers, and its counts are four words of the record.
//
// Each block counts its requested size plus its header (HEADER + NODE_SIZE,
// which cannot wrap: alloc checked header + padding + size), not its
// capacity: the host can say exactly which blocks are held, and the code
// stays small (the release core must stay within 8 KiB).

/**
 * Gives back the block of an allocation just taken out of every list and
 * count: to the quarantine when the arena has one and the block fits in it,
 * else at once (dropBlock). The block just quarantined never leaves in the
 * same call: only older ones make room for it.
 */
export function retireBlock(arena: usize, node: usize): void {
  const limit = field(arena, A_QUARANTINE_LIMIT);
  const charge = load<u32>(node, NODE_SIZE) + HEADER;
  // Off (limit 0), or a block larger than the whole quarantine: holding it would push out every other block.
  if (charge > limit) {
    dropBlock(arena, node);
    return;
  }
  const meta = load<u32>(node, NODE_META);
  store<u32>(node, (meta & ~(KIND_MASK | META_DTOR)) | KIND_QUARANTINED, NODE_META);
  store<u32>(node, 0, NODE_PREV);
  const tail = <usize>field(arena, A_QUARANTINE_TAIL);
  if (tail) store<u32>(tail, <u32>node, NODE_PREV);
  else setField(arena, A_QUARANTINE_HEAD, <u32>node);
  setField(arena, A_QUARANTINE_TAIL, <u32>node);
  // Quarantined blocks are disjoint memory below 4 GiB: their charges cannot sum past 2^32-1.
  setField(arena, A_QUARANTINE_BYTES, field(arena, A_QUARANTINE_BYTES) + charge);
  drainQuarantine(arena, limit);
}

/** Lets the oldest quarantined blocks go (to free lists, runs to the heap) until at most `limit` bytes stay. */
export function drainQuarantine(arena: usize, limit: u32): void {
  let bytes = field(arena, A_QUARANTINE_BYTES);
  while (bytes > limit) {
    const node = <usize>field(arena, A_QUARANTINE_HEAD);
    const newer = load<u32>(node, NODE_PREV);
    setField(arena, A_QUARANTINE_HEAD, newer);
    if (!newer) setField(arena, A_QUARANTINE_TAIL, 0);
    bytes -= load<u32>(node, NODE_SIZE) + HEADER;
    dropBlock(arena, node);
  }
  setField(arena, A_QUARANTINE_BYTES, bytes);
}

/** Payload bytes a live node can hold without moving. */
export function capacityOfNode(node: usize): u32 {
  const cls = metaClass(load<u32>(node, NODE_META));
  if (cls != LARGE_CLASS) return capacityOf(cls);
  const run = runOf(node);
  return <u32>(run + chunkBytes(run) - (node + HEADER));
}

// ---- the release list and the callback list --------------------------------

/**
 * Makes `node` the newest of a list whose head is the arena field at `head`,
 * linked through the node fields at `older` and `newer`. Both lists (the
 * release list through the header, the callback list through the record)
 * are built from this and unlinkFrom.
 */
@inline function pushNewest(arena: usize, head: u32, node: usize, older: u32, newer: u32): void {
  const newest = field(arena, head);
  assert(newest != <u32>node, "node linked twice");
  store<u32>(node + older, newest);
  store<u32>(node + newer, 0);
  if (newest) store<u32>(<usize>newest + newer, <u32>node);
  setField(arena, head, <u32>node);
}

/** Takes `node` out of the list whose head is the arena field at `head` (see pushNewest). */
@inline function unlinkFrom(arena: usize, head: u32, node: usize, older: u32, newer: u32): void {
  const before = load<u32>(node + older);
  const after = load<u32>(node + newer);
  if (before) store<u32>(<usize>before + newer, after);
  if (after) store<u32>(<usize>after + older, before);
  else setField(arena, head, before);
}

/** Makes `node` the newest of the release list. */
export function linkNode(arena: usize, node: usize): void {
  pushNewest(arena, A_HEAD, node, NODE_PREV, NODE_NEXT);
}

/** Takes `node` out of the release list. */
export function unlinkNode(arena: usize, node: usize): void {
  unlinkFrom(arena, A_HEAD, node, NODE_PREV, NODE_NEXT);
}

/** Puts `node` where `old` stands in the release list (realloc keeps its place). */
export function replaceNode(arena: usize, old: usize, node: usize): void {
  const prev = load<u32>(old, NODE_PREV);
  const next = load<u32>(old, NODE_NEXT);
  store<u32>(node, prev, NODE_PREV);
  store<u32>(node, next, NODE_NEXT);
  if (prev) store<u32>(prev, <u32>node, NODE_NEXT);
  if (next) store<u32>(next, <u32>node, NODE_PREV);
  else setField(arena, A_HEAD, <u32>node);
}

/** Makes `node` the newest of the callback list. */
export function linkCallback(arena: usize, node: usize): void {
  pushNewest(arena, A_CB_HEAD, node, CB_OLDER, CB_NEWER);
}

/** Takes `node` out of the callback list. */
export function unlinkCallback(arena: usize, node: usize): void {
  unlinkFrom(arena, A_CB_HEAD, node, CB_OLDER, CB_NEWER);
}
