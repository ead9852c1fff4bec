// Memory growth, as the host sees it. The core grows linear memory itself
// (memory.grow inside alloc) whenever an arena needs pages, and a plain
// WebAssembly memory then detaches its ArrayBuffer: every view made before,
// by arena.bytes(), arena.view() or by hand, reads as length 0 and drops
// writes (`v[0] = 42` is silently lost). Two answers, both opt-in:
//
// - onGrow(memory): the heap calls it once, before the call that grew memory
//   returns, after that call's work is done (so it may use the heap, and
//   views it rebuilds are current when the call returns). It is checked only
//   at the end of the calls that can take pages, and only on heaps that have
//   it: detecting growth costs one read of a one-byte probe view, which
//   reads as length 0 once its buffer is detached (reading memory.buffer
//   each time would be slower). Growth by someone else's memory.grow() is
//   noticed at the heap's next allocating call.
// - resizable: the memory's buffer becomes a resizable ArrayBuffer
//   (WebAssembly.Memory.prototype.toResizableBuffer: Node 26, Chromium 136+)
//   that grows in place, so fixed-length views of allocations survive
//   growth. Opt-in, because some Web APIs refuse views of a resizable buffer
//   (measured in Chromium 147: TextEncoder.encodeInto, crypto.getRandomValues
//   and new Blob throw TypeError; TextDecoder.decode accepts them).

/** Whether this runtime can make a memory's buffer resizable (`WebAssembly.Memory.prototype.toResizableBuffer`). */
export const canResize: boolean =
  typeof (WebAssembly.Memory.prototype as { toResizableBuffer?: unknown }).toResizableBuffer === "function";

/** Turns `memory`'s buffer into a resizable ArrayBuffer that grows in place (needs {@link canResize}). */
export function makeResizable(memory: WebAssembly.Memory): void {
  (memory as WebAssembly.Memory & { toResizableBuffer(): ArrayBuffer }).toResizableBuffer();
}

/** Calls `onGrow(memory)` after memory has grown, once per growing call. @internal */
export class GrowthWatch {
  private readonly memory: WebAssembly.Memory;
  private readonly onGrow: (memory: WebAssembly.Memory) => void;
  /** A fixed buffer: a one-byte view, length 0 once detached. A resizable one: unused. */
  private probe: Uint8Array;
  /** A resizable buffer's byte length when last seen (it never detaches). */
  private bytes: number;
  private readonly resizable: boolean;
  /** onGrow is running: growth during it is reported after it returns, not by a nested call. */
  private reporting = false;

  constructor(memory: WebAssembly.Memory, resizable: boolean, onGrow: (memory: WebAssembly.Memory) => void) {
    this.memory = memory;
    this.onGrow = onGrow;
    this.resizable = resizable;
    this.probe = new Uint8Array(memory.buffer, 0, 1);
    this.bytes = memory.buffer.byteLength;
  }

  /** Whether memory grew since the last look; updates the probe. */
  private grew(): boolean {
    if (this.resizable) {
      const bytes = this.probe.buffer.byteLength;
      if (bytes === this.bytes) return false;
      this.bytes = bytes;
      return true;
    }
    if (this.probe.length !== 0) return false;
    this.probe = new Uint8Array(this.memory.buffer, 0, 1);
    return true;
  }

  /**
   * Calls onGrow if memory grew, again while it grows during onGrow. Like a
   * tracer's, an error of onGrow is rethrown from a microtask: the call that
   * grew memory has done its work and returns its result.
   */
  notice(): void {
    if (this.reporting || !this.grew()) return;
    this.reporting = true;
    try {
      do {
        try {
          this.onGrow(this.memory);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      } while (this.grew());
    } finally {
      this.reporting = false;
    }
  }
}
