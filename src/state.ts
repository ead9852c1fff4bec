// ArenaState: what an arena is apart from its facade object. Handles point
// here rather than at the Arena, so an arena with registered actions can
// still be garbage-collected, and the leak reporter (a FinalizationRegistry
// holding this state) can still describe an arena whose facade is gone.
//
// This file is below handles, heap and arena (src/ imports form a line, see
// test/imports.test.ts): what a state reads of its heap is the interface
// HeapView, which src/heap.ts's Heap implements.

import type { CoreExports } from "./core.js";

/** One trace event, as the kernel's drm_dbg_drmres ADD/DEL/REL lines. */
export interface TraceEvent {
  /** add: node added; del: removed without running; rel: released (run, if it has something to run). */
  op: "add" | "del" | "rel";
  /** What the node is, as in {@link Resource}. */
  kind: "alloc" | "action" | "group" | "child";
  /** The node's name, as in {@link Resource}. */
  name: string;
  /** Requested size for an allocation, 0 otherwise. */
  size: number;
  /** The payload of an allocation; undefined for other kinds. */
  ptr: number | undefined;
  /** The arena's name. */
  arena: string;
}

/** Receives trace events; it should not throw (an exception propagates from the call that traced). */
export type TraceFunction = (event: TraceEvent) => void;

/**
 * What a heap's slot table holds in the slot of every action of one arena
 * (the actions themselves are in the heap's columns, src/heap.ts): the
 * arena's record / 4, unique among the heap's live arenas, and a small
 * integer (records are 4-byte aligned offsets below 2^32) that V8 stores
 * without boxing. @internal
 */
export type ActionTag = number;

/** The action tag of the arena whose record is `record`. @internal */
export function actionTag(record: number): ActionTag {
  return record >>> 2;
}

/**
 * The heap of an arena as its state and the error and introspection code
 * below the heap read it: src/heap.ts's Heap (checked where arena.ts makes a state
 * of one, not with `implements`, which the public class would show). @internal
 */
export interface HeapView {
  /** The `WebAssembly.Memory`. */
  readonly memory: WebAssembly.Memory;
  /** The core's raw exports. */
  readonly core: CoreExports;
  /** The pages the memory may ever have. */
  readonly maxPages: number;
  /** Registrations of live callback nodes by slot (src/handles.ts's Registration); undefined where free. */
  readonly slots: readonly unknown[];
  /** The memory as 32-bit words (rebuilt after growth: never keep it across a call that may allocate). */
  u32(): Uint32Array;
  /** The name of the registration in `slot`. */
  nameAt(slot: number): string | undefined;
  /** The live arena whose record is `record`, if any. */
  arenaAt(record: number): ArenaState | undefined;
}

/** @internal */
export class ArenaState {
  readonly heap: HeapView;
  /** Address of the arena record in linear memory. */
  readonly record: number;
  readonly name: string;
  /** Names given with `alloc(size, { name })`, by payload. */
  names: Map<number, string> | undefined;
  released = false;
  /** Registered with its heap's leak registry (Heap.watch). */
  leakWatched = false;
  readonly trace: TraceFunction | undefined;
  /** What the heap's slot table holds in the slot of each of this arena's actions. */
  readonly actionTag: ActionTag;
  /**
   * The slots of the actions a whole release popped from the core ahead of
   * running them (Arena.drainAll), in run order: the first poppedCount
   * entries. Each gives up its slot just before it runs, so those whose slot
   * still holds this arena's actionTag are the ones waiting (not run,
   * removed or released yet): while this arena releases, no slot can be
   * given to another of its actions.
   */
  popped: number[] | undefined;
  poppedCount = 0;

  constructor(heap: HeapView, record: number, name: string, trace: TraceFunction | undefined) {
    this.heap = heap;
    this.record = record;
    this.name = name;
    this.trace = trace;
    this.actionTag = actionTag(record);
  }

  /** Slots of the popped actions still registered and waiting to run, newest first: they count as registered. */
  waiting(): number[] {
    const waiting: number[] = [];
    const popped = this.popped;
    if (popped === undefined) return waiting;
    const slots = this.heap.slots;
    for (let i = 0; i < this.poppedCount; i++) {
      if (slots[popped[i]] === this.actionTag) waiting.push(popped[i]);
    }
    return waiting;
  }

  /**
   * Sends one trace event. A tracer is a debugging hook: if it throws, the
   * error is rethrown from a microtask (like an event listener's) so that it
   * cannot break the release under way.
   */
  emit(op: TraceEvent["op"], kind: TraceEvent["kind"], name: string, size: number, ptr: number | undefined): void {
    const trace = this.trace;
    if (trace === undefined) return;
    try {
      trace({ op, kind, name, size, ptr, arena: this.name });
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
