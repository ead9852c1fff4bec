// `managed-arena bench --workload FILE` as users meet it: the table of the
// built-in scenarios with one row per peer (and notes on how the peers without
// arenas ran it), the chart written with --svg, peers that cannot run a
// workload skipped with the reason, and a malformed file refused with a
// message that names its line and a non-zero exit, never a stack trace.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { command } from "../tools/bench/command.js";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "dist", "bin", "managed-arena.js");
const work = mkdtempSync(join(tmpdir(), "managed-arena-bench-workload-"));
const shipped = (name: string) => join(root, "bench", "workloads", `${name}.jsonl`);
const HEADER = '{"format":"managed-arena-workload","version":1,"name":"aligned"}';

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the bench in one short round; resolves with the exit code and both streams. */
function bench(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [bin, "bench", "--rounds", "1", "--time", "5", ...args], {
    cwd: work,
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("managed-arena bench --workload", () => {
  it("--help documents it", () => {
    expect(command.help).toContain("--workload FILE");
  });

  it("replays a shipped workload against every peer: the table, the notes, the goals and the chart", async () => {
    const svg = join(work, "workload.svg");
    const { code, stdout, stderr } = await bench("--workload", shipped("request-scoped"), "--svg", svg);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^workload request-scoped \(\d+ ops: \d+ alloc, \d+ free, \d+ realloc/m);
    for (const peer of ["managed-arena", "TLSF", "bump", "@thi.ng/malloc"]) expect(stdout).toContain(peer);
    expect(stdout).toMatch(/^note: peers without arenas \(TLSF, bump, @thi.ng\/malloc\) run an arena's release/m);
    expect(stdout).not.toMatch(/skipped/);
    expect(stdout).toMatch(/^request-scoped: time, managed-arena \/ TLSF +<= 1x \(parity\) +\d/m);
    const chart = readFileSync(svg, "utf8");
    expect(chart).toMatch(/^<svg /);
    expect(chart).toContain("request-scoped: time, managed-arena / @thi.ng/malloc");
  });

  it("--json carries the rows and the notes", async () => {
    const { code, stdout } = await bench("--json", "--workload", shipped("growing-buffers"));
    expect(code).toBe(0);
    const results = JSON.parse(stdout);
    expect(results.scenarios.map((s: { id: string }) => s.id)).toEqual(["workload-growing-buffers"]);
    expect(results.scenarios[0].rows.map((r: { peer: string }) => r.peer)).toEqual([
      "managed-arena",
      "TLSF",
      "bump",
      "@thi.ng/malloc",
    ]);
    expect(results.notes.length).toBeGreaterThan(0);
  });

  it("skips the peers that cannot run a workload and says why", async () => {
    const path = join(work, "aligned.jsonl");
    writeFileSync(
      path,
      [
        HEADER,
        '{"op":"create","arena":1}',
        '{"op":"alloc","arena":1,"id":1,"size":100,"align":64}',
        '{"op":"alloc","arena":1,"id":2,"size":100}',
        '{"op":"free","id":1}',
        '{"op":"release","arena":1}',
        "",
      ].join("\n"),
    );
    const { code, stdout } = await bench("--workload", path);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^note: aligned: TLSF skipped: it aligns every block to 16 B and the workload asks for 64 B/m,
    );
    expect(stdout).toMatch(/^note: aligned: bump skipped: it aligns every block to 16 B/m);
    expect(stdout).toMatch(/aligned: time, managed-arena \/ TLSF +<= 1x \(parity\) +n\/a +n\/a/);
    expect(stdout).toMatch(/aligned: time, managed-arena \/ @thi.ng\/malloc +<= 1x \(parity\) +\d/);
  });

  it("refuses a malformed file with its line, exit 2, no stack trace", async () => {
    const path = join(work, "bad.jsonl");
    writeFileSync(path, [HEADER, '{"op":"create","arena":1}', '{"op":"free","id":3}', ""].join("\n"));
    const { code, stdout, stderr } = await bench("--workload", path);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim()).toBe(`managed-arena bench: bad workload: ${path}:3: free: block 3 was never allocated`);
  });

  it("a workload managed-arena cannot run fails the command (exit 1) naming the line; one with no operations is refused", async () => {
    const path = join(work, "huge.jsonl");
    writeFileSync(
      path,
      [HEADER, '{"op":"create","arena":1}', '{"op":"alloc","arena":1,"id":1,"size":4294967295}'].join("\n"),
    );
    const huge = await bench("--workload", path);
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(
      /^managed-arena bench: workload replay failed: managed-arena: replay failed at line 3: /,
    );
    expect(huge.stderr).not.toMatch(/\n\s+at /);
    const empty = join(work, "empty.jsonl");
    writeFileSync(empty, `${HEADER}\n`);
    const none = await bench("--workload", empty);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/bad workload: .*empty\.jsonl: no operations to replay/);
  });

  it("refuses a file that is not JSON lines, a missing file, and --only with --workload", async () => {
    const path = join(work, "text.jsonl");
    writeFileSync(path, "hello\n");
    const notJson = await bench("--workload", path);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/bad workload: .*text\.jsonl:1: not JSON/);
    expect(notJson.stderr).not.toMatch(/\n\s+at /);
    const missing = await bench("--workload", join(work, "none.jsonl"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read workload .*none\.jsonl/);
    const both = await bench("--only", "alloc", "--workload", shipped("sliding-window"));
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--only and --workload exclude each other/);
  });

  it("@thi.ng/malloc is a peer of the built-in alloc+free pairs and of free with many live", async () => {
    for (const only of ["alloc-free-16", "free-live-100"]) {
      const { code, stdout } = await bench("--json", "--only", only);
      expect(code).toBe(0);
      const results = JSON.parse(stdout);
      const rows = results.scenarios.flatMap((s: { rows: { peer: string; ns: number | null }[] }) => s.rows);
      const thing = rows.filter((r: { peer: string }) => r.peer === "@thi.ng/malloc");
      expect(thing.length, only).toBeGreaterThan(0);
      for (const row of thing) expect(row.ns, only).toBeGreaterThan(0);
    }
  });
});
