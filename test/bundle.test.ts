// What a web app pays for the package: a two-line app bundled with esbuild
// (--bundle --minify --format=esm --platform=neutral) from the built dist/,
// resolved by the package's name through its exports map as a user's bundler
// would. The main entry must leave the debug core out (only the
// `managed-arena/debug` entry imports it); an app of the debug entry carries
// it and runs a debug heap; an app of `managed-arena/slim` carries no core at
// all and loads it from a .wasm file. The bundles also run in Node.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Budget for the two-line app of the main entry, minified, bundled with code
 * splitting (what Vite, Rollup and webpack do by default): the entry's chunk,
 * without the shared core, which the main entry loads by a dynamic import on
 * first use of a shared heap and which so goes to a chunk of its own.
 * Measured: 45,697 B at start (44,252 B before heap.free). The issue asked for 20 KB, which the facade alone cannot
 * meet: a bundle of managed-arena/slim, the facade without any core, is
 * 35.9 KB (arena.js 19.8 KB of it, core.js's loader 4.3 KB); the release
 * core adds 6.5 KB (its deflated base64). The budget holds the debug core
 * (its deflated base64 is 22 KB) and the shared core out.
 */
const MAX_DEFAULT_BYTES = 45 * 1024;
/**
 * The same app bundled without code splitting (esbuild's default), which
 * inlines the dynamic import: the shared core (7.9 KB deflated) and its
 * loader come in too. Measured: 57,303 B (54,768 B before heap.free and
 * the thread caches).
 */
const MAX_DEFAULT_UNSPLIT_BYTES = 56 * 1024;
/**
 * Budget for the two-line app of managed-arena/slim: the facade alone, measured 38,774 B
 * (38,263 B before the drain's re-entrancy fix and the memory map's walk of
 * every thread's arenas; 37,391 B before heap.free: the owner's drain of frees queued by other threads, in Arena,
 * and the check() rules of the remote-free stack; heap.free's own code is in the shared chunk).
 */
const MAX_SLIM_BYTES = 38 * 1024;
/** The debug core's deflated base64 and more: the debug app must carry it. */
const MIN_DEBUG_EXTRA_BYTES = 20 * 1024;

const DEFAULT_APP = `import { Heap } from "managed-arena";
const heap = await Heap.create(); heap.createArena().alloc(16);
let debug;
try { await Heap.create({ debug: true }); debug = "created"; } catch (e) { debug = [e.code, e.message]; }
let shared;
try { await Heap.create({ shared: true }); shared = "created"; } catch (e) { shared = [e.code, e.message]; }
console.log(JSON.stringify({ ok: heap.createArena().alloc(16) > 0, debug, shared }));
`;

const DEBUG_APP = `import { Heap } from "managed-arena/debug";
const heap = await Heap.create({ debug: true }); heap.createArena().alloc(16);
console.log(JSON.stringify({ check: heap.check() }));
`;

/** The app of managed-arena/slim: no core inlined, so Heap.create needs wasm (here the file's bytes). */
const SLIM_APP = `import { readFileSync } from "node:fs";
import { Heap } from "managed-arena/slim";
let bare;
try { await Heap.create(); bare = "created"; } catch (e) { bare = [e.code, e.message]; }
const bytes = readFileSync(new URL("./node_modules/managed-arena/dist/core.wasm", import.meta.url));
const heap = await Heap.create({ wasm: bytes });
let shared;
try { await Heap.create({ shared: true }); shared = "created"; } catch (e) { shared = [e.code, e.message]; }
console.log(JSON.stringify({ ok: heap.createArena().alloc(16) > 0, bare, shared }));
`;

/** The two lines of the slim entry, as a web page writes them (the core from a URL beside the bundle). */
const SLIM_TWO_LINES = `import { Heap } from "managed-arena/slim";
const heap = await Heap.create({ wasm: new URL("./core.wasm", import.meta.url) }); heap.createArena().alloc(16);
`;

/** The two lines of the issue, exactly: the size budget is theirs. */
const TWO_LINES = `import { Heap } from "managed-arena";
const heap = await Heap.create(); heap.createArena().alloc(16);
`;

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "managed-arena-bundle-"));
  // The app's node_modules holds the repository itself, as `npm link` would.
  mkdirSync(join(work, "node_modules"));
  symlinkSync(root, join(work, "node_modules", "managed-arena"), "dir");
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Bundles `source` as the issue did; returns the output's path and size in bytes. */
async function bundle(name: string, source: string): Promise<{ file: string; bytes: number }> {
  writeFileSync(join(work, `${name}.mjs`), source);
  const file = join(work, `${name}.bundle.mjs`);
  await build({
    entryPoints: [join(work, `${name}.mjs`)],
    outfile: file,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    external: ["node:fs"],
    logLevel: "silent",
  });
  return { file, bytes: readFileSync(file).length };
}

