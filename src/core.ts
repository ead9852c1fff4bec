// Loading the core. Three ways, one per entry or option:
//
// - `managed-arena` (src/index.ts) inlines the release core, deflated and
//   base64-encoded by scripts/build.mjs (src/generated/release-core.ts), and
//   registers it here through src/release-core.ts: no file access, fetch or
//   bundler plugin is needed, and DecompressionStream inflates it once per
//   process (6.5 KB of base64 instead of 14.7 KB);
// - `managed-arena/debug` (src/debug-entry.ts) registers the debug core the
//   same way (22 KB of base64 instead of 56 KB);
// - `Heap.create({ wasm })` takes the core from elsewhere: a URL (fetched,
//   compiled while it streams in), a Response, a WebAssembly.Module or the
//   bytes of dist/core.wasm or dist/core.debug.wasm. `managed-arena/slim`
//   (src/slim.ts) is the facade alone, with no core inlined: there `wasm` is
//   required, and a bundle of it carries none of the core.
//
// Each inlined build and each URL is compiled once per process; every Heap is
// a fresh instance with a fresh memory. The debug core is not imported with a
// dynamic import(): a bundler that does not split code (esbuild's default)
// would inline it into every bundle, which is what the entries are for.

import { ArenaError, describe } from "./errors.js";

/** The raw exports of the core (assembly/index.ts); pointers are u32, results u32 or a status below 16. */
export interface CoreExports {
  init(maxPages: number): number;
  createArena(minAlignLog2: number, maxBytes: number, flags: number): number;
  alloc(arena: number, size: number, align: number, zero: number): number;
  allocArray(arena: number, count: number, size: number, align: number, zero: number): number;
  free(arena: number, ptr: number): number;
  find(arena: number, ptr: number): number;
  realloc(arena: number, ptr: number, size: number): number;
  addAction(arena: number, slot: number): number;
  allocWithDestructor(arena: number, size: number, align: number, zero: number, slot: number): number;
  addCallback(arena: number, slot: number, kind: number): number;
  removeCallback(arena: number, node: number): number;
  /** Closes a group with the close marker its open marker reserved: never ENOMEM. */
  closeGroup(arena: number, open: number): number;
  /** Makes a live plain allocation dying (not live, block kept) until dropDying. */
  detach(arena: number, ptr: number): number;
  popCallback(arena: number): number;
  /** Pops up to 64 newest actions (none while the arena has groups); their slots are at batchBuffer(). */
  popActions(arena: number): number;
  batchBuffer(): number;
  popRange(arena: number, open: number, close: number, everyNode: number): number;
  takeDestructor(arena: number, ptr: number): number;
  dropDying(arena: number, ptr: number): number;
  beginRelease(arena: number): number;
  endRelease(arena: number, keep: number): void;
  /** Sets how many bytes of freed blocks the arena holds back from reuse (0: off); returns OK. */
  setQuarantine(arena: number, limit: number): number;
  /** Address of seven u32 describing the page maps (assembly/index.ts), for pictures of memory. */
  mapInfo(): number;
  /** Debug build only: 0, or the number of the first invariant broken. */
  check?(): number;
  /**
   * Shared cores only: queues the free of `ptr`, a live allocation of any
   * arena of the heap, for its owner (heap.free); OK, EBADPTR, or 8 when it
   * has a destructor. Nothing changed on failure.
   */
  remoteFree?(ptr: number): number;
  /** Shared cores only: the next allocation queued for `arena` by heap.free, live again for the owner to free; 0 when none. */
  popRemote?(arena: number): number;
  /** Shared cores only: pages of memory now, as this thread's wasm sees them (another thread's growth at once). */
  memorySize?(): number;
}

/** Where Heap.create's `wasm` option may take the core from. */
export type CoreSource =
  | string
  | URL
  | Response
  | PromiseLike<Response>
  | WebAssembly.Module
  | ArrayBuffer
  | ArrayBufferView;

/** The inlined builds (deflated, base64) once an entry registered them, and their compilations. */
const inlined: { release?: string; debug?: string } = {};
const compiled: { release?: Promise<WebAssembly.Module>; debug?: Promise<WebAssembly.Module> } = {};
/** Compilations of the cores fetched from a URL, by URL; a failed one is forgotten. */
const fetched = new Map<string, Promise<WebAssembly.Module>>();

/** Makes the release core available to Heap.create without `wasm`; called by src/release-core.ts. @internal */
export function registerReleaseCore(deflatedBase64: string): void {
  inlined.release ??= deflatedBase64;
}

/** Makes the debug core available to Heap.create({ debug: true }); called by src/debug-entry.ts. @internal */
export function registerDebugCore(deflatedBase64: string): void {
  inlined.debug ??= deflatedBase64;
}

