// Benchmark peer: AssemblyScript's own TLSF allocator (rt/tlsf.ts).
// Built by bench/build-peers.mjs with `--runtime minimal -O3 --noAssert`, so
// `heap.alloc` / `heap.free` / `heap.realloc` are TLSF's `__alloc` /
// `__free` / `__realloc` with nothing around them: the baseline of a
// general-purpose wasm malloc/free behind the same JS→wasm boundary.

/** Allocates `size` bytes; returns the payload's address (16-byte aligned). */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Frees a block returned by `alloc`. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Resizes a block: in place when the next block is free, else moves it. */
export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}
