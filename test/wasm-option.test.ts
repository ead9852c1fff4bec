// Heap.create({ wasm }): the core from the package's .wasm files instead of
// the inlined build, in every form the option takes in Node: the bytes, a
// WebAssembly.Module, a Response (or a promise of one), and a URL fetched from
// an HTTP server (test/browser/server.ts, which serves .wasm as
// application/wasm, so the fetch compiles while it streams). Bad values are
// EINVAL and create nothing. In Chromium: test/browser.test.ts; the entry
// without an inlined core (managed-arena/slim): test/bundle.test.ts.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debugCore } from "../src/generated/debug-core.js";
import { releaseCore } from "../src/generated/release-core.js";
import { Arena, ArenaError, Heap, type HeapOptions } from "../src/index.js";
import { type StaticServer, startStaticServer } from "./browser/server.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const releaseFile = join(root, "dist", "core.wasm");
const debugFile = join(root, "dist", "core.debug.wasm");

let server: StaticServer;

beforeAll(async () => {
  server = await startStaticServer(root, ["/dist/"]);
});

afterAll(async () => {
  await server?.close();
});

/** Creates a heap, allocates and frees in it, and says whether it is a debug heap. */
async function works(options: HeapOptions): Promise<{ debug: boolean }> {
  const heap = await Heap.create(options);
  const arena = heap.createArena();
  const p = arena.alloc(100);
  arena.view(p, Float64Array)[0] = 2.5;
  expect(arena.view(p, Float64Array)[0]).toBe(2.5);
  arena.free(p);
  arena.release();
  let debug = true;
  try {
    expect(heap.check()).toBe(0);
  } catch (error) {
    expect((error as ArenaError).code).toBe("EINVAL");
    debug = false;
  }
  return { debug };
}

async function rejectsWith(options: unknown, message: RegExp): Promise<ArenaError> {
  const error = await Heap.create(options as HeapOptions).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArenaError);
  expect((error as ArenaError).code).toBe("EINVAL");
  expect((error as ArenaError).message).toMatch(message);
  return error as ArenaError;
}