/** The exports every core has; a module without one of them is not a managed-arena core of this version. */
const REQUIRED_EXPORTS = [
  "init",
  "createArena",
  "alloc",
  "allocArray",
  "free",
  "find",
  "realloc",
  "addAction",
  "allocWithDestructor",
  "addCallback",
  "removeCallback",
  "closeGroup",
  "detach",
  "popCallback",
  "popActions",
  "batchBuffer",
  "popRange",
  "takeDestructor",
  "dropDying",
  "beginRelease",
  "endRelease",
  "setQuarantine",
  "mapInfo",
] as const;

/** A checked `wasm` option: what to load, read once. */
export type CheckedSource =
  | { kind: "url"; url: string }
  | { kind: "response"; response: Response | PromiseLike<Response> }
  | { kind: "module"; module: WebAssembly.Module }
  | { kind: "bytes"; bytes: ArrayBuffer | ArrayBufferView<ArrayBuffer> };

const tag = (value: unknown) => Object.prototype.toString.call(value);

function badSource(value: unknown): ArenaError {
  return new ArenaError(
    "EINVAL",
    `wasm must be a URL, a Response, a WebAssembly.Module or bytes, got ${describe(value)}`,
  );
}

/**
 * Checks Heap.create's `wasm` option without loading anything: EINVAL for a
 * value of no accepted kind, a string that is not a URL (relative strings
 * need a page to be relative to), or a file: URL, which fetch cannot read
 * (pass the file's bytes instead).
 */
export function checkCoreSource(value: unknown): CheckedSource {
  if (typeof value === "string" || value instanceof URL) {
    let url: URL;
    try {
      url = new URL(String(value), (globalThis as { location?: { href: string } }).location?.href);
    } catch {
      throw badSource(value);
    }
    if (url.protocol === "file:") {
      throw new ArenaError(
        "EINVAL",
        `wasm: fetch cannot read ${url.href}: pass the file's bytes or a WebAssembly.Module instead`,
      );
    }
    return { kind: "url", url: url.href };
  }
  if (tag(value) === "[object WebAssembly.Module]") return { kind: "module", module: value as WebAssembly.Module };
  if (tag(value) === "[object Response]") return { kind: "response", response: value as Response };
  if (value instanceof ArrayBuffer || (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer)) {
    // Not a view of a SharedArrayBuffer: WebAssembly.compile takes none.
    return { kind: "bytes", bytes: value as ArrayBuffer | ArrayBufferView<ArrayBuffer> };
  }
  if (value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function") {
    return { kind: "response", response: value as PromiseLike<Response> };
  }
  throw badSource(value);
}

/** The error of Heap.create when no core was given and none is inlined. */
function coreMissing(debug: boolean): ArenaError {
  return debug
    ? new ArenaError(
        "EINVAL",
        'debug: true needs the debug core: load it by importing "managed-arena/debug" once (it also exports everything "managed-arena" does), or pass wasm: the URL or bytes of core.debug.wasm',
      )
    : new ArenaError(
        "EINVAL",
        'this entry inlines no core ("managed-arena/slim"): pass wasm (the URL or bytes of "managed-arena/core.wasm", a Response or a WebAssembly.Module), or use the main entry, "managed-arena", which inlines it',
      );
}

/** An EINVAL that keeps the error it explains as its cause. */
function invalid(message: string, cause: unknown): ArenaError {
  const error = new ArenaError("EINVAL", message);
  Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true });
  return error;
}

/** The one function of Node's zlib used here. */
interface NodeZlib {
  inflateSync(data: Uint8Array): Uint8Array;
}

/**
 * Inflates the deflated, base64-encoded core an entry inlines, with the
 * platform's DecompressionStream (browsers since 2023, Node 18), read
 * directly: Blob and Response would do it in one line, but in Node, loading
 * them for this costs 30 ms more on the first Heap.create. @internal
 */
export async function inflate(deflatedBase64: string): Promise<Uint8Array<ArrayBuffer>> {
  const text = atob(deflatedBase64);
  const input = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) input[i] = text.charCodeAt(i);
  // Node 20.16+ (and 22.3+): its zlib, loaded without an import a bundler would follow, is faster
  // on the first call than its DecompressionStream (which loads the web streams): 2-4 ms more
  // than the plain base64 on the first Heap.create of a process instead of 10.
  const zlib = (
    globalThis as { process?: { getBuiltinModule?(id: string): NodeZlib | undefined } }
  ).process?.getBuiltinModule?.("zlib");
  if (zlib !== undefined) return new Uint8Array(zlib.inflateSync(input));
  const stream = new DecompressionStream("deflate");
  const writer = stream.writable.getWriter();
  writer.write(input);
  writer.close();
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    chunks.push(read.value);
    length += read.value.length;
  }
  const bytes = new Uint8Array(length);
  length = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, length);
    length += chunk.length;
  }
  return bytes;
}

