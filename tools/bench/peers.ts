// The peers managed-arena is measured against.
//
// Wasm peers, called through their raw `instance.exports` (no loader
// wrappers), so every allocator pays the same JS→wasm boundary:
//   - bump: AssemblyScript's stub runtime (`heap.alloc` bumps a pointer), the
//     floor for any allocator here;
//   - TLSF: AssemblyScript's TLSF under `--runtime minimal`, a general-purpose
//     malloc/free.
// Both are compiled from bench/peers/*.ts by bench/build-peers.mjs and
// inlined as base64 in tools/generated/peers.ts, so the installed CLI needs no
// compiler.
//
// A JS malloc: @thi.ng/malloc's MemPool, a first-fit allocator over one
// ArrayBuffer (block headers in the buffer, a used list and an address-sorted
// free list), the library people pick for hybrid JS/wasm memory. Its free
// searches the used list from the newest block: O(live).
//
// JS peers: a plain array of closures run in reverse, the native
// DisposableStack (where the runtime has one), and the seed's bookkeeping
// (drm_managed as first posted: a list of records, newest first, that
// `drmm_kfree` searches linearly) written in JS.

import { MemPool } from "@thi.ng/malloc";
import { peerWasm } from "../generated/peers.js";

/** The raw exports of a wasm peer (bench/peers/*.ts). */
export interface WasmPeer {
  alloc(size: number): number;
  free(ptr: number): void;
  realloc(ptr: number, size: number): number;
  /** bump only: drop every block at once. */
  reset(): void;
  memory: WebAssembly.Memory;
}

export type WasmPeerName = keyof typeof peerWasm;

const modules: Partial<Record<WasmPeerName, WebAssembly.Module>> = {};

/** The compiled module of a wasm peer (compiled once per process). */
export function peerModule(name: WasmPeerName): WebAssembly.Module {
  modules[name] ??= new WebAssembly.Module(peerBytes(name));
  return modules[name];
}

/** The .wasm bytes of a peer. */
export function peerBytes(name: WasmPeerName): Uint8Array<ArrayBuffer> {
  return base64Bytes(peerWasm[name]);
}

/** Decodes base64 (the generated modules inline their wasm that way). */
export function base64Bytes(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Imports of a peer: AssemblyScript's `abort` (a failed allocation traps). */
export const peerImports: WebAssembly.Imports = {
  env: {
    abort: () => {
      throw new Error("benchmark peer aborted (out of memory?)");
    },
  },
};

/** A fresh instance of a wasm peer: its own memory, its raw exports. */
export function instantiatePeer(name: WasmPeerName): WasmPeer {
  const instance = new WebAssembly.Instance(peerModule(name), peerImports);
  return instance.exports as unknown as WasmPeer;
}

/** The runtime's DisposableStack, or undefined (Node < 24). */
export const NativeDisposableStack: typeof DisposableStack | undefined = (
  globalThis as { DisposableStack?: typeof DisposableStack }
).DisposableStack;

/** A record of the seed's managed list: `struct drmres` (links, data, size). */
class SeedRecord {
  prev: SeedRecord | null = null;
  next: SeedRecord | null;
  readonly data: number;
  readonly size: number;
  constructor(next: SeedRecord | null, data: number, size: number) {
    this.next = next;
    this.data = data;
    this.size = size;
  }
}

/**
 * The seed's bookkeeping in JS: `drmm_kmalloc` puts a record at the head of
 * the list (newest first); `drmm_kfree` walks the list from the head until a
 * record's data matches, then unlinks it: O(live allocations). Addresses come
 * from a counter (no memory behind them): only the bookkeeping is measured.
 */
export class SeedList {
  private head: SeedRecord | null = null;
  private top = 0;
  count = 0;

  alloc(size: number): number {
    // Small integers that stay small: a record lives far fewer than 2^26 allocations here.
    this.top = this.top >= 0x3ffffff0 ? 16 : this.top + 16;
    const data = this.top;
    const record = new SeedRecord(this.head, data, size);
    if (this.head !== null) this.head.prev = record;
    this.head = record;
    this.count++;
    return data;
  }

  free(data: number): void {
    for (let record = this.head; record !== null; record = record.next) {
      if (record.data !== data) continue;
      if (record.prev !== null) record.prev.next = record.next;
      else this.head = record.next;
      if (record.next !== null) record.next.prev = record.prev;
      this.count--;
      return;
    }
    throw new Error(`JS list: free of unknown pointer ${data}`);
  }
}

/** The name @thi.ng/malloc is shown under. */
export const THING = "@thi.ng/malloc";

/**
 * A @thi.ng/malloc pool of `bytes` over a fresh ArrayBuffer, every block
 * aligned to `align` (default 16: what managed-arena and TLSF give by
 * default); splitting and compaction on (its defaults).
 */
export function thingPool(bytes: number, align = 16): MemPool {
  return new MemPool({ size: bytes, align: align as 16 });
}