/** The first 200 characters of the base64 of an inlined core (src/generated/<name>.ts). */
function inlined(name: string): string {
  const text = readFileSync(join(root, "dist", "generated", `${name}.js`), "utf8");
  const base64 = /"([A-Za-z0-9+/=]{1000,})"/.exec(text)?.[1] ?? "";
  expect(base64.length).toBeGreaterThan(1000);
  return base64.slice(0, 200);
}

/**
 * Bundles `source` with code splitting (ESM chunks). Returns what loads at
 * start (the app's chunk and the chunks it imports statically, transitively:
 * their texts and total size) and what loads only on a dynamic import.
 */
async function bundleSplit(
  name: string,
  source: string,
): Promise<{ eager: string[]; eagerBytes: number; lazy: string[] }> {
  writeFileSync(join(work, `${name}.mjs`), source);
  const result = await build({
    entryPoints: [join(work, `${name}.mjs`)],
    outdir: join(work, `${name}.out`),
    bundle: true,
    minify: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    logLevel: "silent",
    metafile: true,
    absWorkingDir: work,
  });
  // The metafile's paths are relative to absWorkingDir (work).
  const outputs = result.metafile.outputs;
  const start = Object.keys(outputs).find((path) => outputs[path].entryPoint?.endsWith(`${name}.mjs`));
  if (start === undefined) throw new Error("esbuild wrote no chunk for the app");
  const eager = new Set<string>();
  const visit = (path: string) => {
    if (eager.has(path)) return;
    eager.add(path);
    for (const imported of outputs[path].imports) if (imported.kind === "import-statement") visit(imported.path);
  };
  visit(start);
  const text = (path: string) => readFileSync(join(work, path), "utf8");
  const chunks = Object.keys(outputs).filter((path) => path.endsWith(".js"));
  return {
    eager: [...eager].map(text),
    eagerBytes: [...eager].reduce((sum, path) => sum + outputs[path].bytes, 0),
    lazy: chunks.filter((path) => !eager.has(path)).map(text),
  };
}

async function run(file: string): Promise<unknown> {
  const { stdout } = await exec(process.execPath, [file], { cwd: work });
  return JSON.parse(stdout);
}

describe("bundled with esbuild", () => {
  it("the two-line app of the main entry leaves the debug core out, and the shared core too where the bundler splits code", async () => {
    const split = await bundleSplit("two-lines-split", TWO_LINES);
    const eager = split.eager.join("\n");
    expect(eager.includes(inlined("debug-core"))).toBe(false);
    expect(eager.includes(inlined("release-core"))).toBe(true);
    expect(eager.includes(inlined("shared-wasm"))).toBe(false);
    expect(split.lazy.filter((chunk) => chunk.includes(inlined("shared-wasm")))).toHaveLength(1);
    console.log(`two-line app of "managed-arena", split: ${split.eagerBytes} B minified loaded at start`);
    expect(split.eagerBytes).toBeLessThan(MAX_DEFAULT_BYTES);
    const twoLines = await bundle("two-lines", TWO_LINES);
    const text = readFileSync(twoLines.file, "utf8");
    expect(text.includes(inlined("debug-core"))).toBe(false);
    console.log(`two-line app of "managed-arena", not split: ${twoLines.bytes} B minified`);
    expect(twoLines.bytes).toBeLessThan(MAX_DEFAULT_UNSPLIT_BYTES);
  });

  it("an app of the main entry runs a shared heap (DESIGN §7), and Heap.create({ debug: true }) there says to import managed-arena/debug", async () => {
    const app = await bundle("default", DEFAULT_APP);
    expect(await run(app.file)).toEqual({
      ok: true,
      debug: ["EINVAL", expect.stringContaining('importing "managed-arena/debug"')],
      shared: "created",
    });
  });

  it("an app of managed-arena/debug carries the debug core and runs a debug heap", async () => {
    const twoLines = await bundle("two-lines-size", TWO_LINES);
    const app = await bundle("debug", DEBUG_APP);
    console.log(`debug app of "managed-arena/debug": ${app.bytes} B minified`);
    expect(app.bytes - twoLines.bytes).toBeGreaterThan(MIN_DEBUG_EXTRA_BYTES);
    expect(await run(app.file)).toEqual({ check: 0 });
  });

  it("the two-line app of managed-arena/slim carries no core; without wasm Heap.create is EINVAL, with it it runs", async () => {
    const twoLines = await bundle("slim-two-lines", SLIM_TWO_LINES);
    const text = readFileSync(twoLines.file, "utf8");
    expect(text.includes(inlined("release-core"))).toBe(false);
    expect(text.includes(inlined("debug-core"))).toBe(false);
    console.log(`two-line app of "managed-arena/slim": ${twoLines.bytes} B minified`);
    expect(twoLines.bytes).toBeLessThan(MAX_SLIM_BYTES);
    const app = await bundle("slim", SLIM_APP);
    expect(await run(app.file)).toEqual({
      ok: true,
      bare: ["EINVAL", expect.stringMatching(/inlines no core .*pass wasm .*managed-arena\/core\.wasm/)],
      shared: ["EINVAL", expect.stringMatching(/managed-arena\/slim does not load: .*"managed-arena\/shared"/)],
    });
  });
});
