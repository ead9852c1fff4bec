// A picture of linear memory: renderMemoryMap(heap | arena) reads the core's
// structures straight from memory (as introspect.ts reads release lists) and
// draws every page as rows of bytes: chunk heads, block-start bitmaps and slot
// tables, node headers, payloads, class slack, alignment padding, free
// blocks, free pages and free slots, one colour per arena, with a legend
// naming the arenas.
//
// Every page is placed from the core's own bookkeeping, found through
// mapInfo(): the live-arena list, each arena's chunks, release list, free
// lists and bump range (assembly/layout.ts), the heap's free runs, the
// owner map and the slot table of every subdivided page. Nothing is guessed
// from what a page looks like, so the picture is exact; only names come from
// the host, so an arena it cannot reach is still drawn, as `arena@0x…`.
// A subdivided page is shared: the runs of slots arenas own in it (small
// chunks, medium blocks, the tails of large runs) are found through their
// arenas' chunk lists, like whole-page chunks, and its free runs of slots
// through its slot table, as the lists that link them are the core's static
// data, which mapInfo() does not expose. Pages the core did not grow (owner
// FOREIGN, or above knownPages) belong to someone else, JS calling
// memory.grow or an embedding program's allocator, and are drawn as foreign.

import type { Arena } from "./arena.js";
import { ArenaError, describe, isU32, shownName } from "./errors.js";
import { Kind } from "./handles.js";
import type { Heap } from "./heap.js";
import { Owner, Word } from "./introspect.js";
import type { ArenaState } from "./state.js";

/** Options of {@link renderMemoryMap}. */
export interface MemoryMapOptions {
  /** Bytes of memory drawn per row, a power of two in 256..65536; default 4096 (16 rows per 64 KiB page). */
  bytesPerRow?: number;
  /** Width of a row in pixels, 128..8192; default 1024. */
  rowWidth?: number;
  /** Height of a row in pixels, 2..64; default 7. */
  rowHeight?: number;
  /**
   * More arenas to name. Every live arena is found through the core's list
   * of live arenas, but a name lives on the JS side: an arena that is not
   * the target, one of these, or the owner of an action, group, destructor
   * or child is drawn as `arena@0x…`.
   */
  arenas?: readonly Arena[];
  /** The arena to highlight (with its children); default: the target when it is an arena. */
  highlight?: Arena;
  /** The title line; default: a summary of the heap. */
  title?: string;
  /**
   * Fold rows that one long segment covers entirely (a large payload, the
   * bump space of a chunk) into a thin band saying how many rows it stands
   * for; default true. With false, every page is drawn at the same scale.
   */
  fold?: boolean;
}

// ---- layout of the core (assembly/layout.ts, assembly/chunks.ts) ------------

const PAGE = 65536;
const PAGE_LIMIT = 65535;
const CHUNK_NEXT = 0;
/** The u32 at CHUNK_PAGES holds two u16: whole pages, then slots after them. */
const CHUNK_PAGES = 8;
const CHUNK_PAYLOAD = 12;
const CHUNK_HEAD = 16;
const SLOT = 256;
/** Slots of a subdivided page that hold runs; its slot table and bitmap take the room of the other 8. */
const SLOTS = 248;
const SLOT_TABLE_AT = Owner.SlotTableAt;
/** Where every page holding small blocks keeps its block-start bitmap, 1 bit per 8 B, to the page's end. */
const BITMAP_AT = 64512;
/** In a slot entry: the first or last slot of a free run, whose length is the entry >> 4. */
const SLOT_FREE = 8;
const HEADER = 16;
const CB_SLOT = 16;
const CB_BYTES = 16;
const NODE_PREV = 0;
const NODE_SIZE = 8;
const NODE_META = 12;
const META_DTOR = 1 << 14;
const LARGE_CLASS = 63;
/** Size classes, so free lists per arena; the record's quarantine words follow them. */
const CLASSES = 48;
const ARENA_SIZE = 272;
/** A shared core's record: 16 bytes more, for the remote-free stack (assembly/layout.ts). */
const SHARED_ARENA_SIZE = 288;
const A = {
  head: 0,
  chunks: 8,
  cur: 12,
  end: 16,
  liveBytes: Word.LiveBytes * 4,
  reserved: Word.Reserved * 4,
  allocations: Word.Allocations * 4,
  actions: Word.Actions * 4,
  groups: Word.Groups * 4,
  children: Word.Children * 4,
  liveNext: 56,
  livePrev: 60,
  free: 64,
  quarantineHead: 256,
} as const;

/** The payload capacity of size class `cls` (assembly/layout.ts capacityOf). */
function capacityOf(cls: number): number {
  if (cls < 32) return (cls + 1) << 3;
  const k = 8 + ((cls - 32) >> 2);
  return 2 ** k + (((cls - 32) & 3) + 1) * 2 ** (k - 2);
}

// ---- the model: runs of pages cut into segments -------------------------------

/** What a stretch of memory is. @internal */
export type SegmentKind =
  | "static"
  | "page-map"
  | "chunk-head"
  | "bitmap"
  | "slot-table"
  | "record"
  | "spare"
  | "header"
  | "payload"
  | "slack"
  | "callback"
  | "padding"
  | "free"
  | "bump"
  | "free-pages"
  | "free-slots"
  | "foreign";

/** A stretch [start, end) of linear memory. @internal */
export interface Segment {
  start: number;
  end: number;
  kind: SegmentKind;
  /** The record of the arena it belongs to, 0 for none. */
  arena: number;
  /** One line for the tooltip. */
  title: string;
  /**
   * The part, in a subdivided page, of a segment of the large run right
   * before it (its tail slots): drawn there, but the segment is the one of
   * the large run, which holds all of [start, end) for the data attributes.
   */
  continued?: boolean;
}

type RunKind = "static" | "maps" | "meta" | "small" | "large" | "sub" | "free" | "foreign";

/** A run of whole pages: a chunk, a free run, a page of arena records, a subdivided page, ... @internal */
export interface PageRun {
  first: number;
  pages: number;
  kind: RunKind;
  arena: number;
  segments: Segment[];
  /** In a subdivided page (whose run has no arena): each run of slots an arena owns, outlined when highlighted. */
  regions: Region[];
}

/** A run of slots [start, end) of one arena in a subdivided page. @internal */
export interface Region {
  start: number;
  end: number;
  arena: number;
}

/** One arena found in memory. @internal */
export interface ArenaInfo {
  record: number;
  name: string;
  /** The record of the parent arena, 0 for a top-level arena. */
  parent: number;
  depth: number;
  colour: string;
  allocations: number;
  actions: number;
  groups: number;
  children: number;
  liveBytes: number;
  reservedBytes: number;
  chunks: number;
}

/** Everything the picture shows. @internal */
export interface MemoryModel {
  pages: number;
  /** Bytes of an arena record: 288 on a shared heap (the remote-free stack's words), else 272. */
  recordSize: number;
  runs: PageRun[];
  /** In legend order: each top-level arena followed by its descendants. */
  arenas: ArenaInfo[];
}

/** @internal */
export interface MapInfo {
  ownerMap: number;
  startMap: number;
  firstPage: number;
  mapCapacity: number;
  freeRuns: number;
  liveArenas: number;
  knownPages: number;
}

interface NodeInfo {
  node: number;
  kind: number;
  cls: number;
  size: number;
  dtor: boolean;
  free: boolean;
}

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"];

