// Arenas: records carved from META pages, and every operation the host calls.
// Each export validates what the host cannot (ownership, liveness, sizes in
// 32-bit space) and returns a pointer or a status code below STATUS_LIMIT.
// Nothing here calls into JS, so no host exception can unwind a half-done
// update; release is driven by the host, one `popAction` at a time.

import {
  A_ACTIONS, A_ALLOCATIONS, A_CB_HEAD, A_CHUNKS, A_FLAGS, A_FREE, A_HEAD, A_LIVE_BYTES, A_LIVE_NEXT,
  A_LIVE_PREV, A_MAX_BYTES, A_PEAK_BYTES, A_CUR, A_END, A_RESERVED, ARENA_SIZE, CB_BYTES, CB_SLOT, CHUNK_HEAD,
  EBUSY, EBADPTR, ENOMEM, EOVERFLOW, ESTALE, FLAG_RELEASING, HEADER, KIND_ACTION, KIND_ALLOC, LARGE_CLASS,
  MIN_ALIGN_SHIFT, NODE_META, NODE_SIZE, OK, OWNER_META, PAGE_BITS, PAGE_SIZE, SMALL_MAX, metaAlignLog2, metaClass,
  metaKind,
} from "./layout";
import { firstPage, initPages, ownerOf, takeRun } from "./chunks";
import {
  capacityOfNode, dropBlock, dropChunks, field, findLive, linkCallback, linkNode, markLive, minAlignLog2, setField,
  takeBlock, unlinkCallback, unlinkNode, replaceNode,
} from "./nodes";

let recycled: usize = 0;
let metaCur: usize = 0;
let metaEnd: usize = 0;
/** Newest live arena; the list exists for check(). */
export let liveArenas: usize = 0;

/** Lays out the heap for at most `maxPages` pages of memory. */
export function init(maxPages: u32): u32 {
  return initPages(maxPages);
}

/** A new arena record, or ENOMEM. */
export function createArena(minAlignLog2: u32, maxBytes: u32): usize {
  let arena = recycled;
  if (arena) recycled = field(arena, A_LIVE_NEXT);
  else {
    if (metaCur + ARENA_SIZE > metaEnd) {
      const run = takeRun(1, OWNER_META);
      if (!run) return ENOMEM;
      metaCur = run + CHUNK_HEAD;
      metaEnd = run + PAGE_SIZE;
    }
    arena = metaCur;
    metaCur += ARENA_SIZE;
  }
  memory.fill(arena, 0, ARENA_SIZE);
  setField(arena, A_FLAGS, minAlignLog2 << MIN_ALIGN_SHIFT);
  setField(arena, A_MAX_BYTES, maxBytes);
  setField(arena, A_LIVE_NEXT, <u32>liveArenas);
  if (liveArenas) setField(liveArenas, A_LIVE_PREV, <u32>arena);
  liveArenas = arena;
  return arena;
}

/** EBUSY while the arena is releasing, else OK. */
@inline function busy(arena: usize): u32 {
  return field(arena, A_FLAGS) & FLAG_RELEASING ? EBUSY : OK;
}

/** EOVERFLOW when header + worst-case padding + size does not fit in 32 bits. */
@inline function overflows(size: u32, alignLog2: u32): bool {
  return <u64>HEADER + ((<u64>1 << alignLog2) - 1) + size > <u64>u32.MAX_VALUE;
}

/** The alignment to use for a request of `align` (a power of two). */
@inline function effectiveAlign(arena: usize, align: u32): u32 {
  return max(ctz<u32>(align), minAlignLog2(arena));
}

@inline function addLiveBytes(arena: usize, live: u32): void {
  setField(arena, A_LIVE_BYTES, live);
  if (live > field(arena, A_PEAK_BYTES)) setField(arena, A_PEAK_BYTES, live);
}

/** Allocates `size` bytes aligned to max(align, minAlign); the payload pointer or a status. */
export function alloc(arena: usize, size: u32, align: u32, zero: u32): usize {
  const status = busy(arena);
  if (status) return status;
  const alignLog2 = effectiveAlign(arena, align);
  if (overflows(size, alignLog2)) return EOVERFLOW;
  const live = <u64>field(arena, A_LIVE_BYTES) + size;
  if (live > <u64>field(arena, A_MAX_BYTES)) return ENOMEM;
  const node = takeBlock(arena, size, alignLog2, KIND_ALLOC);
  if (!node) return ENOMEM;
  store<u32>(node, size, NODE_SIZE);
  linkNode(arena, node);
  const payload = node + HEADER;
  if (size <= SMALL_MAX) markLive(payload);
  setField(arena, A_ALLOCATIONS, field(arena, A_ALLOCATIONS) + 1);
  addLiveBytes(arena, <u32>live);
  if (zero) memory.fill(payload, 0, size);
  return payload;
}

/** Allocates `count * size` bytes, checking the product in 32 bits. */
export function allocArray(arena: usize, count: u32, size: u32, align: u32, zero: u32): usize {
  const status = busy(arena);
  if (status) return status;
  const bytes = <u64>count * size;
  if (bytes > <u64>u32.MAX_VALUE) return EOVERFLOW;
  return alloc(arena, <u32>bytes, align, zero);
}

