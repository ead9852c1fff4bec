// Layout of everything the core keeps in linear memory: constants first, then
// the node header, the chunk head and the arena record, each drawn as a box.
//
// The core never allocates through the AssemblyScript runtime (it is built
// with `--runtime stub`, whose bump allocator decides from `memory.size()` and
// would land inside pages this core grew). All state is raw loads and stores
// at the offsets defined here; failures are status codes, never traps.

// ---- status codes (mirrored by src/errors.ts) ------------------------------

export const OK: u32 = 0;
export const EINVAL: u32 = 1;
export const EOVERFLOW: u32 = 2;
export const ENOMEM: u32 = 3;
export const EBADPTR: u32 = 4;
export const ESTALE: u32 = 5;
export const ERELEASED: u32 = 6;
export const EBUSY: u32 = 7;
/** Internal: the allocation has a destructor; the host must run it (takeDestructor) before freeing. */
export const EDTOR: u32 = 8;
/**
 * Internal, shared build: other threads queued frees for this arena (heap.free).
 * From free: the block was freed, now drain the queue (popRemote); from alloc:
 * nothing was done, drain and call again.
 */
export const EDRAIN: u32 = 9;
/** Every pointer handed out lies above page 0, so a result below this is a status code. */
export const STATUS_LIMIT: u32 = 16;

// ---- pages and chunks ------------------------------------------------------

export const PAGE_BITS: u32 = 16;
export const PAGE_SIZE: u32 = 1 << PAGE_BITS;
/** Pages the core will use at most: with the top page unused, `page + PAGE_SIZE` never wraps in 32 bits. */
export const PAGE_LIMIT: u32 = 65535;

// Memory is owned at two grains. A run of pages (free, META, a whole-page
// chunk of an arena, a large allocation) is recorded per page in the owner
// map. A "subdivided" page is cut into 256-byte slots, recorded per slot in
// a table at the page's end, so that arenas share it: a small chunk of a
// small arena, or a medium allocation, is a run of slots. Every run of
// either kind starts with a 16-byte chunk head:
//
//   chunk head
//   ┌──────────┬──────────┬─────────────────────────┬───────────┐
//   │ next u32 │ prev u32 │ pages u16 │ slots u16   │ payload   │
//   └──────────┴──────────┴─────────────────────────┴───────────┘
//   0          4          8           10            12          16
//
//   next/prev   the chunks of one arena, or the heap's free runs
//   pages       whole pages the chunk covers from its head (a free run: its length)
//   slots       slots it covers after them: a run of slots inside a subdivided page
//               (pages 0), or the tail of a large allocation in the page after its
//               whole pages, so that a large block rounds to 256 B, not to 64 KiB
//   payload     a block of its own (a medium or large allocation): its payload
//               address; 0 for a small chunk, which holds many blocks
//
// Every page that holds small blocks ends with a block-start bitmap, one bit
// per 8-byte granule; a subdivided page has its slot table right before it:
//
//   whole-page small chunk (owner map: the arena)
//   ┌────────────┬───────────────────────────────────────────┬───────────────────┐
//   │ chunk head │ blocks ...                                │ block-start bitmap │
//   └────────────┴───────────────────────────────────────────┴───────────────────┘
//   0            16                                          64512          65536
//
//   subdivided page (owner map: OWNER_SUB)
//   ┌─────────┬─────────┬─────┬────────────────┬────────────────────┬───────────────────┐
//   │ slot 0  │ slot 1  │ ... │ slot 247       │ slot table:        │ block-start bitmap │
//   │ 256 B   │         │     │                │ u32 x 256          │                   │
//   └─────────┴─────────┴─────┴────────────────┴────────────────────┴───────────────────┘
//   0         256       512                    63488                64512          65536
//
//   slot entry  0            free (inside a free run) or never used
//               len<<4 | 8   first and last slot of a free run of `len` slots (SLOT_FREE)
//               arena        a slot of the arena's small chunk
//               arena | 1    a slot of the arena's medium or large block (OWNER_LARGE),
//                 | 2        its first slot, where its chunk head is (OWNER_RUN)
//               OWNER_META   the 8 entries of the table and bitmap themselves
//               block | 4    shared build: a run a thread's cache holds (SLOT_CACHED,
//                            assembly/cache.ts): nobody's arena, not free for others
//
// Free runs of slots are linked per exact length (1..SLOTS) through their
// first 8 bytes: next u32, prev u32 (assembly/chunks.ts).

