// `managed-arena fuzz --threads N`: N fuzz workers run the model-based command
// sequences on one shared debug heap at the same time (tools/fuzz/threads.ts).
// A short run passes with its summary; a deliberately broken model is caught
// in a thread, which the report names, with a seed, a shrunk case and a
// replay file that fails again in one thread on a shared heap of its own.
// Interleavings are not deterministic: the assertions are on outcomes only.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs, runFuzz } from "../tools/fuzz/command.js";
import { sharedPages, threadSeed } from "../tools/fuzz/threads.js";
import { captureIO, SUCCESS, workerTarget } from "./fuzz-support.js";

const capture = () => captureIO("fuzz-threads");
const THREADS =
  /^fuzz: 2 threads on one shared heap of (\d+) pages; thread 1: (\d+) ops in [\d.]+ s \((\d+) ops\/s\); thread 2: (\d+) ops in [\d.]+ s \((\d+) ops\/s\)$/m;

describe("managed-arena fuzz --threads", () => {
  it("--threads 2 --seconds 3 passes: both threads worked, the heap checks out, every page is back", async () => {
    const io = capture();
    const code = await runFuzz(["--threads", "2", "--seconds", "3", "--seed", "5"], io, await workerTarget());
    const out = io.lines.join("\n");
    expect(out).not.toContain("FAILED");
    expect(code).toBe(0);
    const threads = THREADS.exec(out);
    expect(threads).not.toBeNull();
    const [, pages, ops1, , ops2] = threads ?? [];
    expect(Number(pages)).toBe(sharedPages(2));
    expect(Number(ops1)).toBeGreaterThan(0);
    expect(Number(ops2)).toBeGreaterThan(0);
    expect(out).toMatch(/^fuzz: \d+ calls ended in ENOMEM, \d+ scenarios skipped .*heap\.check\(\) ran \d+ times/m);
    // page 0 and a page of arena records at most stay in use.
    const end = /^fuzz: at the end the heap has (\d+) pages, (\d+) free, (\d+) in use/m.exec(out);
    expect(end).not.toBeNull();
    expect(Number(end?.[3])).toBeLessThanOrEqual(2);
    expect(Number(end?.[1])).toBe(Number(end?.[2]) + Number(end?.[3]));
    const last = io.lines.at(-1) ?? "";
    expect(last).toMatch(SUCCESS);
    expect(Number(SUCCESS.exec(last)?.[1])).toBe(Number(ops1) + Number(ops2));
  });

  it("a broken model is caught in a thread: its number, the seed, the shrunk case and a replay file", async () => {
    const io = capture();
    const args = ["--threads", "2", "--seconds", "20", "--seed", "4", "--inject-fault", "liveBytes"];
    const code = await runFuzz(args, io, await workerTarget());
    const out = io.lines.join("\n");
    expect(code).toBe(1);
    expect(out).toMatch(/^fuzz: FAILED \(mismatch\) after \d+ ops, \d+ seeds; seed \d+$/m);
    expect(out).toMatch(/^ {2}in thread [12] of 2 on one shared heap/m);
    expect(out).toMatch(/stats\(\)\.liveBytes is \d+, expected \d+/);
    expect(out).toMatch(/^shrunk to 1 commands, on \{.*"fault":"liveBytes".*"shared":true\}:$/m);
    const seed = /seed (\d+)$/m.exec(out)?.[1];
    expect(out).toContain(
      `the same round again: npx managed-arena fuzz --seed ${seed} --inject-fault liveBytes --threads 2`,
    );
    const replay = JSON.parse(readFileSync(join(io.cwd, `fuzz-failure-${seed}.json`), "utf8"));
    expect(replay.config).toMatchObject({ shared: true, maxPages: sharedPages(2), differential: false });
    // The replay runs the case alone, on a shared heap of its own: it fails the same way.
    const again = capture();
    again.cwd = io.cwd;
    expect(await runFuzz(["--replay", `fuzz-failure-${seed}.json`], again, await workerTarget())).toBe(1);
    expect(again.lines.join("\n")).toMatch(/stats\(\)\.liveBytes is \d+, expected \d+/);
  });

  it("options: --threads takes 1..16, not with --in-process or --replay; thread 1 starts from --seed", () => {
    expect(parseArgs(["--threads", "3"])).toMatchObject({ options: { threads: 3 } });
    expect(parseArgs([])).not.toHaveProperty("options.threads");
    for (const args of [
      ["--threads", "0"],
      ["--threads", "17"],
      ["--threads", "1.5"],
      ["--threads"],
      ["--threads", "2", "--in-process"],
      ["--threads", "2", "--replay", "x.json"],
    ]) {
      expect(parseArgs(args)).toHaveProperty("error");
    }
    expect(threadSeed(42, 1)).toBe(42);
    expect(new Set([1, 2, 3, 4].map((t) => threadSeed(42, t))).size).toBe(4);
  });
});
