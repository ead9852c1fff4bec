// ArenaState: what an arena is apart from its facade object. Handles point
// here rather than at the Arena, so an arena with registered actions can
// still be garbage-collected, and the leak reporter (a FinalizationRegistry
// holding this state) can still describe an arena whose facade is gone.

import { type ActionTag, actionTag, type GroupHandle } from "./handles.js";
import type { Heap } from "./heap.js";

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

/** @internal */
export class ArenaState {
  readonly heap: Heap;
  /** Address of the arena record in linear memory. */
  readonly record: number;
  readonly name: string;
  /** Names given with `alloc(size, { name })`, by payload. */
  names: Map<number, string> | undefined;
  /** Open groups, oldest first: closeGroup() closes the last. */
  openGroups: GroupHandle[] = [];
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

  constructor(heap: Heap, record: number, name: string, trace: TraceFunction | undefined) {
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
