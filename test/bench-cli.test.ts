// `managed-arena bench` as users meet it: --help names every scenario id that
// --only matches, and no text it prints (the tables, the Markdown, the SVG
// chart) nor the committed results in docs/ uses names that only make sense
// inside this project's history ("issue 5", "seed O(n) free"): each title
// says what is measured.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { command } from "../tools/bench/command.js";
import { plan } from "../tools/bench/scenarios.js";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "dist", "bin", "managed-arena.js");
const work = mkdtempSync(join(tmpdir(), "managed-arena-bench-cli-"));
/** Names from the project's history, meaningless to a user. */
const HISTORY = /issue \d+|issue #\d+|seed O\(n\)|seed's O\(n\)/i;

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("managed-arena bench", () => {
  it("--help lists every scenario id, one per line, in the order they run", async () => {
    const { scenarios } = await plan({ quick: true });
    const ids = scenarios.map((scenario) => scenario.id);
    expect(ids.length).toBeGreaterThan(10);
    const listed = [...command.help.matchAll(/^ {2}([a-z0-9][a-z0-9-]*) {2,}\S/gm)].map((m) => m[1]);
    expect(listed).toEqual(ids);
  });

  it("--help, the tables, the Markdown and the chart say what is measured, not where the goals came from", async () => {
    expect(command.help).not.toMatch(HISTORY);
    const svg = join(work, "goals.svg");
    const run = (...args: string[]) =>
      exec(process.execPath, [bin, "bench", "--only", "free-live", "--rounds", "1", "--time", "5", ...args], {
        cwd: work,
        timeout: 60_000,
      });
    const text = (await run("--svg", svg)).stdout;
    const markdown = (await run("--markdown")).stdout;
    // The runs did measure the peer the old names stood for.
    expect(text).toMatch(/^goals: \d+ of \d+ met/m);
    expect(text).toContain("JS list, O(n) free");
    expect(markdown).toContain("JS list, O(n) free");
    for (const [what, output] of [
      ["text", text],
      ["markdown", markdown],
      ["svg", readFileSync(svg, "utf8")],
    ]) {
      expect(output, what).not.toMatch(HISTORY);
    }
  });

  it("neither do the committed results and the docs that show them", () => {
    // (CHANGELOG.md is history: it may quote the old titles.)
    for (const file of ["docs/benchmarks.md", "docs/benchmarks.svg", "README.md"]) {
      expect(readFileSync(join(root, file), "utf8"), file).not.toMatch(HISTORY);
    }
  });
});
