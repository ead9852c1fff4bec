// Results: assembled from the timings and the footprint, the goals (speed
// ratios against the peers, the time of an empty arena, memory per
// allocation, wasm size) judged, and rendered as a text table, Markdown, or
// an SVG chart.

import { arch, cpus, loadavg, platform } from "node:os";
import type { Timing } from "./engine.js";
import type { Footprint } from "./footprint.js";
import { ARENA, BUMP, CLOSURES, LIST, type Scenario, STACK, TLSF } from "./scenarios.js";
import { round } from "./stats.js";

/** One peer of one scenario. */
export interface Row {
  peer: string;
  /** Median ns per operation; null when the peer does not exist on this runtime. */
  ns: number | null;
  p25: number | null;
  p75: number | null;
  samples: number;
  /** Median ns per operation of each round. */
  rounds: number[];
  /** managed-arena / this peer (null for managed-arena itself and for n/a peers). */
  ratio: number | null;
  /** Lowest and highest managed-arena / peer over the rounds. */
  ratioRange: [number, number] | null;
}

export interface ScenarioResult extends Scenario {
  rows: Row[];
}

export interface Goal {
  metric: string;
  /** The goal, as shown: a bound on the measured value. */
  goal: string;
  limit: number;
  /** Measured; null when it cannot be measured on this runtime. */
  value: number | null;
  /** `value` with its unit, as shown. */
  shown: string;
  /** true: met, false: missed, null: n/a. */
  met: boolean | null;
  detail: string;
}

export interface Runtime {
  name: string;
  version: string;
  v8: string;
  platform: string;
  cpu: string;
  cpus: number;
  /** 1-minute load average of the machine when the run started and when it ended (other processes skew timings). */
  load: [number, number];
  disposableStack: boolean;
}

export interface Results {
  tool: "managed-arena bench";
  schema: 1;
  runtime: Runtime;
  settings: { quick: boolean; rounds: number; timeMs: number };
  seconds: number;
  scenarios: ScenarioResult[];
  footprint: Footprint;
  goals: Goal[];
  /** Remarks shown under the timing table (a workload replay: how peers without arenas ran it, who was skipped and why). */
  notes?: string[];
}