function colourOf(index: number): string {
  if (index < PALETTE.length) return PALETTE[index];
  const hue = Math.round((index * 137.508) % 360);
  return hslToHex(hue, 55, 50);
}

function hslToHex(h: number, s: number, l: number): string {
  const a = (s / 100) * Math.min(l / 100, 1 - l / 100);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = l / 100 - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** `colour` mixed with `other` (a hex colour) by `amount` in 0..1. */
function mix(colour: string, other: string, amount: number): string {
  const parse = (c: string) => [1, 3, 5].map((i) => Number.parseInt(c.slice(i, i + 2), 16));
  const [a, b] = [parse(colour), parse(other)];
  return `#${a
    .map((v, i) =>
      Math.round(v + (b[i] - v) * amount)
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function formatBytes(count: number): string {
  if (count < 10 * 1024) return `${count} B`;
  if (count < 10 * 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : word === "child" ? "ren" : "s"}`;
}

/** The core's page-map addresses and counters. @internal */
export function readMapInfo(heap: Heap, words: Uint32Array): MapInfo {
  const at = heap.core.mapInfo() >>> 2;
  return {
    ownerMap: words[at],
    startMap: words[at + 1],
    firstPage: words[at + 2],
    mapCapacity: words[at + 3],
    freeRuns: words[at + 4],
    liveArenas: words[at + 5],
    knownPages: words[at + 6],
  };
}

/** Reads the whole heap into runs and segments. `known` names arenas by record. @internal */
export function modelMemory(heap: Heap, known: ReadonlyMap<number, ArenaState>): MemoryModel {
  const words = heap.u32();
  const ctx: Context = { heap, words, known };
  const size = words.length * 4;
  const pages = Math.min(size / PAGE, PAGE_LIMIT + 1);
  const info = readMapInfo(heap, words);
  const word = (address: number) => words[address >>> 2];
  const firstPage = info.firstPage;
  const recordSize = heap.shared ? SHARED_ARENA_SIZE : ARENA_SIZE;
  const isRecord = (r: number) => r % 4 === 0 && r >= firstPage * PAGE && r + recordSize <= size;

  // Arenas: the core's live list, from its head. The bounds only guard against a corrupt list.
  const records: number[] = [];
  const seen = new Set<number>();
  const limit = size / recordSize;
  for (let r = info.liveArenas; r && isRecord(r) && !seen.has(r) && seen.size < limit; r = word(r + A.liveNext)) {
    seen.add(r);
    records.push(r);
  }

  // Parents, from the child links in the slot table.
  const parentOf = new Map<number, number>();
  for (const registration of heap.slots) {
    if (typeof registration === "object" && registration.role === Kind.Child) {
      parentOf.set(registration.child.state.record, registration.owner.record);
    }
  }
  const arenas = orderArenas(records, parentOf, known, words);
  const byRecord = new Map(arenas.map((a) => [a.record, a]));
  const nameOf = (record: number) => byRecord.get(record)?.name ?? `arena@${hex(record)}`;

  // Runs: the static pages, every arena's chunks, then whatever is left.
  const runs: PageRun[] = [];
  const claimed = new Uint8Array(pages);
  const claim = (first: number, count: number, kind: RunKind, arena: number): PageRun | undefined => {
    if (first < 0 || count < 1 || first + count > pages) return undefined;
    for (let p = first; p < first + count; p++) if (claimed[p]) return undefined;
    claimed.fill(1, first, first + count);
    const run: PageRun = { first, pages: count, kind, arena, segments: [], regions: [] };
    runs.push(run);
    return run;
  };

  const ownerEnd = info.ownerMap + info.mapCapacity * 4;
  const startEnd = info.startMap + info.mapCapacity * 2;
  const staticRun = claim(0, Math.min(firstPage, pages), "static", 0);
  if (staticRun) {
    const end = staticRun.pages * PAGE;
    if (info.ownerMap < end) {
      staticRun.segments.push(seg(0, info.ownerMap, "static", 0, "static data of the core"));
      staticRun.segments.push(seg(info.ownerMap, ownerEnd, "page-map", 0, ownerTitle(info)));
      staticRun.segments.push(seg(info.startMap, startEnd, "page-map", 0, startTitle(info)));
      staticRun.segments.push(seg(startEnd, end, "spare", 0, "unused (up to the first page of runs)"));
    } else {
      staticRun.segments.push(seg(0, end, "static", 0, "static data (the page maps have moved to a META run)"));
    }
  }

  // Owners are read below knownPages only: above it the core has not written the map.
  const mapped = Math.min(info.knownPages, info.mapCapacity, pages);
  const ownerOf = (p: number) => (p < mapped ? word(info.ownerMap + p * 4) : Owner.Foreign);

  // Every arena's chunks: runs of whole pages are claimed here, runs of slots wait for their subdivided page.
  const slotRuns = new Map<number, SlotRun[]>();
  const addSlotRun = (page: number, run: SlotRun) => {
    const list = slotRuns.get(page);
    if (list === undefined) slotRuns.set(page, [run]);
    else list.push(run);
  };
  for (const arena of arenas) {
    const record = arena.record;
    const name = nameOf(record);
    const quoted = JSON.stringify(name);
    const nodes = nodesOf(record, words, size, firstPage).sort((a, b) => a.node - b.node);
    const bump = { cur: word(record + A.cur), end: word(record + A.end) };
    const visited = new Set<number>();
    for (let c = word(record + A.chunks); c && c % SLOT === 0 && !visited.has(c); c = word(c + CHUNK_NEXT)) {
      visited.add(c);
      const shape = word(c + CHUNK_PAGES);
      const wholePages = shape & 0xffff;
      const slots = shape >>> 16;
      const payload = word(c + CHUNK_PAYLOAD);
      const page = Math.floor(c / PAGE);
      const slot = (c % PAGE) / SLOT;
      const end = c + wholePages * PAGE + slots * SLOT;
      if (wholePages === 0) {
        if (slots === 0 || slot + slots > SLOTS || ownerOf(page) !== Owner.Sub) break;
        const segments: Segment[] = [];
        if (payload) {
          const what = `medium block of ${quoted}: ${slotsOf(slots)}`;
          ownBlockSegments(segments, record, name, c, end, payload, what, ctx);
        } else {
          const what = `small chunk of ${quoted}: ${slotsOf(slots)}`;
          segments.push(seg(c, c + CHUNK_HEAD, "chunk-head", record, what));
          smallSegments(segments, record, name, nodesIn(nodes, c, end), c + CHUNK_HEAD, end, bump, ctx);
        }
        addSlotRun(page, { first: slot, slots, arena: record, segments });
      } else {
        if (slot !== 0 || (!payload && (wholePages !== 1 || slots !== 0))) break;
        const run = claim(page, wholePages, payload ? "large" : "small", record);
        if (run === undefined) break;
        if (payload) {
          const tail = slots ? ` and ${plural(slots, "slot")}` : "";
          const what = `large run of ${quoted}: ${plural(wholePages, "page")}${tail}`;
          const segments: Segment[] = [];
          ownBlockSegments(segments, record, name, c, end, payload, what, ctx);
          // The tail slots are drawn with their subdivided page, the next one.
          const runEnd = c + wholePages * PAGE;
          const inTail: Segment[] = [];
          for (const s of segments) {
            if (s.start < runEnd) run.segments.push(s);
            if (s.end > runEnd) inTail.push(s.start < runEnd ? { ...s, start: runEnd, continued: true } : s);
          }
          if (slots) addSlotRun(page + wholePages, { first: 0, slots, arena: record, segments: inTail });
        } else {
          const blocks = c + BITMAP_AT;
          run.segments.push(seg(c, c + CHUNK_HEAD, "chunk-head", record, `small chunk of ${quoted}: 1 page`));
          smallSegments(run.segments, record, name, nodesIn(nodes, c, blocks), c + CHUNK_HEAD, blocks, bump, ctx);
          run.segments.push(seg(blocks, c + PAGE, "bitmap", record, "block-start bitmap: 1 bit per 8 B"));
        }
      }
      arena.chunks++;
    }
  }

  // Subdivided pages: the arenas' runs of slots, free runs of slots between them, then the slot table and bitmap.
  for (let p = firstPage; p < mapped; p++) {
    if (claimed[p] || ownerOf(p) !== Owner.Sub) continue;
    const run = claim(p, 1, "sub", 0);
    if (run) subSegments(run, slotRuns.get(p) ?? [], words);
  }

  // The map run (once the maps have moved out of the static pages), free runs, and META pages.
  const mapPage = Math.floor(info.ownerMap / PAGE);
  if (mapPage >= firstPage) {
    const count = Math.ceil((info.mapCapacity * 6) / PAGE);
    const run = claim(mapPage, count, "maps", 0);
    if (run) {
      run.segments.push(seg(info.ownerMap, ownerEnd, "page-map", 0, ownerTitle(info)));
      run.segments.push(seg(info.startMap, startEnd, "page-map", 0, startTitle(info)));
      run.segments.push(seg(startEnd, (mapPage + count) * PAGE, "spare", 0, "room for the maps to grow"));
    }
  }
  const visited = new Set<number>();
  for (let r = info.freeRuns; r && r % PAGE === 0 && !visited.has(r); r = word(r + CHUNK_NEXT)) {
    visited.add(r);
    const run = claim(r / PAGE, word(r + CHUNK_PAGES), "free", 0);
    if (run) freeSegments(run);
  }
  const metaPages = new Set<number>();
  for (const r of records) metaPages.add(Math.floor(r / PAGE));
  for (let p = firstPage; p < pages; p++) if (!claimed[p] && ownerOf(p) === Owner.Meta) metaPages.add(p);
  const live = new Set(records);
  for (const p of [...metaPages].sort((a, b) => a - b)) {
    const run = claim(p, 1, "meta", 0);
    if (run) metaSegments(run, live, nameOf, recordSize);
  }

  // Pages left: foreign ones, grown by someone else; anything else means the core's
  // bookkeeping disagrees with this reading, and is drawn as foreign too, saying so.
  for (let p = firstPage; p < pages; p++) {
    if (claimed[p]) continue;
    const run = claim(p, 1, "foreign", 0);
    const owner = ownerOf(p);
    const why =
      p >= info.knownPages
        ? "foreign: grown by someone else since the core last grew memory"
        : owner === Owner.Foreign
          ? "foreign: grown by someone else, never touched by the core"
          : `owner ${hex(owner)} in the owner map, but no live arena or free run holds it`;
    if (run) run.segments.push(seg(p * PAGE, (p + 1) * PAGE, "foreign", 0, why));
  }

  runs.sort((a, b) => a.first - b.first);
  const merged: PageRun[] = [];
  for (const run of runs) {
    const previous = merged[merged.length - 1];
    const last = previous?.segments[previous.segments.length - 1];
    if (
      run.kind === "foreign" &&
      previous?.kind === "foreign" &&
      previous.first + previous.pages === run.first &&
      last?.title === run.segments[0].title
    ) {
      previous.pages += run.pages;
      last.end = run.segments[0].end;
    } else merged.push(run);
  }
  return { pages, recordSize, runs: merged, arenas };
}

function ownerTitle(info: MapInfo): string {
  return `owner map: u32 per page, ${info.mapCapacity} pages at ${hex(info.ownerMap)}`;
}

function startTitle(info: MapInfo): string {
  return `start map: u16 per page, ${info.mapCapacity} pages at ${hex(info.startMap)}`;
}

function seg(start: number, end: number, kind: SegmentKind, arena: number, title: string): Segment {
  return { start, end, kind, arena, title };
}

/** Arenas in legend order (each top-level arena, then its children depth-first), with their counters. */
function orderArenas(
  records: number[],
  parentOf: ReadonlyMap<number, number>,
  known: ReadonlyMap<number, ArenaState>,
  words: Uint32Array,
): ArenaInfo[] {
  const live = new Set(records);
  const childrenOf = new Map<number, number[]>();
  const roots: number[] = [];
  for (const record of [...records].sort((a, b) => a - b)) {
    const parent = parentOf.get(record) ?? 0;
    if (parent && live.has(parent)) {
      const list = childrenOf.get(parent);
      if (list === undefined) childrenOf.set(parent, [record]);
      else list.push(record);
    } else roots.push(record);
  }
  const ordered: ArenaInfo[] = [];
  const visit = (record: number, parent: number, depth: number) => {
    const at = record >>> 2;
    ordered.push({
      record,
      name: known.get(record)?.name ?? `arena@${hex(record)}`,
      parent,
      depth,
      colour: colourOf(ordered.length),
      allocations: words[at + A.allocations / 4],
      actions: words[at + A.actions / 4],
      groups: words[at + A.groups / 4],
      children: words[at + A.children / 4],
      liveBytes: words[at + A.liveBytes / 4],
      reservedBytes: words[at + A.reserved / 4],
      chunks: 0,
    });
    for (const child of childrenOf.get(record) ?? []) visit(child, record, depth + 1);
  };
  for (const root of roots) visit(root, 0, 0);
  return ordered;
}

/** Every node of an arena's release list, free lists and quarantine. */
function nodesOf(record: number, words: Uint32Array, size: number, firstPage: number): NodeInfo[] {
  const nodes: NodeInfo[] = [];
  const seen = new Set<number>();
  const valid = (n: number) => n % 8 === 0 && n >= firstPage * PAGE && n + HEADER <= size && !seen.has(n);
  const read = (node: number, free: boolean) => {
    seen.add(node);
    const meta = words[(node + NODE_META) >>> 2];
    nodes.push({
      node,
      kind: meta & 15,
      cls: (meta >>> 4) & 63,
      size: words[(node + NODE_SIZE) >>> 2],
      dtor: (meta & META_DTOR) !== 0,
      free,
    });
  };
  for (let n = words[(record + A.head) >>> 2]; n && valid(n); n = words[(n + NODE_PREV) >>> 2]) read(n, false);
  for (let cls = 0; cls < CLASSES; cls++) {
    for (let n = words[(record + A.free + cls * 4) >>> 2]; n && valid(n); n = words[(n + NODE_PREV) >>> 2]) {
      read(n, true);
    }
  }
  for (let n = words[(record + A.quarantineHead) >>> 2]; n && valid(n); n = words[(n + NODE_PREV) >>> 2]) {
    read(n, false);
  }
  return nodes;
}

const CALLBACK_KINDS: Record<number, string> = {
  [Kind.Action]: "action",
  [Kind.Destructor]: "destructor",
  [Kind.Group]: "group (open marker)",
  [Kind.Close]: "group (close marker)",
  [Kind.Child]: "child arena",
  [Kind.Popped]: "action (popped by a release, about to run)",
};

/** What the segment builders read: memory, the slot table, and the arena states the host knows. */
interface Context {
  heap: Heap;
  words: Uint32Array;
  known: ReadonlyMap<number, ArenaState>;
}

/** A run of slots an arena owns in a subdivided page, from slot `first`, with its segments. */
interface SlotRun {
  first: number;
  slots: number;
  arena: number;
  segments: Segment[];
}

function slotsOf(count: number): string {
  return `${plural(count, "slot")} (${formatBytes(count * SLOT)})`;
}

/** The nodes of `sorted` (by address) in [from, to). */
function nodesIn(sorted: readonly NodeInfo[], from: number, to: number): NodeInfo[] {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid].node < from) low = mid + 1;
    else high = mid;
  }
  const out: NodeInfo[] = [];
  for (let i = low; i < sorted.length && sorted[i].node < to; i++) out.push(sorted[i]);
  return out;
}

