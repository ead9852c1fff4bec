// The page of index.html: the main entry, whose release core is inlined (no
// .wasm file to serve). Bundled by build.mjs into out/main.js.
import { Heap } from "managed-arena";
import { compute, show, showError } from "./compute.js";

compute(Heap).then(show, showError);
