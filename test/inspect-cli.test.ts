// `managed-arena inspect --script` from the built bin, against scripts that
// import the library the way users do: by the package's name (resolved here
// through the package's self-reference to dist/index.js) and by its path in
// dist/. The bin must run them on the very library they import (a Heap it
// hands over is their Heap, errors are their ArenaError), and must find the
// arenas they create on heaps of their own.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "dist", "bin", "managed-arena.js");
const fixtures = join(root, "test", "fixtures");
const work = mkdtempSync(join(tmpdir(), "managed-arena-inspect-cli-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function inspect(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!existsSync(bin)) throw new Error("dist/bin/managed-arena.js is missing: run `node scripts/build.mjs`");
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, "inspect", ...args], { cwd: work, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** The names in an SVG's legend, in order. */
function legendNames(svg: string): string[] {
  return [...svg.matchAll(/<g data-legend-arena="0x[0-9a-f]+" data-name="([^"]*)"/g)].map((m) => m[1] as string);
}

describe.each([
  ["by the package's name", "inspect-package.mjs"],
  ["by its path in dist/", "inspect-dist.mjs"],
])("inspect --script with a script that imports managed-arena %s", (_, fixture) => {
  const script = join(fixtures, fixture);

  it("hands the script a Heap of the library it imports, and errors of its ArenaError", async () => {
    const { code, stdout, stderr } = await inspect(["--script", script]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain('checks {"heap":true,"arena":true,"error":true}');
  });

  it("reports the arenas the script made on the given heap and on heaps of its own", async () => {
    const { code, stdout } = await inspect(["--script", script]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^arena "on-given-heap": 2 allocations/m);
    expect(stdout).toMatch(/^arena "on-own-heap": 1 allocation, 3000 B live/m);
    expect(stdout).toMatch(/^ {2}arena "own-child": 1 allocation, 64 B/m);
    expect(stdout).toMatch(/^arena "solo": 1 allocation, 10 B/m);
    expect(stdout).not.toContain('"gone"');
    expect(stdout).not.toContain("no live arena");
  });

  it("draws every heap that holds a live arena, and --arena picks one", async () => {
    const dir = mkdtempSync(join(work, "svg-"));
    const file = join(dir, "map.svg");
    const { code, stdout } = await inspect(["--script", script, "--svg", file]);
    expect(code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["map-heap2.svg", "map-heap3.svg", "map.svg"]);
    expect(legendNames(readFileSync(file, "utf8"))).toEqual(["on-given-heap"]);
    expect(legendNames(readFileSync(join(dir, "map-heap2.svg"), "utf8"))).toEqual(["on-own-heap", "own-child"]);
    expect(legendNames(readFileSync(join(dir, "map-heap3.svg"), "utf8"))).toEqual(["solo"]);
    expect(stdout).toContain(`wrote ${join(dir, "map-heap2.svg")}: 2 arenas`);

    const one = join(dir, "one.svg");
    expect((await inspect(["--script", script, "--svg", one, "--arena", "own-child"])).code).toBe(0);
    expect(legendNames(readFileSync(one, "utf8"))).toEqual(["on-own-heap", "own-child"]);
    expect(existsSync(join(dir, "one-heap2.svg"))).toBe(false);
  });
});