export const CHUNK_NEXT: u32 = 0;
export const CHUNK_PREV: u32 = 4;
export const CHUNK_PAGES: u32 = 8;
export const CHUNK_SLOTS: u32 = 10;
export const CHUNK_PAYLOAD: u32 = 12;
export const CHUNK_HEAD: u32 = 16;
export const GRANULE_BITS: u32 = 3;
export const GRANULE_MASK: u32 = (1 << GRANULE_BITS) - 1;
export const BITMAP_BYTES: u32 = PAGE_SIZE >> GRANULE_BITS >> 3;
/** Where a page's block-start bitmap begins: the end of the blocks of a whole-page chunk. */
export const BITMAP_AT: u32 = PAGE_SIZE - BITMAP_BYTES;
export const SLOT_BITS: u32 = 8;
export const SLOT_SIZE: u32 = 1 << SLOT_BITS;
/** Slots of a subdivided page that hold runs; the rest hold its slot table and bitmap. */
export const SLOTS: u32 = 248;
export const SLOT_TABLE_AT: u32 = SLOTS << SLOT_BITS;
export const SLOT_FREE: u32 = 8;
/**
 * Shared build: in a slot entry, with the address of a thread's cache block
 * (16-aligned, in a META page): a run of slots that thread gave back and
 * keeps for its next small chunk (assembly/cache.ts). Neither free
 * (SLOT_FREE) nor an arena's: free() and heap.free of a pointer there are
 * EBADPTR, and no neighbour's run merges with it.
 */
export const SLOT_CACHED: u32 = 4;

// The page maps, one entry per page: right after the static data while they
// reach far enough (64 MiB of memory), then in a META run of their own at the
// top of memory, moved to the last pages of every growth (assembly/chunks.ts):
//
//   owner map: u32 per page    0 = free or static, META = arena records and maps,
//                              FOREIGN = grown by someone else (the embedding program's
//                              allocator, or JS calling memory.grow), never touched,
//                              SUB = subdivided into slots (owners in its slot table),
//                              arena | 0 = whole-page small chunk, arena | LARGE = page of a large run
//   start map: u16 per page    first page of the run; kept for every page of a
//                              large run and for the first and last page of a free run

export const OWNER_LARGE: u32 = 1;
export const OWNER_META: u32 = 2;
/** In a slot entry, with OWNER_LARGE: the first slot of a block's run (its chunk head). */
export const OWNER_RUN: u32 = 2;
export const OWNER_FOREIGN: u32 = 4;
export const OWNER_SUB: u32 = 8;

// ---- node header -----------------------------------------------------------
//
// Every allocation and every action is a node: a 16-byte header right before
// its payload, linked into its arena's release list (newest first).
//
//   ┌──────────┬──────────┬──────────┬──────────┬──────────────────────────────┐
//   │ prev u32 │ next u32 │ size u32 │ meta u32 │ payload (aligned) ...        │
//   └──────────┴──────────┴──────────┴──────────┴──────────────────────────────┘
//   0          4          8          12         16
//
//   prev   older node in the release list (0: oldest); for a free block, the
//          next block of its free list; for a quarantined block, the next
//          newer block of the quarantine (0: the newest)
//   next   newer node (0: newest); stale in a free or quarantined block
//   size   requested size in bytes
//   meta   ┌ kind:4 ┬ class:6 ┬ alignLog2:4 ┬ dtor:1 ┬ unused:17 ┐
//          0        4         10            14       15
//
// Kinds: an allocation; a callback node (action, destructor, group's open
// marker, child arena); a group's close marker; a dying allocation (its
// destructor is running: in no list, not live, block still reserved); a free
// block (on its class's free list); a popped action (a whole release took it
// off the callback list and will run it: it keeps its place in the release
// list, so that the host can still list it in order, until its chunk goes);
// a quarantined block (a freed allocation held back from reuse, in the
// arena's quarantine queue: in no other list, not live; see the arena record);
// in the shared build, a remotely freed allocation (another thread's
// heap.free queued it for the owner: still in the release list and counted,
// not live, also on the arena's remote-free stack through its payload's first
// word). A block is in at most one list, and its kind says which: the release
// list (allocations and callback nodes; remote blocks are on the remote-free
// stack too), a free list (free), the quarantine (quarantined); a dying block
// is in none.
//
// A callback node's payload is a record threaded on a second list, so that
// release walks callbacks only, never plain allocations:
//
//   ┌──────────┬───────────┬───────────┬───────────┐
//   │ slot u32 │ older u32 │ newer u32 │ extra u32 │   slot: index into the host's table of handles
//   └──────────┴───────────┴───────────┴───────────┘   extra: a destructor's allocation node, or an
//   16         20          24          28          32         open group's reserved close marker
//
// A destructor node always stands right after (newer than) its allocation,
// whose `dtor` bit is set: nothing is ever inserted between two nodes, and
// realloc keeps a node's place. A close marker carries its group's slot but
// is not on the callback list. Its block is taken when the group opens (in
// no list until the group closes), so that closing, releasing or unwinding a
// group never needs memory.