/** Frees one allocation now; EBADPTR unless `ptr` starts a live allocation of `arena`. */
export function free(arena: usize, ptr: usize): u32 {
  const node = findLive(arena, ptr);
  if (!node) return EBADPTR;
  unlinkNode(arena, node);
  setField(arena, A_ALLOCATIONS, field(arena, A_ALLOCATIONS) - 1);
  setField(arena, A_LIVE_BYTES, field(arena, A_LIVE_BYTES) - load<u32>(node, NODE_SIZE));
  dropBlock(arena, node);
  return OK;
}

/** The node of a live allocation (its size is at NODE_SIZE), or 0. */
export function find(arena: usize, ptr: usize): usize {
  return findLive(arena, ptr);
}

/** Resizes in place when the block has room, else moves it; the place in release order is kept. */
export function realloc(arena: usize, ptr: usize, size: u32): usize {
  const status = busy(arena);
  if (status) return status;
  const node = findLive(arena, ptr);
  if (!node) return EBADPTR;
  const meta = load<u32>(node, NODE_META);
  const alignLog2 = metaAlignLog2(meta);
  if (overflows(size, alignLog2)) return EOVERFLOW;
  const old = load<u32>(node, NODE_SIZE);
  const live = <u64>field(arena, A_LIVE_BYTES) - old + size;
  if (live > <u64>field(arena, A_MAX_BYTES)) return ENOMEM;
  const large = metaClass(meta) == LARGE_CLASS;
  // In place when it fits, unless a large run would shrink to a small block's size.
  if (size <= capacityOfNode(node) && (!large || size > SMALL_MAX)) {
    store<u32>(node, size, NODE_SIZE);
    addLiveBytes(arena, <u32>live);
    return ptr;
  }
  const moved = takeBlock(arena, size, alignLog2, KIND_ALLOC);
  if (!moved) return ENOMEM;
  memory.copy(moved + HEADER, ptr, min(old, size));
  store<u32>(moved, size, NODE_SIZE);
  replaceNode(arena, node, moved);
  if (size <= SMALL_MAX) markLive(moved + HEADER);
  dropBlock(arena, node);
  addLiveBytes(arena, <u32>live);
  return moved + HEADER;
}

/** Registers the host's action `slot` as the newest node; its node or a status. */
export function addAction(arena: usize, slot: u32): usize {
  const status = busy(arena);
  if (status) return status;
  const node = takeBlock(arena, CB_BYTES, minAlignLog2(arena), KIND_ACTION);
  if (!node) return ENOMEM;
  store<u32>(node, 0, NODE_SIZE);
  store<u32>(node, slot, CB_SLOT);
  linkNode(arena, node);
  linkCallback(arena, node);
  setField(arena, A_ACTIONS, field(arena, A_ACTIONS) + 1);
  return node;
}

/** Takes an action node out of both lists and frees it. */
function dropAction(arena: usize, node: usize): void {
  unlinkNode(arena, node);
  unlinkCallback(arena, node);
  setField(arena, A_ACTIONS, field(arena, A_ACTIONS) - 1);
  dropBlock(arena, node);
}

/** Unregisters the action at `node` without running it; ESTALE when it is not one of `arena`'s. */
export function removeAction(arena: usize, node: usize): u32 {
  assert(node >= <usize>firstPage << PAGE_BITS, "action node below the managed pages");
  if (ownerOf(<u32>(node >> PAGE_BITS)) != <u32>arena) return ESTALE;
  if (metaKind(load<u32>(node, NODE_META)) != KIND_ACTION) return ESTALE;
  dropAction(arena, node);
  return OK;
}

/** Unregisters the newest action and returns its slot, or -1 when none is left. */
export function popAction(arena: usize): i32 {
  const node = <usize>field(arena, A_CB_HEAD);
  if (!node) return -1;
  const slot = load<u32>(node, CB_SLOT);
  dropAction(arena, node);
  return <i32>slot;
}

/** Marks the arena releasing: allocation and registration answer EBUSY until it ends. */
export function beginRelease(arena: usize): u32 {
  const status = busy(arena);
  if (status) return status;
  setField(arena, A_FLAGS, field(arena, A_FLAGS) | FLAG_RELEASING);
  return OK;
}

/**
 * Ends a release begun by beginRelease once the host has popped every action:
 * every chunk goes back to the heap at once, however many allocations it held.
 * With `keep` the arena stays usable (reset); otherwise its record is recycled.
 */
export function endRelease(arena: usize, keep: u32): void {
  assert(field(arena, A_CB_HEAD) == 0, "release ended with actions left");
  dropChunks(arena);
  if (keep) {
    setField(arena, A_HEAD, 0);
    setField(arena, A_CB_HEAD, 0);
    setField(arena, A_CHUNKS, 0);
    setField(arena, A_CUR, 0);
    setField(arena, A_END, 0);
    setField(arena, A_LIVE_BYTES, 0);
    setField(arena, A_RESERVED, 0);
    setField(arena, A_ALLOCATIONS, 0);
    setField(arena, A_ACTIONS, 0);
    memory.fill(arena + A_FREE, 0, ARENA_SIZE - A_FREE);
    setField(arena, A_FLAGS, field(arena, A_FLAGS) & ~FLAG_RELEASING);
    return;
  }
  const next = field(arena, A_LIVE_NEXT);
  const prev = field(arena, A_LIVE_PREV);
  if (next) setField(next, A_LIVE_PREV, prev);
  if (prev) setField(prev, A_LIVE_NEXT, next);
  else liveArenas = next;
  setField(arena, A_LIVE_NEXT, <u32>recycled);
  recycled = arena;
}