/** This process's runtime; `loadAtStart` is the 1-minute load average when the run began. */
export function currentRuntime(loadAtStart: number): Runtime {
  const cpu = cpus();
  return {
    name: "node",
    version: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${arch()}`,
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cpus: cpu.length,
    load: [round(loadAtStart, 2), round(loadavg()[0], 2)],
    disposableStack: typeof (globalThis as { DisposableStack?: unknown }).DisposableStack === "function",
  };
}

/** The name of a runtime as shown: "Node v24.1.0". */
export function runtimeName(runtime: Runtime): string {
  return `Node ${runtime.version}`;
}

/** Puts timings, footprint and goals together. */
export function assemble(
  scenarios: Scenario[],
  timings: Timing[],
  footprint: Footprint,
  settings: Results["settings"],
  seconds: number,
  loadAtStart: number,
): Results {
  const results: ScenarioResult[] = scenarios.map((scenario) => {
    const of = (peer: string) => timings.find((t) => t.scenario === scenario.id && t.peer === peer);
    const arena = of(ARENA);
    return {
      ...scenario,
      rows: scenario.peers.map((peer): Row => {
        const timing = of(peer);
        if (timing === undefined) {
          return { peer, ns: null, p25: null, p75: null, samples: 0, rounds: [], ratio: null, ratioRange: null };
        }
        const self = peer === ARENA || arena === undefined;
        const perRound = self ? [] : timing.rounds.map((ns, i) => arena.rounds[i] / ns);
        return {
          peer,
          ns: round(timing.ns, 2),
          p25: round(timing.p25, 2),
          p75: round(timing.p75, 2),
          samples: timing.samples,
          rounds: timing.rounds.map((ns) => round(ns, 2)),
          ratio: self ? null : round(arena.ns / timing.ns, 3),
          ratioRange: self ? null : [round(Math.min(...perRound), 3), round(Math.max(...perRound), 3)],
        };
      }),
    };
  });
  return {
    tool: "managed-arena bench",
    schema: 1,
    runtime: currentRuntime(loadAtStart),
    settings,
    seconds: round(seconds, 1),
    scenarios: results,
    footprint,
    goals: judge(results, footprint),
  };
}

/**
 * The goals of a workload replay: none was set, so each is parity, managed-arena's
 * time per operation at most each peer's that ran it (ratio <= 1).
 */
export function workloadGoals(scenarios: ScenarioResult[]): Goal[] {
  const goals: Goal[] = [];
  for (const scenario of scenarios) {
    const arena = scenario.rows.find((r) => r.peer === ARENA);
    for (const row of scenario.rows) {
      if (row.peer === ARENA) continue;
      const name = scenario.id.replace(/^workload-/, "");
      goals.push({
        metric: `${name}: time, managed-arena / ${row.peer}`,
        goal: "<= 1x (parity)",
        limit: 1,
        value: row.ratio,
        shown: row.ratio === null ? "n/a" : `${fixed(row.ratio, 2)}x`,
        met: row.ratio === null ? null : row.ratio <= 1,
        detail:
          row.ratio === null
            ? `${row.peer} did not run this workload (see the notes)`
            : `${formatNs(arena?.ns ?? null)} vs ${formatNs(row.ns)} ns per op`,
      });
    }
  }
  return goals;
}

/** The alloc+free scenarios of one fixed size (alloc-free-16 ... alloc-free-4096), not the mixed one. */
const FIXED_SIZE = /^alloc-free-\d+$/;

function ns(results: ScenarioResult[], id: string, peer: string): number | null {
  return results.find((s) => s.id === id)?.rows.find((r) => r.peer === peer)?.ns ?? null;
}

const fixed = (x: number, digits: number) => x.toFixed(digits);

/** Digits enough that a value just past the limit does not print as the limit itself. */
function precise(value: number, limit: number, digits: number): number {
  while (digits < 6 && value !== limit && Number(value.toFixed(digits)) === limit) digits++;
  return digits;
}

/** The goals, judged: speed ratios against the peers, a time per empty arena, memory per allocation, wasm size. */
export function judge(results: ScenarioResult[], footprint: Footprint): Goal[] {
  const goals: Goal[] = [];
  const ratioGoal: RatioGoal = (metric, limit, value, detail, digits = 2) => {
    if (value === null && !detail.startsWith("no ")) detail = "not measured in this run";
    goals.push({
      metric,
      goal: `≤ ${Number.isInteger(limit) ? fixed(limit, 1) : String(limit)}`,
      limit,
      value: value === null ? null : round(value, 4),
      shown: value === null ? "n/a" : `${fixed(value, precise(value, limit, digits))}x`,
      met: value === null ? null : value <= limit,
      detail,
    });
  };
  const bytesGoal: BytesGoal = (metric, goal, limit, value, shown, detail, fits = true) => {
    goals.push({
      metric,
      goal,
      limit,
      value: value === null ? null : round(value, 1),
      shown: value === null ? "n/a" : shown,
      met: value === null ? null : fits && value <= limit,
      detail: value === null ? "not measured in this run" : detail,
    });
  };
  const timeGoal: TimeGoal = (metric, limit, value, detail) => {
    goals.push({
      metric,
      goal: `≤ ${limit} ns`,
      limit,
      value: value === null ? null : round(value, 2),
      shown: value === null ? "n/a" : `${fixed(value, precise(value, limit, 1))} ns`,
      met: value === null ? null : value <= limit,
      detail: value === null ? "not measured in this run" : detail,
    });
  };
  {
    const allocFree = results.filter((s) => s.id.startsWith("alloc-free-"));
    const ratios = (peer: string) =>
      allocFree.map((s) => ({ label: s.label.replace("alloc+free ", ""), ratio: ratioOf(s, peer) }));
    const worst = (of: { ratio: number | null }[]) => {
      const known = of.flatMap((r) => (r.ratio === null ? [] : [r.ratio]));
      return known.length === of.length && known.length > 0 ? Math.max(...known) : null;
    };
    const each = (of: { label: string; ratio: number | null }[]) =>
      of.flatMap((r) => (r.ratio === null ? [] : [`${r.label} ${fixed(r.ratio, 2)}`])).join(", ");
    // Judged on the fixed sizes only: the bump peer frees a mixed batch in
    // random order by leaking most of it and resetting, not block by block.
    const bump = ratios(BUMP);
    const fixedSizes = bump.filter((_, i) => FIXED_SIZE.test(allocFree[i].id));
    const mixed = bump.filter((_, i) => !FIXED_SIZE.test(allocFree[i].id));
    ratioGoal(
      "alloc+free / bump pointer",
      1.35,
      worst(fixedSizes),
      `worst of the fixed sizes: ${each(fixedSizes)}${mixed.length > 0 ? `; not judged: ${each(mixed)}` : ""}`,
    );
    const tlsf = ratios(TLSF);
    ratioGoal("alloc+free / AssemblyScript TLSF", 0.7, worst(tlsf), `worst of: ${each(tlsf)}`);
  }
  {
    const request = results.find((s) => s.id === "request-scoped");
    const arenaNs = ns(results, "request-scoped", ARENA);
    const bumpNs = ns(results, "request-scoped", BUMP);
    const tlsfNs = ns(results, "request-scoped", TLSF);
    ratioGoal(
      "request-scoped owner / bump pointer",
      2.0,
      request ? ratioOf(request, BUMP) : null,
      `${fixed(arenaNs ?? Number.NaN, 1)} / ${fixed(bumpNs ?? Number.NaN, 1)} ns per request; ` +
        `TLSF ${fixed(tlsfNs ?? Number.NaN, 1)} ns`,
    );
  }
  {
    const arenaNs = ns(results, "arena-create-release", ARENA);
    const peerNs = (peer: string) => {
      const value = ns(results, "arena-create-release", peer);
      return `${peer} ${value === null ? "n/a" : `${fixed(value, 1)} ns`}`;
    };
    timeGoal(
      "create+release of an empty arena",
      150,
      arenaNs,
      `absolute time per arena, not a ratio; peers: ${peerNs(CLOSURES)}, ${peerNs(STACK)}`,
    );
  }
  {
    const few = ns(results, "free-live-100", ARENA);
    const many = ns(results, "free-live-100000", ARENA);
    const peerRatio = (peer: string) => {
      const a = ns(results, "free-live-100", peer);
      const b = ns(results, "free-live-100000", peer);
      return a !== null && b !== null ? fixed(b / a, 2) : "n/a";
    };
    ratioGoal(
      "free with 100,000 live / with 100 live",
      1.5,
      few !== null && many !== null ? many / few : null,
      `${fixed(many ?? Number.NaN, 1)} / ${fixed(few ?? Number.NaN, 1)} ns; same ratio for TLSF ${peerRatio(TLSF)}, ${LIST} ${peerRatio(LIST)}`,
    );
  }
  {
    const addRelease = results.find((s) => s.id === "add-release-1000");
    const stack = addRelease ? ratioOf(addRelease, STACK) : null;
    const closures = addRelease ? ratioOf(addRelease, CLOSURES) : null;
    const arenaNs = ns(results, "add-release-1000", ARENA);
    const stackNs = ns(results, "add-release-1000", STACK);
    const closuresNs = ns(results, "add-release-1000", CLOSURES);
    ratioGoal(
      "add+release per action / native DisposableStack",
      1.0,
      stack,
      stackNs === null ? "no DisposableStack on this runtime" : `${fixed(arenaNs ?? 0, 1)} / ${fixed(stackNs, 1)} ns`,
    );
    ratioGoal(
      "add+release per action / plain JS array of closures",
      2.0,
      closures,
      `${fixed(arenaNs ?? 0, 1)} / ${fixed(closuresNs ?? 0, 1)} ns`,
    );
  }
  {
    const arena = footprint.memory.find((m) => m.peer === ARENA);
    const value = arena?.heldPerAlloc ?? null;
    const others = footprint.memory
      .filter((m) => m.peer !== ARENA)
      .map((m) => `${m.peer} ${fixed(m.heldPerAlloc, 1)} B`)
      .join(", ");
    goals.push({
      metric: "linear memory per 16-byte allocation",
      goal: "≤ 34 bytes",
      limit: 34,
      value: value === null ? null : round(value, 2),
      shown: value === null ? "n/a" : `${fixed(value, 1)} B`,
      met: value === null ? null : value <= 34,
      detail:
        `reservedBytes / ${footprint.count.toLocaleString("en-US")} live; memory growth ` +
        `${fixed(arena?.growthPerAlloc ?? 0, 1)} B/alloc; peers (address span): ${others}`,
    });
  }
  {
    // ns per allocation of 1,000,000 allocations is numerically the total in ms.
    const make = ns(results, "make-1m", ARENA);
    const release = ns(results, "release-1m", ARENA);
    ratioGoal(
      "release(1,000,000 plain allocations) / making them",
      0.1,
      make !== null && release !== null ? release / make : null,
      `${fixed(release ?? Number.NaN, 2)} ms / ${fixed(make ?? Number.NaN, 2)} ms`,
      3,
    );
  }
  {
    const realloc = results.find((s) => s.id === "realloc-doubling");
    ratioGoal(
      "realloc doubling / TLSF",
      2.0,
      realloc ? ratioOf(realloc, TLSF) : null,
      `${fixed(ns(results, "realloc-doubling", ARENA) ?? Number.NaN, 1)} / ` +
        `${fixed(ns(results, "realloc-doubling", TLSF) ?? Number.NaN, 1)} ns per realloc, 16 B -> 64 KiB`,
    );
  }
  {
    const bytes = footprint.wasmBytes[ARENA];
    goals.push({
      metric: "wasm size (release build)",
      goal: "≤ 8 KiB",
      limit: 8192,
      value: bytes,
      shown: `${bytes.toLocaleString("en-US")} B (${fixed(bytes / 1024, 2)} KiB)`,
      met: bytes <= 8192,
      detail: `peers: TLSF ${footprint.wasmBytes[TLSF]} B, bump ${footprint.wasmBytes[BUMP]} B`,
    });
  }
  judgeSmall(results, footprint, ratioGoal, bytesGoal);
  return goals;
}

type RatioGoal = (metric: string, limit: number, value: number | null, detail: string, digits?: number) => void;
/** A goal on an absolute time: `value` and `limit` in ns per operation. */
type TimeGoal = (metric: string, limit: number, value: number | null, detail: string) => void;
type BytesGoal = (
  metric: string,
  goal: string,
  limit: number,
  value: number | null,
  shown: string,
  detail: string,
  fits?: boolean,
) => void;

const KiB = 1024;
const MiB = 1024 * 1024;
const bytes = (n: number) => `${Math.round(n).toLocaleString("en-US")} B`;
const mebibytes = (n: number) =>
  `${(n / MiB).toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} MiB`;

/** The goals of small arenas and tight memory (scenarios arena-cycle-*, add-release-200000, random-lifetime-*, the measured ones). */
function judgeSmall(results: ScenarioResult[], footprint: Footprint, ratioGoal: RatioGoal, bytesGoal: BytesGoal): void {
  const small = footprint.small ?? {};
  /** A goal on the ratio of two timed tasks (scenario id and peer each): numerator / denominator. */
  const timeRatio = (
    metric: string,
    limit: number,
    [numerator, denominator]: readonly [readonly [string, string], readonly [string, string]],
    unit: string,
  ) => {
    const top = ns(results, numerator[0], numerator[1]);
    const bottom = ns(results, denominator[0], denominator[1]);
    ratioGoal(
      metric,
      limit,
      top !== null && bottom !== null ? top / bottom : null,
      `${fixed(top ?? Number.NaN, 1)} / ${fixed(bottom ?? Number.NaN, 1)} ${unit}`,
      2,
    );
  };
  timeRatio(
    "add+release of 200,000 actions / JS closures",
    1.5,
    [
      ["add-release-200000", ARENA],
      ["add-release-200000", CLOSURES],
    ],
    "ns",
  );
  timeRatio(
    "create+alloc+release: 1 GiB free / 1 MiB free",
    1.2,
    [
      ["arena-cycle-1gib-free", ARENA],
      ["arena-cycle-1mib-free", ARENA],
    ],
    "ns per arena",
  );
  timeRatio(
    "random-lifetime time / AssemblyScript TLSF",
    1.0,
    [
      ["random-lifetime-speed", ARENA],
      ["random-lifetime-speed", TLSF],
    ],
    "ns per step",
  );
  for (const [figure, metric, goal, limit] of [
    [small.request, "memory per live child arena (8 x 64 B, 2 actions)", "≤ 2 KiB", 2 * KiB],
    [small.empty, "memory per live empty child arena", "≤ 512 B", 512],
  ] as const) {
    bytesGoal(
      metric,
      goal,
      limit,
      figure?.inUsePerArena ?? null,
      bytes(figure?.inUsePerArena ?? 0),
      figure === undefined
        ? ""
        : `in use over ${figure.arenas.toLocaleString("en-US")} live children (records, chunks, maps); ` +
            `memory growth ${bytes(figure.growthPerArena)}, reservedBytes ${bytes(figure.reservedPerArena)} per arena`,
    );
  }
  {
    const many = small.many;
    const fitting = many?.fit === true;
    bytesGoal(
      "100,000 live child arenas with 16 B each: memory",
      "≤ 64 MiB",
      64 * MiB,
      many === undefined ? null : many.inUseBytes,
      many === undefined ? "" : fitting ? mebibytes(many.inUseBytes) : `ENOMEM at ${many.made.toLocaleString("en-US")}`,
      many === undefined
        ? ""
        : `${fitting ? "they fit" : `they do not fit: ENOMEM after ${many.made.toLocaleString("en-US")} arenas`}; ` +
            `in use ${mebibytes(many.inUseBytes)}, memory growth ${mebibytes(many.growthBytes)}`,
      fitting,
    );
  }
  {
    const sizes = small.sizes;
    const worst = sizes?.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const from64 = sizes?.filter((s) => s.size >= 64).reduce((a, b) => (b.ratio > a.ratio ? b : a));
    ratioGoal(
      "reserved / requested bytes, worst size 1 B-1 MiB",
      1.25,
      worst?.ratio ?? null,
      worst === undefined || from64 === undefined
        ? ""
        : `worst at ${sizeName(worst.size)} (a block is 16 B of header + 8 B at least); of sizes ≥ 64 B: ` +
            `${fixed(from64.ratio, 2)}x at ${sizeName(from64.size)}; ${PER_SIZE_SHOWN} allocations per size`,
      2,
    );
    // Where a 16-byte header weighs at most a sixteenth, the layout alone decides.
    const from256 = sizes?.filter((s) => s.size >= 256).reduce((a, b) => (b.ratio > a.ratio ? b : a));
    ratioGoal(
      "reserved / requested bytes, worst size 256 B-1 MiB",
      1.25,
      from256?.ratio ?? null,
      from256 === undefined ? "" : `worst at ${sizeName(from256.size)}; ${PER_SIZE_SHOWN} allocations per size`,
      2,
    );
  }
  {
    const lifetime = small.lifetime;
    const arena = lifetime?.memory.find((m) => m.peer === ARENA);
    const tlsf = lifetime?.memory.find((m) => m.peer === TLSF);
    ratioGoal(
      "random-lifetime memory at the end / peak live",
      1.2,
      arena?.ratio ?? null,
      lifetime === undefined || arena === undefined
        ? ""
        : `${mebibytes(arena.bytes)} / ${mebibytes(lifetime.peakLive)}; without free pages ` +
            `${fixed((arena.inUseBytes ?? 0) / lifetime.peakLive, 2)}x, reservedBytes ` +
            `${fixed((arena.reservedBytes ?? 0) / lifetime.peakLive, 2)}x; TLSF ${fixed(tlsf?.ratio ?? Number.NaN, 2)}x`,
      2,
    );
  }
}

const PER_SIZE_SHOWN = "1,000";

/** A size as shown: bytes below 1 KiB, else KiB or MiB when whole. */
export function sizeName(size: number): string {
  if (size >= MiB && size % MiB === 0) return `${size / MiB} MiB`;
  if (size >= KiB && size % KiB === 0) return `${size / KiB} KiB`;
  return `${size.toLocaleString("en-US")} B`;
}

function ratioOf(scenario: ScenarioResult, peer: string): number | null {
  return scenario.rows.find((r) => r.peer === peer)?.ratio ?? null;
}

// ---- text and Markdown --------------------------------------------------------

/** ns as shown: 2 decimals under 10, 1 under 1000, else whole with separators. */
export function formatNs(value: number | null): string {
  if (value === null) return "n/a";
  if (value < 10) return value.toFixed(2);
  if (value < 1000) return value.toFixed(1);
  return Math.round(value).toLocaleString("en-US");
}

function formatRatio(ratio: number | null): string {
  return ratio === null ? "" : `${ratio.toFixed(ratio < 0.1 ? 3 : 2)}x`;
}

function formatRange(range: [number, number] | null): string {
  return range === null ? "" : `${range[0].toFixed(2)}-${range[1].toFixed(2)}`;
}

const STATUS = (met: boolean | null) => (met === null ? "n/a" : met ? "met" : "missed");

/** The header line naming the runtime and the settings. */
export function heading(results: Results): string {
  const r = results.runtime;
  const s = results.settings;
  return (
    `${runtimeName(r)} (V8 ${r.v8}), ${r.platform}, ${r.cpu} x${r.cpus}, load ${r.load[0]}-${r.load[1]}; ` +
    `${s.rounds} interleaved rounds x ${s.timeMs} ms per task${s.quick ? " (--quick)" : ""}, medians; ${results.seconds} s; ` +
    `core ${results.footprint.wasmBytes[ARENA]} B, sha256 ${results.footprint.coreSha256}`
  );
}

function timingTable(results: Results): string[][] {
  const rows = [["scenario", "per", "peer", "ns", "managed-arena / peer", "over rounds"]];
  for (const scenario of results.scenarios) {
    scenario.rows.forEach((row, i) => {
      rows.push([
        i === 0 ? scenario.label : "",
        i === 0 ? scenario.unit : "",
        row.peer,
        formatNs(row.ns),
        formatRatio(row.ratio),
        formatRange(row.ratioRange),
      ]);
    });
  }
  return rows;
}

function memoryTable(results: Results): string[][] {
  const f = results.footprint;
  return [
    ["allocator", `held per ${f.size} B alloc`, "memory growth per alloc", "wasm bytes"],
    ...f.memory.map((m) => [
      m.peer,
      `${m.heldPerAlloc.toFixed(1)} B`,
      `${m.growthPerAlloc.toFixed(1)} B`,
      `${f.wasmBytes[m.peer] ?? ""}`,
    ]),
  ];
}

function goalTable(results: Results): string[][] {
  return [
    ["metric", "goal", "measured", "status", "detail"],
    ...results.goals.map((g) => [g.metric, g.goal, g.shown, STATUS(g.met), g.detail]),
  ];
}

/** The tables of the measured scenarios (small arenas and tight memory) that ran: a title and rows each. */
function smallTables(results: Results): [string, string[][]][] {
  const small = results.footprint.small ?? {};
  const tables: [string, string[][]][] = [];
  const perArena = [small.request, small.empty].filter((f) => f !== undefined);
  if (perArena.length > 0) {
    tables.push([
      "linear memory per live child arena (in use: memory.buffer minus free pages)",
      [
        ["live children", "each holding", "in use per arena", "memory growth per arena", "reservedBytes per arena"],
        ...perArena.map((f) => [
          f.arenas.toLocaleString("en-US"),
          f.holding,
          bytes(f.inUsePerArena),
          bytes(f.growthPerArena),
          bytes(f.reservedPerArena),
        ]),
      ],
    ]);
  }
  if (small.many !== undefined) {
    const m = small.many;
    tables.push([
      `${m.wanted.toLocaleString("en-US")} live child arenas with one 16 B allocation each`,
      [
        ["arenas made", "fit", "in use", "memory growth"],
        [
          m.made.toLocaleString("en-US"),
          m.fit ? "yes" : "no (ENOMEM)",
          mebibytes(m.inUseBytes),
          mebibytes(m.growthBytes),
        ],
      ],
    ]);
  }
  if (small.sizes !== undefined) {
    tables.push([
      `reserved / requested bytes, ${PER_SIZE_SHOWN} allocations of one size in a fresh arena`,
      [
        ["size", "reserved per allocation", "reserved / requested"],
        ...small.sizes.map((r) => [sizeName(r.size), bytes(r.reservedPerAlloc), `${fixed(r.ratio, 2)}x`]),
      ],
    ]);
  }
  if (small.lifetime !== undefined) {
    const l = small.lifetime;
    tables.push([
      `random lifetimes (${l.live.toLocaleString("en-US")} live, ${l.steps.toLocaleString("en-US")} steps): ` +
        `memory at the end, peak live bytes ${mebibytes(l.peakLive)}`,
      [
        ["allocator", "memory at the end", "/ peak live bytes", "in use / peak live", "reservedBytes / peak live"],
        ...l.memory.map((m) => [
          m.peer,
          mebibytes(m.bytes),
          `${fixed(m.ratio, 2)}x`,
          m.inUseBytes === null ? "" : `${fixed(m.inUseBytes / l.peakLive, 2)}x`,
          m.reservedBytes === null ? "" : `${fixed(m.reservedBytes / l.peakLive, 2)}x`,
        ]),
      ],
    ]);
  }
  return tables;
}

/** Columns whose cells are right-aligned (numbers). */
const NUMERIC = new Set([
  "ns",
  "managed-arena / peer",
  "over rounds",
  "measured",
  "in use per arena",
  "memory growth per arena",
  "reservedBytes per arena",
  "arenas made",
  "in use",
  "memory growth",
  "size",
  "reserved per allocation",
  "reserved / requested",
  "memory at the end",
  "/ peak live bytes",
  "in use / peak live",
  "reservedBytes / peak live",
]);

function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => [...row[c]].length)));
  const pad = (cell: string, c: number) => {
    const fill = " ".repeat(widths[c] - [...cell].length);
    return NUMERIC.has(rows[0][c]) ? fill + cell : cell + fill;
  };
  const line = (row: string[]) => row.map(pad).join("  ").trimEnd();
  return [line(rows[0]), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)].join("\n");
}

function markdownTable(rows: string[][]): string {
  const esc = (cell: string) => cell.replaceAll("|", "\\|");
  const align = rows[0].map((h) => (NUMERIC.has(h) ? "---:" : "---"));
  return [rows[0], align, ...rows.slice(1)].map((row) => `| ${row.map(esc).join(" | ")} |`).join("\n");
}

/** The results for a terminal. */
export function renderText(results: Results): string {
  const met = results.goals.filter((g) => g.met === true).length;
  const judged = results.goals.filter((g) => g.met !== null).length;
  return [
    `managed-arena bench: ${heading(results)}`,
    "",
    ...(results.scenarios.length === 0
      ? []
      : [
          "time per operation (ns, median); managed-arena / peer < 1 means managed-arena is faster",
          "",
          textTable(timingTable(results)),
          "",
          ...(results.notes ?? []).map((note) => `note: ${note}`),
          ...(results.notes?.length ? [""] : []),
        ]),
    `linear memory with ${results.footprint.count.toLocaleString("en-US")} live ${results.footprint.size}-byte allocations, wasm size`,
    "",
    textTable(memoryTable(results)),
    "",
    ...smallTables(results).flatMap(([title, rows]) => [title, "", textTable(rows), ""]),
    `goals: ${met} of ${judged} met${judged < results.goals.length ? `, ${results.goals.length - judged} n/a` : ""}`,
    "",
    textTable(goalTable(results)),
  ].join("\n");
}

/** The results as Markdown sections. */
export function renderMarkdown(results: Results): string {
  return [
    `${heading(results)}.`,
    "",
    ...(results.scenarios.length === 0 ? [] : [markdownTable(timingTable(results)), ""]),
    ...(results.notes ?? []).map((note) => `- ${note}`),
    ...(results.notes?.length ? [""] : []),
    markdownTable(memoryTable(results)),
    "",
    ...smallTables(results).flatMap(([title, rows]) => [`${title}:`, "", markdownTable(rows), ""]),
    markdownTable(goalTable(results)),
  ].join("\n");
}

// ---- SVG -----------------------------------------------------------------------

const COLORS = ["#3b6fb6", "#e07b28", "#4a9a5b", "#9b59b6"];
/** The chart's title: what its bars are. */
const TITLE = "managed-arena: speed, memory and size against their goals";
/** A white outline under text drawn over grid lines. */
const HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"';

function machine(runs: Results[]): string {
  const r = runs[0]?.runtime;
  return r === undefined ? "" : `${r.cpu} x${r.cpus}, ${r.platform}`;
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * A bar chart of the goals: one row per goal, one bar per run (runtime),
 * each bar the measured value divided by the goal's limit, against the goal
 * line at 1. Beyond 2 the bar is cut and marked. `note` is added to the
 * subtitle (e.g. what the values are medians of).
 */
export function renderSvg(runs: Results[], note = ""): string {
  const width = 1060;
  const labelWidth = 330;
  const chartWidth = 470;
  const barHeight = 16;
  const rowGap = 14;
  const top = 78;
  const goals = runs[0]?.goals ?? [];
  const rowHeight = runs.length * (barHeight + 3) + rowGap;
  const height = top + goals.length * rowHeight + 46;
  const scaleMax = 2;
  const x = (fraction: number) => labelWidth + (Math.min(fraction, scaleMax) / scaleMax) * chartWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${TITLE}${xml(note ? `, ${note}` : "")}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">${TITLE}</text>`,
    `<text x="16" y="42" fill="#555">bar = measured / goal (shorter is better); the red line is the goal; label = measured value${xml(note ? `, ${note}` : "")}; ${xml(machine(runs))}</text>`,
  );
  runs.forEach((run, i) => {
    const lx = 16 + i * 300;
    out.push(
      `<rect x="${lx}" y="52" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 18}" y="62">${xml(`${runtimeName(run.runtime)} (V8 ${run.runtime.v8.split("-")[0]})`)}</text>`,
    );
  });
  // Grid: 0, 0.5, 1 (goal), 1.5, 2.
  for (const tick of [0, 0.5, 1, 1.5, 2]) {
    const tx = x(tick);
    const goal = tick === 1;
    out.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${height - 38}" stroke="${goal ? "#d62728" : "#ddd"}" stroke-width="${goal ? 2 : 1}"${goal ? "" : ' stroke-dasharray="3,3"'}/>`,
      `<text x="${tx}" y="${height - 24}" text-anchor="middle" fill="${goal ? "#d62728" : "#777"}">${goal ? "goal" : `${tick}x`}</text>`,
    );
  }
  goals.forEach((goal, g) => {
    const y0 = top + g * rowHeight;
    const mid = y0 + (runs.length * (barHeight + 3)) / 2;
    out.push(
      `<text x="${labelWidth - 10}" y="${mid - 2}" text-anchor="end">${xml(goal.metric)}</text>`,
      `<text x="${labelWidth - 10}" y="${mid + 12}" text-anchor="end" fill="#777">${xml(goal.goal)}</text>`,
    );
    runs.forEach((run, i) => {
      const judged = run.goals[g];
      const y = y0 + i * (barHeight + 3);
      const color = COLORS[i % COLORS.length];
      if (judged === undefined || judged.value === null) {
        out.push(
          `<text x="${labelWidth + 4}" y="${y + 12}" fill="#777">n/a on ${xml(runtimeName(run.runtime))}</text>`,
        );
        return;
      }
      const fraction = judged.value / judged.limit;
      const end = x(fraction);
      out.push(`<rect x="${labelWidth}" y="${y}" width="${end - labelWidth}" height="${barHeight}" fill="${color}"/>`);
      if (fraction > scaleMax) {
        out.push(
          `<path d="M${end - 8} ${y} l6 ${barHeight / 2} l-6 ${barHeight / 2}" stroke="#fff" fill="none" stroke-width="2"/>`,
        );
      }
      const mark = judged.met ? "✓ met" : "✗ missed";
      out.push(
        `<text x="${end + 6}" y="${y + 12}" fill="${judged.met ? "#222" : "#d62728"}" ${HALO}>${xml(`${judged.shown}  ${mark}`)}</text>`,
      );
    });
  });
  out.push("</svg>", "");
  return out.join("\n");
}