/** The segments of one block (header, payload or callback record, slack; or one free block). */
function blockSegments(out: Segment[], arena: number, name: string, node: NodeInfo, end: number, ctx: Context): void {
  const ptr = node.node + HEADER;
  const at = `at ${hex(ptr)}`;
  if (node.free) {
    const what = `free block of ${JSON.stringify(name)}: class ${node.cls}, ${capacityOf(node.cls)} B, ${at}`;
    out.push(seg(node.node, end, "free", arena, what));
    return;
  }
  if (node.kind === Kind.Quarantined) {
    const what = `quarantined block of ${JSON.stringify(name)}: ${node.size} B freed, held back from reuse, ${at}`;
    out.push(seg(node.node, end, "free", arena, what));
    return;
  }
  if (node.kind === Kind.Alloc || node.kind === Kind.Dying || node.kind === Kind.Remote) {
    const label = ctx.known.get(arena)?.names?.get(ptr) ?? "alloc";
    const dying =
      node.kind === Kind.Dying
        ? " (dying: its destructor is running)"
        : node.kind === Kind.Remote
          ? " (queued by heap.free)"
          : "";
    const dtor = node.dtor ? ", with a destructor" : "";
    out.push(seg(node.node, ptr, "header", arena, `header of ${JSON.stringify(label)} (${name})`));
    const payloadEnd = Math.min(ptr + node.size, end);
    const title = `${JSON.stringify(label)} of ${JSON.stringify(name)}: ${node.size} B ${at}${dtor}${dying}`;
    out.push(seg(ptr, payloadEnd, node.kind === Kind.Dying ? "free" : "payload", arena, title));
    if (payloadEnd < end) {
      const slack = `slack of ${JSON.stringify(label)}: ${end - payloadEnd} B unused by the request (${name})`;
      out.push(seg(payloadEnd, end, "slack", arena, slack));
    }
    return;
  }
  const kind = CALLBACK_KINDS[node.kind] ?? `node kind ${node.kind}`;
  const slot = ctx.words[(node.node + CB_SLOT) >>> 2];
  const registered = ctx.heap.nameAt(slot);
  const shown = registered === "" ? shownName("") : JSON.stringify(registered);
  const label = ctx.heap.ownerAt(slot)?.record === arena ? ` ${shown}` : "";
  out.push(seg(node.node, ptr, "header", arena, `header of ${kind}${label} (${name})`));
  const recordEnd = Math.min(ptr + CB_BYTES, end);
  out.push(seg(ptr, recordEnd, "callback", arena, `${kind}${label} of ${JSON.stringify(name)} ${at}`));
  if (recordEnd < end) out.push(seg(recordEnd, end, "slack", arena, `slack of ${kind}${label} (${name})`));
}

