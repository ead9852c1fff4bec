// Options objects: read once, own properties only, every name known.
//
// An options object is user data the library does not control: a getter can
// answer differently each time it is read (pass validation, then return
// something else), and a property inherited from a polluted
// Object.prototype would change every call that omits it. So each options
// object is copied exactly once, own enumerable string keys only, into a
// null-prototype record that the caller validates and uses; a name the
// callee does not know (`maxPage`, `aling`) is EINVAL, as an unknown value is.

import { ArenaError, describe } from "./errors.js";

/** A validated snapshot of an options object: the names in `K`, each read once. */
export type Snapshot<K extends string> = { readonly [P in K]?: unknown };

/** The snapshot of no options, shared: most calls pass none, and it is never written. */
const NO_OPTIONS: Snapshot<never> = Object.freeze(Object.create(null));

/**
 * Copies `value`'s own enumerable properties once (undefined: none), or
 * throws EINVAL when it is not an object or names an option not in `names`.
 * A property whose value is `undefined` counts as absent.
 */
export function readOptions<K extends string>(value: unknown, what: string, names: readonly K[]): Snapshot<K> {
  if (value === undefined) return NO_OPTIONS;
  const snapshot: Record<string, unknown> = Object.create(null);
  if (value === null || typeof value !== "object") {
    throw new ArenaError("EINVAL", `${what} must be an object, got ${describe(value)}`);
  }
  const keys = Object.keys(value);
  for (const key of keys) {
    if (!(names as readonly string[]).includes(key)) {
      throw new ArenaError("EINVAL", `${what}: unknown option ${JSON.stringify(key)} (known: ${names.join(", ")})`);
    }
  }
  for (const key of keys) {
    const option = (value as Record<string, unknown>)[key];
    if (option !== undefined) snapshot[key] = option;
  }
  return snapshot as Snapshot<K>;
}