export const HEADER: u32 = 16;
export const NODE_PREV: u32 = 0;
export const NODE_NEXT: u32 = 4;
export const NODE_SIZE: u32 = 8;
export const NODE_META: u32 = 12;
export const CB_SLOT: u32 = 16;
export const CB_OLDER: u32 = 20;
export const CB_NEWER: u32 = 24;
export const CB_EXTRA: u32 = 28;
export const CB_BYTES: u32 = 16;
/** The size class of a callback node's block: classOf(CB_BYTES), as a constant. */
export const CB_CLASS: u32 = (CB_BYTES - 1) >> 3;

export const KIND_FREE: u32 = 0;
export const KIND_ALLOC: u32 = 1;
export const KIND_ACTION: u32 = 2;
export const KIND_DTOR: u32 = 3;
export const KIND_GROUP: u32 = 4;
export const KIND_CLOSE: u32 = 5;
export const KIND_CHILD: u32 = 6;
export const KIND_DYING: u32 = 7;
export const KIND_POPPED: u32 = 8;
export const KIND_QUARANTINED: u32 = 9;
/**
 * Shared build: an allocation another thread freed with `heap.free`, queued
 * for its owner (the arena's remote-free stack, linked through the first
 * word of its payload): still in the release list and the counts, not live;
 * the owner frees it at its next operation (popRemote).
 */
export const KIND_REMOTE: u32 = 10;
export const KIND_MASK: u32 = 15;
export const CLASS_SHIFT: u32 = 4;
export const CLASS_MASK: u32 = 63;
export const ALIGN_SHIFT: u32 = 10;
export const ALIGN_MASK: u32 = 15;
export const META_DTOR: u32 = 1 << 14;

/** The meta word of a node. */
@inline export function makeMeta(kind: u32, cls: u32, alignLog2: u32): u32 {
  return kind | (cls << CLASS_SHIFT) | (alignLog2 << ALIGN_SHIFT);
}
@inline export function metaKind(meta: u32): u32 {
  return meta & KIND_MASK;
}
@inline export function metaClass(meta: u32): u32 {
  return (meta >> CLASS_SHIFT) & CLASS_MASK;
}
@inline export function metaAlignLog2(meta: u32): u32 {
  return (meta >> ALIGN_SHIFT) & ALIGN_MASK;
}

// ---- size classes ----------------------------------------------------------
//
// A block's payload capacity is rounded up to its class. Classes 0..31 step by
// 8 bytes (8..256); above, four classes per power of two (320, 384, 448, 512,
// 640, ...) up to SMALL_MAX. Larger allocations get a run of their own: a
// medium one a run of slots (256-byte grain, coalesced when freed), a large
// one whole pages and a tail of slots.

export const SMALL_MAX: u32 = 4096;
/** Size classes of small blocks, and so free lists per arena. */
export const CLASSES: u32 = 48;
/** The largest chunk of slots (head, padding, header and payload) a medium block takes; beyond, pages. */
export const MEDIUM_MAX: u32 = SLOTS << SLOT_BITS;
/** The class recorded in the meta word of a large run's block (no free list has it). */
export const LARGE_CLASS: u32 = 63;

