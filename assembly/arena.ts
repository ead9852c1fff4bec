// Arenas: records carved from META pages, and every operation the host calls.
// Each export validates what the host cannot (ownership, liveness, sizes in
// 32-bit space) and returns a pointer or a status code below STATUS_LIMIT.
// Nothing here calls into JS, so no host exception can unwind a half-done
// update; release is driven by the host, one callback node at a time.

import {
  A_ACTIONS, A_CB_HEAD, A_COUNTS, A_CHILDREN, A_CHUNKS, A_CUR, A_END, A_FLAGS, A_FREE, A_GROUPS, A_HEAD,
  A_LIVE_BYTES, A_LIVE_NEXT, A_LIVE_PREV, A_MAX_BYTES, A_PEAK_BYTES, A_QUARANTINE_LIMIT, A_RESERVED, ALIGN_MASK,
  A_CACHE, ARENA_SIZE, BITMAP_AT, CB_BYTES, CB_CLASS, CB_EXTRA, CB_SLOT, CHUNK_HEAD, CHUNK_NEXT, CHUNK_PAYLOAD, CHUNK_SLOTS,
  CLASS_MASK, CLASS_SHIFT, A_REMOTE, EBADPTR, EBUSY, EDRAIN, EDTOR, EINVAL, ENOMEM, EOVERFLOW, ESTALE, FLAG_POISON, FLAG_QUARANTINE,
  FLAG_RELEASING, FLAG_REMOTE, GRANULE_MASK, HEADER, KIND_ACTION, KIND_ALLOC, KIND_CHILD, KIND_CLOSE, KIND_DTOR, KIND_DYING,
  KIND_GROUP, KIND_MASK, KIND_POPPED, KIND_REMOTE, LARGE_CLASS, META_DTOR, MIN_ALIGN_SHIFT, NODE_META, NODE_NEXT, NODE_PREV,
  NODE_SIZE, OK, OWNER_LARGE, OWNER_META, OWNER_RUN, OWNER_SUB, PAGE_BITS, PAGE_SIZE, POISON_FREED, POISON_FRESH,
  SLOT_BITS, SLOTS, SMALL_MAX, capacityOf, fillClassTables, makeMeta, metaAlignLog2, metaClass,
  metaKind, ONE_ALLOCATION, smallClassOf,
} from "./layout";
import {
  attachPages, chunkBytes, extendRun, firstPage, freeSlotTag, initPages, mapCapacity, ownerAt, ownerOf, slotOwner,
  takeRun,
} from "./chunks";
import {
  adoptBlock, dropThreadChunks, holdCache, letGoCache, linkThreadArena, popCachedRecord, retireThreadArena, threadBlock,
} from "./cache";
import {
  lock, S_META_CUR, S_META_END, S_READY, S_RECYCLED, SHARED, STATE, setCanWait, unlock,
} from "./threads";
import {
  bitMask, bitWord, capacityOfNode, clearStart, drainQuarantine, dropBlock, dropChunks, dropFreshChunk, field, findLive, linkCallback,
  linkNode, minAlignLog2, releaseSmallBlock, replaceNode, retireBlock, runOf, runShape, setField, takeBlock, takeLarge,
  takeSmallBlock, unlinkCallback, unlinkNode,
} from "./nodes";

let recycled: usize = 0;
let metaCur: usize = 0;
let metaEnd: usize = 0;
/** Newest live arena; the list exists for check(). Shared build: each thread has its own (assembly/cache.ts). */
export let liveArenas: usize = 0;

/** Lays out the heap for at most `maxPages` pages of memory. */
export function init(maxPages: u32): u32 {
  lock();
  fillClassTables();
  let status = initPages(maxPages);
  // Shared build: the creator's cache block (assembly/cache.ts), in a record's room, so that
  // the records carved after it stay on their grid of the META page (memory maps find them there).
  if (SHARED && !status) {
    const block = carveMeta(ARENA_SIZE);
    if (block) adoptBlock(block);
    else status = ENOMEM;
  }
  if (SHARED && !status) atomic.store<u32>(STATE, 1, S_READY);
  unlock();
  return status;
}

/**
 * Shared build: copies the arena-side heap state (record allocation)
 * between the heap header and this thread's globals (assembly/threads.ts).
 * Not liveArenas: there each thread lists its own live arenas
 * (assembly/cache.ts), and the heap-wide list stays empty.
 */
export function syncArenas(toHeader: bool): void {
  if (toHeader) {
    store<u32>(STATE, <u32>recycled, S_RECYCLED);
    store<u32>(STATE, <u32>metaCur, S_META_CUR);
    store<u32>(STATE, <u32>metaEnd, S_META_END);
  } else {
    recycled = load<u32>(STATE, S_RECYCLED);
    metaCur = load<u32>(STATE, S_META_CUR);
    metaEnd = load<u32>(STATE, S_META_END);
  }
}

/** `bytes` (at most ARENA_SIZE) of a META page, never given back, or 0 when out of memory. Under the lock. */
function carveMeta(bytes: u32): usize {
  if (metaCur + bytes > metaEnd) {
    const run = takeRun(1, OWNER_META);
    if (!run) return 0;
    metaCur = run + CHUNK_HEAD;
    metaEnd = run + PAGE_SIZE;
  }
  const at = metaCur;
  metaCur += bytes;
  return at;
}

