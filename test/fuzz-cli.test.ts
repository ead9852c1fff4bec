// The `managed-arena fuzz` command, run in-process through its exported
// function with captured output: a short run that passes, a run against a
// deliberately broken model that fails with a seed, a shrunk command list, a
// replay file and the command to replay it; replays; a hang in a worker; help
// and bad arguments. Fuzz runs use fixed seeds and --ops budgets, so every
// run is deterministic and no assertion depends on timing.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main, register } from "../tools/cli/main.js";
import { command, runFuzz } from "../tools/fuzz/command.js";
import { captureIO, SUCCESS, workerTarget } from "./fuzz-support.js";

const capture = () => captureIO("fuzz-cli");

describe("managed-arena fuzz", () => {
  it("--help lists every option, through the bin's dispatcher too", async () => {
    const io = capture();
    expect(await runFuzz(["--help"], io)).toBe(0);
    const help = io.lines.join("\n");
    for (const option of ["--seconds", "--ops", "--seed", "--replay", "--profile", "--skip-check", "--hang-seconds"]) {
      expect(help).toContain(option);
    }
    register("fuzz", async () => command);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      expect(await main(["fuzz", "--help"])).toBe(0);
      expect(log).toHaveBeenCalledWith(command.help);
      expect(await main(["--help"])).toBe(0);
      expect(String(log.mock.calls.at(-1)?.[0])).toMatch(/fuzz\s+model-based fuzzing/);
    } finally {
      log.mockRestore();
    }
  });

  it("a short run in a worker passes and ends with the summary line", async () => {
    const io = capture();
    const code = await runFuzz(
      ["--ops", "400", "--seed", "3", "--profile", "edges", "--skip-check", "reclaim"],
      io,
      await workerTarget(),
    );
    expect(io.lines.join("\n")).not.toContain("FAILED");
    expect(code).toBe(0);
    const last = io.lines.at(-1) ?? "";
    expect(last).toMatch(SUCCESS);
    const [, ops, seeds] = SUCCESS.exec(last) ?? [];
    expect(Number(ops)).toBeGreaterThanOrEqual(400);
    expect(Number(seeds)).toBeGreaterThanOrEqual(1);
  });

  it("a short run in-process passes too", async () => {
    const io = capture();
    const code = await runFuzz(
      ["--ops", "300", "--seed", "11", "--profile", "edges", "--skip-check", "reclaim", "--in-process"],
      io,
    );
    expect(code).toBe(0);
    expect(io.lines.at(-1)).toMatch(SUCCESS);
  });

  it("a failure prints the seed and the shrunk commands, writes a replay file that fails again, exit 1", async () => {
    const io = capture();
    // A seed whose first failing sequence can shrink to a single command (from some, e.g. 4242 since
    // dup of detached buffers joined the edges, the shortest case is alloc then realloc to 1000+ bytes).
    const args = ["--ops", "3000", "--seed", "4", "--profile", "edges", "--skip-check", "reclaim"];
    const code = await runFuzz([...args, "--inject-fault", "liveBytes"], io, await workerTarget());
    const out = io.lines.join("\n");
    expect(code).toBe(1);
    expect(out).toMatch(/^fuzz: FAILED \(mismatch\) after \d+ ops, \d+ seeds; seed \d+$/m);
    expect(out).toMatch(/stats\(\)\.liveBytes is \d+, expected \d+/);
    expect(out).toMatch(/^shrunk to 1 commands, on \{.*"fault":"liveBytes".*\}:$/m);
    // One command that allocates 1000 bytes or more: alloc, allocArray, dup or strdup.
    expect(out).toMatch(/^\s+1\. \{"t":"(alloc|dup|strdup)/m);
    const seed = /seed (\d+)$/m.exec(out)?.[1];
    const file = join(io.cwd, `fuzz-failure-${seed}.json`);
    expect(out).toContain(`replay file: ${file}`);
    expect(io.lines.at(-1)).toBe(`replay with: npx managed-arena fuzz --replay fuzz-failure-${seed}.json`);
    const replay = JSON.parse(readFileSync(file, "utf8"));
    expect(replay).toMatchObject({ managedArenaFuzz: 1, seed: Number(seed), kind: "mismatch", skip: ["reclaim"] });
    expect(replay.commands).toHaveLength(1);

    const again = capture();
    again.cwd = io.cwd;
    expect(await runFuzz(["--replay", `fuzz-failure-${seed}.json`], again, await workerTarget())).toBe(1);
    expect(again.lines.join("\n")).toMatch(/stats\(\)\.liveBytes is \d+, expected \d+/);
    expect(again.lines.at(-1)).toBe(`fuzz: replay of fuzz-failure-${seed}.json: 1 commands, 1 failure`);
  });

  /** The arguments of the "the same round again" line, and the parts of a failure report that must repeat. */
  function failureOf(lines: string[]) {
    const prefix = "the same round again: npx managed-arena fuzz ";
    const again = lines.find((line) => line.startsWith(prefix));
    const seed = /^fuzz: FAILED \(\w+\) after \d+ ops, \d+ seeds; seed (\d+)$/m.exec(lines.join("\n"))?.[1];
    const start = lines.findIndex((line) => line.startsWith("fuzz: FAILED"));
    const end = lines.findIndex((line) => line.startsWith("the same round again:"));
    return { args: again?.slice(prefix.length).split(" ") ?? [], seed, report: lines.slice(start + 1, end) };
  }

  it("prints a command that runs the failing round again, with every option that shapes the round", async () => {
    const io = capture();
    // Traced arenas only (a quarter of the sequences): the failure comes in a later round, not the first.
    // (Which seed does that depends on the generators: seed 2 since the quarantine joined the configs.)
    const args = [
      ["--ops", "1500"],
      ["--seed", "2"],
      ["--profile", "edges"],
      ["--skip-check", "reclaim"],
      ["--without-effect", "reset"],
      ["--hang-seconds", "5"],
      ["--inject-fault", "traceName"],
    ];
    expect(await runFuzz(args.flat(), io, await workerTarget())).toBe(1);
    const first = failureOf(io.lines);
    expect(first.seed).toBeDefined();
    expect(first.seed).not.toBe("2");

    const again = capture();
    expect(await runFuzz(first.args, again, await workerTarget())).toBe(1);
    const second = failureOf(again.lines);
    expect(second.seed).toBe(first.seed);
    expect(second.report).toEqual(first.report);
    expect(second.args).toEqual(first.args);

    expect(first.args.slice(0, 2)).toEqual(["--seed", first.seed]);
    for (const [option, value] of args.filter(([option]) => option !== "--seed")) {
      expect(first.args.join(" ")).toContain(`${option} ${value}`);
    }
    expect(io.lines.at(-1)).toMatch(/^replay with: npx managed-arena fuzz --replay \S+ --hang-seconds 5$/);
  });

  it("--in-process is repeated too, and the printed command fails the same way in-process", async () => {
    // A seed whose first round passes, so that the failing round's seed is a derived one. Which
    // seeds do depends on the generators and on where the core puts blocks: the first of a few.
    let first: ReturnType<typeof failureOf> = { args: [], seed: "", report: [] };
    for (let seed = 1; seed <= 40 && (first.seed === "" || first.seed === String(seed - 1)); seed++) {
      const io = capture();
      expect(
        await runFuzz(["--ops", "1500", "--seed", String(seed), "--inject-fault", "utf8", "--in-process"], io),
      ).toBe(1);
      first = failureOf(io.lines);
    }
    expect(Number(first.seed)).toBeGreaterThan(40);
    const again = capture();
    expect(await runFuzz(first.args, again)).toBe(1);
    expect(failureOf(again.lines).report).toEqual(first.report);
    expect(first.args).toEqual(["--seed", first.seed, "--ops", "1500", "--inject-fault", "utf8", "--in-process"]);
  });

  it("a hand-written replay file that holds passes, exit 0", async () => {
    const io = capture();
    const file = join(io.cwd, "case.json");
    const commands = [
      { t: "alloc", size: 24, name: "buf" },
      { t: "add", behaviour: { throws: false, effects: [{ op: "free", pick: 0 }] } },
      { t: "alloc", size: { $: "NaN" } },
      { t: "free", ptr: { k: "interior", pick: 0, offset: 8 } },
      { t: "release" },
    ];
    const config = { maxPages: 8, minAlign: 16, maxBytes: 4294967295, differential: true };
    writeFileSync(file, JSON.stringify({ config, commands }));
    expect(await runFuzz(["--replay", file], io, await workerTarget())).toBe(0);
    expect(io.lines.at(-1)).toMatch(/^fuzz: replay of .*case\.json passed: 5 commands, \d+ ops, 0 failures$/);
  });

  it("a hang is caught in the worker, shrunk, and written as a replay file that hangs again", async () => {
    const io = capture();
    const args = [
      "--ops",
      "3000",
      "--seed",
      "3",
      "--profile",
      "edges",
      "--skip-check",
      "reclaim",
      "--hang-seconds",
      "1",
    ];
    const code = await runFuzz([...args, "--inject-fault", "hang"], io, await workerTarget());
    const out = io.lines.join("\n");
    expect(code).toBe(1);
    expect(out).toMatch(/^fuzz: FAILED \(hang\)/m);
    expect(out).toContain("never returns");
    const seed = /seed (\d+)$/m.exec(out)?.[1];
    const replay = JSON.parse(readFileSync(join(io.cwd, `fuzz-failure-${seed}.json`), "utf8"));
    expect(replay.kind).toBe("hang");
    expect(replay.commands.some((c: { t: string; size?: number }) => c.t === "alloc" && (c.size ?? 0) >= 1000)).toBe(
      true,
    );
    const again = capture();
    again.cwd = io.cwd;
    const replayed = await runFuzz(
      ["--replay", `fuzz-failure-${seed}.json`, "--hang-seconds", "1"],
      again,
      await workerTarget(),
    );
    expect(replayed).toBe(1);
    expect(again.lines.join("\n")).toMatch(/FAILED \(hang\)/);
  });

  it("bad options and bad replay files exit 2 with a reason", async () => {
    for (const args of [
      ["--ops", "-5"],
      ["--seconds"],
      ["--bogus"],
      ["--profile", "nope"],
      ["--replay", "x.json", "--ops", "5"],
    ]) {
      const io = capture();
      expect(await runFuzz(args, io)).toBe(2);
      expect(io.errors[0]).toMatch(/^managed-arena fuzz: /);
    }
    const io = capture();
    writeFileSync(join(io.cwd, "bad.json"), JSON.stringify({ config: { maxPages: 1 }, commands: [] }));
    expect(await runFuzz(["--replay", "bad.json"], io)).toBe(2);
    expect(io.errors.join("\n")).toContain("not a fuzz replay file: config.maxPages");
    writeFileSync(
      join(io.cwd, "bad2.json"),
      JSON.stringify({
        config: { maxPages: 8, minAlign: 16, maxBytes: 0, differential: false },
        commands: [{ t: "explode" }],
      }),
    );
    expect(await runFuzz(["--replay", "bad2.json"], io)).toBe(2);
    expect(io.errors.join("\n")).toContain("command 1: not a valid command");
  });
});
