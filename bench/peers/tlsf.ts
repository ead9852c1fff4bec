// Benchmark peer: AssemblyScript's own TLSF allocator (rt/tlsf.ts).
// Built by bench/build-peers.mjs with `--runtime minimal -O3 --noAssert`, so
// `heap.alloc` / `heap.free` are TLSF's `__alloc` / `__free` with nothing
// around them: the baseline of a general-purpose wasm malloc/free.

/** Allocates `size` bytes; returns the payload's address (16-byte aligned). */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Frees a block returned by `alloc`. */
export function free(ptr: usize): void {
  heap.free(ptr);
}