/**
 * Shared build: makes this instance a thread of the heap that init laid out
 * in its shared memory (never init again): the maps' place from the heap
 * header, a scratch area and a cache block of its own. `canWait`:
 * whether this thread may block waiting for the lock. OK, or EINVAL when the
 * memory holds no heap (init never ran, or this is the plain build), or
 * ENOMEM.
 */
export function attach(canWait: u32): u32 {
  if (!SHARED || atomic.load<u32>(STATE, S_READY) != 1) return EINVAL;
  setCanWait(canWait != 0);
  attachPages();
  lock();
  const batch = carveMeta(ARENA_SIZE);
  const info = batch ? carveMeta(ARENA_SIZE) : 0;
  const block = info ? carveMeta(ARENA_SIZE) : 0;
  if (block) adoptBlock(block);
  unlock();
  if (!block) return ENOMEM;
  batchAt = batch;
  mapInfoAt = info;
  return OK;
}

/** Sets whether this thread may block waiting for the lock (the creator's instance; attach sets it for the others). */
export function setWaiting(canWait: u32): void {
  setCanWait(canWait != 0);
}

/** A new arena record, or ENOMEM. `flags` may hold FLAG_POISON. */
export function createArena(minAlignLog2: u32, maxBytes: u32, flags: u32): usize {
  if (SHARED) return createThreadArena(minAlignLog2, maxBytes, flags);
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
  setField(arena, A_FLAGS, (minAlignLog2 << MIN_ALIGN_SHIFT) | (flags & FLAG_POISON));
  setField(arena, A_MAX_BYTES, maxBytes);
  setField(arena, A_LIVE_NEXT, <u32>liveArenas);
  if (liveArenas) setField(liveArenas, A_LIVE_PREV, <u32>arena);
  liveArenas = arena;
  return arena;
}

/**
 * Shared build: createArena with a record from this thread's cache, taking
 * the heap lock only when the cache has none; the arena joins the thread's
 * own list of live arenas (assembly/cache.ts).
 */
function createThreadArena(minAlignLog2: u32, maxBytes: u32, flags: u32): usize {
  const block = threadBlock;
  holdCache(block);
  let arena = popCachedRecord(block);
  if (!arena) {
    letGoCache(block);
    lock();
    arena = recycled;
    if (arena) recycled = field(arena, A_LIVE_NEXT);
    else arena = carveMeta(ARENA_SIZE);
    unlock();
    if (!arena) return ENOMEM;
    holdCache(block);
  }
  memory.fill(arena, 0, ARENA_SIZE);
  setField(arena, A_FLAGS, (minAlignLog2 << MIN_ALIGN_SHIFT) | (flags & FLAG_POISON));
  setField(arena, A_MAX_BYTES, maxBytes);
  linkThreadArena(block, arena);
  letGoCache(block);
  return arena;
}

/** Puts a released arena's record on the heap's recycled records (shared build: one no thread's cache keeps). Under the heap lock. */
export function recycleRecord(arena: usize): void {
  setField(arena, A_LIVE_NEXT, <u32>recycled);
  recycled = arena;
}

/**
 * Sets how many bytes of freed blocks the arena holds back from reuse (see
 * "the quarantine" in nodes.ts); 0 turns the quarantine off. Lowering the
 * limit lets the oldest blocks go at once. Returns OK.
 */
export function setQuarantine(arena: usize, limit: u32): u32 {
  setField(arena, A_QUARANTINE_LIMIT, limit);
  if (SHARED) {
    // Another thread may set FLAG_REMOTE meanwhile (remoteFree): a read-modify-write would lose it.
    if (limit) atomic.or<u32>(arena + A_FLAGS, FLAG_QUARANTINE);
    else atomic.and<u32>(arena + A_FLAGS, ~FLAG_QUARANTINE);
  } else {
    const flags = field(arena, A_FLAGS) & ~FLAG_QUARANTINE;
    setField(arena, A_FLAGS, limit ? flags | FLAG_QUARANTINE : flags);
  }
  drainQuarantine(arena, limit);
  return OK;
}

/** EBUSY while the arena is releasing, else OK. */
@inline function busy(arena: usize): u32 {
  return field(arena, A_FLAGS) & FLAG_RELEASING ? EBUSY : OK;
}

@inline function poisoned(arena: usize): bool {
  return (field(arena, A_FLAGS) & FLAG_POISON) != 0;
}

/** EOVERFLOW when header + worst-case padding + size does not fit in 32 bits. */
@inline function overflows(size: u32, alignLog2: u32): bool {
  return size > u32.MAX_VALUE - HEADER - ((<u32>1 << alignLog2) - 1);
}

@inline function addLiveBytes(arena: usize, live: u32): void {
  setField(arena, A_LIVE_BYTES, live);
  if (live > field(arena, A_PEAK_BYTES)) setField(arena, A_PEAK_BYTES, live);
}

/** One allocation of `size` bytes joins the counts (liveBytes + size checked against maxBytes: no carry), and the peak. */
@inline function count(arena: usize, size: u32): void {
  const counts = load<u64>(arena + A_COUNTS) + (ONE_ALLOCATION | size);
  store<u64>(arena + A_COUNTS, counts);
  if (<u32>counts > field(arena, A_PEAK_BYTES)) setField(arena, A_PEAK_BYTES, <u32>counts);
}

