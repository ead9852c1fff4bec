// A static HTTP server for the browser test: serves the built package (dist/)
// and this folder's pages from 127.0.0.1 on a free port, as a CDN or a plain
// `<script type="module">` would load them (no bundler, no import map), and
// records every request so the test can assert what the page loaded. A .js
// file under /tools/ that does not exist is its .ts source with the types
// stripped (esbuild's transform): the tools are TypeScript that only the bin
// is built from (inspect's built-in scenario, which the memory-map page draws).
import { readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { transform } from "esbuild";

/** The file at `file`, or under /tools/ the TypeScript source of a missing .js, types stripped; undefined if none. */
async function load(file: string, path: string): Promise<Buffer | string | undefined> {
  const isFile = (name: string) =>
    stat(name).then(
      (s) => s.isFile(),
      () => false,
    );
  if (await isFile(file)) return readFile(file);
  const source = file.replace(/\.js$/, ".ts");
  if (!path.startsWith("/tools/") || source === file || !(await isFile(source))) return undefined;
  const { code } = await transform(await readFile(source, "utf8"), { loader: "ts", format: "esm", sourcefile: path });
  return code;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".css": "text/css; charset=utf-8",
  // WebAssembly.compileStreaming and instantiateStreaming take nothing else.
  ".wasm": "application/wasm",
};

/** One request the server answered. */
export interface Served {
  path: string;
  status: number;
}

export interface StaticServer {
  /** The origin, e.g. http://127.0.0.1:40123. */
  origin: string;
  /** Every request answered, in order. */
  served: Served[];
  close(): Promise<void>;
}

/**
 * Serves files below `root` whose URL path starts with one of `prefixes`
 * (e.g. "/dist/", "/test/browser/"); anything else is 404.
 */
export async function startStaticServer(root: string, prefixes: readonly string[]): Promise<StaticServer> {
  const served: Served[] = [];
  const server: Server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(root, path));
    let status = 404;
    let body: Buffer | string = `not found: ${path}`;
    let type = "text/plain; charset=utf-8";
    const allowed = prefixes.some((prefix) => path.startsWith(prefix)) && file.startsWith(root + sep);
    if (allowed && request.method === "GET") {
      const content = await load(file, path);
      if (content !== undefined) {
        body = content;
        type = TYPES[extname(file)] ?? "application/octet-stream";
        status = 200;
      }
    }
    served.push({ path, status });
    // A page named *-isolated.html is cross-origin isolated (SharedArrayBuffer, shared WebAssembly
    // memory); the script of its workers needs COEP too. What they import is same-origin, which
    // COEP: require-corp lets through without a Cross-Origin-Resource-Policy.
    const isolation =
      path.endsWith("-isolated.html") || path.endsWith("/shared-worker.js")
        ? { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" }
        : {};
    response.writeHead(status, { "content-type": type, "cache-control": "no-store", ...isolation });
    response.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
