// Messages of the errors the core reports only as a status: on the error
// path (never on a hot path) the facade looks at the heap to say more than
// the code does. ENOMEM says which limit was hit, the arena's maxBytes or the
// heap's maxPages, with the numbers; EBADPTR names the arena whose live
// allocation the pointer is, when it is one of another arena of the heap, or
// says that it is a freed block the arena's quarantine holds.
// For that, each heap keeps a map from arena record (what the core's page
// owner map holds) to the arena's state, in step with creation and teardown
// (Heap.arenas).

import { ArenaError, statusError } from "./errors.js";
import { Owner, Word } from "./introspect.js";
import type { ArenaState, HeapView } from "./state.js";

/** Status codes of the core (assembly/layout.ts). */
const ENOMEM = 3;
const EBADPTR = 4;
const PAGE = 65536;

/** What the failed call asked for: the pointer it took, the size it wanted (realloc: both). */
export interface Request {
  ptr?: number;
  size?: number;
}

/**
 * The ArenaError for `status`, returned by the core to a call on the arena of
 * `state` (what: the call, as shown), saying which limit an ENOMEM hit and
 * whose allocation an EBADPTR pointer is. @internal
 */
export function arenaError(state: ArenaState, status: number, what: string, request: Request = {}): ArenaError {
  if (status === ENOMEM) {
    const words = state.heap.u32();
    const at = state.record >>> 2;
    const live = words[at + Word.LiveBytes];
    const max = words[at + Word.MaxBytes];
    if (request.size !== undefined) {
      const held = request.ptr === undefined ? 0 : sizeIn(state, request.ptr);
      const more = request.size - held;
      if (more > 0 && live + more > max) {
        return new ArenaError(
          "ENOMEM",
          `${what}: arena ${JSON.stringify(state.name)} would go over its maxBytes ${max} ` +
            `(liveBytes ${live}, this call needs ${more} more)`,
        );
      }
    }
    return heapError(state.heap, status, what);
  }
  if (status === EBADPTR && request.ptr !== undefined) {
    if (quarantined(state, request.ptr)) {
      return statusError(status, what, "it was freed, and its block is held in the quarantine (a stale pointer)");
    }
    const owner = ownerOf(state, request.ptr);
    if (owner !== undefined) {
      return statusError(status, what, `it is a live allocation of arena ${JSON.stringify(owner.name)}`);
    }
  }
  return statusError(status, what);
}

/** The ArenaError for `status` returned by the core to a call on `heap` (no arena's limit involved). @internal */
export function heapError(heap: HeapView, status: number, what: string): ArenaError {
  const maxPages = heap.maxPages;
  if (status !== ENOMEM) return statusError(status, what);
  const pages = heap.memory.buffer.byteLength / PAGE;
  return new ArenaError(
    "ENOMEM",
    `${what}: the heap cannot grow past its maxPages ${maxPages} (it has ${pages} pages of 64 KiB)`,
  );
}

/** The requested size of `ptr` if it is a live allocation of the arena of `state`, else 0. */
function sizeIn(state: ArenaState, ptr: number): number {
  const node = state.heap.core.find(state.record, ptr) >>> 0;
  return node === 0 ? 0 : state.heap.u32()[(node >>> 2) + Word.NodeSize];
}

/** Whether `ptr` is the payload of a block in the quarantine of the arena of `state` (a walk: error path only). */
function quarantined(state: ArenaState, ptr: number): boolean {
  const words = state.heap.u32();
  // Bounded like check()'s walks (a block takes at least 16 bytes of the arena's chunks), should memory be broken.
  let steps = (words[(state.record >>> 2) + Word.Reserved] >>> 4) + 1;
  for (
    let node = words[(state.record >>> 2) + Word.QuarantineHead];
    node !== 0 && steps-- > 0;
    node = words[node >>> 2]
  ) {
    if (node + 16 === ptr) return true;
  }
  return false;
}

/**
 * The other arena of the heap of which `ptr` is the start of a live
 * allocation, if any: the page's owner in the core's owner map, confirmed by
 * the core's own lookup in that arena.
 */
function ownerOf(state: ArenaState, ptr: number): ArenaState | undefined {
  const core = state.heap.core;
  const info = core.mapInfo() >>> 2;
  const words = state.heap.u32();
  const ownerMap = words[info];
  const mapCapacity = words[info + 3];
  const page = Math.floor(ptr / PAGE);
  if (page >= mapCapacity) return undefined;
  let entry = words[(ownerMap >>> 2) + page];
  if (entry === Owner.Sub) entry = words[(page * PAGE + Owner.SlotTableAt + Math.floor((ptr % PAGE) / 256) * 4) >>> 2];
  const record = entry & ~(Owner.Large | Owner.Run);
  const owner = state.heap.arenaAt(record >>> 0);
  if (owner === undefined || owner === state) return undefined;
  return core.find(owner.record, ptr) >>> 0 === 0 ? undefined : owner;
}
