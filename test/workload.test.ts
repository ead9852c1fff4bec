// Workload files (managed-arena/workload, docs/workloads.md): the format is
// validated on load with errors that name the line, recordWorkload() records
// what a program did, the shipped workloads are what bench/make-workloads.mjs
// writes and replay on every peer that can run them, and the README's example
// records a file that parses.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { type Arena, Heap } from "../src/index.js";
import {
  formatWorkload,
  parseWorkload,
  recordWorkload,
  WORKLOAD_FORMAT,
  WORKLOAD_VERSION,
  type Workload,
  WorkloadError,
} from "../src/workload.js";
import { instantiatePeer, thingPool } from "../tools/bench/peers.js";
import { arenaReplay, bumpReplay, compile, loadWorkload, thingReplay, tlsfReplay } from "../tools/bench/replay.js";

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHIPPED = ["request-scoped", "sliding-window", "growing-buffers"];
const work = mkdtempSync(join(tmpdir(), "managed-arena-workload-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HEADER = JSON.stringify({ format: WORKLOAD_FORMAT, version: WORKLOAD_VERSION });
/** A file of the header and these lines (objects are JSON-encoded). */
const file = (...lines: unknown[]) =>
  [HEADER, ...lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l)))].join("\n");

/** The WorkloadError parsing `text` throws. */
function parseError(text: string): WorkloadError {
  try {
    parseWorkload(text, "w.jsonl");
  } catch (error) {
    expect(error).toBeInstanceOf(WorkloadError);
    return error as WorkloadError;
  }
  throw new Error("parsed without error");
}

describe("the format", () => {
  it("parses a valid file, skips blank lines, and formats it back to the same text", () => {
    const text = `${file(
      { op: "create", arena: 1, name: "a" },
      { op: "create", arena: 2, parent: 1, minAlign: 64 },
      { op: "alloc", arena: 1, id: 1, size: 10 },
      { op: "alloc", arena: 2, id: 2, size: 0, align: 128 },
      "",
      { op: "realloc", id: 1, size: 1000 },
      { op: "free", id: 1 },
      { op: "release", arena: 1 },
    )}\n`;
    const workload = parseWorkload(text);
    expect(workload.ops).toHaveLength(7);
    expect(workload.lines).toEqual([2, 3, 4, 5, 7, 8, 9]);
    expect(formatWorkload(workload)).toBe(text.replace("\n\n", "\n"));
  });

  it.each([
    ["not JSON", file("{op:"), 2, /w\.jsonl:2: not JSON/],
    ["no header", "", 1, /w\.jsonl:1: empty file/],
    ["a header of another format", '{"format":"x","version":1}', 1, /w\.jsonl:1: not a workload file/],
    ["a newer version", `{"format":"${WORKLOAD_FORMAT}","version":2}`, 1, /version 2 is not supported/],
    ["an unknown op", file({ op: "malloc", id: 1 }), 2, /w\.jsonl:2: unknown op "malloc"/],
    ["an unknown field", file({ op: "create", arena: 1, nmae: "x" }), 2, /create: unknown field "nmae"/],
    ["a missing field", file({ op: "create", arena: 1 }, { op: "alloc", arena: 1, id: 1 }), 3, /missing field "size"/],
    [
      "a negative size",
      file({ op: "create", arena: 1 }, { op: "alloc", arena: 1, id: 1, size: -1 }),
      3,
      /"size" must be an integer/,
    ],
    [
      "an alignment that is not a power of two",
      file({ op: "create", arena: 1 }, { op: "alloc", arena: 1, id: 1, size: 8, align: 24 }),
      3,
      /power of two/,
    ],
    ["an arena never created", file({ op: "alloc", arena: 9, id: 1, size: 8 }), 2, /arena 9 was never created/],
    [
      "a double free",
      file(
        { op: "create", arena: 1 },
        { op: "alloc", arena: 1, id: 1, size: 8 },
        { op: "free", id: 1 },
        { op: "free", id: 1 },
      ),
      5,
      /w\.jsonl:5: free: block 1 is not live \(freed or released at line 4\)/,
    ],
    [
      "a block reused after its arena's parent was released",
      file(
        { op: "create", arena: 1 },
        { op: "create", arena: 2, parent: 1 },
        { op: "alloc", arena: 2, id: 5, size: 8 },
        { op: "release", arena: 1 },
        { op: "realloc", id: 5, size: 16 },
      ),
      6,
      /realloc: block 5 is not live \(freed or released at line 5\)/,
    ],
    [
      "an alloc in a released arena",
      file({ op: "create", arena: 1 }, { op: "release", arena: 1 }, { op: "alloc", arena: 1, id: 1, size: 8 }),
      4,
      /arena 1 is released/,
    ],
    [
      "an id used twice",
      file(
        { op: "create", arena: 1 },
        { op: "alloc", arena: 1, id: 1, size: 8 },
        { op: "alloc", arena: 1, id: 1, size: 8 },
      ),
      4,
      /block 1 already exists \(allocated at line 3\)/,
    ],
  ])("rejects %s, naming the line", (_, text, line, message) => {
    const error = parseError(text);
    expect(error.line).toBe(line);
    expect(error.message).toMatch(message);
  });
});

