// The layout's rules, read from the import statements of src/ and tools/
// (`import type` and `export ... from` included, dynamic `import()` too):
//   - the library's files (src/) form a line: each imports only files below
//     it in FACADE_ORDER, so there is no cycle, type-only ones included;
//   - the library never imports the tools;
//   - the tools (tools/) use the library as a user does, through the
//     package's entries "managed-arena", "managed-arena/debug" and
//     "managed-arena/workload" only,
//     never by a path into src/ or dist/.
// A small reader of import statements rather than a dependency-graph library:
// the files are ours, formatted by biome (one statement per `import`/`export`
// at the start of a line), and the rule is three lines long.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The library's files, lowest first: a file may import only files before it.
 * A new file of src/ goes where its imports put it.
 */
const FACADE_ORDER = [
  "src/generated/wasm.ts",
  "src/generated/release-core.ts",
  "src/generated/debug-core.ts",
  "src/generated/shared-wasm.ts",
  "src/generated/shared-debug-wasm.ts",
  "src/errors.ts",
  "src/options.ts",
  "src/core.ts",
  "src/shared.ts",
  "src/shared-core.ts",
  "src/debug.ts",
  "src/growth.ts",
  "src/state.ts",
  "src/handles.ts",
  "src/introspect.ts",
  "src/failures.ts",
  "src/heap.ts",
  "src/arena.ts",
  "src/memory-map.ts",
  "src/slim.ts",
  "src/release-core.ts",
  "src/shared-release.ts",
  "src/index.ts",
  "src/debug-entry.ts",
  "src/shared-entry.ts",
  "src/workload.ts",
];

/** The entries the tools may import the library by (package.json "exports"). */
const ENTRIES = ["managed-arena", "managed-arena/debug", "managed-arena/workload"];

/** Every .ts file below `dir` (relative to the root, with forward slashes). */
function filesIn(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...filesIn(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The specifiers a file imports: static imports and re-exports (type-only too) and literal dynamic imports. */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  // A statement starts a line; `[^;]*?` spans a multi-line list of names up to its `from "..."`.
  const statement = /^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^import\s*["']([^"']+)["']/gm;
  for (const match of text.matchAll(statement)) specifiers.push(match[1] ?? match[2]);
  for (const match of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) specifiers.push(match[1]);
  return specifiers;
}

/** The file a relative specifier names (`./x.js` is the source `./x.ts`), relative to the root. */
function target(from: string, specifier: string): string {
  const path = relative(root, resolve(root, dirname(from), specifier))
    .split("\\")
    .join("/");
  return path.replace(/\.js$/, ".ts");
}

/** The relative imports of every file of `dir`, as resolved paths; bare specifiers as they are. */
function graph(dir: string): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of filesIn(dir)) {
    const specifiers = importsOf(readFileSync(join(root, file), "utf8"));
    edges.set(
      file,
      specifiers.map((s) => (s.startsWith(".") ? target(file, s) : s)),
    );
  }
  return edges;
}

/** One cycle of `edges` if there is any (as a path that ends where it starts), else undefined. */
function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "open") return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, "open");
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (!edges.has(next)) continue;
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of edges.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("imports", () => {
  it("reads static, type-only, re-export, multi-line and dynamic imports", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "./b.js";',
      "import {",
      "  c,",
      "  type D,",
      '} from "./c.js";',
      'export { e } from "./e.js";',
      'export type { F } from "./f.js";',
      'export * from "./g.js";',
      'import "./h.js";',
      'const i = await import("./i.js");',
      '// import { j } from "./j.js";',
      'const k = "import { k } from \\"./k.js\\"";',
    ].join("\n");
    expect(importsOf(text)).toEqual(["./a.js", "./b.js", "./c.js", "./e.js", "./f.js", "./g.js", "./h.js", "./i.js"]);
  });

  it("finds a cycle, and none in a line", () => {
    const cyclic = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
    ]);
    expect(findCycle(cyclic)).toEqual(["a", "b", "c", "a"]);
    expect(
      findCycle(
        new Map([
          ["a", ["b"]],
          ["b", ["c"]],
          ["c", []],
        ]),
      ),
    ).toBeUndefined();
  });

  it("src/ has no import cycle, type-only imports included", () => {
    expect(findCycle(graph("src"))).toBeUndefined();
  });

  it("src/ files form a line: each imports only files below it (FACADE_ORDER lists every file)", () => {
    const edges = graph("src");
    expect([...edges.keys()].filter((file) => !file.startsWith("src/generated/")).sort()).toEqual(
      FACADE_ORDER.filter((file) => !file.startsWith("src/generated/")).sort(),
    );
    const upward: string[] = [];
    for (const [file, imports] of edges) {
      for (const imported of imports) {
        if (!imported.startsWith("src/")) continue;
        if (FACADE_ORDER.indexOf(imported) >= FACADE_ORDER.indexOf(file)) upward.push(`${file} imports ${imported}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("src/ never imports tools/ nor the package by its name", () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph("src")) {
      for (const imported of imports) {
        if (imported.startsWith("tools/") || imported.startsWith("managed-arena"))
          wrong.push(`${file} imports ${imported}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("tools/ import the library only through the package's entries, never src/ or dist/ by a path", () => {
    const tools = graph("tools");
    expect(tools.size).toBeGreaterThan(20);
    const wrong: string[] = [];
    let throughEntries = 0;
    for (const [file, imports] of tools) {
      for (const imported of imports) {
        // Resolved relative imports are paths from the root; bare ones (node:fs, fast-check) stay as written.
        const isPath = /^(src|dist|test|tools|bench|scripts|assembly|examples)\//.test(imported);
        if (
          isPath ? !imported.startsWith("tools/") : imported.startsWith("managed-arena") && !ENTRIES.includes(imported)
        ) {
          wrong.push(`${file} imports ${imported}`);
        }
        if (ENTRIES.includes(imported)) throughEntries++;
      }
    }
    expect(wrong).toEqual([]);
    expect(throughEntries).toBeGreaterThan(5);
  });
});
