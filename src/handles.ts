// Handles: the host's half of every callback node. JS functions and data
// cannot live in linear memory, so a callback node stores a slot number and
// the heap's slot table holds one of these. A handle is a fresh object per
// registration; its slot's entry is replaced when the slot is reused, so the
// identity check `slots[slot] === handle` is the generation check: a stale
// handle is detected and never confused with a newer node in the same slot
// or at the same address.

import type { Arena } from "./arena.js";
import { functionName } from "./errors.js";
import type { ArenaState } from "./state.js";

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
} as const;

let generations = 0;

/** The next registration number, unique per process; shown in messages. @internal */
export function nextGeneration(): number {
  return ++generations;
}

// The four classes repeat their common fields instead of sharing a base
// class: a derived constructor is not inlined into `add`, which costs more
// than the registration itself on the hot path.

/** An action registered with {@link Arena.add}; opaque, generation-checked. */
export class ActionHandle {
  /** @internal */ readonly owner: ArenaState;
  /** @internal */ readonly slot: number;
  /** Registration number, unique per process; shown in messages. */
  readonly generation: number;
  /** The callback node in linear memory; 0 once unregistered. @internal */
  node: number;
  /** @internal */ readonly action: (data: never) => unknown;
  /** @internal */ readonly data: unknown;
  /** @internal */ readonly label: string | undefined;

  /** @internal */
  constructor(
    owner: ArenaState,
    slot: number,
    node: number,
    action: (data: never) => unknown,
    data: unknown,
    label?: string,
  ) {
    this.owner = owner;
    this.slot = slot;
    this.generation = ++generations;
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

/** A child arena's place in its parent's release list. @internal */
export class ChildLink {
  readonly owner: ArenaState;
  readonly slot: number;
  readonly generation: number;
  node: number;
  readonly child: Arena;

  constructor(owner: ArenaState, slot: number, node: number, child: Arena) {
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

/** Any registration held in a heap's slot table. @internal */
export type Callback = ActionHandle | GroupHandle | Destructor | ChildLink;
/** What every registration has. @internal */
export type Registration = Callback;
