// The page of slim.html: managed-arena/slim, which inlines no core, with the
// core fetched from core.wasm beside the bundle (build.mjs copies it from
// "managed-arena/core.wasm") and compiled while it streams in. Bundled by
// build.mjs into out/slim.js.
import { Heap } from "managed-arena/slim";
import { compute, show, showError } from "./compute.js";

compute(Heap, { wasm: new URL("./core.wasm", import.meta.url) }).then(show, showError);