/** One allocation of `size` bytes leaves the counts: liveBytes and the allocation count, with one 64-bit subtraction. */
@inline function uncount(arena: usize, size: u32): void {
  store<u64>(arena + A_COUNTS, load<u64>(arena + A_COUNTS) - (ONE_ALLOCATION | size));
}

@inline function bump(arena: usize, offset: u32, delta: i32): void {
  setField(arena, offset, field(arena, offset) + delta);
}

/**
 * Allocates `size` bytes aligned to max(align, minAlign); the payload pointer
 * or a status. The common call (small, default alignment, not zeroed, arena
 * neither releasing nor poisoned) runs straight through, reading the flags
 * and counts once and skipping checks that cannot fail for it (overflow,
 * the free list head's alignment); every other call goes to allocOther.
 */
export function alloc(arena: usize, size: u32, align: u32, zero: u32): usize {
  const flags = field(arena, A_FLAGS);
  // FLAG_REMOTE (shared build; 0 in the plain one) joins the flags tested anyway: no cost here.
  if ((flags & (FLAG_RELEASING | FLAG_POISON | FLAG_REMOTE)) | zero | (align - 1) | <u32>(size > SMALL_MAX)) {
    return allocOther(arena, size, align, zero);
  }
  const counts = load<u64>(arena + A_COUNTS);
  const live = <u32>counts;
  // liveBytes never exceeds maxBytes, so the difference cannot wrap.
  if (size > field(arena, A_MAX_BYTES) - live) return ENOMEM;
  const alignLog2 = (flags >> MIN_ALIGN_SHIFT) & ALIGN_MASK;
  const cls = smallClassOf(size);
  const node = takeSmallBlock(arena, cls, alignLog2);
  if (!node) return allocOther(arena, size, align, zero);
  // Size and meta are neighbours: one store.
  store<u64>(node, <u64>size | (<u64>makeMeta(KIND_ALLOC, cls, alignLog2) << 32), NODE_SIZE);
  linkNode(arena, node);
  // liveBytes + size fits in 32 bits (checked against maxBytes): no carry into the count.
  store<u64>(arena + A_COUNTS, counts + (ONE_ALLOCATION | size));
  if (live + size > field(arena, A_PEAK_BYTES)) setField(arena, A_PEAK_BYTES, live + size);
  return node + HEADER;
}

/** alloc() off its straight path: any alignment, zeroing, poison, a large run or a new chunk. */
function allocOther(arena: usize, size: u32, align: u32, zero: u32): usize {
  const flags = field(arena, A_FLAGS);
  if (flags & FLAG_RELEASING) return EBUSY;
  // Shared build: other threads queued frees (heap.free); the host drains them, then calls again.
  if (SHARED && (flags & FLAG_REMOTE)) return EDRAIN;
  const alignLog2 = max(ctz<u32>(align), (flags >> MIN_ALIGN_SHIFT) & 15);
  if (overflows(size, alignLog2)) return EOVERFLOW;
  // liveBytes never exceeds maxBytes, so the difference cannot wrap.
  if (size > field(arena, A_MAX_BYTES) - field(arena, A_LIVE_BYTES)) return ENOMEM;
  const node = takeBlock(arena, size, alignLog2, KIND_ALLOC);
  if (!node) return ENOMEM;
  return commitAlloc(arena, node, size, zero);
}

/**
 * Allocates like alloc() with a destructor node for the host's `slot` right
 * after it. Both blocks are taken before anything is linked or counted, the
 * large run first or else the small callback node first, so that a failure
 * can hand back what it took and changes nothing.
 */
export function allocWithDestructor(arena: usize, size: u32, align: u32, zero: u32, slot: u32): usize {
  const flags = field(arena, A_FLAGS);
  if (flags & FLAG_RELEASING) return EBUSY;
  const alignLog2 = max(ctz<u32>(align), (flags >> MIN_ALIGN_SHIFT) & 15);
  if (overflows(size, alignLog2)) return EOVERFLOW;
  const live = <u64>field(arena, A_LIVE_BYTES) + size;
  if (live > <u64>field(arena, A_MAX_BYTES)) return ENOMEM;
  let node: usize = 0;
  let callback: usize = 0;
  if (size > SMALL_MAX) {
    node = takeBlock(arena, size, alignLog2, KIND_ALLOC);
    if (node) callback = takeBlock(arena, CB_BYTES, minAlignLog2(arena), KIND_DTOR);
  } else {
    const reserved = field(arena, A_RESERVED);
    callback = takeBlock(arena, CB_BYTES, minAlignLog2(arena), KIND_DTOR);
    if (callback) node = takeBlock(arena, size, alignLog2, KIND_ALLOC);
    // The callback node started a chunk and the block found no room: the chunk goes back too.
    if (callback && !node && field(arena, A_RESERVED) != reserved) {
      dropFreshChunk(arena);
      return ENOMEM;
    }
  }
  if (!node || !callback) {
    if (node) dropBlock(arena, node);
    if (callback) dropBlock(arena, callback);
    return ENOMEM;
  }
  const payload = commitAlloc(arena, node, size, zero);
  store<u32>(node, load<u32>(node, NODE_META) | META_DTOR, NODE_META);
  commitCallback(arena, callback, slot, KIND_DTOR, node);
  return payload;
}

