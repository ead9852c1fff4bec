// managed-arena/shared: everything of the main entry, plus the shared release
// core (wasm threads) registered so that Heap.create({ shared: true }) works.
// An entry of its own, as managed-arena/debug is, so that an app that never
// shares a heap does not bundle a second core. Importing it once, anywhere,
// in each thread that creates or attaches to a shared heap is enough.
import "./shared-release.js";

export * from "./index.js";
