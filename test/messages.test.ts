// What the messages of errors and reports say, beyond their codes: the call
// that failed by its own name, the arena that owns a pointer freed in the
// wrong arena, the limit that ENOMEM hit, a readable name for an anonymous
// action (also in the memory map's tooltips), and the right article before a
// type's name.
import { describe, expect, it } from "vitest";
import { Arena, ArenaError, Heap, type Ptr, renderMemoryMap, type TraceEvent } from "../src/index.js";
import { exhaust } from "./helpers.js";

/** The ArenaError `fn` throws; fails if it throws something else or nothing. */
function thrown(fn: () => unknown): ArenaError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ArenaError) return error;
    throw error;
  }
  throw new Error("expected an ArenaError, nothing was thrown");
}

const hex = (ptr: number) => `0x${ptr.toString(16)}`;

describe("a call that fails names itself", () => {
  it("readString and bytes of a freed pointer say readString / bytes, not sizeOf", async () => {
    const arena = await Arena.create({ name: "strings" });
    const ptr = arena.strdup("gone");
    arena.free(ptr);
    const read = thrown(() => arena.readString(ptr));
    expect(read.code).toBe("EBADPTR");
    expect(read.message).toMatch(new RegExp(`^EBADPTR: readString\\(${hex(ptr)}\\): `));
    const bytes = thrown(() => arena.bytes(ptr));
    expect(bytes.code).toBe("EBADPTR");
    expect(bytes.message).toMatch(new RegExp(`^EBADPTR: bytes\\(${hex(ptr)}\\): `));
    expect(thrown(() => arena.bytes(ptr, 2)).message).toMatch(/^EBADPTR: bytes\(/);
    expect(thrown(() => arena.sizeOf(ptr)).message).toMatch(/^EBADPTR: sizeOf\(/);
    arena.release();
  });
});

describe("free() of a live allocation of another arena of the same heap names its owner", () => {
  async function twoArenas(options: { trace?: (event: TraceEvent) => void } = {}) {
    const heap = await Heap.create({ debug: true });
    return { heap, mine: heap.createArena({ name: "mine", ...options }), other: heap.createArena({ name: "other" }) };
  }

  it("a small allocation, a large run, a child arena's allocation", async () => {
    const { heap, mine, other } = await twoArenas();
    const small = other.alloc(24);
    const large = other.alloc(100_000);
    const child = mine.createChild({ name: "mine/child" });
    const kid = child.alloc(8);
    for (const [ptr, owner] of [
      [small, "other"],
      [large, "other"],
      [kid, "mine/child"],
    ] as const) {
      const error = thrown(() => mine.free(ptr));
      expect(error.code).toBe("EBADPTR");
      expect(error.message).toBe(
        `EBADPTR: free(${hex(ptr)}): not the start of a live allocation of this arena; ` +
          `it is a live allocation of arena ${JSON.stringify(owner)}`,
      );
    }
    // Nothing changed: each is still its owner's, and frees there.
    expect(other.sizeOf(small)).toBe(24);
    other.free(small);
    other.free(large);
    child.free(kid);
    expect(heap.check()).toBe(0);
    mine.release();
    other.release();
  });

  it("also from a traced arena and one with named allocations (the slower free paths)", async () => {
    const events: TraceEvent[] = [];
    const { mine, other } = await twoArenas({ trace: (event) => events.push(event) });
    const ptr = other.alloc(16);
    expect(thrown(() => mine.free(ptr)).message).toContain('it is a live allocation of arena "other"');
    const named = await twoArenas();
    named.mine.alloc(8, { name: "tag" });
    const theirs = named.other.alloc(8);
    expect(thrown(() => named.mine.free(theirs)).message).toContain('it is a live allocation of arena "other"');
  });

  it("names no owner for what is nobody's live allocation: freed, interior, released, on another heap", async () => {
    const { heap, mine, other } = await twoArenas();
    const freed = other.alloc(16);
    other.free(freed);
    const interior = other.alloc(64) + 16;
    const gone = heap.createArena({ name: "gone" });
    const released = gone.alloc(16);
    gone.release();
    const elsewhere = (await Heap.create()).createArena({ name: "elsewhere" }).alloc(16);
    for (const ptr of [freed, interior, released, elsewhere, 8, 2 ** 32 - 16]) {
      const error = thrown(() => mine.free(ptr as Ptr));
      expect(error.code).toBe("EBADPTR");
      expect(error.message).toBe(`EBADPTR: free(${hex(ptr)}): not the start of a live allocation of this arena`);
    }
  });

  it("follows arena records as they are reused: the name is the current owner's", async () => {
    const heap = await Heap.create();
    const mine = heap.createArena({ name: "mine" });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const arena = heap.createArena({ name: `generation-${i}` });
      const ptr = arena.alloc(32);
      names.push(thrown(() => mine.free(ptr)).message.replace(/^.*arena /, ""));
      arena.release();
    }
    expect(names).toEqual(['"generation-0"', '"generation-1"', '"generation-2"', '"generation-3"']);
  });
});

describe("an anonymous action", () => {
  it("is (anonymous) in report() and in messages, and keeps its empty name in resources() and traces", async () => {
    const events: TraceEvent[] = [];
    const arena = await Arena.create({ name: "anon" });
    const traced = arena.createChild({ name: "traced", trace: (event) => events.push(event) });
    const handle = arena.add(() => {});
    traced.add(() => {});
    expect(arena.report()).toMatch(/^ {2}action \(anonymous\)$/m);
    expect(arena.report()).not.toContain('action ""');
    const svg = renderMemoryMap(arena);
    expect(svg).toContain("action (anonymous) of &quot;anon&quot;");
    expect(svg).not.toContain("action &quot;&quot; of");
    expect(arena.resources().find((r) => r.kind === "action")?.name).toBe("");
    expect(events.find((e) => e.kind === "action")?.name).toBe("");
    arena.removeAction(handle);
    const stale = thrown(() => arena.removeAction(handle));
    expect(stale.code).toBe("ESTALE");
    expect(stale.message).toMatch(/^ESTALE: removeAction: \(anonymous\) \(#\d+\) is not registered here$/);
    // A name given to add() is shown as given.
    const named = arena.add(() => {}, undefined, "close");
    arena.releaseAction(named);
    expect(thrown(() => arena.releaseAction(named)).message).toMatch(/releaseAction: close \(#\d+\)/);
    arena.release();
    expect(events.filter((e) => e.kind === "action").map((e) => e.name)).toEqual(["", ""]);
  });
});

describe("a handle of the wrong type", () => {
  it("takes the right article: an ActionHandle, a GroupHandle", async () => {
    const arena = await Arena.create();
    const group = arena.openGroup("g");
    expect(thrown(() => arena.removeAction(group as never)).message).toBe(
      "EINVAL: removeAction: expected an ActionHandle, got [object Object]",
    );
    expect(thrown(() => arena.releaseGroup({} as never)).message).toBe(
      "EINVAL: releaseGroup: expected a GroupHandle, got [object Object]",
    );
    arena.release();
  });
});

describe("ENOMEM says which limit was hit", () => {
  it("the arena's maxBytes, with the number and liveBytes", async () => {
    const arena = await Arena.create({ name: "small", maxBytes: 100 });
    const ptr = arena.alloc(60);
    const cases: [() => unknown, string, number][] = [
      [() => arena.alloc(41), "alloc(41)", 41],
      [() => arena.alloc(41, { zero: true }), "alloc(41)", 41],
      [() => arena.alloc(41, { onRelease: () => {} }), "alloc(41)", 41],
      [() => arena.allocZeroed(50), "allocZeroed(50)", 50],
      [() => arena.allocArray(5, 10), "allocArray(5, 10)", 50],
      [() => arena.dup(new Uint8Array(41)), "alloc(41)", 41],
      [() => arena.realloc(ptr, 101), `realloc(${hex(ptr)}, 101)`, 41],
    ];
    for (const [call, what, more] of cases) {
      const error = thrown(call);
      expect(error.code).toBe("ENOMEM");
      expect(error.message).toBe(
        `ENOMEM: ${what}: arena "small" would go over its maxBytes 100 (liveBytes 60, this call needs ${more} more)`,
      );
    }
    expect(arena.stats().liveBytes).toBe(60);
    arena.release();
  });

  it("the heap's maxPages, with the number", async () => {
    const heap = await Heap.create({ maxPages: 8 });
    const arena = heap.createArena({ name: "big", maxBytes: 1 << 30 });
    const error = thrown(() => arena.alloc(8 * 65536));
    expect(error.code).toBe("ENOMEM");
    expect(error.message).toMatch(
      /^ENOMEM: alloc\(524288\): the heap cannot grow past its maxPages 8 \(it has \d+ pages of 64 KiB\)$/,
    );
    const full = heap.createArena({ name: "full" });
    exhaust(full);
    const pages = /\(it has \d+ pages of 64 KiB\)$/;
    // Each call again until it fails: what one kind of block leaves over may still serve another.
    const untilFull = (call: () => unknown): ArenaError => {
      for (let n = 0; n < 100_000; n++) {
        try {
          call();
        } catch (error) {
          if (error instanceof ArenaError) return error;
          throw error;
        }
      }
      throw new Error("never ran out of memory");
    };
    for (const [call, what] of [
      [() => full.alloc(16), "alloc(16)"],
      [() => full.add(() => {}), "add((anonymous))"],
      [() => full.add(function close() {}), "add(close)"],
      [() => full.openGroup("g"), 'openGroup("g")'],
      [() => full.createChild({ name: "kid" }), 'createChild("kid")'],
      [() => heap.createArena({ name: "late" }), 'createArena("late")'],
    ] as const) {
      const e = untilFull(call);
      expect(e.code, what).toBe("ENOMEM");
      expect(e.message, what).toMatch(
        new RegExp(`^ENOMEM: ${literally(what)}: the heap cannot grow past its maxPages 8 `),
      );
      expect(e.message, what).toMatch(pages);
    }
    full.release();
  });
});

function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
