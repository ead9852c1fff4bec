// The published package, as a user gets it: `npm pack` the built package,
// install the tarball into a fresh project with --omit=dev (offline: it has
// no dependencies), and use it there from plain Node, with no compiler and
// nothing of this repository around: import it and run a scenario, require()
// it, type-check a TypeScript consumer against its .d.ts, run the CLI.
//
// Packing runs the package's own prepack and postpack, as `npm pack` does
// for a user: `scripts/build.mjs --if-needed` (nothing to do after `npm
// test`'s build, so other test files never race a rebuild), then
// scripts/packed-manifest.mjs, which packs a package.json without `prepare`
// and puts the repository's back afterwards.
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const rootManifest = join(root, "package.json");
/** The repository's package.json before any packing, bytes and modification time. */
const rootText = readFileSync(rootManifest, "utf8");
const rootMtime = statSync(rootManifest).mtimeMs;
const rootPackage = JSON.parse(rootText);
/** Where scripts/packed-manifest.mjs keeps the repository's package.json while packing. */
const BACKUP = join(root, "package.json.packing");
/** The scripts npm may run when a package is installed (prepare: from git or a directory). */
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall", "preprepare", "prepare", "postprepare", "prepublish"];

/** The commands the bin must offer (issue 6). */
const COMMANDS = ["bench", "fuzz", "inspect"];
/** Budget for the packed tarball; the bin bundles its development-only libraries. */
const MAX_TARBALL_BYTES = 1024 * 1024;

let work: string;
let project: string;
let installed: string;
let env: NodeJS.ProcessEnv;
let packed: { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] };
/** What `npm install <tarball>` printed, stdout and stderr. */
let installOutput: string;

/**
 * The environment for npm and the consumer: no npm_* variables inherited
 * from an enclosing `npm test` (npm_config_local_prefix and friends would
 * point npm back at this repository), and a private cache.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) clean[key] = value;
  return {
    ...clean,
    npm_config_cache: join(work, "npm-cache"),
    npm_config_update_notifier: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
    NODE_OPTIONS: "",
  };
}

function npm(args: string[], cwd: string) {
  return exec("npm", args, { cwd, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
}

function node(args: string[], cwd = project) {
  return exec(process.execPath, args, { cwd, env, timeout: 30_000 });
}

/** The command names listed under "commands:" in the bin's usage. */
function commandsOf(usage: string): string[] {
  const section = usage.split(/^commands:$/m)[1] ?? "";
  const lines = section.split("\n").slice(1);
  const end = lines.findIndex((line) => line.trim() === "");
  return (end < 0 ? lines : lines.slice(0, end)).map((line) => line.trim().split(/\s+/)[0]);
}

