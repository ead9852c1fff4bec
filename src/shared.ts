// One heap, many threads (DESIGN §7): what the main entry holds of it. Heap
// calls the functions registered here; src/shared-core.ts, which only the
// entries managed-arena/shared and managed-arena/debug import, registers
// them with the shared core (wasm threads), so that a bundle of the main
// entry carries neither (test/bundle.test.ts).

import { ArenaError } from "./errors.js";

/**
 * What heap.share() returns, to postMessage to a worker and pass to
 * Heap.attach there. Every field is structured-cloneable; treat it as opaque.
 */
export interface SharedHeapDescriptor {
  /** Marks the object as a descriptor of this library. */
  readonly kind: "managed-arena/shared-heap";
  /** The heap's memory (shared). */
  readonly memory: WebAssembly.Memory;
  /** The compiled shared core the heap runs. */
  readonly module: WebAssembly.Module;
  /** The heap's maxPages. */
  readonly maxPages: number;
  /** Whether the core is the debug build (heap.check() works in every thread). */
  readonly debug: boolean;
}

/** What src/shared-core.ts registers. @internal */
export interface SharedSupport {
  createSharedMemory(initial: number, maximum: number): WebAssembly.Memory;
  sharedModule(debug: boolean): Promise<WebAssembly.Module>;
  instantiateShared<T>(memory: WebAssembly.Memory, module: WebAssembly.Module): Promise<T>;
  attachCore(core: never): void;
  describeShared(
    memory: WebAssembly.Memory,
    module: WebAssembly.Module,
    maxPages: number,
    debug: boolean,
  ): SharedHeapDescriptor;
  readDescriptor(descriptor: unknown): SharedHeapDescriptor;
  /** heap.free on a shared heap: validates `ptr` and queues it for its arena's owner, or throws. */
  freeRemote(core: { remoteFree?(ptr: number): number }, ptr: number): void;
}

let support: SharedSupport | undefined;
/** Loads src/shared-release.ts (registered by the main entry): the shared core on first use. */
let loader: (() => Promise<unknown>) | undefined;

/** Called by src/shared-core.ts. @internal */
export function registerShared(functions: SharedSupport): void {
  support ??= functions;
}

/**
 * Called by the main entry (src/index.ts): how to load the shared release
 * core when a shared heap is first asked for, with a dynamic import, so that
 * a program that never shares a heap loads and (with a bundler that splits
 * code) downloads none of it. @internal
 */
export function registerSharedLoader(load: () => Promise<unknown>): void {
  loader ??= load;
}

/** The registered support, loading it first if the main entry said how; else EINVAL as sharedSupport. @internal */
export async function loadSharedSupport(what: string): Promise<SharedSupport> {
  if (support === undefined && loader !== undefined) await loader();
  return sharedSupport(what);
}

/** The registered support, or EINVAL saying which entry to import. @internal */
export function sharedSupport(what: string): SharedSupport {
  if (support === undefined) {
    throw new ArenaError(
      "EINVAL",
      `${what} needs the shared core, which managed-arena/slim does not load: use the entry "managed-arena" (it loads the core on first use) or "managed-arena/shared" in this thread`,
    );
  }
  return support;
}
