// managed-arena: a WebAssembly-backed arena allocator with managed release
// lists, modelled on the Linux kernel's devres / drm_managed. This entry is
// managed-arena/slim (the facade) plus the release core, inlined (deflated,
// base64) and registered by src/release-core.ts.
import "./release-core.js";

export * from "./slim.js";
