// managed-arena in one minute: allocate, register cleanups, release them all at once.
// Run with `npm start` (builds first) or `node examples/quickstart.mjs`.
import { Arena, ArenaError } from "../dist/index.js";

const describe = (s) =>
  `${s.allocations} allocations, ${s.actions} actions, ${s.liveBytes} B live (peak ${s.peakBytes} B), ` +
  `${s.reservedBytes} B reserved`;

const arena = await Arena.create({ name: "quickstart" });
console.log(`created arena "${arena.name}"`);

// Allocations are byte offsets into WebAssembly memory; arena.bytes() gives a view on one.
const greeting = new TextEncoder().encode("hello, arena!");
const text = arena.alloc(greeting.length);
arena.bytes(text).set(greeting);
const table = arena.allocZeroed(256);
const items = arena.allocArray(10, 8); // 10 items of 8 bytes, overflow-checked
console.log(`text at ${text}: "${new TextDecoder().decode(arena.bytes(text))}"`);
console.log(`table at ${table} (${arena.sizeOf(table)} B), items at ${items} (${arena.sizeOf(items)} B)`);

// Release actions run newest-first when the arena goes away, like devm/drmm actions.
const ran = [];
function closeFile(d) {
  ran.push("close-file");
  console.log(`  close-file: closing ${d.path}`);
}
function stopTimer(d) {
  ran.push("stopTimer");
  console.log(`  stopTimer: timer #${d.id} stopped`);
}
const flushLog = (d) => {
  ran.push("flush-log");
  console.log(`  flush-log: ${d.lines} lines flushed`);
};
arena.add(closeFile, { path: "/tmp/data.bin" }, "close-file");
arena.add(stopTimer, { id: 7 }); // no name given: the function's name, "stopTimer"
const log = arena.add(flushLog, { lines: 3 }, "flush-log");
console.log(`flush-log registered: ${arena.hasAction(log)}`);

// Every mistake is an ArenaError with a code; a failed call changes nothing.
arena.free(items);
try {
  arena.free(items);
} catch (err) {
  if (!(err instanceof ArenaError)) throw err;
  console.log(`double free caught: ArenaError with code ${err.code}\n  message: ${err.message}`);
}

console.log(`stats before release: ${describe(arena.stats())}`);
console.log("releasing...");
arena.release();
console.log(`actions ran in this order: ${ran.join(" -> ")}`);
console.log(`released: ${arena.released}`);

// Its chunks went back to the heap: a new arena on the same heap reuses them, memory does not grow.
const pages = arena.heap.memory.buffer.byteLength / 65536;
const fresh = arena.heap.createArena({ name: "second" });
fresh.alloc(16);
console.log(`stats after, of a new arena "${fresh.name}" on the same heap: ${describe(fresh.stats())}`);
console.log(`heap memory: ${pages} pages before, ${arena.heap.memory.buffer.byteLength / 65536} pages after`);
fresh.release();
