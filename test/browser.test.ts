// The package in a real browser: Chromium, driven by playwright-core, loads
// the built package (dist/) from a static server on 127.0.0.1 as plain ES
// modules, runs a scenario there and reports what happened; then draws the
// memory map in a page and saves a screenshot (test-results/memory-map.png).
// The browser is CHROMIUM, else Debian's /usr/bin/chromium, else the one the
// @sparticuz/chromium devDependency ships (test/browser/chromium.ts), so
// `npm install` is all it needs on linux-x64. No Chromium is a failure, never
// a skip.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, launchChromium } from "./browser/chromium.js";
import { type StaticServer, startStaticServer } from "./browser/server.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const screenshot = join(root, "test-results", "memory-map.png");

let server: StaticServer;
let launched: Promise<Browser>;

beforeAll(async () => {
  server = await startStaticServer(root, ["/dist/", "/test/browser/", "/tools/inspect/", "/examples/browser/"]);
  // Launched once for both tests; a missing Chromium fails each of them (never skips them).
  launched = launchChromium();
  launched.catch(() => {});
});

afterAll(async () => {
  await (await launched.catch(() => undefined))?.close();
  await server?.close();
});

/** The browser, or the reason there is none (no dist/, no Chromium, no playwright-core, a failed launch). */
async function chromium(): Promise<Browser> {
  if (!existsSync(join(root, "dist", "index.js"))) {
    throw new Error("dist/index.js is missing: run `node scripts/build.mjs` (npm test builds first)");
  }
  return launched;
}

