// Handles: the host's half of every callback node. JS functions and data
// cannot live in linear memory, so a callback node stores a slot number and
// the heap's slot table holds one of these. A group, destructor or child link
// is a fresh object per registration; its slot's entry is replaced when the
// slot is reused, so the identity check `slots[slot] === handle` is the
// generation check: a stale handle is detected and never confused with a
// newer node in the same slot or at the same address.
//
// Actions are the exception: there can be hundreds of thousands, and an
// object per action held by the table lives through young-generation
// collections and is promoted, which cost more than the action itself once
// the count reaches ~100,000 (docs/benchmarks.md). So the table holds, in an
// action's slot, its arena's tag (a small integer: no object, and no write
// barrier when stored), and the action's function, data, name and
// generation sit in the heap's columns (src/heap.ts). The ActionHandle that
// add() returns is not kept by the arena; it is current while its slot holds
// its arena's tag and its slot's generation is its own.

import { functionName } from "./errors.js";
import type { ActionTag, ArenaState } from "./state.js";

/** Node kinds of the core (assembly/layout.ts); a registration's role is its callback kind. */
export const Kind = {
  Free: 0,
  Alloc: 1,
  Action: 2,
  Destructor: 3,
  Group: 4,
  Close: 5,
  Child: 6,
  Dying: 7,
  Popped: 8,
  Quarantined: 9,
  /** Shared heaps: freed by heap.free, queued for its arena's owner (still counted until drained). */
  Remote: 10,
} as const;

let generations = 0;

/** The next registration number, unique per process; shown in messages. @internal */
export function nextGeneration(): number {
  return ++generations;
}

// The four classes repeat their common fields instead of sharing a base
// class: a derived constructor is not inlined into `add`, which costs more
// than the registration itself on the hot path.

/**
 * An action registered with {@link Arena.add}; opaque, generation-checked.
 * The arena does not keep it: it describes the registration, and is current
 * while the heap's slot table still holds that registration (Heap.holds).
 */
export class ActionHandle {
  /** @internal */ readonly owner: ArenaState;
  /** @internal */ readonly slot: number;
  /** Registration number, unique per process; shown in messages. */
  readonly generation: number;
  /**
   * The callback node in linear memory while registered; a whole release
   * may have popped it (Kind.Popped) ahead of running it. @internal
   */
  readonly node: number;
  /** @internal */ readonly action: (data: never) => unknown;
  /** @internal */ readonly data: unknown;
  /** @internal */ readonly label: string | undefined;

  /** @internal */
  constructor(
    owner: ArenaState,
    slot: number,
    generation: number,
    node: number,
    action: (data: never) => unknown,
    data: unknown,
    label: string | undefined,
  ) {
    this.owner = owner;
    this.slot = slot;
    this.generation = generation;
    this.node = node;
    this.action = action;
    this.data = data;
    this.label = label;
  }

  /** @internal */ get role(): typeof Kind.Action {
    return Kind.Action;
  }

  /** The action's name: the one given to `add`, else `action.name`. */
  get name(): string {
    return this.label ?? functionName(this.action);
  }
}

/** A group opened with {@link Arena.openGroup}; opaque, generation-checked. */
export class GroupHandle {
  /** @internal */ readonly owner: ArenaState;
  /** @internal */ readonly slot: number;
  /** Registration number, unique per process; shown in messages. */
  readonly generation: number;
  /** The open marker's node; 0 once the group is gone. @internal */
  node: number;
  /** The close marker's node; 0 while the group is open. @internal */
  close = 0;
  /** True while releaseGroup walks this group. @internal */
  unwinding = false;
  /** @internal */ readonly label: string;

  /** @internal */
  constructor(owner: ArenaState, slot: number, node: number, label: string) {
    this.owner = owner;
    this.slot = slot;
    this.generation = ++generations;
    this.node = node;
    this.label = label;
  }

  /** @internal */ get role(): typeof Kind.Group {
    return Kind.Group;
  }

  /** The name given to openGroup, default "group". */
  get name(): string {
    return this.label;
  }
}

/** The destructor of one allocation (`alloc(size, { onRelease })`). @internal */
export class Destructor {
  readonly owner: ArenaState;
  readonly slot: number;
  readonly generation: number;
  node: number;
  readonly action: (ptr: number) => unknown;
  /** The allocation's payload; realloc updates it. */
  ptr: number;

  constructor(owner: ArenaState, slot: number, node: number, action: (ptr: number) => unknown, ptr: number) {
    this.owner = owner;
    this.slot = slot;
    this.generation = ++generations;
    this.node = node;
    this.action = action;
    this.ptr = ptr;
  }

  get role(): typeof Kind.Destructor {
    return Kind.Destructor;
  }

  get name(): string {
    return this.owner.names?.get(this.ptr) ?? "alloc";
  }
}

/**
 * What a child link knows of its child arena: src/arena.ts's Arena, which is
 * above this file (arena.ts casts it back to run the child's teardown). @internal
 */
export interface ChildArena {
  readonly name: string;
  readonly state: ArenaState;
  parentLink: ChildLink | undefined;
}

/** A child arena's place in its parent's release list. @internal */
export class ChildLink {
  readonly owner: ArenaState;
  readonly slot: number;
  readonly generation: number;
  node: number;
  readonly child: ChildArena;

  constructor(owner: ArenaState, slot: number, node: number, child: ChildArena) {
    this.owner = owner;
    this.slot = slot;
    this.generation = ++generations;
    this.node = node;
    this.child = child;
  }

  get role(): typeof Kind.Child {
    return Kind.Child;
  }

  get name(): string {
    return this.child.name;
  }
}

/** A callback taken out of the slot table to run (an action as a handle read from the columns). @internal */
export type Callback = ActionHandle | GroupHandle | Destructor | ChildLink;
/** What a heap's slot table holds in a slot in use: an action's arena tag, or the registration. @internal */
export type Registration = ActionTag | GroupHandle | Destructor | ChildLink;