/** The blocks of a small chunk in [from, to), after its head: `nodes` where they are, padding between, bump space. */
function smallSegments(
  out: Segment[],
  arena: number,
  name: string,
  nodes: readonly NodeInfo[],
  from: number,
  to: number,
  bump: { cur: number; end: number },
  ctx: Context,
): void {
  let cursor = from;
  const padding = (end: number) => {
    if (end > cursor) out.push(seg(cursor, end, "padding", arena, `padding: ${end - cursor} B`));
  };
  for (const node of nodes) {
    if (node.node < cursor || node.cls === LARGE_CLASS) continue;
    const blockEnd = Math.min(node.node + HEADER + capacityOf(node.cls), to);
    padding(node.node);
    blockSegments(out, arena, name, node, blockEnd, ctx);
    cursor = blockEnd;
  }
  // Only the newest small chunk has a bump range, and the range ends where that chunk's blocks do.
  if (bump.end === to && bump.cur >= from && bump.cur <= to) {
    padding(bump.cur);
    const start = Math.max(cursor, bump.cur);
    if (start < to) out.push(seg(start, to, "bump", arena, `bump space of ${JSON.stringify(name)}: ${to - start} B`));
    cursor = to;
  }
  padding(to);
}

/** A block of its own (medium or large) in the chunk [chunk, end): head, padding, then the block up to the end. */
function ownBlockSegments(
  out: Segment[],
  arena: number,
  name: string,
  chunk: number,
  end: number,
  payload: number,
  what: string,
  ctx: Context,
): void {
  const words = ctx.words;
  out.push(seg(chunk, chunk + CHUNK_HEAD, "chunk-head", arena, what));
  const node = payload - HEADER;
  if (node < chunk + CHUNK_HEAD || payload > end) {
    out.push(seg(chunk + CHUNK_HEAD, end, "padding", arena, `payload address ${hex(payload)} outside its chunk`));
    return;
  }
  if (node > chunk + CHUNK_HEAD) {
    out.push(seg(chunk + CHUNK_HEAD, node, "padding", arena, `padding: ${node - chunk - CHUNK_HEAD} B`));
  }
  const meta = words[(node + NODE_META) >>> 2];
  const info: NodeInfo = {
    node,
    kind: meta & 15,
    cls: (meta >>> 4) & 63,
    size: words[(node + NODE_SIZE) >>> 2],
    dtor: (meta & META_DTOR) !== 0,
    free: false,
  };
  blockSegments(out, arena, name, info, end, ctx);
}

/**
 * A subdivided page, slot by slot: where an arena's run of slots starts, its
 * segments; else what the slot table says, a free run of slots or, when the
 * table and the arenas' chunk lists disagree, the entry it holds.
 */
function subSegments(run: PageRun, owned: readonly SlotRun[], words: Uint32Array): void {
  const base = run.first * PAGE;
  const byFirst = new Map<number, SlotRun>();
  for (const r of owned) if (!byFirst.has(r.first)) byFirst.set(r.first, r);
  for (let slot = 0; slot < SLOTS; ) {
    const start = base + slot * SLOT;
    const mine = byFirst.get(slot);
    if (mine !== undefined) {
      run.segments.push(...mine.segments);
      run.regions.push({ start, end: start + mine.slots * SLOT, arena: mine.arena });
      slot += mine.slots;
      continue;
    }
    const entry = words[(base + SLOT_TABLE_AT + slot * 4) >>> 2];
    const length = entry >>> 4;
    if (entry & SLOT_FREE && length >= 1 && slot + length <= SLOTS) {
      // A page whose slots are all free goes back to the heap, unless the core keeps it as its one spare.
      const all = length === SLOTS ? ", every slot: the spare subdivided page the core keeps" : "";
      const title = `free slots: ${slotsOf(length)} of this subdivided page${all}`;
      run.segments.push(seg(start, start + length * SLOT, "free-slots", 0, title));
      slot += length;
      continue;
    }
    const title = `slot entry ${hex(entry)} in the slot table, but no live arena's chunk or free run of slots holds it`;
    const last = run.segments[run.segments.length - 1];
    if (last?.kind === "foreign" && last.end === start && last.title === title) last.end += SLOT;
    else run.segments.push(seg(start, start + SLOT, "foreign", 0, title));
    slot++;
  }
  const table = "slot table: u32 per 256-byte slot, its owner or a free run's length (the last 8: itself, the bitmap)";
  run.segments.push(seg(base + SLOT_TABLE_AT, base + BITMAP_AT, "slot-table", 0, table));
  const bitmap = "block-start bitmap of the small chunks of this page: 1 bit per 8 B";
  run.segments.push(seg(base + BITMAP_AT, base + PAGE, "bitmap", 0, bitmap));
}

