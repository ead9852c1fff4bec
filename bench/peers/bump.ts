// Benchmark peer: AssemblyScript's bump allocator (rt/stub.ts).
// Built by bench/build-peers.mjs with `--runtime stub -O3 --noAssert`:
// `heap.alloc` bumps a pointer; `heap.free` only steps the pointer back when
// the block is the most recent one (so LIFO frees reclaim, others leak until
// `reset`); `heap.realloc` grows the last block in place, else copies. This
// is the lower bound for any allocator behind the same JS→wasm boundary.

/** Allocates `size` bytes; returns the payload's address (16-byte aligned). */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Frees a block: reclaims it only if it is the last one allocated. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Resizes a block: in place when it is the last one, else a copy (the old block leaks until `reset`). */
export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}

/** Drops every allocation at once (the stub runtime's `heap.reset`). */
export function reset(): void {
  heap.reset();
}
