// managed-arena as an AssemblyScript library:
//
//   import * as arenas from "managed-arena/assembly/embed";
//
//   arenas.init(4096);                                  // once, before anything else
//   const arena = arenas.createArena(4, u32.MAX_VALUE, 0); // log2(minAlign), maxBytes, flags
//   const ptr = arenas.alloc(arena, 64, 1, 0);          // size, align, zero: a pointer or a status < 16
//   arenas.free(arena, ptr);                            // OK (0) or EBADPTR (4)
//   arenas.beginRelease(arena);
//   for (let slot = arenas.popCallback(arena); slot >= 0; slot = arenas.popCallback(arena)) runMine(slot);
//   arenas.endRelease(arena, 0);
//
// The program keeps its own runtime (TLSF, with or without GC) for its own
// objects; the core owns only the pages it grows itself and marks every page
// grown by anyone else as foreign. Callbacks are slots: numbers the program
// maps to whatever it runs (a function table index, an array of closures).
// Status codes are those of assembly/layout.ts (EINVAL 1 ... EBUSY 7).

import { initForeignPages } from "./chunks";
import { fillClassTables } from "./layout";

// The stub runtime's bump allocator hands out memory up to memory.size()
// without asking who grew it, so it would walk into the core's pages.
if (ASC_RUNTIME == 0) ERROR("managed-arena/assembly/embed needs a TLSF runtime (incremental or minimal), not stub");

/** Sets the core up inside this program; call once, before any other function here. */
export function init(maxPages: u32): u32 {
  // The program's allocator claims every page there is when it first
  // allocates: make it do so now, so that the pages grown here stay ours.
  heap.free(heap.alloc(16));
  fillClassTables();
  return initForeignPages(maxPages);
}

export {
  createArena, alloc, allocWithDestructor, allocArray, free, find, realloc, addAction, addCallback, removeCallback,
  popCallback, popRange, takeDestructor, dropDying, beginRelease, endRelease, setQuarantine,
} from "./arena";
export { check } from "./check";
export {
  OK, EINVAL, EOVERFLOW, ENOMEM, EBADPTR, ESTALE, ERELEASED, EBUSY, STATUS_LIMIT, KIND_ACTION, KIND_GROUP, KIND_CLOSE,
  KIND_CHILD, FLAG_POISON, NODE_SIZE, HEADER,
} from "./layout";