/** The module specifiers a JS file imports, statically, dynamically or with require(). */
function specifiersOf(code: string): string[] {
  const patterns = [
    /(?:^|[;}\s])(?:import|export)\s[^'"`;]*?\sfrom\s*["']([^"']+)["']/g,
    /(?:^|[;}\s])import\s*["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((m) => m[1] as string));
}

/** Every file below `dir`, relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full, base) : [relative(base, full)];
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "managed-arena-package-"));
  env = cleanEnv();
  const { stdout } = await npm(["pack", "--json", "--pack-destination", work], root);
  [packed] = JSON.parse(stdout);
  project = join(work, "consumer");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  const install = await npm(
    ["install", "--omit=dev", "--offline", "--no-audit", "--no-fund", join(work, packed.filename)],
    project,
  );
  installOutput = install.stdout + install.stderr;
  installed = join(project, "node_modules", "managed-arena");
}, 120_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the tarball", () => {
  it("holds the built JS, its .d.ts, the bin and the docs, and nothing else", () => {
    const paths = packed.files.map((f) => f.path).sort();
    for (const path of [
      "package.json",
      "README.md",
      "LICENSE",
      "CHANGELOG.md",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/generated/release-core.js",
      "dist/slim.js",
      "dist/slim.d.ts",
      "dist/core.wasm",
      "dist/core.debug.wasm",
      "dist/generated/wasm.js",
      "dist/debug-entry.js",
      "dist/debug-entry.d.ts",
      "dist/workload.js",
      "dist/workload.d.ts",
      "dist/generated/debug-core.js",
      "dist/shared-entry.js",
      "dist/shared-entry.d.ts",
      "dist/generated/shared-wasm.js",
      "dist/generated/shared-debug-wasm.js",
      "dist/bin/managed-arena.js",
    ]) {
      expect(paths).toContain(path);
    }
    const allowed = (p: string) =>
      ["package.json", "README.md", "LICENSE", "CHANGELOG.md"].includes(p) ||
      /^dist\/.+\.(js|d\.ts)$/.test(p) ||
      ["dist/core.wasm", "dist/core.debug.wasm"].includes(p) ||
      /^assembly\/.+\.ts$/.test(p);
    expect(paths.filter((p) => !allowed(p))).toEqual([]);
    // Not the unbundled CLI (it imports development-only libraries), no tests, sources or source maps.
    expect(paths.filter((p) => /^dist\/cli\/|^(src|test|bench|scripts|build)\/|\.map$/.test(p))).toEqual([]);
    console.log(
      `${packed.filename}: ${packed.size} B packed, ${packed.unpackedSize} B unpacked, ${packed.files.length} files`,
    );
    expect(packed.size).toBeLessThan(MAX_TARBALL_BYTES);
  });

  it("has an exports map with types (and the slim and debug entries, the .wasm files), engines, sideEffects only where a core is registered and in arena.js, the bin, and no dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    expect(pkg.type).toBe("module");
    expect(pkg.exports["."].types).toBe("./dist/index.d.ts");
    expect(Object.keys(pkg.exports["."])[0]).toBe("types");
    expect(pkg.exports["./debug"]).toEqual({ types: "./dist/debug-entry.d.ts", default: "./dist/debug-entry.js" });
    expect(pkg.exports["./shared"]).toEqual({ types: "./dist/shared-entry.d.ts", default: "./dist/shared-entry.js" });
    expect(pkg.exports["./workload"]).toEqual({ types: "./dist/workload.d.ts", default: "./dist/workload.js" });
    expect(pkg.exports["./slim"]).toEqual({ types: "./dist/slim.d.ts", default: "./dist/slim.js" });
    expect(pkg.exports["./core.wasm"]).toBe("./dist/core.wasm");
    expect(pkg.exports["./core.debug.wasm"]).toBe("./dist/core.debug.wasm");
    expect(pkg.exports["./package.json"]).toBe("./package.json");
    expect(pkg.engines.node).toMatch(/^>=\s*20/);
    // The one effect of these modules is registering an inlined core (release-core.js, imported by
    // index.js for it; debug-entry.js), arena.js's defining Heap#createArena: a bundler must keep
    // them (their sources are listed for the bundles of src/ the repository's tests make). slim.js,
    // which registers no core, is not listed.
    expect(pkg.sideEffects).toEqual([
      "./dist/index.js",
      "./src/index.ts",
      "./dist/release-core.js",
      "./src/release-core.ts",
      "./dist/debug-entry.js",
      "./src/debug-entry.ts",
      "./dist/shared-entry.js",
      "./src/shared-entry.ts",
      "./dist/shared-release.js",
      "./src/shared-release.ts",
      "./dist/arena.js",
      "./src/arena.ts",
    ]);
    expect(pkg.bin).toEqual({ "managed-arena": "./dist/bin/managed-arena.js" });
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies", "bundleDependencies"]) {
      expect(pkg[field], field).toBeUndefined();
    }
    expect(pkg.version).toBe(rootPackage.version);
  });

  it("carries no script npm runs at install (prepare is stripped when packing): installing it prints no install-scripts warning", () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    for (const script of INSTALL_SCRIPTS) expect(pkg.scripts?.[script], `scripts.${script}`).toBeUndefined();
    // The rest of the manifest is the repository's.
    const { prepare: _, ...scripts } = rootPackage.scripts;
    expect(pkg.scripts).toEqual(scripts);
    // npm 11 lists every dependency with such scripts ("install scripts not yet covered by
    // allowScripts"), even prepare, which it never runs for a tarball.
    expect(installOutput).toMatch(/added 1 package/);
    expect(installOutput).not.toMatch(/install-scripts|allowScripts|install scripts/i);
  });

  it("leaves the repository's package.json as it was: prepare kept (a clone's npm install and git installs build), same bytes and time", () => {
    expect(rootPackage.scripts.prepare).toBe("node scripts/build.mjs");
    expect(readFileSync(rootManifest, "utf8")).toBe(rootText);
    // utimes takes a float of seconds: the time comes back to well under a millisecond, not to the nanosecond.
    expect(Math.abs(statSync(rootManifest).mtimeMs - rootMtime)).toBeLessThan(1);
    expect(existsSync(BACKUP)).toBe(false);
  });

  it("puts the repository's package.json back when packing fails after prepack (npm then skips postpack)", async () => {
    const error = await npm(["pack", "--pack-destination", join(work, "no", "such", "directory")], root).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(error?.stderr).toMatch(/ENOENT/);
    // The watcher that prepack started restores it once that npm has exited.
    const deadline = Date.now() + 10_000;
    while (existsSync(BACKUP) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(BACKUP)).toBe(false);
    expect(readFileSync(rootManifest, "utf8")).toBe(rootText);
    // utimes takes a float of seconds: the time comes back to well under a millisecond, not to the nanosecond.
    expect(Math.abs(statSync(rootManifest).mtimeMs - rootMtime)).toBeLessThan(1);
  });

  it("needs no file at run time: the wasm is inlined; the .wasm files are only for Heap.create({ wasm })", () => {
    const files = walk(installed);
    expect(files.filter((f) => f.endsWith(".wasm")).sort()).toEqual(["dist/core.debug.wasm", "dist/core.wasm"]);
    for (const file of files.filter((f) => f.startsWith("dist/") && f.endsWith(".js") && !f.startsWith("dist/bin/"))) {
      const text = readFileSync(join(installed, file), "utf8");
      expect(text, file).not.toMatch(/\bimport\.meta\b|readFile|node:fs|from "fs"|sourceMappingURL/);
      // The one fetch: of the URL given as Heap.create's wasm option.
      if (file !== "dist/core.js") expect(text, file).not.toMatch(/\bfetch\(/);
    }
  });
});

describe("its modules", () => {
  it("the library is one graph of relative imports from dist/index.js, dist/slim.js and dist/debug-entry.js, with nothing shipped outside it", () => {
    const seen = new Set<string>();
    const outside: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of specifiersOf(readFileSync(join(installed, file), "utf8"))) {
        // Relative imports only: the library runs in browsers and bundlers too, so no node: built-ins.
        if (!specifier.startsWith("./") && !specifier.startsWith("../")) outside.push(`${file}: ${specifier}`);
        else visit(relative(installed, resolve(installed, dirname(file), specifier)));
      }
    };
    visit("dist/slim.js");
    // The slim entry reaches no inlined core (so bundles of it carry none).
    expect([...seen].filter((f) => /generated|release-core|debug-entry/.test(f))).toEqual([]);
    visit("dist/index.js");
    // The main entry never reaches the debug cores (so bundles of it leave them out); the shared
    // release core it reaches by a dynamic import only (shared-release.js, loaded on first use).
    expect([...seen].filter((f) => /debug-entry|debug-core|shared-entry|shared-debug-wasm/.test(f))).toEqual([]);
    visit("dist/debug-entry.js");
    visit("dist/shared-entry.js");
    // The plain base64 of the release core, for the bin's benchmark figures only.
    expect(seen.has("dist/generated/wasm.js")).toBe(false);
    visit("dist/generated/wasm.js");
    // The workload entry (managed-arena/workload) imports nothing at run time.
    const before = seen.size;
    visit("dist/workload.js");
    expect(seen.size).toBe(before + 1);
    expect(outside).toEqual([]);
    const shipped = walk(installed).filter(
      (f) => f.startsWith("dist/") && f.endsWith(".js") && !f.startsWith("dist/bin/"),
    );
    expect([...seen].sort()).toEqual(shipped.sort());
    // The declarations the public types reach all ship (the generated module's are not needed).
    const files = new Set(walk(installed));
    const missing: string[] = [];
    const declarations = new Set<string>();
    const visitTypes = (file: string) => {
      if (declarations.has(file)) return;
      declarations.add(file);
      if (!files.has(file)) return void missing.push(file);
      for (const specifier of specifiersOf(readFileSync(join(installed, file), "utf8"))) {
        if (specifier.startsWith("."))
          visitTypes(relative(installed, resolve(installed, dirname(file), specifier)).replace(/\.js$/, ".d.ts"));
      }
    };
    visitTypes("dist/index.d.ts");
    visitTypes("dist/slim.d.ts");
    visitTypes("dist/debug-entry.d.ts");
    visitTypes("dist/shared-entry.d.ts");
    visitTypes("dist/workload.d.ts");
    expect(missing).toEqual([]);
  });

  it("the bin is one file that needs only Node's built-ins and the package's entries, managed-arena, managed-arena/debug and managed-arena/workload", () => {
    const binFile = join(installed, "dist", "bin", "managed-arena.js");
    const bin = readFileSync(binFile, "utf8");
    expect(bin.startsWith("#!/usr/bin/env node\n")).toBe(true);
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    // The library is not bundled into the bin: it imports the package by its own name, as users do,
    // which resolves (the package's self-reference) to the installed dist/index.js and dist/debug-entry.js.
    const others = new Set(specifiersOf(bin).filter((specifier) => !builtins.has(specifier)));
    expect([...others].sort()).toEqual(["managed-arena", "managed-arena/debug", "managed-arena/workload"]);
    const resolveFromBin = createRequire(binFile).resolve;
    expect(resolveFromBin("managed-arena")).toBe(join(installed, "dist", "index.js"));
    expect(resolveFromBin("managed-arena/debug")).toBe(join(installed, "dist", "debug-entry.js"));
    expect(resolveFromBin("managed-arena/workload")).toBe(join(installed, "dist", "workload.js"));
    expect(statSync(join(installed, "dist", "bin", "managed-arena.js")).mode & 0o111).not.toBe(0);
  });
});

describe("installed with --omit=dev", () => {
  it("brings nothing else: no compiler, no dependency at all", () => {
    const modules = readdirSync(join(project, "node_modules")).filter((name) => !name.startsWith("."));
    expect(modules).toEqual(["managed-arena"]);
    expect(walk(join(project, "node_modules")).filter((f) => /(^|\/)node_modules\//.test(f))).toEqual([]);
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8"));
    expect(Object.keys(lock.packages).sort()).toEqual(["", "node_modules/managed-arena"]);
  });

  it("runs a scenario from an ESM script, reading only its own JS", async () => {
    writeFileSync(join(project, "scenario.mjs"), SCENARIO);
    writeFileSync(
      join(project, "probe.mjs"),
      `import { readFileSync } from "node:fs";\ntry { readFileSync(${JSON.stringify(join(installed, "README.md"))}); console.log("read"); } catch (e) { console.log(e.code); }\n`,
    );
    // Node's permission model allows reading the scripts, the package.json
    // files that resolution looks at and the package's dist/ alone: loading
    // the core must need no other file (the probe shows the sandbox holds).
    const permission = process.allowedNodeEnvironmentFlags.has("--permission")
      ? "--permission"
      : "--experimental-permission";
    const allow = [
      join(project, "scenario.mjs"),
      join(project, "probe.mjs"),
      join(project, "package.json"),
      join(installed, "package.json"),
      join(installed, "dist", "*"),
    ].map((path) => `--allow-fs-read=${path}`);
    const probe = await node(["--no-warnings", permission, ...allow, "probe.mjs"]);
    expect(probe.stdout.trim()).toBe("ERR_ACCESS_DENIED");
    const { stdout, stderr } = await node(["--no-warnings", permission, ...allow, "scenario.mjs"]);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout)).toEqual({
      exports: expect.arrayContaining([
        "ActionHandle",
        "Arena",
        "ArenaError",
        "GroupHandle",
        "Heap",
        "SuppressedError",
      ]),
      version: rootPackage.version,
      bytes: [1, 2, 3],
      text: "hello",
      aligned: true,
      stats: { allocations: 3, actions: 2 },
      codes: { interior: "EBADPTR", doubleFree: "EBADPTR", tooBig: "ENOMEM", badAlign: "EINVAL", stale: "ESTALE" },
      order: ["child", "unmap", "close 7"],
      released: true,
      afterRelease: "ERELEASED",
      chained: { name: "SuppressedError", isExported: true, error: "older", suppressed: "newer" },
      reused: true,
    });
  });

  it('records a workload through "managed-arena/workload" and parses it back', async () => {
    writeFileSync(
      join(project, "record.mjs"),
      `import { Heap } from "managed-arena";
import { parseWorkload, recordWorkload } from "managed-arena/workload";
const recorder = recordWorkload({ name: "installed" });
const heap = recorder.attach(await Heap.create({ trace: recorder.trace }));
const arena = heap.createArena();
arena.realloc(arena.alloc(8, { align: 64 }), 100);
arena.release();
console.log(JSON.stringify(parseWorkload(recorder.toString()).ops.map((op) => op.op)));
`,
    );
    const { stdout, stderr } = await node(["record.mjs"]);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout)).toEqual(["create", "alloc", "realloc", "release"]);
  });

  it('debug heaps need "managed-arena/debug": without it Heap.create({ debug: true }) is EINVAL, with it check() works', async () => {
    writeFileSync(
      join(project, "debug-missing.mjs"),
      `import { ArenaError, Heap } from "managed-arena";
try { await Heap.create({ debug: true }); console.log("created"); }
catch (e) { console.log(JSON.stringify({ code: e instanceof ArenaError ? e.code : String(e), message: e.message })); }
`,
    );
    const missing = JSON.parse((await node(["--no-warnings", "debug-missing.mjs"])).stdout);
    expect(missing.code).toBe("EINVAL");
    expect(missing.message).toContain('importing "managed-arena/debug"');
    writeFileSync(
      join(project, "debug.mjs"),
      `import { Heap } from "managed-arena/debug";
import * as main from "managed-arena";
const heap = await Heap.create({ debug: true });
heap.createArena().alloc(16);
console.log(JSON.stringify({ check: heap.check(), sameHeap: main.Heap === Heap }));
`,
    );
    expect(JSON.parse((await node(["--no-warnings", "debug.mjs"])).stdout)).toEqual({ check: 0, sameHeap: true });
  });

  it.runIf(process.features.require_module)(
    "can be require()d from CommonJS where Node allows require(esm)",
    async () => {
      writeFileSync(
        join(project, "require.cjs"),
        `const { Arena, ArenaError } = require("managed-arena");
Arena.create().then((arena) => {
  const ptr = arena.alloc(8);
  arena.free(ptr);
  try { arena.free(ptr); } catch (e) { console.log(e instanceof ArenaError ? e.code : e); }
  arena.release();
});
`,
      );
      const { stdout } = await node(["--no-warnings", "require.cjs"]);
      expect(stdout.trim()).toBe("EBADPTR");
    },
  );

  it("type-checks a strict TypeScript consumer against the .d.ts, resolved through exports", async () => {
    writeFileSync(join(project, "consumer.ts"), CONSUMER_TS);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          // WebAssembly.Memory (Heap.memory) is declared by the DOM library.
          lib: ["es2022", "esnext.disposable", "dom"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const result = await exec(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, env }).then(
      () => "ok",
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    expect(result).toBe("ok");
  });

  it("is an AssemblyScript library: a program importing managed-arena/assembly/embed compiles and runs", async () => {
    writeFileSync(join(project, "program.ts"), AS_PROGRAM);
    const asc = join(dirname(createRequire(import.meta.url).resolve("assemblyscript/package.json")), "bin", "asc.js");
    await exec(process.execPath, [asc, "program.ts", "--runtime", "incremental", "--outFile", "program.wasm", "-O"], {
      cwd: project,
      env,
      timeout: 60_000,
    });
    const { instance } = await WebAssembly.instantiate(readFileSync(join(project, "program.wasm")), {
      env: {
        abort: (_message: number, _file: number, line: number, column: number) => {
          throw new Error(`abort at ${line}:${column}`);
        },
        seed: () => 42,
      },
    });
    expect((instance.exports as { run(): number }).run()).toBe(0);
  });

  it("has a bin: `npx managed-arena --help` lists the commands", async () => {
    // Exactly what a user types; never fetch or prompt: the installed bin must answer.
    const { stdout } = await exec("npx", ["managed-arena", "--help"], {
      cwd: project,
      env: { ...env, npm_config_offline: "true", npm_config_yes: "false" },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/^usage: managed-arena <command>/);
    expect(stdout).toMatch(/^commands:$/m);
    expect(commandsOf(stdout)).toEqual(expect.arrayContaining(COMMANDS));
  });

  it("`managed-arena inspect --script` runs a script that imports managed-arena on that same library", async () => {
    writeFileSync(join(project, "setup.mjs"), INSPECT_SCRIPT);
    const bin = join(project, "node_modules", ".bin", "managed-arena");
    const { stdout, stderr } = await node([bin, "inspect", "--script", "setup.mjs"]);
    expect(stderr).toBe("");
    expect(stdout).toContain('same library: {"heap":true,"arena":true,"error":true}');
    expect(stdout).toMatch(/^arena "given": 1 allocation, 24 B live/m);
    expect(stdout).toMatch(/^arena "own": 1 allocation, 100 B live/m);
  });

  it("each command of the bin answers --help, running on its bundled libraries alone", async () => {
    const bin = join(project, "node_modules", ".bin", "managed-arena");
    const { stdout } = await node([bin, "--help"]);
    const listed = commandsOf(stdout);
    expect(listed.length).toBeGreaterThan(0);
    for (const command of listed) {
      const { stdout: help } = await node([bin, command, "--help"]);
      expect(help.trim().length, command).toBeGreaterThan(0);
    }
  });
});

/** The consumer's scenario: what a user does first, printed as JSON. */
const SCENARIO = `import { createRequire } from "node:module";
import * as api from "managed-arena";
import { Arena, ArenaError, Heap, SuppressedError } from "managed-arena";

const codeOf = (fn) => {
  try {
    fn();
  } catch (e) {
    return e instanceof ArenaError ? e.code : "not an ArenaError: " + e;
  }
  return "no error";
};

const heap = await Heap.create({ maxPages: 32 });
const arena = heap.createArena({ name: "device" });
const log = [];
const buf = arena.alloc(64, { align: 64 });
arena.bytes(buf).set([1, 2, 3]);
const text = arena.strdup("hello");
const bytes = [...arena.bytes(buf, 3)];
const readBack = arena.readString(text);
const freed = arena.alloc(24);
arena.free(freed);
arena.allocZeroed(100);
arena.add((fd) => log.push("close " + fd), 7, "close-file");
const unused = arena.add(() => log.push("never"), undefined, "unused");
arena.removeAction(unused);
arena.add(() => log.push("unmap"), undefined, "unmap");
const child = arena.createChild({ name: "child" });
child.add(() => log.push("child"));
const s = arena.stats();

const codes = {
  interior: codeOf(() => arena.free(buf + 1)),
  doubleFree: codeOf(() => arena.free(freed)),
  tooBig: codeOf(() => arena.alloc(64 * 65536)),
  badAlign: codeOf(() => arena.alloc(8, { align: 3 })),
  stale: codeOf(() => arena.removeAction(unused)),
};
const before = heap.memory.buffer.byteLength;
arena.release();

const chainArena = heap.createArena();
chainArena.add(() => { throw new Error("older"); });
chainArena.add(() => { throw new Error("newer"); });
let chained;
try {
  chainArena.release();
} catch (e) {
  chained = { name: e.name, isExported: e instanceof SuppressedError, error: e.error.message, suppressed: e.suppressed.message };
}

const again = await Arena.create();
again.release();
const second = heap.createArena();
second.alloc(32 * 1024);
const reused = heap.memory.buffer.byteLength === before;
second.release();

console.log(JSON.stringify({
  exports: Object.keys(api).sort(),
  version: createRequire(import.meta.url)("managed-arena/package.json").version,
  bytes,
  text: readBack,
  aligned: buf % 64 === 0,
  stats: { allocations: s.allocations, actions: s.actions },
  codes,
  order: log,
  released: arena.released,
  afterRelease: codeOf(() => arena.alloc(1)),
  chained,
  reused,
}));
`;

/** A setup script for \`managed-arena inspect --script\`, as a user writes one. */
const INSPECT_SCRIPT = `import { Arena, ArenaError, Heap } from "managed-arena";

export default async (heap) => {
  const given = heap.createArena({ name: "given" });
  given.alloc(24);
  let error = false;
  try {
    given.free(1);
  } catch (e) {
    error = e instanceof ArenaError;
  }
  const own = (await Heap.create()).createArena({ name: "own" });
  own.alloc(100);
  console.log("same library: " + JSON.stringify({ heap: heap instanceof Heap, arena: own instanceof Arena, error }));
};
`;

/** A TypeScript consumer: the exported types as a user writes against them. */
const CONSUMER_TS = `import { Arena, ArenaError, type ArenaErrorCode, type ArenaStats, Heap, type Ptr, SuppressedError } from "managed-arena";
import { CHECK_RULES, Heap as DebugHeap } from "managed-arena/debug";

export async function checked(): Promise<string | undefined> {
  const heap: Heap = await DebugHeap.create({ debug: true });
  return CHECK_RULES[heap.check()];
}

export async function main(): Promise<ArenaStats> {
  const heap: Heap = await Heap.create({ maxPages: 16, debug: false });
  const arena: Arena = heap.createArena({ name: "typed", minAlign: 16 });
  const ptr: Ptr = arena.alloc(32, { align: 32, zero: true });
  const view: Uint8Array = arena.bytes(ptr);
  view[0] = 1;
  const handle = arena.add((fd: number) => fd + 1, 3, "close");
  // @ts-expect-error: an action that takes a parameter needs its data
  arena.add((fd: number) => fd + 1);
  const alive: boolean = arena.hasAction(handle);
  const memory: WebAssembly.Memory = heap.memory;
  try {
    // @ts-expect-error: arithmetic on a Ptr gives a number, which free does not take
    arena.free(ptr + 1);
  } catch (e) {
    if (e instanceof ArenaError) {
      const code: ArenaErrorCode = e.code;
      void code;
    }
  }
  const chained = new SuppressedError(new Error("a"), new Error("b"));
  void [alive, memory, chained.error];
  // @ts-expect-error: a plain number is not a Ptr
  const notPtr: Ptr = 5;
  void notPtr;
  {
    using scoped = heap.createArena();
    scoped.alloc(1);
  }
  const stats = arena.stats();
  arena.release();
  return stats;
}
`;

/** An AssemblyScript consumer of the core (README, "From AssemblyScript"). */
const AS_PROGRAM = `import * as arenas from "managed-arena/assembly/embed";

export function run(): i32 {
  if (arenas.init(1024) != arenas.OK) return -1;
  const arena = arenas.createArena(4, u32.MAX_VALUE, 0);
  const ptr = arenas.alloc(arena, 64, 1, 0);
  if (ptr < arenas.STATUS_LIMIT) return -2;
  store<u8>(ptr + 63, 42);
  const text = "kept by the program's own runtime";
  if (load<u8>(ptr + 63) != 42) return -3;
  if (arenas.free(arena, ptr) != arenas.OK) return -4;
  if (arenas.free(arena, ptr) != arenas.EBADPTR) return -5;
  arenas.addAction(arena, 7);
  arenas.beginRelease(arena);
  let ran = 0;
  for (let slot = arenas.popCallback(arena); slot >= 0; slot = arenas.popCallback(arena)) ran += slot;
  arenas.endRelease(arena, 0);
  if (ran != 7) return -6;
  if (text.length != 33) return -7;
  return <i32>arenas.check();
}
`;