function freeSegments(run: PageRun): void {
  const bytes = run.pages * PAGE;
  const title = `free run: ${plural(run.pages, "page")} (${formatBytes(bytes)}) of the heap`;
  run.segments.push(seg(run.first * PAGE, run.first * PAGE + bytes, "free-pages", 0, title));
}

function metaSegments(
  run: PageRun,
  live: ReadonlySet<number>,
  nameOf: (record: number) => string,
  recordSize: number,
): void {
  const base = run.first * PAGE;
  run.segments.push(seg(base, base + CHUNK_HEAD, "chunk-head", 0, "page of arena records"));
  let spare = base + CHUNK_HEAD;
  for (let k = 0; k < Math.floor((PAGE - CHUNK_HEAD) / recordSize); k++) {
    const r = base + CHUNK_HEAD + k * recordSize;
    if (!live.has(r)) continue;
    if (r > spare) run.segments.push(seg(spare, r, "spare", 0, "spare arena records (unused or recycled)"));
    run.segments.push(seg(r, r + recordSize, "record", r, `arena record of ${JSON.stringify(nameOf(r))} at ${hex(r)}`));
    spare = r + recordSize;
  }
  if (spare < base + PAGE) {
    run.segments.push(seg(spare, base + PAGE, "spare", 0, "spare arena records (unused or recycled)"));
  }
}

// ---- drawing -----------------------------------------------------------------

const FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace";
const INK = "#222222";
const MUTED = "#666666";
const PADDING_INK = "#b8b8b8";
const FIXED: Partial<Record<SegmentKind, string>> = {
  static: "#5b6270",
  "page-map": "#8a93a3",
  "chunk-head": "#3a3f4a",
  bitmap: "#aeb6c2",
  "slot-table": "#a99cbd",
  spare: "#e4e6ea",
  padding: "url(#padding)",
  bump: "#f6f6f4",
  "free-pages": "#ffffff",
  "free-slots": "#ffffff",
  foreign: "url(#foreign)",
};

const KIND_LEGEND: [SegmentKind, string][] = [
  ["chunk-head", "chunk head (16 B)"],
  ["bitmap", "block-start bitmap (1 KiB)"],
  ["slot-table", "slot table of a subdivided page (1 KiB)"],
  ["header", "node header (16 B)"],
  ["payload", "payload (requested bytes)"],
  ["slack", "slack (size-class rounding)"],
  ["callback", "action / destructor / group / child record"],
  ["free", "free block (on a free list)"],
  ["padding", "alignment padding"],
  ["bump", "bump space (not used yet)"],
  ["free-pages", "free pages of the heap"],
  ["free-slots", "free slots of a subdivided page"],
  ["record", "arena record"],
  ["page-map", "static data, page maps"],
  ["foreign", "foreign pages: grown by someone else, never touched"],
];

/** `text` with the characters XML 1.0 forbids (controls, lone surrogates, U+FFFE/F) replaced, and markup escaped. */
function escapeXml(text: string): string {
  let safe = "";
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    const allowed =
      c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0xd800) || (c >= 0xe000 && c < 0xfffe) || c >= 0x10000;
    safe += allowed ? ch : "\ufffd";
  }
  return safe.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface Palette {
  fill(kind: SegmentKind, arena: number): string;
}

/** The arena colour the legend's swatches use: neutral, so that no arena's colour seems to mean a kind. */
const SAMPLE = -1;
const SAMPLE_COLOUR = "#7b8aa0";

/** Colours and patterns by arena record ({@link SAMPLE} for the legend). */
function colourTable(model: MemoryModel): Map<number, { colour: string; id: string }> {
  const table = new Map(model.arenas.map((a, i) => [a.record, { colour: a.colour, id: String(i) }]));
  table.set(SAMPLE, { colour: SAMPLE_COLOUR, id: "sample" });
  return table;
}

function paletteOf(model: MemoryModel): Palette {
  const table = colourTable(model);
  return {
    fill(kind, arena) {
      const entry = table.get(arena);
      if (entry !== undefined) {
        if (kind === "header") return mix(entry.colour, "#000000", 0.45);
        if (kind === "payload" || kind === "record") return entry.colour;
        if (kind === "slack") return mix(entry.colour, "#ffffff", 0.62);
        if (kind === "callback") return `url(#callback-${entry.id})`;
        if (kind === "free") return `url(#free-${entry.id})`;
      }
      return FIXED[kind] ?? "#cccccc";
    },
  };
}

function patterns(model: MemoryModel): string[] {
  const out = [
    `<pattern id="padding" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="4" height="4" fill="#efefef"/><rect width="1.5" height="4" fill="${PADDING_INK}"/></pattern>`,
    `<pattern id="foreign" width="6" height="6" patternUnits="userSpaceOnUse">` +
      `<rect width="6" height="6" fill="#fff3cd"/><circle cx="3" cy="3" r="1" fill="#c9a227"/></pattern>`,
  ];
  for (const { colour, id } of colourTable(model).values()) {
    const dark = mix(colour, "#000000", 0.45);
    out.push(
      `<pattern id="callback-${id}" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
        `<rect width="4" height="4" fill="${colour}"/><rect width="2" height="4" fill="${dark}"/></pattern>`,
      `<pattern id="free-${id}" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">` +
        `<rect width="5" height="5" fill="#ffffff"/><rect width="1.5" height="5" fill="${colour}"/></pattern>`,
    );
  }
  return out;
}

interface Geometry {
  /** Fold rows wholly inside one long segment. */
  fold: boolean;
  bytesPerRow: number;
  rowWidth: number;
  rowHeight: number;
  rowGap: number;
  left: number;
  margin: number;
  bandHeight: number;
}

const FOLD_HEIGHT = 11;
const PAGE_MIN_HEIGHT = 28;

/** Where the rows of one page drawn in full go: rows wholly inside one long segment are folded. */
interface PagePlan {
  page: number;
  y: number;
  /** The y of each row, undefined for a folded row. */
  rowY: (number | undefined)[];
  folds: { y: number; rows: number; segment: Segment }[];
  height: number;
}

/**
 * Plans one page at `y`. With `fold`, of three or more consecutive rows
 * that one segment covers entirely, the first is drawn and the others become
 * one thin band saying how many rows it stands for.
 */