describe("recordWorkload", () => {
  it("records arenas, alloc with align, allocZeroed, realloc, free, frees by reset and releaseGroup, and releases", async () => {
    const recorder = recordWorkload({ name: "t" });
    const heap = recorder.attach(await Heap.create({ trace: recorder.trace }));
    const a = heap.createArena({ name: "a", minAlign: 32 });
    const p = a.alloc(10, { align: 64 });
    const q = a.allocZeroed(20);
    const p2 = a.realloc(p, 5000);
    a.free(q);
    const child = a.createChild({ name: "kid" });
    child.alloc(7);
    const g = a.openGroup();
    a.alloc(3);
    a.closeGroup(g);
    a.releaseGroup(g);
    const b = heap.createArena({ name: "b" });
    b.alloc(1);
    b.reset();
    b.alloc(2);
    a.release(); // takes p2 and the child with it
    b.release();
    expect(p2).toBeGreaterThan(0);
    expect(recorder.ops).toEqual([
      { op: "create", arena: 1, minAlign: 32, name: "a" },
      { op: "alloc", arena: 1, id: 1, size: 10, align: 64 },
      { op: "alloc", arena: 1, id: 2, size: 20 },
      { op: "realloc", id: 1, size: 5000 },
      { op: "free", id: 2 },
      { op: "create", arena: 2, parent: 1, name: "kid" },
      { op: "alloc", arena: 2, id: 3, size: 7 },
      { op: "alloc", arena: 1, id: 4, size: 3 },
      { op: "free", id: 4 },
      { op: "create", arena: 3, name: "b" },
      { op: "alloc", arena: 3, id: 5, size: 1 },
      { op: "free", id: 5 },
      { op: "alloc", arena: 3, id: 6, size: 2 },
      { op: "release", arena: 1 },
      { op: "release", arena: 3 },
    ]);
    // What it writes is a valid file that says the same.
    const parsed = parseWorkload(recorder.toString());
    expect(parsed.header).toEqual({ format: WORKLOAD_FORMAT, version: WORKLOAD_VERSION, name: "t" });
    expect(parsed.ops).toEqual(recorder.ops);
  });

  it("an arena attached after its first blocks were traced is the arena they were recorded in; `using` disposal is a release", async () => {
    const recorder = recordWorkload();
    const heap = await Heap.create({ trace: recorder.trace });
    const early = heap.createArena({ name: "early" });
    const before = early.alloc(8);
    recorder.attach(early);
    early.alloc(16);
    early.free(before);
    early[Symbol.dispose]();
    expect(recorder.ops).toEqual([
      { op: "create", arena: 1, name: "early" },
      { op: "alloc", arena: 1, id: 1, size: 8 },
      { op: "alloc", arena: 1, id: 2, size: 16 },
      { op: "free", id: 1 },
      { op: "release", arena: 1 },
    ]);
    parseWorkload(recorder.toString());
  });
});

/** Replays a compiled workload on managed-arena and checks what it leaves against the file's own bookkeeping. */
function replayOnArena(heap: Heap, text: string, source: string): void {
  const c = loadWorkload(text, source);
  const arenas: Arena[] = new Array(c.arenas);
  arenaReplay(heap, c.arenaProgram, arenas, new Uint32Array(c.blocks));
  c.finalArenas.forEach((expected, a) => {
    expect(arenas[a].released, `arena ${a}`).toBe(!expected.live);
    if (expected.live) {
      const { allocations, liveBytes } = arenas[a].stats();
      expect({ allocations, liveBytes }, `arena ${a}`).toEqual({
        allocations: expected.blocks,
        liveBytes: expected.bytes,
      });
    }
  });
  for (const arena of arenas) if (!arena.released) arena.release();
}

