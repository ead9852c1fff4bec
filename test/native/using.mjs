// `using` and `await using` with arenas, as real syntax: this file is plain
// JavaScript that no tool transforms. test/native-using.test.ts runs it with
// Node 24 and 26 (and checks that Node 20 cannot even parse it) and asserts
// what it prints: one JSON object of observations.
//
// It imports the package by its own name, the debug entry (a self-reference through the
// `exports` map), so it runs the built dist/ exactly as a user would: build
// first (`npm test` does).
import { ArenaError, Heap, SuppressedError } from "managed-arena/debug";

const heap = await Heap.create({ debug: true });
const out = {};

/** A short description of a thrown value: its message, or a SuppressedError's tree. */
function shape(e) {
  if (e instanceof globalThis.SuppressedError) {
    return { suppressedError: true, error: shape(e.error), suppressed: shape(e.suppressed) };
  }
  return e instanceof Error ? e.message : String(e);
}

function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    return e instanceof ArenaError ? e.code : `not an ArenaError: ${e}`;
  }
  return "no error";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The package's SuppressedError is the runtime's own, and arenas are disposables.
out.globals = {
  suppressedErrorIsGlobal: SuppressedError === globalThis.SuppressedError,
  disposableStack: typeof DisposableStack,
  asyncDisposableStack: typeof AsyncDisposableStack,
};

// using: the arena is released at the end of its block, its actions newest-first;
// several declarations are disposed in reverse order of declaration.
{
  const log = [];
  let first;
  let second;
  {
    using a = heap.createArena({ name: "a" });
    first = a;
    a.add(() => log.push("a:1"));
    a.alloc(64);
    a.add(() => log.push("a:2"));
    using b = heap.createArena({ name: "b" });
    second = b;
    b.add(() => log.push("b:1"));
    b.alloc(1000);
    log.push("body");
  }
  out.using = {
    log,
    released: [first.released, second.released],
    afterUse: codeOf(() => first.alloc(8)),
    symbols: {
      dispose: typeof first[Symbol.dispose],
      asyncDispose: typeof first[Symbol.asyncDispose],
      disposeDescription: Symbol.dispose.description,
    },
  };
}

// Each iteration of `for (using ...)` gets an arena, released before the next one starts.
{
  const log = [];
  const requests = function* () {
    for (let i = 0; i < 3; i++) {
      const arena = heap.createArena({ name: `request-${i}` });
      arena.add(() => log.push(`end ${i}`));
      yield arena;
    }
  };
  for (using request of requests()) {
    request.strdup(`payload of ${request.name}`);
    log.push(`handle ${request.name}`);
  }
  out.forUsing = { log };
}

// The block's error and a release error combine into the runtime's SuppressedError:
// `error` is the disposal's, `suppressed` the block's.
{
  const bodyError = new Error("body");
  let caught;
  try {
    using arena = heap.createArena();
    arena.add(() => {
      throw new Error("action");
    });
    throw bodyError;
  } catch (e) {
    caught = e;
  }
  out.bodyAndAction = {
    shape: shape(caught),
    isGlobalSuppressedError: caught instanceof globalThis.SuppressedError,
    suppressedIsBodyError: caught?.suppressed === bodyError,
  };
}

// Several throwing actions: release() chains them exactly as DisposableStack does.
{
  let fromArena;
  try {
    using arena = heap.createArena();
    arena.add(() => {
      throw new Error("older");
    });
    arena.add(() => {
      throw new Error("newer");
    });
  } catch (e) {
    fromArena = e;
  }
  let fromStack;
  try {
    using stack = new DisposableStack();
    stack.defer(() => {
      throw new Error("older");
    });
    stack.defer(() => {
      throw new Error("newer");
    });
  } catch (e) {
    fromStack = e;
  }
  out.chain = {
    arena: shape(fromArena),
    stack: shape(fromStack),
    sameClass: fromArena?.constructor === fromStack?.constructor,
  };
}

// An arena inside a DisposableStack: released at its place among the stack's disposables,
// and its error chained with theirs.
{
  const log = [];
  let caught;
  try {
    using stack = new DisposableStack();
    stack.defer(() => {
      log.push("deferred before");
      throw new Error("deferred");
    });
    const arena = stack.use(heap.createArena({ name: "in-stack" }));
    arena.add(() => log.push("arena:1"));
    arena.add(() => {
      log.push("arena:2");
      throw new Error("arena action");
    });
    stack.adopt(7, (fd) => log.push(`close ${fd}`));
  } catch (e) {
    caught = e;
  }
  out.disposableStack = { log, shape: shape(caught) };
}

// A DisposableStack moved out of a block keeps the arena alive; disposing it later releases it.
{
  const log = [];
  let keep;
  let arenaRef;
  {
    using stack = new DisposableStack();
    arenaRef = stack.use(heap.createArena({ name: "moved" }));
    arenaRef.add(() => log.push("released"));
    keep = stack.move();
  }
  log.push(`after block: released=${arenaRef.released}`);
  keep.dispose();
  log.push(`after dispose: released=${arenaRef.released}`);
  out.move = { log };
}

// retain(): a `using` of a retained arena drops one reference; the arena outlives the block.
{
  const log = [];
  const arena = heap.createArena({ name: "shared" });
  arena.add(() => log.push("torn down"));
  {
    using ref = arena.retain();
    ref.alloc(16);
    log.push("inner");
  }
  log.push(`after block: released=${arena.released}`);
  arena.release();
  log.push(`after release: released=${arena.released}`);
  out.retain = { log };
}

// await using: Symbol.asyncDispose awaits each action newest-first, one at a time.
{
  const log = [];
  {
    await using arena = heap.createArena({ name: "async" });
    arena.add(async () => {
      log.push("older start");
      await sleep(5);
      log.push("older end");
    });
    arena.add(() => log.push("sync"));
    arena.add(async () => {
      log.push("newer start");
      await sleep(10);
      log.push("newer end");
    });
    log.push("body");
  }
  log.push("after block");
  out.awaitUsing = { log };
}

// await using with a rejecting action and a throwing block: the runtime's SuppressedError.
{
  const bodyError = new Error("body");
  let caught;
  try {
    await using arena = heap.createArena();
    arena.add(async () => {
      await sleep(1);
      throw new Error("async action");
    });
    throw bodyError;
  } catch (e) {
    caught = e;
  }
  out.awaitUsingError = {
    shape: shape(caught),
    isGlobalSuppressedError: caught instanceof globalThis.SuppressedError,
  };
}

// AsyncDisposableStack: use() picks the arena's Symbol.asyncDispose, in order with the stack's callbacks.
{
  const log = [];
  {
    await using stack = new AsyncDisposableStack();
    stack.defer(async () => {
      await sleep(1);
      log.push("deferred");
    });
    const arena = stack.use(heap.createArena({ name: "async-stack" }));
    arena.add(async () => {
      await sleep(5);
      log.push("arena action");
    });
    const child = arena.createChild({ name: "child" });
    child.add(() => log.push("child action"));
    arena.add(() => log.push("arena newest"));
  }
  out.asyncDisposableStack = { log };
}

out.heap = { check: heap.check() };
console.log(JSON.stringify(out));