/** The smallest class whose capacity holds `size` (size <= SMALL_MAX). */
@inline export function classOf(size: u32): u32 {
  // Both halves are computed and one selected: with mixed sizes a branch here mispredicts often.
  const fine = (max(size, 8) - 1) >> 3;
  const last = max(size, 257) - 1;
  const k = 31 - clz<u32>(last);
  const coarse = 32 + ((k - 8) << 2) + ((last - (1 << k)) >> (k - 2));
  return select<u32>(fine, coarse, size <= 256);
}

/**
 * classOf of every small size, in steps of 8 bytes (index (size + 7) >> 3):
 * every class boundary is a multiple of 8, so one byte per step is exact;
 * and the capacity of every class, a u16 each. Static zeroed data (no bytes
 * in the module), filled by fillClassTables at init: the hot paths read a
 * table instead of the arithmetic.
 */
const CLASS_TABLE = memory.data((SMALL_MAX >> 3) + 1);
const CAPACITY_TABLE = memory.data(CLASSES << 1);

/** Fills CLASS_TABLE from classOf and CAPACITY_TABLE from classCapacity. */
export function fillClassTables(): void {
  for (let step: u32 = 0; step <= SMALL_MAX >> 3; step++) store<u8>(CLASS_TABLE + step, <u8>classOf(step << 3));
  for (let cls: u32 = 0; cls < CLASSES; cls++) store<u16>(CAPACITY_TABLE + (cls << 1), <u16>classCapacity(cls));
}

/** classOf(size) for size <= SMALL_MAX, from the table. */
@inline export function smallClassOf(size: u32): u32 {
  return load<u8>(CLASS_TABLE + ((size + 7) >> 3));
}

/** The payload capacity of class `cls`, computed (fillClassTables). */
function classCapacity(cls: u32): u32 {
  if (cls < 32) return (cls + 1) << 3;
  const k = 8 + ((cls - 32) >> 2);
  return (1 << k) + ((((cls - 32) & 3) + 1) << (k - 2));
}

/** The payload capacity of class `cls`, from the table. */
@inline export function capacityOf(cls: u32): u32 {
  return load<u16>(CAPACITY_TABLE + (cls << 1));
}

// ---- arena record ----------------------------------------------------------
//
// One 272-byte record per arena, carved from META pages and recycled.
//
//   ┌────────┬─────────┬────────┬──────┬──────┬───────┬───────────┬─────────────┬──────────┬──────────┐
//   │ head   │ cbHead  │ chunks │ cur  │ end  │ flags │ liveBytes │ allocations │ maxBytes │ reserved │
//   ├────────┼─────────┼────────┼──────┼──────┴───────┴───────────┴─────────────┴──────────┴──────────┘
//   0        4         8        12     16     20      24          28            32         36
//   ┌───────────┬─────────┬────────┬──────────┬──────────┬──────────┬────────────────────────────┐
//   │ peakBytes │ actions │ groups │ children │ liveNext │ livePrev │ free lists: 48 x u32 ...   │
//   └───────────┴─────────┴────────┴──────────┴──────────┴──────────┴────────────────────────────┘
//   40          44        48       52         56         60         64                         256
//   ┌───────────────┬───────────────┬──────────────────┬──────────────────┐
//   │ quarantine    │ quarantine    │ quarantine bytes │ quarantine limit │
//   │ head (oldest) │ tail (newest) │                  │                  │
//   └───────────────┴───────────────┴──────────────────┴──────────────────┘
//   256             260             264                268                272
//
//   head      newest node of the release list
//   cbHead    newest action (the callback list)
//   chunks    newest chunk owned; cur/end: the bump range in the newest small chunk
//   liveBytes/allocations   side by side, 8-aligned: alloc and free update both with one
//             64-bit add (A_COUNTS)
//   reserved  bytes of the arena's chunks; a new small chunk takes as many again (at least
//             one slot, at most a page), so a small arena stays small and a big one
//             takes few chunks
//   flags     bit 0 RELEASING, bit 1 POISON, bit 2 QUARANTINE, bit 3 REMOTE (shared build);
//             bits 8..11 log2(minAlign)
//   actions/groups/children   callback nodes of each kind (destructors are not counted)
//   liveNext/livePrev   the heap's list of live arenas (for check())
//   free lists   one per size class, linked through `prev`
//   quarantine   freed allocations held back from reuse (the `quarantine` option), oldest
//                first, linked through `prev` from head to tail; bytes: what they count,
//                each its requested size plus HEADER; limit: the most bytes it may hold,
//                0 = off. Once a free makes bytes exceed the limit, the oldest go to their
//                free lists (or their runs to the heap) until it does not; a block that
//                alone counts more than the limit is never held. A whole release or reset
//                drops the quarantine with the chunks.
//
//   shared build only, 16 bytes more (288 in all):
//   ┌──────────────┬─────────────┬─────────────┐
//   │ remote u32   │ cache u32   │ (padding)   │   remote: newest block of the remote-free stack
//   └──────────────┴─────────────┴─────────────┘   cache: the cache block of the thread that
//   272            276           280           288   created the arena (assembly/cache.ts)

