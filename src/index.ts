// managed-arena: a WebAssembly-backed arena allocator with managed release
// lists, modelled on the Linux kernel's devres / drm_managed. This entry is
// managed-arena/slim (the facade) plus the release core, inlined (deflated,
// base64) and registered by src/release-core.ts, and the shared core
// (DESIGN §7), loaded by a dynamic import when Heap.create({ shared: true })
// or Heap.attach first needs it: Node and unbundled pages never load it
// otherwise, and a bundler that splits code (Vite, Rollup, webpack, esbuild
// --splitting) puts it in a chunk of its own. (esbuild without splitting
// inlines it: test/bundle.test.ts measures that bundle.)
import "./release-core.js";
import { registerSharedLoader } from "./shared.js";

registerSharedLoader(() => import("./shared-release.js"));

export * from "./slim.js";