function planPage(run: PageRun, page: number, y: number, g: Geometry, fold: boolean): PagePlan {
  const rows = PAGE / g.bytesPerRow;
  const base = page * PAGE;
  const uniform: (Segment | undefined)[] = new Array(rows).fill(undefined);
  if (fold) {
    for (const s of run.segments) {
      if (s.end - s.start < 3 * g.bytesPerRow) continue;
      const first = Math.max(0, Math.ceil((s.start - base) / g.bytesPerRow));
      const last = Math.min(rows, Math.floor((s.end - base) / g.bytesPerRow));
      for (let r = first; r < last; r++) uniform[r] = s;
    }
  }
  const rowY: (number | undefined)[] = new Array(rows).fill(undefined);
  const folds: PagePlan["folds"] = [];
  let at = y;
  for (let r = 0; r < rows; ) {
    const s = uniform[r];
    let end = r + 1;
    while (s !== undefined && end < rows && uniform[end] === s) end++;
    rowY[r] = at;
    at += g.rowHeight + g.rowGap;
    if (s !== undefined && end - r >= 3) {
      folds.push({ y: at, rows: end - r - 1, segment: s });
      at += FOLD_HEIGHT + g.rowGap;
      r = end;
    } else r++;
  }
  return { page, y, rowY, folds, height: Math.max(at - y - g.rowGap, PAGE_MIN_HEIGHT) };
}

const KIND_NAMES: Record<SegmentKind, string> = {
  static: "static data",
  "page-map": "page map",
  "chunk-head": "chunk head",
  bitmap: "bitmap",
  "slot-table": "slot table",
  record: "arena record",
  spare: "spare records",
  header: "header",
  payload: "payload",
  slack: "slack",
  callback: "callback record",
  padding: "padding",
  free: "free block",
  bump: "bump space",
  "free-pages": "free pages",
  "free-slots": "free slots",
  foreign: "foreign pages",
};

/**
 * The pages of a run drawn in full, as planned: one `<g>` per segment
 * (whatever the pages and rows it spans), one `<rect>` per row drawn, and
 * the folds.
 */
function drawPages(
  out: string[],
  run: PageRun,
  plans: readonly PagePlan[],
  g: Geometry,
  palette: Palette,
  dimmed: (arena: number) => boolean,
): void {
  for (const s of run.segments) {
    const fill = palette.fill(s.kind, s.arena);
    const pieces = rowPieces(s.start, s.end, plans, g).map(({ x, y, width }) => rect(x, y, width, g.rowHeight, fill));
    if (s.kind === "payload" && s.start === s.end) {
      // A zero-size payload: a hairline where it starts.
      const [at] = rowPieces(s.start, s.start + 1, plans, g);
      if (at !== undefined) pieces.push(rect(at.x, at.y, 1, g.rowHeight, fill));
    }
    if (pieces.length === 0) continue;
    const opacity = dimmed(s.arena) ? ` opacity="0.28"` : "";
    out.push(`<g ${segmentAttributes(s)}${opacity}><title>${escapeXml(s.title)}</title>`, ...pieces, "</g>");
  }
  for (const plan of plans) {
    for (const { y, rows, segment } of plan.folds) {
      const opacity = dimmed(segment.arena) ? ` opacity="0.28"` : "";
      const what = `⋮ ${plural(rows, "more row")} (${formatBytes(rows * g.bytesPerRow)}) of ${KIND_NAMES[segment.kind]}`;
      out.push(`<g data-fold="${rows}"${opacity}><title>${escapeXml(segment.title)}</title>`);
      out.push(rect(g.left, y, g.rowWidth, FOLD_HEIGHT, palette.fill(segment.kind, segment.arena), ` opacity="0.3"`));
      out.push(text(g.left + 6, y + FOLD_HEIGHT - 2, what, ` font-size="9" fill="${INK}"`));
      out.push("</g>");
    }
  }
}

/** Where the bytes [start, end) are drawn in the rows of `plans`: one piece per row drawn (folded rows have none). */
function rowPieces(
  start: number,
  end: number,
  plans: readonly PagePlan[],
  g: Geometry,
): { x: number; y: number; width: number }[] {
  const scale = g.rowWidth / g.bytesPerRow;
  const rowsPerPage = PAGE / g.bytesPerRow;
  const out: { x: number; y: number; width: number }[] = [];
  for (const { page, rowY } of plans) {
    const base = page * PAGE;
    const b = Math.min(end, base + PAGE);
    for (let p = Math.max(start, base); p < b; ) {
      const row = Math.min(Math.floor((p - base) / g.bytesPerRow), rowsPerPage - 1);
      const q = Math.min(b, base + (row + 1) * g.bytesPerRow);
      const x = g.left + (p - base - row * g.bytesPerRow) * scale;
      const y = rowY[row];
      if (y !== undefined) out.push({ x, y, width: (q - p) * scale });
      p = q;
    }
  }
  return out;
}

function segmentAttributes(s: Segment): string {
  const arena = s.arena ? ` data-arena="${hex(s.arena)}"` : "";
  // A continued piece names its bytes otherwise, so that only the segment itself says where it starts and ends.
  if (s.continued) return `data-kind="continued"${arena} data-continues="${s.kind}" data-bytes="${s.start}-${s.end}"`;
  return `data-kind="${s.kind}"${arena} data-start="${s.start}" data-end="${s.end}"`;
}

