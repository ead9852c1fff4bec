#!/usr/bin/env node
// alloc+free throughput of managed-arena against AssemblyScript's own TLSF
// (general-purpose malloc/free) and bump (lower bound) allocators, in one
// process, peers interleaved round by round, medians reported.
//
//   node bench/alloc-free.mjs [--json] [--rounds N] [--time MS] [--batch N]
//
// Every measured call does a batch of N allocations followed by N frees (LIFO
// for the fixed sizes, a seeded random order for the mixed sizes), so the
// timer's resolution does not dominate; results are ns per alloc+free pair.
// The peers are called through their raw wasm exports, managed-arena through
// its public facade (validation included): that is what a user pays.
import { readFileSync, statSync } from "node:fs";
import { arch, platform } from "node:os";
import { instantiate } from "@assemblyscript/loader";
import { Bench } from "tinybench";
import { Arena } from "../dist/index.js";
import { buildPeers, peerWasmPath } from "./build-peers.mjs";

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} needs a positive integer`);
  return value;
};
const rounds = option("--rounds", 7);
const timeMs = option("--time", 100);
const batch = option("--batch", 1000);
const memCount = 100_000;

buildPeers({ quiet: json });

/** mulberry32: a small seeded PRNG, so every run measures the same sequence. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lifoOrder(n) {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = n - 1 - i;
  return order;
}

function shuffledOrder(n, random) {
  const order = lifoOrder(n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Fixed sizes freed LIFO; mixed sizes (log-uniform 1 B..4 KiB) freed in a seeded random order. */
function makeScenarios() {
  const fixed = (label, size) => ({
    label,
    order: "LIFO",
    sizes: new Uint32Array(batch).fill(size),
    freeOrder: lifoOrder(batch),
  });
  const random = prng(0x5eed);
  const mixedSizes = new Uint32Array(batch);
  for (let i = 0; i < batch; i++) mixedSizes[i] = Math.max(1, Math.round(2 ** (random() * 12)));
  return [
    fixed("16 B", 16),
    fixed("64 B", 64),
    fixed("1 KiB", 1024),
    { label: "mixed 1 B-4 KiB", order: "random", sizes: mixedSizes, freeOrder: shuffledOrder(batch, random) },
  ];
}

const abort = () => {
  throw new Error("peer aborted (out of memory?)");
};

/** A fresh instance of a peer; returns its raw exports (not the loader's wrappers). */
async function loadPeer(name) {
  const { instance } = await instantiate(readFileSync(peerWasmPath(name)), { env: { abort } });
  return instance.exports;
}

// Each task function below is its own function literal, so each call site stays monomorphic.

function arenaTask(arena, { sizes, freeOrder }) {
  const ptrs = new Uint32Array(batch);
  return () => {
    for (let i = 0; i < batch; i++) ptrs[i] = arena.alloc(sizes[i]);
    for (let i = 0; i < batch; i++) arena.free(ptrs[freeOrder[i]]);
  };
}

function tlsfTask({ alloc, free }, { sizes, freeOrder }) {
  const ptrs = new Uint32Array(batch);
  return () => {
    for (let i = 0; i < batch; i++) ptrs[i] = alloc(sizes[i]);
    for (let i = 0; i < batch; i++) free(ptrs[freeOrder[i]]);
  };
}

// The stub's free only steps back over the most recent block: after a random
// order most blocks leak, so the batch ends with reset() (O(1)) to start the
// next one from the same state, as a bump arena would.
function bumpTask({ alloc, free, reset }, { sizes, freeOrder }) {
  const ptrs = new Uint32Array(batch);
  return () => {
    for (let i = 0; i < batch; i++) ptrs[i] = alloc(sizes[i]);
    for (let i = 0; i < batch; i++) free(ptrs[freeOrder[i]]);
    reset();
  };
}

/** Runs one batch and checks the pointers are non-zero and distinct, so we never time a broken allocator. */
function check(name, label, alloc, free, sizes) {
  const ptrs = [];
  for (let i = 0; i < batch; i++) ptrs.push(alloc(sizes[i]));
  if (ptrs.some((p) => !p) || new Set(ptrs).size !== batch) throw new Error(`${name}: bad pointers in ${label}`);
  for (let i = batch - 1; i >= 0; i--) free(ptrs[i]);
}

const peerNames = ["managed-arena", "tlsf", "bump"];
const scenarios = makeScenarios();
const tasks = []; // { scenario, peer, fn, samples }
const arenas = [];
for (const scenario of scenarios) {
  const arena = await Arena.create({ name: `bench ${scenario.label}` });
  arenas.push(arena);
  const tlsf = await loadPeer("tlsf");
  const bump = await loadPeer("bump");
  check(
    "managed-arena",
    scenario.label,
    (s) => arena.alloc(s),
    (p) => arena.free(p),
    scenario.sizes,
  );
  check("tlsf", scenario.label, tlsf.alloc, tlsf.free, scenario.sizes);
  check("bump", scenario.label, bump.alloc, bump.free, scenario.sizes);
  bump.reset();
  const fns = [arenaTask(arena, scenario), tlsfTask(tlsf, scenario), bumpTask(bump, scenario)];
  peerNames.forEach((peer, i) => {
    tasks.push({ scenario, peer, fn: fns[i], samples: [] });
  });
}

// Interleave: every round runs every task once (for `timeMs` after a short
// warmup), rotating the order, so drift (thermal, GC, other load) hits all
// peers alike; samples of all rounds are pooled before taking medians.
for (let round = 0; round < rounds; round++) {
  const bench = new Bench({ time: timeMs, warmupTime: round === 0 ? 200 : 30, retainSamples: true, throws: true });
  const shift = (round * 5) % tasks.length;
  const ordered = tasks.slice(shift).concat(tasks.slice(0, shift));
  for (const task of ordered) bench.add(`${task.scenario.label} ${task.peer}`, task.fn, { async: false });
  await bench.run();
  for (const task of ordered) {
    const result = bench.getTask(`${task.scenario.label} ${task.peer}`).result;
    if (result.state !== "completed") throw result.error ?? new Error(`${task.peer}: ${result.state}`);
    for (const sample of result.latency.samples) task.samples.push(sample);
  }
  if (!json) process.stderr.write(`round ${round + 1}/${rounds} done\r`);
}
if (!json) process.stderr.write("\n");

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** ns per alloc+free pair: median (and quartiles) of the per-batch samples (ms) / batch. */
function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  const perPair = (ms) => Math.round((ms * 1e8) / batch) / 100;
  return {
    median: perPair(quantile(sorted, 0.5)),
    p25: perPair(quantile(sorted, 0.25)),
    p75: perPair(quantile(sorted, 0.75)),
    samples: sorted.length,
  };
}

const round3 = (x) => Math.round(x * 1000) / 1000;
const results = scenarios.map((scenario, index) => {
  // Every batch frees what it allocated: the arena must be empty and its footprint that of one batch.
  const { allocations, reservedBytes } = arenas[index].stats();
  if (allocations !== 0) throw new Error(`managed-arena: ${allocations} allocations left in ${scenario.label}`);
  const ns = {};
  for (const task of tasks) if (task.scenario === scenario) ns[task.peer] = summarize(task.samples);
  return {
    scenario: scenario.label,
    freeOrder: scenario.order,
    ns,
    arenaReservedBytesAfter: reservedBytes,
    ratio: {
      tlsf: round3(ns["managed-arena"].median / ns.tlsf.median),
      bump: round3(ns["managed-arena"].median / ns.bump.median),
    },
  };
});
for (const arena of arenas) arena.release();

// Linear memory per 16-byte allocation.
// For the peers, whose blocks are contiguous, the address span is the exact
// footprint; their memory growth is coarser (whole pages, grown by doubling).
async function memoryOfPeer(name) {
  const peer = await loadPeer(name);
  const before = peer.memory.buffer.byteLength;
  const first = peer.alloc(16);
  let last = first;
  for (let i = 1; i < memCount; i++) last = peer.alloc(16);
  return {
    spanPerAlloc: round3((last - first) / (memCount - 1)),
    memoryGrowthPerAlloc: round3((peer.memory.buffer.byteLength - before) / memCount),
  };
}
const memArena = await Arena.create({ name: "memory" });
const memBefore = memArena.heap.memory.buffer.byteLength;
const reservedBefore = memArena.stats().reservedBytes;
for (let i = 0; i < memCount; i++) memArena.alloc(16);
const memStats = memArena.stats();
const memory = {
  count: memCount,
  size: 16,
  "managed-arena": {
    reservedPerAlloc: round3(memStats.reservedBytes / memCount),
    reservedGrowthPerAlloc: round3((memStats.reservedBytes - reservedBefore) / memCount),
    memoryGrowthPerAlloc: round3((memArena.heap.memory.buffer.byteLength - memBefore) / memCount),
    liveBytes: memStats.liveBytes,
    reservedBytes: memStats.reservedBytes,
  },
  tlsf: await memoryOfPeer("tlsf"),
  bump: await memoryOfPeer("bump"),
};
memArena.release();

const size = (path) => statSync(new URL(path, import.meta.url)).size;
const wasmBytes = {
  "managed-arena": size("../build/core.release.wasm"),
  tlsf: statSync(peerWasmPath("tlsf")).size,
  bump: statSync(peerWasmPath("bump")).size,
};

const environment = {
  node: process.version,
  v8: process.versions.v8,
  platform: `${platform()} ${arch()}`,
  batch,
  rounds,
  timeMsPerTaskPerRound: timeMs,
};

if (json) {
  console.log(JSON.stringify({ environment, unit: "ns per alloc+free pair", results, memory, wasmBytes }, null, 2));
} else {
  const fmt = (x, digits = 1) => x.toFixed(digits);
  const rows = [
    ["scenario", "free order", "managed-arena", "TLSF", "bump", "arena/TLSF", "arena/bump"],
    ...results.map((r) => [
      r.scenario,
      r.freeOrder,
      fmt(r.ns["managed-arena"].median),
      fmt(r.ns.tlsf.median),
      fmt(r.ns.bump.median),
      `${fmt(r.ratio.tlsf, 2)}x`,
      `${fmt(r.ratio.bump, 2)}x`,
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
  const m = memory["managed-arena"];
  console.log(
    [
      `alloc+free, ns per pair (median of ${rounds} interleaved rounds x ${timeMs} ms, batches of ${batch})`,
      `Node ${environment.node} (V8 ${environment.v8}), ${environment.platform}`,
      "",
      line(rows[0]),
      line(widths.map((w) => "-".repeat(w))),
      ...rows.slice(1).map(line),
      "",
      `memory per 16 B allocation (${memCount.toLocaleString("en-US")} live in one arena / instance):`,
      `  managed-arena  reservedBytes ${fmt(m.reservedPerAlloc)} B, linear memory growth ${fmt(m.memoryGrowthPerAlloc)} B`,
      `  TLSF           address span ${fmt(memory.tlsf.spanPerAlloc)} B, linear memory growth ${fmt(memory.tlsf.memoryGrowthPerAlloc)} B`,
      `  bump           address span ${fmt(memory.bump.spanPerAlloc)} B, linear memory growth ${fmt(memory.bump.memoryGrowthPerAlloc)} B`,
      "",
      `wasm size: managed-arena build/core.release.wasm ${wasmBytes["managed-arena"]} B` +
        ` (peers: TLSF ${wasmBytes.tlsf} B, bump ${wasmBytes.bump} B)`,
    ].join("\n"),
  );
}