describe("the shipped workloads", () => {
  it.each(SHIPPED)(
    "%s replays on managed-arena, TLSF, bump and @thi.ng/malloc, ending as the file says",
    async (name) => {
      const path = join(root, "bench", "workloads", `${name}.jsonl`);
      expect(statSync(path).size).toBeLessThan(64 * 1024);
      const text = readFileSync(path, "utf8");
      const heap = await Heap.create({ debug: true });
      replayOnArena(heap, text, path);
      expect(heap.check()).toBe(0);
      const c = compile(parseWorkload(text, path));
      expect(c.name).toBe(name);
      expect(c.maxAlign).toBeLessThanOrEqual(16);
      const ptrs = new Uint32Array(c.blocks);
      tlsfReplay(instantiatePeer("tlsf"), c.flatProgram, ptrs);
      bumpReplay(instantiatePeer("bump"), c.flatProgram, ptrs);
      thingReplay(thingPool(64 << 20), c.flatProgram, ptrs);
    },
  );

  it("are what bench/make-workloads.mjs records (deterministic)", async () => {
    await exec(process.execPath, [join(root, "bench", "make-workloads.mjs"), "--check"], { cwd: root });
  });

  it("zero-size blocks replay on every peer (@thi.ng/malloc is asked for 1 byte: its malloc(0) returns 0)", async () => {
    const text = file(
      { op: "create", arena: 1 },
      { op: "alloc", arena: 1, id: 1, size: 0 },
      { op: "alloc", arena: 1, id: 2, size: 8 },
      { op: "realloc", id: 2, size: 0 },
      { op: "free", id: 1 },
    );
    replayOnArena(await Heap.create(), text, "zero.jsonl");
    const c = loadWorkload(text, "zero.jsonl");
    const ptrs = new Uint32Array(c.blocks);
    thingReplay(thingPool(1 << 20), c.flatProgram, ptrs);
    expect(ptrs[1]).toBeGreaterThan(0);
    tlsfReplay(instantiatePeer("tlsf"), c.flatProgram, ptrs);
    bumpReplay(instantiatePeer("bump"), c.flatProgram, ptrs);
  });

  it("a bad step names the peer and the line", () => {
    const workload: Workload = parseWorkload(
      file({ op: "create", arena: 1 }, { op: "alloc", arena: 1, id: 1, size: 2 ** 32 - 1 }),
      "huge.jsonl",
    );
    const c = compile(workload);
    expect(() => tlsfReplay(instantiatePeer("tlsf"), c.flatProgram, new Uint32Array(1))).toThrow(
      /^TLSF: replay failed at line 3: /,
    );
  });
});

describe("the README example (examples/record-workload.mjs)", () => {
  it("is the README's code, with imports from dist/ and the file from the command line", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Your own workload"));
    const block = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const expected = block
      .replace('"managed-arena/workload"', '"../dist/workload.js"')
      .replace('"managed-arena"', '"../dist/index.js"')
      .replace('writeFileSync("jobs.jsonl"', "writeFileSync(file")
      .split("\n")
      .filter((line) => line.trim() !== "");
    expect(expected.length).toBeGreaterThan(10);
    const example = readFileSync(join(root, "examples", "record-workload.mjs"), "utf8").split("\n");
    // Every line of the README's block, in its order, in the example.
    let at = 0;
    for (const line of expected) {
      const found = example.indexOf(line, at);
      expect(found, line).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });

  it("records a file that parses and replays", async () => {
    const out = join(work, "jobs.jsonl");
    const { stdout } = await exec(process.execPath, [join(root, "examples", "record-workload.mjs"), out], {
      cwd: work,
    });
    expect(stdout).toMatch(/recorded \d+ operations/);
    const text = readFileSync(out, "utf8");
    const workload = parseWorkload(text, out);
    expect(workload.header.name).toBe("jobs");
    const count = (name: string) => workload.ops.filter((op) => op.op === name).length;
    expect([count("create"), count("alloc"), count("realloc"), count("free"), count("release")]).toEqual([
      20, 40, 200, 20, 20,
    ]);
    expect(workload.ops).toContainEqual({ op: "alloc", arena: 1, id: 2, size: 100, align: 64 });
    replayOnArena(await Heap.create(), text, out);
  });
});