/** Compiles bytes that must be a WebAssembly module (the magic number first: EINVAL, not a CompileError). */
function compileBytes(bytes: ArrayBuffer | ArrayBufferView<ArrayBuffer>, what: string): Promise<WebAssembly.Module> {
  const view = ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
  if (view.length < 8 || view[0] !== 0 || view[1] !== 0x61 || view[2] !== 0x73 || view[3] !== 0x6d) {
    return Promise.reject(
      new ArenaError("EINVAL", `wasm: ${what} is not a WebAssembly module (it does not start with \\0asm)`),
    );
  }
  return WebAssembly.compile(view);
}

/**
 * Compiles a Response: while it streams in when it is served as
 * application/wasm (WebAssembly.compileStreaming requires that type), else
 * from its bytes. A status other than 2xx is EINVAL.
 */
async function compileResponse(response: Response, what: string): Promise<WebAssembly.Module> {
  if (tag(response) !== "[object Response]") {
    throw new ArenaError("EINVAL", `wasm: ${what} resolved to ${describe(response)}, not a Response`);
  }
  if (!response.ok) {
    throw new ArenaError("EINVAL", `wasm: ${what} answered ${response.status} ${response.statusText}`.trimEnd());
  }
  const type = response.headers.get("content-type") ?? "";
  if (/^application\/wasm\s*(;|$)/i.test(type) && typeof WebAssembly.compileStreaming === "function") {
    return WebAssembly.compileStreaming(response);
  }
  return compileBytes(await response.arrayBuffer(), what);
}

/** Fetches and compiles the core at `url`, once per URL (a failure is not remembered). */
function compileUrl(url: string): Promise<WebAssembly.Module> {
  let module = fetched.get(url);
  if (module === undefined) {
    module = (async () => {
      let response: Response;
      try {
        response = await fetch(url);
      } catch (error) {
        throw invalid(`wasm: could not fetch ${url}: ${(error as Error)?.message ?? error}`, error);
      }
      return compileResponse(response, url);
    })();
    fetched.set(url, module);
    module.catch(() => fetched.delete(url));
  }
  return module;
}

/** The compiled core `source` names, or the inlined build. */
async function compileCore(source: CheckedSource | undefined, debug: boolean): Promise<WebAssembly.Module> {
  if (source === undefined) {
    const key = debug ? "debug" : "release";
    const deflated = inlined[key];
    if (deflated === undefined) throw coreMissing(debug);
    compiled[key] ??= inflate(deflated).then((bytes) => WebAssembly.compile(bytes));
    return compiled[key];
  }
  switch (source.kind) {
    case "url":
      return compileUrl(source.url);
    case "module":
      return source.module;
    case "bytes":
      return compileBytes(source.bytes, "the bytes given");
    case "response":
      return compileResponse(await source.response, "the Response given");
  }
}

/** EINVAL unless `module` is a managed-arena core (of the debug build, when `debug`). */
function checkCore(module: WebAssembly.Module, debug: boolean): void {
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = REQUIRED_EXPORTS.find((name) => !exports.has(name));
  if (missing !== undefined) {
    throw new ArenaError(
      "EINVAL",
      `wasm: the module is not a managed-arena core of this version (it has no export ${JSON.stringify(missing)}): use core.wasm or core.debug.wasm of the same package`,
    );
  }
  if (debug && !exports.has("check")) {
    throw new ArenaError("EINVAL", "wasm: debug: true needs the debug core (core.debug.wasm), not the release core");
  }
}

/**
 * Instantiates a core on `memory`: the one `source` names (a checked `wasm`
 * option), else the inlined build, `debug` picking the one with assertions
 * and check(). A core given as `source` that is the debug build makes a
 * debug heap whether or not `debug` is set.
 */
export async function instantiateCore(
  memory: WebAssembly.Memory,
  debug: boolean,
  source?: CheckedSource,
): Promise<CoreExports> {
  const module = await compileCore(source, debug);
  if (source !== undefined) checkCore(module, debug);
  const instance = await WebAssembly.instantiate(module, coreImports(memory));
  return instance.exports as unknown as CoreExports;
}

/**
 * What every build of the core imports: the memory, and abort, which a
 * debug core calls when an assertion fails (never the release core). @internal
 */
export function coreImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort: (message: number, file: number, line: number, column: number) => {
        throw new Error(
          `managed-arena core assertion failed: ${readString(memory, message)} at ${readString(memory, file)}:${line}:${column}`,
        );
      },
    },
  };
}

/** Reads an AssemblyScript static string (UTF-16, byte length at ptr - 4). */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const length = new Uint32Array(memory.buffer, ptr - 4, 1)[0] >>> 1;
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, length));
}
