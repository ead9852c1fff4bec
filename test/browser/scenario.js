// Runs in the page: the built package (dist/index.js and what it imports)
// loaded as plain ES modules, the core's wasm inlined (no fetch). A scenario
// of allocations, actions, a group, a child, a destructor, release order and
// error codes; the results go to window.results for the test to assert.
import { ArenaError, Heap, SuppressedError } from "../../dist/index.js";

/** The code of the ArenaError `fn` throws, "none" if it returns. */
function codeOf(fn) {
  try {
    fn();
    return "none";
  } catch (error) {
    return error instanceof ArenaError ? error.code : `not an ArenaError: ${error}`;
  }
}

async function scenario() {
  const heap = await Heap.create({ maxPages: 32 });
  const pagesBefore = heap.memory.buffer.byteLength / 65536;
  const arena = heap.createArena({ name: "page" });
  const order = [];

  // Allocations.
  const small = arena.alloc(100);
  arena.bytes(small).set([1, 2, 3, 4]);
  const aligned = arena.alloc(3000, { align: 1024 });
  const zeroed = arena.allocZeroed(64);
  const array = arena.allocArray(10, 12);
  const text = arena.strdup("héllo, wörld ✓");
  const large = arena.alloc(100_000, { zero: true });

  // Actions, a destructor, a child and a group, in this order.
  arena.add(() => order.push("close-socket"), undefined, "close-socket");
  arena.alloc(32, { name: "with-destructor", onRelease: () => order.push("destructor") });
  const child = arena.createChild({ name: "child" });
  child.add(() => order.push("child-action"));
  child.alloc(500);
  const inGroup = arena.group((a) => {
    a.add(() => order.push("group-action"), undefined, "group-action");
    return a.alloc(8);
  }, "probe");
  const removed = arena.add(() => order.push("removed"));
  arena.removeAction(removed);
  const released = arena.add(() => order.push("released-early"));
  arena.releaseAction(released);
  arena.add(() => order.push("last"), undefined, "last");

  // Error codes.
  arena.free(array);
  const codes = {
    doubleFree: codeOf(() => arena.free(array)),
    interior: codeOf(() => arena.free(small + 8)),
    negative: codeOf(() => arena.alloc(-1)),
    wraps: codeOf(() => arena.alloc(2 ** 32 + 16)),
    overflow: codeOf(() => arena.allocArray(2 ** 20, 2 ** 20)),
    stale: codeOf(() => arena.removeAction(removed)),
    heapFull: codeOf(() => arena.alloc(64 * 65536)),
    badAlign: codeOf(() => arena.alloc(8, { align: 3 })),
  };

  const stats = arena.stats();
  const report = arena.report();
  const resources = arena.resources().map((r) => `${r.kind}:${r.name}`);
  const contents = {
    small: [...arena.bytes(small, 4)],
    zeroed: arena.bytes(zeroed).every((b) => b === 0),
    large: arena.sizeOf(large),
    text: arena.readString(text),
    inGroup: arena.sizeOf(inGroup),
  };
  const pagesAfter = heap.memory.buffer.byteLength / 65536;

  arena.release();
  codes.afterRelease = codeOf(() => arena.alloc(1));

  // Two actions that throw: a SuppressedError chain, as DisposableStack builds it.
  const failing = heap.createArena({ name: "failing" });
  failing.add(() => {
    throw new Error("first added");
  });
  failing.add(() => {
    throw new Error("second added");
  });
  let chained;
  try {
    failing.release();
  } catch (error) {
    chained = {
      suppressedError: error instanceof SuppressedError,
      error: error.error?.message,
      suppressed: error.suppressed?.message,
    };
  }

  return {
    userAgent: navigator.userAgent,
    node: typeof process !== "undefined",
    pointers: { small, aligned, alignedOk: aligned % 1024 === 0, large },
    pagesBefore,
    pagesAfter,
    contents,
    stats,
    resources,
    report,
    order,
    released: arena.released && child.released,
    codes,
    chained,
  };
}

/** Growth in the page: onGrow, and views that survive it on a resizable heap (Chromium 136+). */
async function growth() {
  const grown = [];
  const heap = await Heap.create({
    resizable: Heap.canResize,
    onGrow: (memory) => grown.push(memory.buffer.byteLength),
  });
  const arena = heap.createArena();
  const ptr = arena.strdup("kept");
  const view = arena.view(ptr, Uint8Array);
  grown.length = 0;
  const pages = heap.memory.buffer.byteLength / 65536;
  arena.alloc(8 * 65536);
  view[0] = "K".charCodeAt(0);
  return {
    canResize: Heap.canResize,
    resizable: heap.resizable,
    reported: grown.length === 1 && grown[0] === heap.memory.buffer.byteLength,
    grewPages: heap.memory.buffer.byteLength / 65536 - pages,
    viewLength: view.length,
    text: arena.readString(ptr),
  };
}

try {
  window.results = { ...(await scenario()), growth: await growth() };
} catch (error) {
  window.results = { error: String(error?.stack ?? error) };
}
document.getElementById("results").textContent = JSON.stringify(window.results, null, 2);
