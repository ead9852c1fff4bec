// Registers the inlined release core (deflated, base64: src/generated/release-core.ts)
// with src/core.ts, for Heap.create without a `wasm` option. Imported for this
// side effect by the main entry (src/index.ts) and so by managed-arena/debug;
// managed-arena/slim does not import it, so a bundle of that entry carries no core.
import { registerReleaseCore } from "./core.js";
import { releaseCore } from "./generated/release-core.js";

registerReleaseCore(releaseCore);
