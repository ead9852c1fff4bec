// Introspection: resources() and report() read the release list straight
// from linear memory (newest first, through `prev` links) and name each node
// from the host's tables. They work from an ArenaState alone, so the leak
// reporter can describe an arena whose facade has been collected.

import { shownName } from "./errors.js";
import { type ChildLink, type GroupHandle, Kind, type Registration } from "./handles.js";
import type { ArenaState } from "./state.js";

/** One entry of {@link Arena.resources}. */
export interface Resource {
  /** What the node is: an allocation, an action, a group (its open marker), a child arena. */
  kind: "alloc" | "action" | "group" | "child";
  /** The name given when it was added (allocations: "alloc" unless named; actions: `action.name` by default). */
  name: string;
  /** Requested size of an allocation; a child's liveBytes; 0 otherwise. */
  size: number;
  /** Payload of an allocation. */
  ptr?: number;
}

/** Word offsets of the arena record and node header (assembly/layout.ts). @internal */
export const Word = {
  Head: 0,
  LiveBytes: 6,
  Allocations: 7,
  MaxBytes: 8,
  Reserved: 9,
  PeakBytes: 10,
  Actions: 11,
  Groups: 12,
  Children: 13,
  /** The quarantine's oldest block (assembly/layout.ts, A_QUARANTINE_HEAD). */
  QuarantineHead: 64,
  NodePrev: 0,
  NodeSize: 2,
  NodeMeta: 3,
  NodeSlot: 4,
} as const;

/**
 * Entries of the core's page owner map and of a subdivided page's slot
 * table, and where that table sits in its page (assembly/layout.ts): read by
 * the error messages (src/failures.ts) and the memory map (src/memory-map.ts). @internal
 */
export const Owner = {
  /** With an arena's record: a page (or slot) of a large run; else a whole-page small chunk. */
  Large: 1,
  /** The core's own page: arena records and page maps (in a slot table: the table and bitmap). */
  Meta: 2,
  /** In a slot entry, with Large: the first slot of a block's run (its chunk head). */
  Run: 2,
  /** Grown by someone else (the embedding program, or JS calling memory.grow): never touched. */
  Foreign: 4,
  /** A subdivided page: its owners are in its slot table, one u32 per 256-byte slot. */
  Sub: 8,
  /** Byte offset of a subdivided page's slot table in the page (SLOTS << SLOT_BITS: 248 slots of 256 bytes). */
  SlotTableAt: 63488,
} as const;

const HEADER = 16;

/** The resources of an arena, newest first (destructors and close markers are part of their allocation / group). @internal */
export function resourcesOf(state: ArenaState): Resource[] {
  const heap = state.heap;
  const words = heap.u32();
  const slots = heap.slots;
  const waiting = waitingOf(state);
  const resources: Resource[] = [];
  for (let node = words[(state.record >>> 2) + Word.Head]; node; node = words[(node >>> 2) + Word.NodePrev]) {
    const at = node >>> 2;
    const kind = words[at + Word.NodeMeta] & 15;
    const slot = words[at + Word.NodeSlot];
    if (kind === Kind.Popped && waiting.has(slot)) {
      resources.push({ kind: "action", name: heap.nameAt(slot) as string, size: 0 });
    } else if (kind === Kind.Alloc) {
      const ptr = node + HEADER;
      resources.push({ kind: "alloc", name: state.names?.get(ptr) ?? "alloc", size: words[at + Word.NodeSize], ptr });
    } else if (kind === Kind.Action || kind === Kind.Group || kind === Kind.Child) {
      const registration = slots[slot] as Registration;
      const size = kind === Kind.Child ? liveBytesOf((registration as ChildLink).child.state) : 0;
      const name = heap.nameAt(slot) as string;
      resources.push({ kind: kind === Kind.Action ? "action" : kind === Kind.Group ? "group" : "child", name, size });
    }
  }
  return resources;
}

