// Records a workload from a running program and writes it as a file that
// `managed-arena bench --workload FILE` replays against managed-arena and its
// peers (docs/workloads.md). The README's example, with imports from dist/.
// Run with `node examples/record-workload.mjs [FILE]` (default: jobs.jsonl),
// then `npx managed-arena bench --quick --workload FILE`.
import { writeFileSync } from "node:fs";
import { Heap } from "../dist/index.js";
import { recordWorkload } from "../dist/workload.js";

const file = process.argv[2] ?? "jobs.jsonl";

// The recorder: its trace sees every allocation and free; attach() adds arenas, realloc and alignment.
const recorder = recordWorkload({ name: "jobs" });
const heap = recorder.attach(await Heap.create({ trace: recorder.trace }));

// Your program, unchanged:
for (let job = 0; job < 20; job++) {
  const arena = heap.createArena({ name: "job" });
  let output = arena.alloc(64);
  for (let i = 1; i <= 10; i++) output = arena.realloc(output, 64 + 96 * i);
  arena.free(arena.alloc(100, { align: 64 }));
  arena.release();
}

writeFileSync(file, recorder.toString()); // a header line, then one operation per line
console.log(`recorded ${recorder.ops.length} operations to ${file}`);
console.log(`replay them: npx managed-arena bench --quick --workload ${file}`);
