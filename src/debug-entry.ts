// managed-arena/debug: everything of the main entry, plus the debug core
// (assertions on, heap.check()) registered so that Heap.create({ debug: true })
// works. It is an entry of its own because the debug core is about 22 KB of
// base64 even deflated: an app that imports only "managed-arena" bundles the
// release core alone. Importing this module once, anywhere, is enough: it
// registers the core with the one src/core.ts both entries share.
import { registerDebugCore } from "./core.js";
import { debugCore } from "./generated/debug-core.js";
import { sharedDebugWasm } from "./generated/shared-debug-wasm.js";
import { sharedWasm } from "./generated/shared-wasm.js";
import { installShared } from "./shared-core.js";

registerDebugCore(debugCore);
// And shared heaps, with both shared cores (managed-arena/shared has the release one only).
installShared(sharedWasm, sharedDebugWasm);

export * from "./index.js";