/**
 * The slots of the actions a batched release popped and has yet to run
 * (ArenaState.waiting): their nodes stay in the release list as popped
 * nodes, each listed while its slot is one of these.
 */
function waitingOf(state: ArenaState): Set<number> {
  return new Set(state.poppedCount === 0 ? [] : state.waiting());
}

function liveBytesOf(state: ArenaState): number {
  return state.heap.u32()[(state.record >>> 2) + Word.LiveBytes];
}

/** A name in a report: quoted, or (anonymous) when empty (an inline arrow function's). */
function quoted(name: string): string {
  return name === "" ? shownName(name) : JSON.stringify(name);
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : word.endsWith("d") ? "ren" : "s"}`;
}

function bytes(count: number): string {
  if (count < 10 * 1024) return `${count} B`;
  if (count < 10 * 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

interface Totals {
  arenas: number;
  allocations: number;
  liveBytes: number;
  reservedBytes: number;
}

function describeArena(state: ArenaState, indent: string, lines: string[], totals: Totals): void {
  const words = state.heap.u32();
  const at = state.record >>> 2;
  const allocations = words[at + Word.Allocations];
  const live = words[at + Word.LiveBytes];
  const reserved = words[at + Word.Reserved];
  const waiting = waitingOf(state);
  totals.arenas++;
  totals.allocations += allocations;
  totals.liveBytes += live;
  totals.reservedBytes += reserved;
  lines.push(
    `${indent}arena ${JSON.stringify(state.name)}: ${plural(allocations, "allocation")}, ${bytes(live)} live ` +
      `(peak ${bytes(words[at + Word.PeakBytes])}), ${bytes(reserved)} reserved; ` +
      `${plural(words[at + Word.Actions] + waiting.size, "action")}, ${plural(words[at + Word.Groups], "group")}, ` +
      `${plural(words[at + Word.Children], "child")}`,
  );
  const slots = state.heap.slots;
  for (let node = words[at + Word.Head]; node; node = state.heap.u32()[(node >>> 2) + Word.NodePrev]) {
    const header = state.heap.u32();
    const kind = header[(node >>> 2) + Word.NodeMeta] & 15;
    const slot = header[(node >>> 2) + Word.NodeSlot];
    const registration = slots[slot];
    if (kind === Kind.Alloc) {
      const ptr = node + HEADER;
      const hasDestructor = (header[(node >>> 2) + Word.NodeMeta] & (1 << 14)) !== 0;
      lines.push(
        `${indent}  alloc ${JSON.stringify(state.names?.get(ptr) ?? "alloc")} ` +
          `${bytes(header[(node >>> 2) + Word.NodeSize])} at 0x${ptr.toString(16)}${hasDestructor ? " (destructor)" : ""}`,
      );
    } else if (registration && (kind === Kind.Action || (kind === Kind.Popped && waiting.has(slot)))) {
      lines.push(`${indent}  action ${quoted(state.heap.nameAt(slot) as string)}`);
    } else if (kind === Kind.Group && registration) {
      lines.push(
        `${indent}  group ${JSON.stringify((registration as GroupHandle).name)}${(registration as GroupHandle).close ? "" : " (open)"}`,
      );
    } else if (kind === Kind.Child && registration) {
      describeArena((registration as ChildLink).child.state, `${indent}  `, lines, totals);
    }
  }
}

/** A readable tree of an arena, its children and totals, like talloc_report_full. @internal */
export function reportOf(state: ArenaState): string {
  const lines: string[] = [];
  const totals: Totals = { arenas: 0, allocations: 0, liveBytes: 0, reservedBytes: 0 };
  describeArena(state, "", lines, totals);
  lines.push(
    `total: ${plural(totals.allocations, "allocation")}, ${bytes(totals.liveBytes)} live, ` +
      `${bytes(totals.reservedBytes)} reserved in ${plural(totals.arenas, "arena")}`,
  );
  return lines.join("\n");
}