function rect(x: number, y: number, width: number, height: number, fill: string, extra = ""): string {
  return `<rect x="${round(x)}" y="${round(y)}" width="${round(width)}" height="${round(height)}" fill="${fill}"${extra}/>`;
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function text(x: number, y: number, content: string, extra = ""): string {
  return `<text x="${round(x)}" y="${round(y)}"${extra}>${escapeXml(content)}</text>`;
}

/** A one-line band standing for pages not drawn in full (free runs, the middle of a large run). */
function drawBand(
  out: string[],
  run: PageRun,
  from: number,
  to: number,
  y: number,
  g: Geometry,
  palette: Palette,
  dimmed: (arena: number) => boolean,
  label: string,
): number {
  const width = g.rowWidth;
  const s = run.segments.find((x) => x.start < to * PAGE && x.end > from * PAGE);
  const kind = s?.kind ?? "free-pages";
  const opacity = run.arena && dimmed(run.arena) ? ` opacity="0.28"` : "";
  // A free run is drawn as its band only; the middle of a large run continues a segment drawn above.
  const continued = run.kind === "large";
  const attrs = s && !continued ? segmentAttributes(s) : `data-kind="${continued ? "continued" : kind}"`;
  out.push(`<g ${attrs} data-band="${from}-${to}"${opacity}><title>${escapeXml(s?.title ?? label)}</title>`);
  const fill = kind === "free-pages" ? "#ffffff" : palette.fill(kind, run.arena);
  out.push(rect(g.left, y, width, g.bandHeight, fill, ` stroke="#9aa0a8" stroke-dasharray="4 3"`));
  const background = continued ? ` fill="#ffffff"` : "";
  out.push(
    text(g.left + width / 2, y + g.bandHeight / 2 + 4, label, ` text-anchor="middle" font-size="11"${background}`),
  );
  out.push("</g>");
  return g.bandHeight;
}

/** `text` cut to `max` characters with an ellipsis. */
function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function runLabel(run: PageRun, model: MemoryModel): [string, string] {
  const name = model.arenas.find((a) => a.record === run.arena)?.name ?? `arena@${hex(run.arena)}`;
  switch (run.kind) {
    case "static":
      return ["static data", "and page maps"];
    case "maps":
      return ["page maps", "(META run)"];
    case "meta":
      return ["arena records", "(META page)"];
    case "small":
      return ["small chunk", name];
    case "large":
      return ["large run", name];
    case "sub": {
      const arenas = new Set(run.regions.map((r) => r.arena)).size;
      return ["subdivided page", arenas ? plural(arenas, "arena") : "no arena"];
    }
    case "free":
      return ["free run", plural(run.pages, "page")];
    case "foreign":
      return ["foreign", plural(run.pages, "page")];
  }
}

/** Renders the model as an SVG document. */
function drawModel(
  model: MemoryModel,
  g: Geometry,
  title: string,
  highlight: ReadonlySet<number>,
  heapBytes: number,
): string {
  const palette = paletteOf(model);
  const dimmed = (arena: number) => highlight.size > 0 && arena !== 0 && !highlight.has(arena);
  const body: string[] = [];
  const width = g.left + g.rowWidth + g.margin;
  let y = g.margin + 18;
  body.push(text(g.margin, y, title, ` font-size="16" font-weight="bold"`));
  y += 18;
  const pxPerByte = g.rowWidth / g.bytesPerRow;
  const scale = pxPerByte >= 1 ? `${round(pxPerByte)} px per byte` : `${round(1 / pxPerByte)} bytes per px`;
  body.push(
    text(
      g.margin,
      y,
      `${formatBytes(heapBytes)} of linear memory in ${plural(model.pages, "page")} of 64 KiB; ` +
        `one row = ${formatBytes(g.bytesPerRow)} (${scale}); page maps read from the core`,
      ` font-size="11" fill="${MUTED}"`,
    ),
  );
  y += 14;

  // Legend: arenas, then kinds of memory.
  y += 10;
  body.push(`<g data-legend="arenas">`);
  if (model.arenas.length === 0) {
    body.push(text(g.margin, y + 10, "no live arena", ` font-size="12" fill="${MUTED}"`));
    y += 18;
  }
  for (const arena of model.arenas) {
    const x = g.margin + arena.depth * 18;
    const strong = highlight.has(arena.record);
    const opacity = dimmed(arena.record) ? ` opacity="0.45"` : "";
    const attrs = `data-legend-arena="${hex(arena.record)}" data-name="${escapeXml(arena.name)}" data-colour="${arena.colour}"`;
    body.push(`<g ${attrs}${strong ? ` data-highlighted="true"` : ""}${opacity}>`);
    if (arena.depth > 0) body.push(text(x - 14, y + 10, "└", ` font-size="12" fill="${MUTED}"`));
    body.push(rect(x, y, 22, 12, arena.colour, strong ? ` stroke="${INK}" stroke-width="2"` : ""));
    const label =
      `${arena.name}` +
      `  ${plural(arena.allocations, "allocation")}, ${formatBytes(arena.liveBytes)} live, ` +
      `${formatBytes(arena.reservedBytes)} in ${plural(arena.chunks, "chunk")}; ` +
      `${plural(arena.actions, "action")}, ${plural(arena.groups, "group")}, ${plural(arena.children, "child")}` +
      (strong ? "  ◀ highlighted" : "");
    body.push(
      `<text x="${round(x + 30)}" y="${round(y + 10)}" font-size="12"><tspan font-weight="bold">${escapeXml(arena.name)}</tspan>` +
        `${escapeXml(label.slice(arena.name.length))}</text>`,
    );
    body.push("</g>");
    y += 17;
  }
  body.push("</g>");
  y += 6;
  body.push(`<g data-legend="kinds">`);
  const columns = 3;
  const columnWidth = (g.left + g.rowWidth - g.margin) / columns;
  const drawsForeign = model.runs.some((r) => r.segments.some((s) => s.kind === "foreign"));
  const kinds = KIND_LEGEND.filter(([kind]) => kind !== "foreign" || drawsForeign);
  kinds.forEach(([kind, name], i) => {
    const label = kind === "record" ? `${name} (${model.recordSize} B)` : name;
    const x = g.margin + (i % columns) * columnWidth;
    const row = Math.floor(i / columns);
    const fill = kind === "page-map" ? FIXED.static : palette.fill(kind, SAMPLE);
    const stroke = ` stroke="#9aa0a8" stroke-width="0.5"`;
    body.push(`<g data-legend-kind="${kind}">`);
    body.push(rect(x, y + row * 17, 22, 12, fill as string, stroke));
    body.push(text(x + 30, y + row * 17 + 10, label, ` font-size="11"`));
    body.push("</g>");
  });
  body.push("</g>");
  y += Math.ceil(kinds.length / columns) * 17 + 14;

  // The map.
  body.push(`<g data-map="pages">`);
  // Pages of metadata (static data, page maps, arena records) are drawn as one strip each.
  const strip: Geometry = { ...g, bytesPerRow: PAGE, rowHeight: 26, fold: false };
  for (const run of model.runs) {
    const [line1, line2] = runLabel(run, model);
    const arenaColour = model.arenas.find((a) => a.record === run.arena)?.colour;
    const top = y;
    const last = run.first + run.pages - 1;
    const pieces: { from: number; to: number; band?: string }[] = [];
    if (run.kind === "free" || run.kind === "foreign") {
      const band = run.kind === "free" ? "free page" : "foreign page";
      pieces.push({ from: run.first, to: last + 1, band: plural(run.pages, band) });
    } else if (run.kind === "large" && run.pages > 3) {
      pieces.push({ from: run.first, to: run.first + 1 });
      pieces.push({ from: run.first + 1, to: last, band: `… ${plural(run.pages - 2, "more page")} of this run …` });
      pieces.push({ from: last, to: last + 1 });
    } else pieces.push({ from: run.first, to: last + 1 });
    const geometry = run.kind === "small" || run.kind === "large" || run.kind === "sub" ? g : strip;
    const plans: PagePlan[] = [];
    for (const piece of pieces) {
      if (piece.band !== undefined) {
        y += drawBand(body, run, piece.from, piece.to, y, g, palette, dimmed, piece.band) + 4;
        continue;
      }
      for (let p = piece.from; p < piece.to; p++) {
        body.push(text(g.left - 8, y + 10, `page ${p}`, ` font-size="11" text-anchor="end" fill="${MUTED}"`));
        body.push(text(g.left - 8, y + 23, hex(p * PAGE), ` font-size="10" text-anchor="end" fill="${MUTED}"`));
        const plan = planPage(run, p, y, geometry, geometry.fold);
        plans.push(plan);
        y += plan.height + 4;
      }
    }
    drawPages(body, run, plans, geometry, palette, dimmed);
    // In a shared page, each run of slots of a highlighted arena is outlined row by row.
    for (const region of run.regions) {
      if (!highlight.has(region.arena)) continue;
      const extra = ` stroke="${INK}" stroke-width="1.5" data-highlight="${hex(region.arena)}"`;
      for (const { x, y, width } of rowPieces(region.start, region.end, plans, geometry)) {
        body.push(rect(x, y, width, geometry.rowHeight, "none", extra));
      }
    }
    const runHeight = y - top - 4;
    // The run's label in the left column; a bar joins the pages of one run.
    const bold = run.arena && highlight.has(run.arena) ? ` font-weight="bold"` : "";
    const colour = arenaColour ? ` fill="${arenaColour}"` : ` fill="${MUTED}"`;
    if (runHeight >= 24) {
      body.push(text(g.margin, top + 10, ellipsis(line1, 15), ` font-size="11"${bold}`));
      body.push(text(g.margin, top + 23, ellipsis(line2, 15), ` font-size="11"${colour}${bold}`));
    } else {
      body.push(text(g.margin, top + runHeight / 2 + 4, `${line1}, ${line2}`, ` font-size="11" fill="${MUTED}"`));
    }
    body.push(rect(g.left - 4, top, 2, runHeight, arenaColour ?? "#c3c7cf"));
    if (run.arena && highlight.has(run.arena)) {
      const extra = ` stroke="${INK}" stroke-width="2" data-highlight="${hex(run.arena)}"`;
      body.push(rect(g.left - 2, top - 2, g.rowWidth + 4, runHeight + 4, "none", extra));
    }
    y += 6;
  }
  body.push("</g>");
  const height = y + g.margin;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${round(width)}" height="${round(height)}" viewBox="0 0 ${round(width)} ${round(height)}" font-family="${FONT}" fill="${INK}">`,
    `<title>${escapeXml(title)}</title>`,
    `<defs>${patterns(model).join("")}</defs>`,
    rect(0, 0, width, height, "#ffffff"),
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

// ---- the public entry ----------------------------------------------------------

function isArena(value: unknown): value is Arena {
  return (
    typeof value === "object" &&
    value !== null &&
    "state" in value &&
    "heap" in value &&
    typeof (value as Arena).alloc === "function"
  );
}

function isHeap(value: unknown): value is Heap {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Heap).createArena === "function" &&
    typeof (value as Heap).u32 === "function"
  );
}

