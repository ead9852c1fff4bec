// Hot-unplug, the drm_managed story: hardware resources die with the device, but the user-facing
// object lives on while open file handles reference it. Run with `node examples/hot-unplug.mjs`.
import { Heap } from "../dist/index.js";

const heap = await Heap.create();
const show = (a, s = !a.released && a.stats()) =>
  `"${a.name}": released=${a.released}` +
  (s ? ` (${s.allocations} allocations, ${s.actions} actions, ${s.liveBytes} B live)` : "");
const status = (step) => console.log(`${step}\n    ${show(device)}\n    ${show(card)}`);

// Two separate arenas on one heap. The card must NOT be a child of the device arena (that is the
// devm bug drm_managed fixes): a child would be torn down at unplug under the open files' feet.
const device = heap.createArena({ name: "devm: 0000:03:00.0" }); // like devm_*: lives until unbind
const card = heap.createArena({ name: "drmm: card0" }); // like drm_device: lives until the last drm_dev_put

let name;
function probe() {
  device.alloc(4096, { name: "mmio-shadow" });
  device.add(() => console.log("    [device] iounmap(regs)"), undefined, "unmap-mmio");
  device.add(() => console.log("    [device] free_irq(17)"), undefined, "free-irq");
  // The user-facing state touches no hardware, so it may safely outlive the device.
  name = card.strdup("card0: Example GPU");
  card.alloc(1024, { zero: true, name: "mode-config" });
  card.add(() => console.log("    [card] mode config cleaned up"), undefined, "mode-config-cleanup");
  card.add(() => console.log("    [card] minor card0 freed"), undefined, "drm-minor-free");
}

// Each open file takes a reference to the card (drm_dev_get); close drops it (drm_dev_put).
function open(path) {
  card.retain();
  return {
    path,
    ioctl() {
      // drm_dev_enter(): once the device is gone, talk to no hardware, answer -ENODEV instead.
      return device.released ? "-ENODEV" : "ok";
    },
    close() {
      card.release();
    },
  };
}

probe();
status("1. probe");
const f1 = open("/dev/dri/card0");
const f2 = open("/dev/dri/card0");
status(`2. two files opened (card refs: driver + 2 files); ioctl on file 1: ${f1.ioctl()}`);

console.log("3. unplug: the device arena is released, the driver drops its own card reference");
device.release();
card.release(); // drm_dev_put in remove(); the two open files still hold references
// The card's memory is still valid, so an open file can still read it; only hardware access fails.
status(`   after unplug: card actions not run; file 2 reads "${card.readString(name)}", ioctl: ${f2.ioctl()}`);

console.log("4. file 1 closed (card refs: file 2 only)");
f1.close();
status("   after close of file 1");

console.log("5. file 2 closed: last reference gone, the card tears down newest-first");
f2.close();
status("   after close of file 2");
console.log(`heap memory: ${heap.memory.buffer.byteLength / 65536} pages`);
