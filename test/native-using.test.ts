// `using` and `await using` run natively on Node 24 and 26. test/using.test.ts
// goes through vitest's transform, which lowers both declarations to
// try/finally; test/native/using.mjs is plain JavaScript that nothing
// transforms, executed here by the extra runtimes of scripts/runtimes/
// (`npm run runtimes` installs them; this test does it on demand) and, when
// the suite itself runs on a runtime with the syntax, by that runtime too. On
// Node 20 it must not even parse: proof that the file is untransformed.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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

/** The extra runtimes installed by `npm run runtimes` (scripts/runtimes/package.json). */
const extra = [24, 26].map((major) => ({
  major,
  bin: join(root, "scripts", "runtimes", "node_modules", `node${major}`, "bin", "node"),
}));
const required = process.env.REQUIRE_NODE_RUNTIMES === "1";

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