function checkRange(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isU32(value) || value < min || value > max) {
    throw new ArenaError("EINVAL", `${what} must be an integer in ${min}..${max}, got ${describe(value)}`);
  }
  return value;
}

/**
 * Draws linear memory as an SVG document: every 64 KiB page as rows of
 * bytes, showing chunk heads, block-start bitmaps and the slot tables of
 * subdivided pages, node headers, payloads, size-class slack, alignment
 * padding, free blocks, bump space, free pages and free slots, one colour per
 * arena, and a legend naming every arena with its counters. Given an arena, draws its whole heap and highlights the arena
 * and its children (the other arenas are dimmed). Every segment is an SVG
 * `<g>` with `data-kind`, `data-arena`, `data-start` and `data-end`
 * attributes and a `<title>` tooltip.
 */
export function renderMemoryMap(target: Heap | Arena, options: MemoryMapOptions = {}): string {
  if (options === null || typeof options !== "object") {
    throw new ArenaError("EINVAL", `options must be an object, got ${describe(options)}`);
  }
  let heap: Heap;
  let focus: Arena | undefined;
  if (isArena(target)) {
    if (target.released) throw new ArenaError("ERELEASED", `renderMemoryMap: arena ${JSON.stringify(target.name)}`);
    heap = target.heap;
    focus = target;
  } else if (isHeap(target)) heap = target;
  else throw new ArenaError("EINVAL", `renderMemoryMap: expected a Heap or an Arena, got ${describe(target)}`);
  const bytesPerRow = checkRange(options.bytesPerRow, "bytesPerRow", 256, PAGE, 4096);
  if ((bytesPerRow & (bytesPerRow - 1)) !== 0) {
    throw new ArenaError("EINVAL", `bytesPerRow must be a power of two, got ${bytesPerRow}`);
  }
  const rowWidth = checkRange(options.rowWidth, "rowWidth", 128, 8192, 1024);
  const rowHeight = checkRange(options.rowHeight, "rowHeight", 2, 64, 7);
  if (options.arenas !== undefined && !Array.isArray(options.arenas)) {
    throw new ArenaError("EINVAL", `arenas must be an array of arenas, got ${describe(options.arenas)}`);
  }
  if (options.title !== undefined && typeof options.title !== "string") {
    throw new ArenaError("EINVAL", `title must be a string, got ${describe(options.title)}`);
  }
  if (options.highlight !== undefined) {
    if (!isArena(options.highlight)) {
      throw new ArenaError("EINVAL", `highlight must be an arena, got ${describe(options.highlight)}`);
    }
    focus = options.highlight;
  }

  // Every arena state the host can reach on this heap, by record.
  const known = new Map<number, ArenaState>();
  const add = (state: ArenaState | undefined) => {
    if (state && state.heap === heap && !state.released) known.set(state.record, state);
  };
  if (isArena(target)) add(target.state);
  for (const arena of options.arenas ?? []) {
    if (!isArena(arena)) throw new ArenaError("EINVAL", `arenas must hold arenas, got ${describe(arena)}`);
    add(arena.state);
  }
  for (let slot = 0; slot < heap.slots.length; slot++) {
    const registration = heap.slots[slot];
    if (registration === undefined) continue;
    add(heap.ownerAt(slot));
    if (typeof registration === "object" && registration.role === Kind.Child) add(registration.child.state);
  }

  const model = modelMemory(heap, known);

  const highlight = new Set<number>();
  if (focus !== undefined && !focus.released && focus.heap === heap) {
    const root = focus.state.record;
    highlight.add(root);
    for (const arena of model.arenas) if (highlight.has(arena.parent)) highlight.add(arena.record);
  }
  if (options.fold !== undefined && typeof options.fold !== "boolean") {
    throw new ArenaError("EINVAL", `fold must be a boolean, got ${describe(options.fold)}`);
  }
  const geometry: Geometry = {
    fold: options.fold ?? true,
    bytesPerRow,
    rowWidth,
    rowHeight,
    rowGap: 1,
    left: 190,
    margin: 16,
    bandHeight: 18,
  };
  const heapBytes = heap.memory.buffer.byteLength;
  const title =
    options.title ??
    (focus
      ? `managed-arena memory map: arena ${JSON.stringify(focus.name)} on a heap of ${plural(model.arenas.length, "arena")}`
      : `managed-arena memory map: a heap of ${plural(model.arenas.length, "arena")}`);
  return drawModel(model, geometry, title, highlight, heapBytes);
}

/** One run of whole free pages of a heap's linear memory (see {@link freeRuns}). */
export interface FreeRun {
  /** Byte offset of the run's first page in `heap.memory.buffer`. */
  start: number;
  /** Pages (64 KiB) in the run. */
  pages: number;
}

/**
 * The runs of whole free pages of `heap`'s linear memory, the one given back
 * last first: pages that are neither an arena's chunks nor the core's maps
 * and arena records, ready for any arena of the heap. The bytes of memory in
 * use are `heap.memory.buffer.byteLength` less 65536 per free page. A walk of
 * the core's list (one read per run): for measuring and pictures, not a hot path.
 */
export function freeRuns(heap: Heap): FreeRun[] {
  if (!isHeap(heap)) throw new ArenaError("EINVAL", `freeRuns: expected a Heap, got ${describe(heap)}`);
  const words = heap.u32();
  // Bounded by the pages there are, should memory be broken.
  const limit = words.length / (PAGE / 4);
  const runs: FreeRun[] = [];
  for (
    let run = readMapInfo(heap, words).freeRuns;
    run !== 0 && runs.length < limit;
    run = words[(run + CHUNK_NEXT) >>> 2]
  ) {
    runs.push({ start: run, pages: words[(run + CHUNK_PAGES) >>> 2] });
  }
  return runs;
}
