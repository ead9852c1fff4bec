#!/usr/bin/env node
// Builds the browser example with esbuild: main.js (the main entry, core
// inlined) and slim.js (managed-arena/slim, core from core.wasm) bundled and
// minified into out/, with the package's core.wasm copied beside them. The
// package is imported by its name, as an app that installed it would; here
// it resolves to this repository itself (its own name), built first with
// `npm run build`. Then serve this folder and open index.html or slim.html:
//
//   node examples/browser/build.mjs --serve    (builds, then serves on http://127.0.0.1:8080/)
//
// Any static server does, if it serves .wasm as application/wasm (what
// WebAssembly.compileStreaming requires; the library falls back to compiling
// the bytes otherwise).
import { copyFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "main.js"), join(here, "slim.js")],
  outdir: out,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  logLevel: "warning",
});
// The file "managed-arena/core.wasm" names, resolved like the imports above.
const core = createRequire(join(here, "main.js")).resolve("managed-arena/core.wasm");
copyFileSync(core, join(out, "core.wasm"));
for (const name of ["main.js", "slim.js", "core.wasm"]) {
  console.log(`examples/browser/out/${name}: ${statSync(join(out, name)).size} B`);
}

if (process.argv.includes("--serve")) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const port = Number(process.env.PORT ?? 8080);
  createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const file = normalize(join(here, path === "/" ? "index.html" : decodeURIComponent(path)));
    try {
      if (!file.startsWith(here + sep)) throw new Error("outside");
      const body = readFileSync(file);
      response.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end("not found");
    }
  }).listen(port, "127.0.0.1", () =>
    console.log(`serving examples/browser on http://127.0.0.1:${port}/ (slim.html too)`),
  );
}
