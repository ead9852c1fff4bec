// add+release of N actions in one owner, N = 1e3..2e5: managed-arena (a fresh
// arena on one shared heap per repetition, through the public facade) against
// a plain JS array of N closures run newest-first, as in the benchmark's
// add-release scenarios. Each N runs in its own process (the young
// generation V8 sizes for 200,000 survivors would slow the smaller counts
// measured after it), the two peers alternating sample by sample. Prints ns
// per action, the median of the samples [lowest-highest], and the share of
// each peer's time spent in garbage-collection pauses (PerformanceObserver).
//
//   node bench/actions-scale.mjs [--n 1000,10000,100000,200000] [--rounds 7] [--ops 1000000] [--dist DIR] [--json]
//
// --dist measures another build of the library (a dist/ directory); --ops is
// the number of actions per sample (repetitions of N).
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sizes = opt("n", "1000,10000,100000,200000").split(",").map(Number);
const json = args.includes("--json");

if (sizes.length > 1) {
  // One process per N.
  const results = [];
  for (const n of sizes) {
    const rest = args.filter((_, i) => args[i] !== "--n" && args[i - 1] !== "--n" && args[i] !== "--json");
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...rest, "--n", String(n), "--json"], {
      stdio: ["ignore", "pipe", "inherit"],
    }).toString();
    const result = JSON.parse(out.trim().split("\n").pop());
    results.push(result);
    if (!json) console.log(result.line);
  }
  if (json) console.log(JSON.stringify(results));
  process.exit(0);
}

const n = sizes[0];
const rounds = Number(opt("rounds", "7"));
const opsPerSample = Number(opt("ops", "1000000"));
const dist = opt("dist", fileURLToPath(new URL("../dist", import.meta.url)));
const { Heap } = await import(pathToFileURL(resolve(dist, "index.js")).href);

let gcTime = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcTime += entry.duration;
}).observe({ entryTypes: ["gc"] });

let sink = 0;
function arenaAction(data) {
  sink += data;
}
function closuresAction(data) {
  sink += data;
}
function arenaAddRelease(heap, n) {
  const arena = heap.createArena();
  for (let i = 0; i < n; i++) arena.add(arenaAction, i);
  arena.release();
}
function closuresAddRelease(n) {
  const undo = [];
  for (let i = 0; i < n; i++) {
    const data = i;
    undo.push(() => closuresAction(data));
  }
  for (let i = undo.length - 1; i >= 0; i--) undo[i]();
}

const heap = await Heap.create();
const peers = {
  arena: (n) => arenaAddRelease(heap, n),
  closures: (n) => closuresAddRelease(n),
};
const gc = { arena: [0, 0], closures: [0, 0] };
// GC entries arrive asynchronously: a timer lets the previous sample's come in first.
const settle = () => new Promise((r) => setTimeout(r, 1));

async function sample(name) {
  const reps = Math.max(1, Math.round(opsPerSample / n));
  const fn = peers[name];
  await settle();
  const gcBefore = gcTime;
  const start = performance.now();
  for (let r = 0; r < reps; r++) fn(n);
  const elapsed = performance.now() - start;
  await settle();
  gc[name][0] += gcTime - gcBefore;
  gc[name][1] += elapsed;
  return (elapsed * 1e6) / (reps * n);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (let i = 0; i < 2; i++) for (const name of Object.keys(peers)) await sample(name); // warm-up
gc.arena = [0, 0];
gc.closures = [0, 0];
const times = { arena: [], closures: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? ["closures", "arena"] : ["arena", "closures"];
  for (const name of order) times[name].push(await sample(name));
}
if (sink === 0) throw new Error("nothing ran");
const a = median(times.arena);
const c = median(times.closures);
const f = (xs) => `${median(xs).toFixed(1)} [${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}]`;
const share = (name) => `${((100 * gc[name][0]) / gc[name][1]).toFixed(0)}% gc`;
const line =
  `${process.version} N=${String(n).padStart(6)}: managed-arena ${f(times.arena)} ns (${share("arena")}), ` +
  `closures ${f(times.closures)} ns (${share("closures")}), ratio ${(a / c).toFixed(2)}`;
if (json) {
  console.log(JSON.stringify({ node: process.version, n, arena: a, closures: c, ratio: a / c, runs: times, line, gc }));
} else {
  console.log(line);
}