export const A_HEAD: u32 = 0;
export const A_CB_HEAD: u32 = 4;
export const A_CHUNKS: u32 = 8;
export const A_CUR: u32 = 12;
export const A_END: u32 = 16;
export const A_FLAGS: u32 = 20;
export const A_LIVE_BYTES: u32 = 24;
export const A_ALLOCATIONS: u32 = 28;
/** liveBytes and allocations as one u64: liveBytes in the low half. */
export const A_COUNTS: u32 = A_LIVE_BYTES;
/** One allocation in A_COUNTS (its bytes are added to the low half). */
export const ONE_ALLOCATION: u64 = <u64>1 << 32;
export const A_MAX_BYTES: u32 = 32;
export const A_RESERVED: u32 = 36;
export const A_PEAK_BYTES: u32 = 40;
export const A_ACTIONS: u32 = 44;
export const A_GROUPS: u32 = 48;
export const A_CHILDREN: u32 = 52;
export const A_LIVE_NEXT: u32 = 56;
export const A_LIVE_PREV: u32 = 60;
export const A_FREE: u32 = 64;
export const A_QUARANTINE_HEAD: u32 = A_FREE + (CLASSES << 2);
export const A_QUARANTINE_TAIL: u32 = A_QUARANTINE_HEAD + 4;
export const A_QUARANTINE_BYTES: u32 = A_QUARANTINE_HEAD + 8;
export const A_QUARANTINE_LIMIT: u32 = A_QUARANTINE_HEAD + 12;
/**
 * Shared build only: the arena's remote-free stack (allocations other
 * threads freed with `heap.free`, newest first, linked through the first
 * word of each payload), pushed under the heap lock with a compare-exchange
 * and popped by the owner; 16 bytes more per record there (the word and
 * padding), none in the plain build.
 */
export const A_REMOTE: u32 = A_QUARANTINE_HEAD + 16;
/**
 * Shared build only: the cache block of the arena's thread (assembly/cache.ts),
 * whose lock heap.free takes to keep the arena's chunks from going to that
 * cache meanwhile.
 */
export const A_CACHE: u32 = A_REMOTE + 4;
export const ARENA_SIZE: u32 = A_REMOTE + (ASC_FEATURE_THREADS ? 16 : 0);

export const FLAG_RELEASING: u32 = 1;
export const FLAG_POISON: u32 = 2;
/** Set exactly when the quarantine limit is not 0: free() then leaves its straight path. */
export const FLAG_QUARANTINE: u32 = 4;
/**
 * Shared build: the remote-free stack may hold blocks. Set (atomic or) by the
 * thread that pushed, after the push; cleared by the owner before each pop.
 * alloc and free test it with the flags they test anyway, so it costs their
 * straight paths nothing; 0 in the plain build.
 */
export const FLAG_REMOTE: u32 = ASC_FEATURE_THREADS ? 8 : 0;
/** Poison bytes: fresh payloads (not zeroed) and freed ones, as the kernel's slab poisoning. */
export const POISON_FRESH: u8 = 0x5a;
export const POISON_FREED: u8 = 0x6b;
export const MIN_ALIGN_SHIFT: u32 = 8;
export const MIN_ALIGN_LOG2: u32 = 3;
export const MAX_ALIGN_LOG2: u32 = 12;

@inline export function alignUp(value: u32, alignLog2: u32): u32 {
  const mask = (<u32>1 << alignLog2) - 1;
  return (value + mask) & ~mask;
}