/** Links a taken block as the newest live allocation and counts it. */
@inline function commitAlloc(arena: usize, node: usize, size: u32, zero: u32): usize {
  const flags = field(arena, A_FLAGS);
  store<u32>(node, size, NODE_SIZE);
  linkNode(arena, node);
  const payload = node + HEADER;
  count(arena, size);
  if (zero) memory.fill(payload, 0, size);
  else if (flags & FLAG_POISON) memory.fill(payload, POISON_FRESH, size);
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

/** Takes a live allocation out of the counts and returns its block (through the quarantine, if any). */
@inline function freeNode(arena: usize, node: usize): void {
  const size = load<u32>(node, NODE_SIZE);
  unlinkNode(arena, node);
  uncount(arena, size);
  if (poisoned(arena)) memory.fill(node + HEADER, POISON_FREED, size);
  retireBlock(arena, node);
}

/**
 * Frees one allocation now; EBADPTR unless `ptr` starts a live allocation of
 * `arena`, EDTOR (nothing changed) when it has a destructor to run first.
 */
export function free(arena: usize, ptr: usize): u32 {
  // The common call (a small allocation without a destructor, arena neither poisoned nor
  // quarantining) runs straight through: the block-start bit says a header of the core's
  // stands before `ptr`, its kind says whether it is live, and freeing writes the kind only.
  // `|` rather than `||`: both operands are cheap, and one branch predicts better.
  if ((ptr & GRANULE_MASK) | <u32>(<u32>(ptr >> PAGE_BITS) >= mapCapacity)) return EBADPTR;
  if (ownerAt(ptr) != <u32>arena) return freeOther(arena, ptr);
  if (!(load<u32>(bitWord(ptr)) & bitMask(ptr))) return EBADPTR;
  const node = ptr - HEADER;
  const meta = load<u32>(node, NODE_META);
  if (metaKind(meta) != KIND_ALLOC) return EBADPTR;
  if ((meta & META_DTOR) | (field(arena, A_FLAGS) & (FLAG_POISON | FLAG_QUARANTINE | FLAG_REMOTE))) {
    return freeFound(arena, node);
  }
  unlinkNode(arena, node);
  uncount(arena, load<u32>(node, NODE_SIZE));
  releaseSmallBlock(arena, node, meta);
  return OK;
}

/** free() off its straight path, by pointer: a large run or a bad pointer. */
function freeOther(arena: usize, ptr: usize): u32 {
  const node = findLive(arena, ptr);
  return node ? freeFound(arena, node) : EBADPTR;
}

/**
 * free() of a live node off the straight path: a destructor to run first,
 * poison, a quarantine, a large run; in the shared build, frees queued by
 * other threads: EDRAIN once this block is freed, so that the host drains them.
 */
function freeFound(arena: usize, node: usize): u32 {
  if (load<u32>(node, NODE_META) & META_DTOR) return EDTOR;
  freeNode(arena, node);
  return SHARED && (field(arena, A_FLAGS) & FLAG_REMOTE) ? EDRAIN : OK;
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
  const poison = poisoned(arena);
  const large = metaClass(meta) == LARGE_CLASS;
  const capacity = capacityOfNode(node);
  // In place when it fits, unless a large run would shrink to a small block's size; or when
  // it grows and the memory right after the block is free (growBlock).
  if (size <= capacity ? !large || size > SMALL_MAX : growBlock(arena, node, meta, size, capacity)) {
    if (poison && size > old) memory.fill(ptr + old, POISON_FRESH, size - old);
    if (poison && size < old) memory.fill(ptr + size, POISON_FREED, old - size);
    store<u32>(node, size, NODE_SIZE);
    addLiveBytes(arena, <u32>live);
    return ptr;
  }
  // Past SMALL_MAX, a block that must move to grow starts a page of its own when it can (growHome).
  const home = size > SMALL_MAX && !homeTaken();
  const moved = home
    ? takeLarge(arena, size, alignLog2, KIND_ALLOC, true)
    : takeBlock(arena, size, alignLog2, KIND_ALLOC);
  if (!moved) return ENOMEM;
  if (home) growHome = moved & ~(<usize>PAGE_SIZE - 1);
  const payload = moved + HEADER;
  memory.copy(payload, ptr, min(old, size));
  if (poison && size > old) memory.fill(payload + old, POISON_FRESH, size - old);
  if (poison) memory.fill(ptr, POISON_FREED, old);
  store<u32>(moved, size, NODE_SIZE);
  store<u32>(moved, load<u32>(moved, NODE_META) | (meta & META_DTOR), NODE_META);
  replaceNode(arena, node, moved);
  if (meta & META_DTOR) store<u32>(load<u32>(moved, NODE_NEXT), <u32>moved, CB_EXTRA);
  // A small block that ends the bump range goes back to it (unless the quarantine holds it),
  // its start bit cleared: the next block bumped there can grow in place again, and no free
  // list fills with its class.
  if (!large && ptr + capacity == field(arena, A_CUR) && old + HEADER > field(arena, A_QUARANTINE_LIMIT)) {
    clearStart(ptr);
    setField(arena, A_CUR, <u32>node);
  } else retireBlock(arena, node);
  addLiveBytes(arena, <u32>live);
  return payload;
}

/**
 * The page where realloc last moved a block to grow past SMALL_MAX. Such a
 * block starts a page of its own (takeLarge's `fresh`), so that, growing on,
 * it takes the slots after it and then becomes a large block in place
 * (extendRun): doubling a buffer from 4 KiB to 64 KiB and beyond copies it
 * once. Only one page at a time is kept for this: while the block heading
 * it can still become a large block there, others move to the smallest free
 * run that fits, as any block; and its free slots stay free for anyone. So
 * the cost is bounded: buffers that stop growing at a few KiB do not take a
 * page each (test/realloc-in-place.test.ts: 40 blocks of 8 KiB, two pages
 * more than the six they fill).
 */
let growHome: usize = 0;

/** Whether the page at growHome is still headed by a medium block with every slot after it free. */
function homeTaken(): bool {
  lock();
  const taken = homeTakenLocked();
  unlock();
  return taken;
}

function homeTakenLocked(): bool {
  const home = growHome;
  if (ownerOf(<u32>(home >> PAGE_BITS)) != OWNER_SUB || !(slotOwner(home) & OWNER_RUN)) return false;
  const slots = <u32>load<u16>(home, CHUNK_SLOTS);
  return slotOwner(home + (slots << SLOT_BITS)) == freeSlotTag(SLOTS - slots);
}

/**
 * Grows a live allocation's block in place to hold `size` bytes, more than
 * its `capacity`, when the memory right after it is free: a small block that
 * ends at the bump frontier takes more of the bump range (its class
 * rewritten, its start bit where it was) when a move would bump too (no
 * free block of the new class); a block of its own takes the free slots and
 * pages after it (extendRun), as the layout takeLarge would give it for that
 * size. False, nothing changed, when it cannot.
 */
function growBlock(arena: usize, node: usize, meta: u32, size: u32, capacity: u32): bool {
  const payload = node + HEADER;
  if (metaClass(meta) != LARGE_CLASS) {
    if (size > SMALL_MAX || payload + capacity != field(arena, A_CUR)) return false;
    const grown = smallClassOf(size);
    const end = payload + capacityOf(grown);
    // Only where a move would bump too: a free block of the new class is reused instead.
    if (end > field(arena, A_END) || load<u32>(arena + A_FREE + (grown << 2))) return false;
    setField(arena, A_CUR, <u32>end);
    store<u32>(node, (meta & ~(CLASS_MASK << CLASS_SHIFT)) | (grown << CLASS_SHIFT), NODE_META);
    return true;
  }
  const run = runOf(node);
  // The layout takeLarge would give the block at that size. A block aligned above a slot
  // always has whole pages, and capacity past MEDIUM_MAX, so it never gets a run of slots here.
  const shape = runShape(<u64>(payload - run) + size, metaAlignLog2(meta), arena);
  const pages = <u32>shape;
  const slots = <u32>(shape >> 32);
  lock();
  const extended = extendRun(run, pages, slots, <u32>arena | OWNER_LARGE);
  unlock();
  if (!extended) return false;
  // The chunk covered the payload's offset and the capacity; now its pages and slots.
  bump(arena, A_RESERVED, (pages << PAGE_BITS) + (slots << SLOT_BITS) - <u32>(payload - run) - capacity);
  return true;
}

/** The counter a callback kind is counted in, or 0. */
@inline function counterOf(kind: u32): u32 {
  if (kind == KIND_ACTION) return A_ACTIONS;
  if (kind == KIND_GROUP) return A_GROUPS;
  if (kind == KIND_CHILD) return A_CHILDREN;
  return 0;
}

/**
 * Adds a node for the host's handle `slot` as the newest node: an action,
 * a group's open or close marker, or a child arena (destructors come with
 * their allocation, from allocWithDestructor).
 */
export function addCallback(arena: usize, slot: u32, kind: u32): usize {
  const status = busy(arena);
  if (status) return status;
  if (kind != KIND_CLOSE && !counterOf(kind)) return EINVAL;
  const node = takeBlock(arena, CB_BYTES, minAlignLog2(arena), kind);
  if (!node) return ENOMEM;
  // A group's open marker holds its close marker's block from the start, so that closing,
  // releasing and unwinding a group never need memory (group(fn) after fn ran out of it).
  let reserve: usize = 0;
  if (kind == KIND_GROUP) {
    reserve = takeBlock(arena, CB_BYTES, minAlignLog2(arena), KIND_CLOSE);
    if (!reserve) {
      dropBlock(arena, node);
      return ENOMEM;
    }
  }
  commitCallback(arena, node, slot, kind, reserve);
  return node;
}

/**
 * Closes the group whose open marker is `open`: its reserved block becomes
 * the newest node, a close marker carrying the group's slot. Needs no
 * memory; EINVAL when the group is closed already or `open` is none of
 * `arena`'s open markers.
 */
export function closeGroup(arena: usize, open: usize): usize {
  const status = busy(arena);
  if (status) return status;
  if (!isCallback(arena, open) || metaKind(load<u32>(open, NODE_META)) != KIND_GROUP) return EINVAL;
  const close = <usize>load<u32>(open, CB_EXTRA);
  if (!close) return EINVAL;
  store<u32>(open, 0, CB_EXTRA);
  commitCallback(arena, close, load<u32>(open, CB_SLOT), KIND_CLOSE, 0);
  return close;
}

/** Links a taken block as the newest callback node (a close marker: release list only). */
@inline function commitCallback(arena: usize, node: usize, slot: u32, kind: u32, target: usize): void {
  store<u32>(node, 0, NODE_SIZE);
  store<u32>(node, slot, CB_SLOT);
  store<u32>(node, <u32>target, CB_EXTRA);
  linkNode(arena, node);
  if (kind != KIND_CLOSE) linkCallback(arena, node);
  const counter = counterOf(kind);
  if (counter) bump(arena, counter, 1);
}

/** addCallback for an action: the hot path of `add`, without the kind dispatch; a new chunk goes to addCallback. */
export function addAction(arena: usize, slot: u32): usize {
  const flags = field(arena, A_FLAGS);
  if (flags & FLAG_RELEASING) return EBUSY;
  const alignLog2 = (flags >> MIN_ALIGN_SHIFT) & ALIGN_MASK;
  const node = takeSmallBlock(arena, CB_CLASS, alignLog2);
  if (!node) return addCallback(arena, slot, KIND_ACTION);
  store<u32>(node, makeMeta(KIND_ACTION, CB_CLASS, alignLog2), NODE_META);
  commitCallback(arena, node, slot, KIND_ACTION, 0);
  return node;
}

/**
 * Takes an allocation whose destructor is about to run out of every list
 * and count: no longer live (free of it is EBADPTR), its block kept until
 * dropDying so the destructor still reads valid memory.
 */
function startDying(arena: usize, node: usize): void {
  unlinkNode(arena, node);
  const meta = load<u32>(node, NODE_META);
  const size = load<u32>(node, NODE_SIZE);
  store<u32>(node, (meta & ~(META_DTOR | 15)) | KIND_DYING, NODE_META);
  uncount(arena, size);
}

/** Takes a callback node or close marker out of the lists and frees it. */
function dropCallback(arena: usize, node: usize): void {
  const kind = metaKind(load<u32>(node, NODE_META));
  unlinkNode(arena, node);
  if (kind != KIND_CLOSE) unlinkCallback(arena, node);
  const counter = counterOf(kind);
  if (counter) bump(arena, counter, -1);
  if (kind == KIND_DTOR) startDying(arena, load<u32>(node, CB_EXTRA));
  // A group that goes while still open gives back its reserved close marker.
  else if (kind == KIND_GROUP && load<u32>(node, CB_EXTRA)) dropBlock(arena, load<u32>(node, CB_EXTRA));
  dropBlock(arena, node);
}

/** True when `node` is a callback node or close marker of `arena`. */
function isCallback(arena: usize, node: usize): bool {
  if (node < <usize>firstPage << PAGE_BITS || ownerAt(node) != <u32>arena) return false;
  const kind = metaKind(load<u32>(node, NODE_META));
  return kind == KIND_CLOSE || counterOf(kind) != 0 || kind == KIND_DTOR;
}

/** Removes a callback node or close marker without running it; ESTALE when it is not one of `arena`'s. */
export function removeCallback(arena: usize, node: usize): u32 {
  if (!isCallback(arena, node)) return ESTALE;
  dropCallback(arena, node);
  return OK;
}

/** Slots popped by popActions, for the host to read; static data, below every page the core manages. */
const BATCH_SLOTS: u32 = 64;
const BATCH = memory.data(BATCH_SLOTS << 2);
/** Shared build: this thread's batch (the creator's is BATCH; attach carves one per thread). */
let batchAt: usize = BATCH;
/** Shared build: this thread's seven words for mapInfo (assembly/index.ts); 0 for the creator (its static ones). */
export let mapInfoAt: usize = 0;

/** Where popActions writes its slots. */
export function batchBuffer(): usize {
  return SHARED ? batchAt : BATCH;
}

/**
 * Removes up to BATCH_SLOTS newest callback nodes while they are actions,
 * writes their slots to batchBuffer() and returns how many: one crossing for
 * many actions in a whole release. Stops before any other kind, and pops
 * nothing while the arena has groups: a releaseGroup run meanwhile must
 * still find every action of its range in the lists. The host keeps popped
 * actions visible (stats, resources, removeAction) until they run.
 */
export function popActions(arena: usize): u32 {
  if (field(arena, A_GROUPS) || !(field(arena, A_FLAGS) & FLAG_RELEASING)) return 0;
  let count: u32 = 0;
  let node = <usize>field(arena, A_CB_HEAD);
  // dropCallback() by hand, for actions only: no kind dispatch and one counter update per batch
  // (calling popCallbackAt here measured 5-10% slower on add+release). Only a whole release calls
  // this, and endRelease drops every chunk: a popped action stays in the release list, where the
  // host still lists it until it runs, and its block goes with the chunk.
  while (node && count < BATCH_SLOTS && metaKind(load<u32>(node, NODE_META)) == KIND_ACTION) {
    store<u32>(batchBuffer() + (count << 2), load<u32>(node, CB_SLOT));
    count++;
    unlinkCallback(arena, node);
    store<u32>(node, makeMeta(KIND_POPPED, CB_CLASS, 0), NODE_META);
    node = field(arena, A_CB_HEAD);
  }
  if (count) bump(arena, A_ACTIONS, -<i32>count);
  return count;
}

/** Removes the newest callback node and returns its slot, or -1 when none is left. */
export function popCallback(arena: usize): i32 {
  const node = <usize>field(arena, A_CB_HEAD);
  return node ? popCallbackAt(arena, node) : -1;
}

/**
 * Starts the destructor of a live allocation: removes its destructor node,
 * makes the allocation dying, and returns the destructor's slot (-1 when
 * `ptr` is not a live allocation of `arena` with a destructor).
 */
export function takeDestructor(arena: usize, ptr: usize): i32 {
  const node = findLive(arena, ptr);
  if (!node || !(load<u32>(node, NODE_META) & META_DTOR)) return -1;
  return popCallbackAt(arena, load<u32>(node, NODE_NEXT));
}

/** Removes the callback node `node` and returns its slot. */
function popCallbackAt(arena: usize, node: usize): i32 {
  const slot = load<u32>(node, CB_SLOT);
  dropCallback(arena, node);
  return <i32>slot;
}

/**
 * Makes a live allocation without a destructor dying, as takeDestructor
 * does: a traced walk detaches each plain allocation before the host
 * reports it, so that nothing the tracer does (free it, allocate again) can
 * hand the block to a new owner before the walk frees it with dropDying.
 */
export function detach(arena: usize, ptr: usize): u32 {
  const node = findLive(arena, ptr);
  if (!node || (load<u32>(node, NODE_META) & META_DTOR)) return EBADPTR;
  startDying(arena, node);
  return OK;
}

/** Frees the block of a dying allocation once its destructor has run. */
export function dropDying(arena: usize, ptr: usize): u32 {
  const node = ptr - HEADER;
  if (ptr < <usize>firstPage << PAGE_BITS || (ownerAt(ptr) & ~(OWNER_LARGE | OWNER_RUN)) != <u32>arena) return EBADPTR;
  if (metaKind(load<u32>(node, NODE_META)) != KIND_DYING) return EBADPTR;
  if (poisoned(arena)) memory.fill(ptr, POISON_FREED, load<u32>(node, NODE_SIZE));
  retireBlock(arena, node);
  return OK;
}

/**
 * The newest node strictly between `open` and `close` (close = 0: up to the
 * newest node of the arena) that the host must see, or 0 when there is none.
 * Close markers of nested groups are stepped over and stay: a nested group
 * keeps its end until its own open marker is reached or it is released.
 * Unless `everyNode`, plain allocations in the way are freed here; callbacks
 * (and, with `everyNode`, plain allocations) are returned still linked.
 */
export function popRange(arena: usize, open: usize, close: usize, everyNode: u32): usize {
  let node = <usize>(close ? load<u32>(close, NODE_PREV) : field(arena, A_HEAD));
  while (node && node != open) {
    const meta = load<u32>(node, NODE_META);
    const kind = metaKind(meta);
    const older = <usize>load<u32>(node, NODE_PREV);
    // A block queued by another thread's heap.free stays for the owner's drain (shared build).
    if (kind == KIND_CLOSE || (SHARED && kind == KIND_REMOTE)) node = older;
    else if (kind == KIND_ALLOC && !(meta & META_DTOR) && !everyNode) {
      freeNode(arena, node);
      node = older;
    } else return node;
  }
  return node == open ? 0 : node;
}

/** Marks the arena releasing: allocation and registration answer EBUSY until it ends. */
export function beginRelease(arena: usize): u32 {
  const status = busy(arena);
  if (status) return status;
  // Shared build: another thread may set FLAG_REMOTE meanwhile (remoteFree).
  if (SHARED) atomic.or<u32>(arena + A_FLAGS, FLAG_RELEASING);
  else setField(arena, A_FLAGS, field(arena, A_FLAGS) | FLAG_RELEASING);
  return OK;
}

/** Fills every payload byte of the arena's chunks with the freed-poison. */
function poisonChunks(arena: usize): void {
  let run = <usize>field(arena, A_CHUNKS);
  while (run) {
    // A whole-page small chunk ends where its page's bitmap starts; any other chunk at its last slot.
    const whole = !load<u32>(run, CHUNK_PAYLOAD) && !load<u16>(run, CHUNK_SLOTS);
    const end = whole ? run + BITMAP_AT : run + chunkBytes(run);
    memory.fill(run + CHUNK_HEAD, POISON_FREED, end - run - CHUNK_HEAD);
    run = load<u32>(run, CHUNK_NEXT);
  }
}

/**
 * Ends a release begun by beginRelease once the host has popped every
 * callback: every chunk goes back to the heap at once, however many
 * allocations it held, quarantined blocks included. With `keep` the arena
 * stays usable (reset), its options kept; otherwise its record is recycled.
 */
export function endRelease(arena: usize, keep: u32): void {
  assert(field(arena, A_CB_HEAD) == 0, "release ended with callbacks left");
  if (poisoned(arena)) poisonChunks(arena);
  // Shared build: the chunks go to this thread's cache, under the heap lock only what does not
  // fit there, and the record's live-list links are the thread's own (assembly/cache.ts).
  if (SHARED) dropThreadChunks(arena);
  else dropChunks(arena);
  if (keep) {
    const peak = field(arena, A_PEAK_BYTES);
    const flags = field(arena, A_FLAGS) & ~(FLAG_RELEASING | FLAG_REMOTE);
    const maxBytes = field(arena, A_MAX_BYTES);
    const next = field(arena, A_LIVE_NEXT);
    const prev = field(arena, A_LIVE_PREV);
    // Everything but the quarantine limit, the record's last word (layout.ts).
    memory.fill(arena, 0, A_QUARANTINE_LIMIT);
    setField(arena, A_PEAK_BYTES, peak);
    setField(arena, A_FLAGS, flags);
    setField(arena, A_MAX_BYTES, maxBytes);
    setField(arena, A_LIVE_NEXT, next);
    setField(arena, A_LIVE_PREV, prev);
    return;
  }
  if (SHARED) {
    retireThreadArena(arena);
    return;
  }
  const next = field(arena, A_LIVE_NEXT);
  const prev = field(arena, A_LIVE_PREV);
  if (next) setField(next, A_LIVE_PREV, prev);
  if (prev) setField(prev, A_LIVE_NEXT, next);
  else liveArenas = next;
  recycleRecord(arena);
}

// ---- frees from other threads (shared build) --------------------------------
//
// heap.free(ptr) from any thread: remoteFree validates `ptr` under the heap
// lock as free() does (the owner map or slot table names the arena, then
// findLive: the block-start bit and the header's kind, or the run's chunk
// head), so that no chunk changes hands and no record is recycled meanwhile
// (both happen under the lock). It takes the block with one compare-exchange
// of its meta word, KIND_ALLOC -> KIND_REMOTE (so a second heap.free, the
// owner's free, realloc, sizeOf of it are EBADPTR: it is not live any more),
// pushes it on the arena's remote-free stack (the link in the first word of
// its payload, whose bytes are the freer's to give up; a compare-exchange
// loop on the stack head, as the owner pops without the lock) and sets
// FLAG_REMOTE (atomic or). The block stays in the release list and the
// counts: only the owner touches those. alloc and free test FLAG_REMOTE with
// the flags they test anyway and answer EDRAIN; the host then pops the blocks
// one by one (popRemote) and frees each with the owner's own free, traced and
// named as any. endRelease forgets the stack: its blocks go with the chunks.

/**
 * Shared build: queues the free of `ptr`, the start of a live allocation of
 * any arena of the heap, for that arena's owner. OK, EBADPTR (not the start
 * of a live allocation: interior, foreign, free, already queued) or EDTOR
 * (it has a destructor: only its owner may free it); on failure nothing changed.
 */
export function remoteFree(ptr: usize): u32 {
  if (!SHARED || (ptr & GRANULE_MASK) || <u32>(ptr >> PAGE_BITS) >= mapCapacity) return EBADPTR;
  lock();
  const status = queueRemote(ptr);
  unlock();
  return status;
}

function queueRemote(ptr: usize): u32 {
  // Arena records are 16-aligned: an entry naming one is the record, with OWNER_LARGE and
  // OWNER_RUN at most. Every other entry (free, META, FOREIGN, a free run of slots, a run a
  // thread's cache holds) has none of those bits clear enough to pass.
  const owner = ownerAt(ptr);
  const arena = <usize>(owner & ~(OWNER_LARGE | OWNER_RUN));
  if (!arena || (owner & 12)) return EBADPTR;
  // The arena's thread may be giving its chunks to its cache right now, without the heap lock:
  // holding that cache's lock keeps them where they are, and the entry read again under it
  // says whether the block is still the arena's. A record's cache is its thread's block, or 0
  // while its thread creates an arena in it (then the entry named an arena that is gone).
  const block = <usize>field(arena, A_CACHE);
  if (!block) return EBADPTR;
  holdCache(block);
  const status = ownerAt(ptr) == owner ? pushRemote(arena, ptr) : EBADPTR;
  letGoCache(block);
  return status;
}

/** queueRemote once the block's arena is known to hold it still: checks and queues the block. */
function pushRemote(arena: usize, ptr: usize): u32 {
  const node = findLive(arena, ptr);
  if (!node) return EBADPTR;
  const meta = load<u32>(node, NODE_META);
  if (meta & META_DTOR) return EDTOR;
  // The owner may be changing the header at this moment (its own free of the block): the
  // compare-exchange decides who has it.
  const queued = (meta & ~KIND_MASK) | KIND_REMOTE;
  if (atomic.cmpxchg<u32>(node + NODE_META, meta, queued) != meta) return EBADPTR;
  const head = arena + A_REMOTE;
  let top = atomic.load<u32>(head);
  while (true) {
    store<u32>(node + HEADER, top);
    const seen = atomic.cmpxchg<u32>(head, top, <u32>node);
    if (seen == top) break;
    top = seen;
  }
  atomic.or<u32>(arena + A_FLAGS, FLAG_REMOTE);
  return OK;
}

/**
 * Shared build, the owner: takes the newest block of the arena's remote-free
 * stack, makes it a live allocation again and returns its payload, for the
 * host to free at once; 0 when the stack is empty. Clears FLAG_REMOTE first,
 * so that a push that lands after the last pop sets it again.
 */
export function popRemote(arena: usize): usize {
  if (!SHARED) return 0;
  atomic.and<u32>(arena + A_FLAGS, ~FLAG_REMOTE);
  const head = arena + A_REMOTE;
  let node = <usize>atomic.load<u32>(head);
  // Only the owner pops, so the head it read cannot be popped and pushed again meanwhile (no ABA).
  while (node) {
    const seen = <usize>atomic.cmpxchg<u32>(head, <u32>node, load<u32>(node + HEADER));
    if (seen == node) break;
    node = seen;
  }
  if (!node) return 0;
  const meta = load<u32>(node, NODE_META);
  store<u32>(node, (meta & ~KIND_MASK) | KIND_ALLOC, NODE_META);
  return node + HEADER;
}