/** Opens `page` and waits for its script to publish `window.results`; fails on any page error. */
async function resultsOf(path: string): Promise<{ results: Record<string, unknown>; errors: string[] }> {
  const page = await (await chromium()).context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console error: ${message.text()}`);
  });
  page.on("requestfailed", (request) => errors.push(`request failed: ${request.url()}`));
  await page.goto(`${server.origin}${path}`);
  await page.waitForFunction(() => (globalThis as { results?: unknown }).results !== undefined, undefined, {
    timeout: 10_000,
  });
  const results = (await page.evaluate(() => (globalThis as { results?: unknown }).results)) as Record<string, unknown>;
  if (typeof results.error === "string") throw new Error(`the page threw:\n${results.error}`);
  return { results, errors };
}

/** What examples/browser/compute.js computes (the same in Node, checked there once by hand). */
const EXAMPLE_RESULTS = {
  samples: 10_000,
  histogram: [618, 624, 643, 607, 611, 627, 611, 629, 614, 676, 587, 636, 668, 606, 629, 614],
  mean: 0.501,
  children: 3,
  // The frames released in the loop, then the app's release newest first: its action, frames 8, 5, 2.
  log: [
    "frame 0 released",
    "frame 1 released",
    "frame 3 released",
    "frame 4 released",
    "frame 6 released",
    "frame 7 released",
    "frame 9 released",
    "app released",
    "frame 8 released",
    "frame 5 released",
    "frame 2 released",
  ],
  memoryPages: 3,
};

describe("in Chromium", () => {
  it("the browser example (examples/browser, README) builds with esbuild and computes the same in both of its pages", async () => {
    const out = join(root, "examples", "browser", "out");
    rmSync(out, { recursive: true, force: true });
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, "examples", "browser", "build.mjs")]);
    console.log(stdout.trim());
    const first = server.served.length;
    const main = await resultsOf("/examples/browser/index.html");
    expect(main.errors).toEqual([]);
    expect(main.results).toEqual(EXAMPLE_RESULTS);
    const slim = await resultsOf("/examples/browser/slim.html");
    expect(slim.errors).toEqual([]);
    expect(slim.results).toEqual(EXAMPLE_RESULTS);
    // Bundles, not the package's modules; only the slim page fetched the core.
    expect(server.served.slice(first)).toEqual([
      { path: "/examples/browser/index.html", status: 200 },
      { path: "/examples/browser/out/main.js", status: 200 },
      { path: "/examples/browser/slim.html", status: 200 },
      { path: "/examples/browser/out/slim.js", status: 200 },
      { path: "/examples/browser/out/core.wasm", status: 200 },
    ]);
  }, 60_000);

  it("under a Content-Security-Policy, Heap.create needs 'wasm-unsafe-eval' (README, Install)", async () => {
    const allowed = await resultsOf("/test/browser/csp-wasm.html");
    expect(allowed.results).toEqual({ created: true });
    expect(allowed.errors).toEqual([]);
    const strict = await resultsOf("/test/browser/csp-strict.html");
    expect(strict.results).toMatchObject({ created: false, errorName: "CompileError" });
    expect(strict.results.errorMessage).toMatch(/wasm-unsafe-eval|Content Security Policy/i);
  });

  it("managed-arena/slim loads the core from a .wasm URL (compiled while it streams); a Content-Security-Policy still needs 'wasm-unsafe-eval' for it (README)", async () => {
    const byPage: Record<string, Record<string, unknown>> = {};
    for (const page of ["wasm-url", "wasm-url-wasm", "wasm-url-strict"]) {
      byPage[page] = (await resultsOf(`/test/browser/${page}.html`)).results;
    }
    console.log(`core from a .wasm URL in Chromium: ${JSON.stringify(byPage)}`);
    const served = server.served.filter((s) => s.path.endsWith(".wasm"));
    expect(served.filter((s) => s.path === "/dist/core.wasm").every((s) => s.status === 200)).toBe(true);
    for (const page of ["wasm-url", "wasm-url-wasm"]) {
      // The slim entry inlines no core: without wasm, EINVAL saying what to pass.
      expect(byPage[page].withoutWasm).toMatchObject({ ok: false, code: "EINVAL" });
      expect((byPage[page].withoutWasm as { message: string }).message).toMatch(/inlines no core/);
      expect(byPage[page].heap).toEqual({ ok: true });
      expect(byPage[page].debugHeap).toEqual({ ok: true });
      expect(byPage[page].missing).toMatchObject({ ok: false, code: "EINVAL" });
      expect((byPage[page].missing as { message: string }).message).toMatch(/no-such-core\.wasm answered 404/);
      expect(byPage[page].instantiateStreaming).toEqual({ ok: true });
      expect(byPage[page].compileBytes).toEqual({ ok: true });
    }
    // What Chromium does under script-src 'self' without 'wasm-unsafe-eval': it refuses to compile
    // any WebAssembly, a same-origin file compiled while it streams in as much as bytes; the
    // library passes the browser's CompileError on.
    const strict = byPage["wasm-url-strict"];
    for (const key of ["heap", "debugHeap", "instantiateStreaming", "compileBytes"]) {
      expect(strict[key], key).toMatchObject({ ok: false, name: "CompileError" });
      expect((strict[key] as { message: string }).message, key).toMatch(/wasm-unsafe-eval|Content Security Policy/i);
    }
  }, 30_000);

  it("loads dist/ as plain ES modules and runs a scenario: allocations, actions, release order, error codes", async () => {
    const first = server.served.length;
    const { results, errors } = await resultsOf("/test/browser/index.html");
    expect(errors).toEqual([]);
    expect(results.userAgent).toMatch(/Chrome\//);
    console.log(`browser: ${(await chromium()).source}, ${results.userAgent}`);
    expect(results.node).toBe(false);

    // The package's modules came from the static server, unbundled, with no wasm fetched.
    const paths = server.served.slice(first).map((s) => s.path);
    expect(paths).toContain("/dist/index.js");
    expect(paths).toContain("/dist/core.js");
    expect(paths).toContain("/dist/generated/release-core.js");
    expect(paths.filter((p) => p.endsWith(".wasm"))).toEqual([]);
    expect(server.served.slice(first).filter((s) => s.status !== 200 && !s.path.endsWith("favicon.ico"))).toEqual([]);

    expect(results.pointers).toMatchObject({ alignedOk: true });
    expect(results.contents).toEqual({
      small: [1, 2, 3, 4],
      zeroed: true,
      large: 100_000,
      text: "héllo, wörld ✓",
      inGroup: 8,
    });
    expect(results.pagesAfter).toBeGreaterThan(results.pagesBefore as number);
    expect(results.stats).toMatchObject({ allocations: 7, actions: 3, groups: 1, children: 1 });
    // Newest first; the freed array, the removed and the early-released actions are gone.
    expect(results.resources).toEqual([
      "action:last",
      "alloc:alloc",
      "action:group-action",
      "group:probe",
      "child:child",
      "alloc:with-destructor",
      "action:close-socket",
      ...Array(5).fill("alloc:alloc"),
    ]);
    expect(results.report).toMatch(/^arena "page": 7 allocations/);

    // Newest first, actions and destructors together; the child at its place; removed and
    // early-released actions not again.
    expect(results.order).toEqual([
      "released-early",
      "last",
      "group-action",
      "child-action",
      "destructor",
      "close-socket",
    ]);
    expect(results.released).toBe(true);
    expect(results.codes).toEqual({
      doubleFree: "EBADPTR",
      interior: "EBADPTR",
      negative: "EINVAL",
      wraps: "EINVAL",
      overflow: "EOVERFLOW",
      stale: "ESTALE",
      heapFull: "ENOMEM",
      badAlign: "EINVAL",
      afterRelease: "ERELEASED",
    });
    expect(results.chained).toEqual({ suppressedError: true, error: "first added", suppressed: "second added" });
    // Chromium has toResizableBuffer: a view made before growth keeps its length and its writes.
    expect(results.growth).toMatchObject({
      canResize: true,
      resizable: true,
      reported: true,
      viewLength: 5,
      text: "Kept",
    });
    expect((results.growth as { grewPages: number }).grewPages).toBeGreaterThanOrEqual(8);
  }, 30_000);

  it("runs a shared heap on a cross-origin isolated page (COOP/COEP), two workers allocating with it; without the headers there is no SharedArrayBuffer and shared: true is EINVAL", async () => {
    const plain = await resultsOf("/test/browser/shared-plain.html");
    const { results, errors } = await resultsOf("/test/browser/shared-isolated.html");
    console.log(
      `browser: crossOriginIsolated ${results.isolated} on the page served with COOP/COEP ` +
        `(workers: ${results.workersIsolated}), ${plain.results.isolated} without; ` +
        `a worker's engine buffer lagged behind memory ${results.lagged} times`,
    );
    expect(errors).toEqual([]);
    expect(plain.errors).toEqual([]);
    // SharedArrayBuffer from isolation, not from a browser flag (test/browser/chromium.ts).
    expect(plain.results).toEqual({ isolated: false, sharedArrayBuffer: false, code: "EINVAL" });
    expect(results).toMatchObject({
      isolated: true,
      sharedArrayBuffer: true,
      shared: true,
      workersIsolated: [true, true],
      blocks: 4000,
      bad: 0,
      checkDuring: 0,
      released: [true, true],
      checkAfter: 0,
      pagesInUse: 0,
    });
  }, 30_000);

  it("draws the memory map in a page (well-formed SVG, one payload per allocation) and saves a screenshot", async () => {
    const { results, errors } = await resultsOf("/test/browser/memory-map.html");
    expect(errors).toEqual([]);
    expect(results).toMatchObject({ wellFormed: true });
    expect(results.payloads).toBe(results.allocations);
    expect(results.allocations).toBe(26);
    const legend = (results.legendArenas as string[]).join("\n");
    for (const name of ["gpu0", "gpu0/vram", "net", "scratch"]) expect(legend).toContain(name);
    expect(results.width).toBeGreaterThan(1000);
    expect(results.height).toBeGreaterThan(500);

    const page = (await chromium()).context.pages().at(-1);
    if (page === undefined) throw new Error("no page open");
    // A font drew every label: with no font at all Chromium lays text out at zero width and the
    // screenshot shows none. The packaged Chromium brings its own font (Open Sans) and uses the
    // system's too where there are any; Debian's uses the system's.
    const widths = await page.evaluate(() =>
      [...document.querySelectorAll("#map svg text")]
        .filter((text) => (text.textContent ?? "").trim() !== "")
        .map((text) => [text.textContent, (text as SVGTextContentElement).getComputedTextLength()] as const),
    );
    expect(widths.length).toBeGreaterThan(20);
    expect(widths.filter(([, width]) => !(width > 0))).toEqual([]);

    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
  }, 30_000);
});