describe("the inlined cores", () => {
  it("inflate with DecompressionStream where Node's zlib is not at hand (browsers, Node before 20.16)", async () => {
    const script = `process.getBuiltinModule = undefined;
const { Heap } = await import(${JSON.stringify(pathToFileURL(join(root, "dist", "debug-entry.js")).href)});
const release = await Heap.create(); release.createArena().alloc(16);
const debug = await Heap.create({ debug: true }); debug.createArena().alloc(16);
console.log(JSON.stringify({ check: debug.check() }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    expect(JSON.parse(stdout)).toEqual({ check: 0 });
  });
});

describe("Heap.create({ wasm })", () => {
  it("the package ships both cores as files, the ones the entries inline", async () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect(pkg.exports["./core.wasm"]).toBe("./dist/core.wasm");
    expect(pkg.exports["./core.debug.wasm"]).toBe("./dist/core.debug.wasm");
    expect(readFileSync(releaseFile)).toEqual(readFileSync(join(root, "build", "core.release.wasm")));
    expect(readFileSync(debugFile)).toEqual(readFileSync(join(root, "build", "core.debug.wasm")));
    // The entries inline the same bytes, deflated (DecompressionStream("deflate") inflates them).
    expect(inflateSync(Buffer.from(releaseCore, "base64"))).toEqual(readFileSync(releaseFile));
    expect(inflateSync(Buffer.from(debugCore, "base64"))).toEqual(readFileSync(debugFile));
  });

  it("takes the bytes (a Uint8Array, a slice of a larger buffer, an ArrayBuffer)", async () => {
    const bytes = new Uint8Array(readFileSync(releaseFile));
    expect(await works({ wasm: bytes })).toEqual({ debug: false });
    const padded = new Uint8Array(bytes.length + 24);
    padded.set(bytes, 8);
    expect(await works({ wasm: padded.subarray(8, 8 + bytes.length) })).toEqual({ debug: false });
    expect(await works({ wasm: bytes.slice().buffer })).toEqual({ debug: false });
  });

  it("takes a WebAssembly.Module, for many heaps from one compilation", async () => {
    const module = await WebAssembly.compile(readFileSync(releaseFile));
    expect(await works({ wasm: module })).toEqual({ debug: false });
    expect(await works({ wasm: module })).toEqual({ debug: false });
  });

  it("takes a Response or a promise of one, served as application/wasm or not", async () => {
    const bytes = readFileSync(releaseFile);
    const typed = () => new Response(bytes, { headers: { "content-type": "application/wasm" } });
    expect(await works({ wasm: typed() })).toEqual({ debug: false });
    expect(await works({ wasm: Promise.resolve(typed()) })).toEqual({ debug: false });
    expect(await works({ wasm: new Response(bytes) })).toEqual({ debug: false });
  });

  it("fetches a URL (string or URL), compiling it once", async () => {
    expect(await works({ wasm: `${server.origin}/dist/core.wasm` })).toEqual({ debug: false });
    expect(await works({ wasm: new URL("/dist/core.wasm", server.origin) })).toEqual({ debug: false });
    expect(server.served.filter((s) => s.path === "/dist/core.wasm")).toEqual([
      { path: "/dist/core.wasm", status: 200 },
    ]);
  });

  it("the debug core from a file makes a debug heap; debug: true needs it", async () => {
    expect(await works({ wasm: readFileSync(debugFile), debug: true })).toEqual({ debug: true });
    expect(await works({ wasm: `${server.origin}/dist/core.debug.wasm` })).toEqual({ debug: true });
    await rejectsWith({ wasm: readFileSync(releaseFile), debug: true }, /debug: true needs the debug core/);
  });

  it("Arena.create passes it on", async () => {
    const arena = await Arena.create({ wasm: readFileSync(releaseFile), name: "solo" });
    expect(arena.alloc(8)).toBeGreaterThan(0);
    arena.release();
  });

  it("a value of no accepted kind is EINVAL, before anything is loaded", async () => {
    for (const value of [
      42,
      true,
      {},
      [],
      null,
      () => "x",
      Symbol("s"),
      new Blob([]),
      new Uint8Array(new SharedArrayBuffer(8)),
    ]) {
      await rejectsWith({ wasm: value }, /wasm must be a URL, a Response, a WebAssembly.Module or bytes/);
    }
    // No page to be relative to in Node.
    await rejectsWith({ wasm: "core.wasm" }, /wasm must be a URL/);
    await rejectsWith({ wasm: "" }, /wasm must be a URL/);
  });

  it("a file: URL is EINVAL saying to pass the bytes (fetch cannot read files)", async () => {
    await rejectsWith({ wasm: pathToFileURL(releaseFile) }, /fetch cannot read file:.*pass the file's bytes/);
    await rejectsWith({ wasm: pathToFileURL(releaseFile).href }, /fetch cannot read file:/);
  });

  it("an HTTP error, a failed fetch, bytes that are not WebAssembly, a module that is not a core: EINVAL", async () => {
    await rejectsWith({ wasm: `${server.origin}/dist/missing.wasm` }, /missing\.wasm answered 404/);
    // The 404 is not remembered: the same URL is fetched again.
    await rejectsWith({ wasm: `${server.origin}/dist/missing.wasm` }, /answered 404/);
    expect(server.served.filter((s) => s.path === "/dist/missing.wasm")).toHaveLength(2);
    const refused = await rejectsWith({ wasm: "http://127.0.0.1:1/core.wasm" }, /could not fetch http:\/\/127.0.0.1:1/);
    expect((refused as { cause?: unknown }).cause).toBeInstanceOf(Error);
    await rejectsWith({ wasm: new TextEncoder().encode("not wasm at all") }, /not a WebAssembly module/);
    await rejectsWith({ wasm: new Response("<html>") }, /the Response given is not a WebAssembly module/);
    await rejectsWith({ wasm: Promise.resolve("core.wasm") }, /resolved to "core.wasm", not a Response/);
    await rejectsWith({ wasm: new Response("gone", { status: 410 }) }, /answered 410/);
    // A valid module with none of the core's exports: the smallest module there is.
    const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    await rejectsWith({ wasm: empty }, /not a managed-arena core of this version \(it has no export "init"\)/);
  });

  it("a rejected promise of a Response rejects with its error", async () => {
    const failure = new Error("network down");
    await expect(Heap.create({ wasm: Promise.reject(failure) })).rejects.toBe(failure);
  });
});
