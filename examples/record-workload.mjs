// Records a workload from a running program and writes it as a file that
// `managed-arena bench --workload FILE` replays against managed-arena and its
// peers (docs/workloads.md). Run with `node examples/record-workload.mjs [FILE]`
// (default: my-workload.jsonl in the current directory).
import { writeFileSync } from "node:fs";
import { Heap } from "../dist/index.js";
import { recordWorkload } from "../dist/workload.js";

const file = process.argv[2] ?? "my-workload.jsonl";

// 1. A recorder: its trace sees every allocation and free; attach() adds arenas, alignment and realloc.
const recorder = recordWorkload({ name: "jobs", description: "20 jobs: a growing output, a table, scratch" });
const heap = recorder.attach(await Heap.create({ trace: recorder.trace }));

// 2. Your program, unchanged: here 20 jobs, each in an arena of its own.
for (let job = 0; job < 20; job++) {
  const arena = heap.createArena({ name: "job" });
  let output = arena.alloc(64);
  const table = arena.allocZeroed(256);
  for (let i = 0; i < 10; i++) {
    const scratch = arena.alloc(16 + ((job * 7 + i * 13) % 200));
    output = arena.realloc(output, 64 + 96 * (i + 1)); // appended to: grows
    if (i % 3 !== 0) arena.free(scratch); // some scratch dies early, the rest with the arena
  }
  arena.free(table);
  arena.release();
}

// 3. The file: a header line, then one operation per line.
writeFileSync(file, recorder.toString());
console.log(`recorded ${recorder.ops.length} operations to ${file}`);
console.log(`replay them: npx managed-arena bench --quick --workload ${file}`);
