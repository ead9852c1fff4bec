// Errors: the one class the library throws for bad input or state, the status
// codes the core returns (their numbers match assembly/layout.ts), and the
// SuppressedError used to chain errors from release the way DisposableStack does.

/** The error codes of DESIGN.md §4. */
export type ArenaErrorCode = "EINVAL" | "EOVERFLOW" | "ENOMEM" | "EBADPTR" | "ESTALE" | "ERELEASED" | "EBUSY";

/** Status numbers of the core, indexed by code; 0 is OK. */
const CODES: readonly (ArenaErrorCode | undefined)[] = [
  undefined,
  "EINVAL",
  "EOVERFLOW",
  "ENOMEM",
  "EBADPTR",
  "ESTALE",
  "ERELEASED",
  "EBUSY",
];

/** Results of the core below this are status codes; every pointer lies above page 0. */
export const STATUS_LIMIT = 16;

/**
 * Everything managed-arena throws for bad input or state. `code` says which
 * rule was broken; a call that throws it has changed nothing.
 */
export class ArenaError extends Error {
  /** One of EINVAL, EOVERFLOW, ENOMEM, EBADPTR, ESTALE, ERELEASED, EBUSY. */
  readonly code: ArenaErrorCode;
  /** An error with `code`; the message starts with the code. */
  constructor(code: ArenaErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "ArenaError";
    this.code = code;
  }
}

/** The ArenaError for a status returned by the core; `more` is added after the code's own detail. */
export function statusError(status: number, what: string, more?: string): ArenaError {
  const code = CODES[status] ?? "EINVAL";
  return new ArenaError(code, `${what}: ${DETAIL[code]}${more === undefined ? "" : `; ${more}`}`);
}

const DETAIL: Record<ArenaErrorCode, string> = {
  EINVAL: "invalid argument",
  EOVERFLOW: "header + padding + size does not fit in 32 bits",
  ENOMEM: "out of memory (heap at maxPages, or arena over maxBytes)",
  EBADPTR: "not the start of a live allocation of this arena",
  ESTALE: "handle already released or removed, or of another arena",
  ERELEASED: "arena already released",
  EBUSY: "arena is releasing",
};

/** True for a number that is an integer in [0, 2^32-1]; JS→wasm would wrap anything else silently. */
export function isU32(value: unknown): value is number {
  return typeof value === "number" && value >>> 0 === value;
}

/** Throws EINVAL unless `value` is an integer in [0, 2^32-1]. */
export function checkU32(value: unknown, what: string): number {
  if (!isU32(value))
    throw new ArenaError("EINVAL", `${what} must be an integer in [0, 2^32-1], got ${describe(value)}`);
  return value;
}

/**
 * A function's `name`, read so that it cannot throw: "" when the property is
 * missing, not a string, or a getter that throws (user code must not be able
 * to make a registration half succeed through its name).
 */
export function functionName(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === "string" ? name : "";
  } catch {
    return "";
  }
}

/** A name as text shows it (messages, report()): an empty one, as an inline arrow function has, is "(anonymous)". */
export function shownName(name: string): string {
  return name === "" ? "(anonymous)" : name;
}

/** `word` after its indefinite article: "an ActionHandle", "a GroupHandle". */
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`;
}

/** A short, safe rendering of a bad argument for messages. */
export function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return `function ${functionName(value) || "(anonymous)"}`;
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value);
}

/** An error that suppressed another, as thrown by DisposableStack (ES2026). */
export interface SuppressedErrorLike extends Error {
  /** The newer error. */
  error: unknown;
  /** The earlier error (or chain) it suppressed. */
  suppressed: unknown;
}

class SuppressedErrorShim extends Error implements SuppressedErrorLike {
  error: unknown;
  suppressed: unknown;
  constructor(error: unknown, suppressed: unknown, message?: string) {
    super(message ?? "An error was suppressed during disposal.");
    this.name = "SuppressedError";
    this.error = error;
    this.suppressed = suppressed;
  }
}

/** The constructor of {@link SuppressedError}. */
export type SuppressedErrorClass = new (error: unknown, suppressed: unknown, message?: string) => SuppressedErrorLike;

/**
 * The global `SuppressedError` where the runtime has one (Node 24+), else a
 * compatible class: `error` is the newer error, `suppressed` the earlier chain.
 */
export const SuppressedError: SuppressedErrorClass =
  (globalThis as { SuppressedError?: SuppressedErrorClass }).SuppressedError ?? SuppressedErrorShim;

/** Folds `error` into what a release has thrown so far, DisposableStack style. */
export function chainError(thrown: unknown, hasThrown: boolean, error: unknown): unknown {
  return hasThrown ? new SuppressedError(error, thrown) : error;
}
