// Handles: what `add` returns. A handle is a fresh object per registration
// and names a slot of its heap's table; the table entry is replaced when the
// slot is reused, so the identity check `slots[slot] === handle` is the
// generation check: a stale handle is detected and never confused with a
// newer action in the same slot or at the same node address.

import type { Arena } from "./arena.js";

let generations = 0;

/** An action registered with {@link Arena.add}; opaque, generation-checked. */
export class ActionHandle {
  /** @internal */ readonly arena: Arena;
  /** @internal */ readonly slot: number;
  /** Registration number, unique per process; shown in messages and traces. */
  readonly generation: number;
  /** @internal */ readonly action: (data: never) => unknown;
  /** @internal */ readonly data: unknown;
  /** @internal */ readonly label: string | undefined;
  /** The action's node in linear memory; 0 once unregistered. @internal */
  node = 0;

  /** @internal */
  constructor(arena: Arena, slot: number, action: (data: never) => unknown, data: unknown, label: string | undefined) {
    this.arena = arena;
    this.slot = slot;
    this.generation = ++generations;
    this.action = action;
    this.data = data;
    this.label = label;
  }

  /** The action's name: the one given to `add`, else `action.name`. */
  get name(): string {
    return this.label ?? this.action.name;
  }
}
