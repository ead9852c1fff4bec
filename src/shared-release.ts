// The shared release core (wasm threads), registered with src/shared.ts so
// that Heap.create({ shared: true }) and Heap.attach work: imported by
// managed-arena/shared (src/shared-entry.ts) and, on first use of a shared
// heap, by the main entry's dynamic import (src/index.ts).
import { sharedWasm } from "./generated/shared-wasm.js";
import { installShared } from "./shared-core.js";

installShared(sharedWasm);
