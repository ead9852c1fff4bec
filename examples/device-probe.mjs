// A driver's probe() as a devres group: if it fails halfway, exactly what it set up is unwound.
// Run with `node examples/device-probe.mjs`.
import { Arena } from "../dist/index.js";

const describe = (s) => `${s.allocations} allocations, ${s.actions} actions, ${s.groups} groups, ${s.liveBytes} B live`;

// The trace option reports every node released, like the kernel's drm_dbg_drmres "REL" lines.
const trace = (e) => e.op === "rel" && console.log(`    REL ${e.kind} "${e.name}"${e.size ? ` (${e.size} B)` : ""}`);
const arena = await Arena.create({ name: "pci-0000:03:00.0", trace });
const hw = { regsMapped: false, clockOn: false, irq: null };
let irqLineBusy = true;
const ebusy = new Error("request_irq(17) failed: -EBUSY");

// Set up by the bus before probe() runs: a group failing later must leave it alone.
arena.alloc(256, { zero: true, name: "pci-config" });
arena.add(() => console.log("    pm-runtime-put: bus power reference dropped"), undefined, "pm-runtime-put");

function probe() {
  // group(fn) opens a group, runs fn, closes it; if fn throws, the group is released and the error rethrown.
  return arena.group((a) => {
    const dev = a.alloc(64, { zero: true, name: "my_device" });
    hw.regsMapped = true;
    a.add(() => (hw.regsMapped = false), undefined, "unmap-regs");
    hw.clockOn = true;
    a.add(() => (hw.clockOn = false), undefined, "disable-clock");
    // A destructor on an allocation runs at its newest-first place, with its memory still valid.
    const stopDma = () => console.log("    dma-ring: stopping DMA before the ring goes");
    a.alloc(4096, { name: "dma-ring", onRelease: stopDma });
    console.log(`  probe: regs mapped, clock on, DMA ring ready; requesting IRQ...`);
    if (irqLineBusy) throw ebusy;
    hw.irq = 17;
    a.add(() => (hw.irq = null), undefined, "free-irq");
    return dev;
  }, "probe");
}

const before = describe(arena.stats());
console.log(`before probe: ${before}`);
console.log("probe #1 (the IRQ line is busy):");
let failure;
try {
  probe();
} catch (err) {
  failure = err;
}
// Not wrapped or copied: the very Error that probe threw, so callers can match on it.
console.log(`  probe failed with: ${failure.message} (the same object: ${failure === ebusy})`);
console.log(`  hardware state now: ${JSON.stringify(hw)}`);
const after = describe(arena.stats());
console.log(`after failed probe: ${after} (same as before: ${after === before})`);

console.log("probe #2 (the IRQ line is free):");
irqLineBusy = false;
const dev = probe();
console.log(`  device struct at ${dev}; hardware state: ${JSON.stringify(hw)}`);
console.log(`after probe: ${describe(arena.stats())}`);
const order = arena.resources().map((r) => `${r.kind}:${r.name}`);
console.log(`  resources, newest first: ${order.join(", ")}`);

console.log("remove(): releasing the device arena, newest first:");
arena.release();
console.log(`  hardware state: ${JSON.stringify(hw)}; released: ${arena.released}`);
