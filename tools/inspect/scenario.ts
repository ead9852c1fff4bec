// The built-in scenario of `managed-arena inspect`: a GPU-like device with a
// probe group, a destructor and a child arena for its video memory, a network
// stack whose packet buffers were partly freed (free blocks on its free
// lists) and a large ring of its own, a scratch arena with 64-byte alignment
// (padding), and an arena released before the picture (its runs of slots are
// free again).

import type { Arena, Heap } from "managed-arena";

/** Sets up the scenario on `heap`; returns its top-level arenas (children are reached through them). */
export function builtInScenario(heap: Heap): Arena[] {
  const noop = () => {};

  const gpu = heap.createArena({ name: "gpu0" });
  gpu.alloc(256, { zero: true, name: "pci-config" });
  gpu.add(noop, undefined, "pm-runtime-put");
  gpu.group((a) => {
    a.alloc(64, { zero: true, name: "regs" });
    a.add(noop, undefined, "unmap-regs");
    a.alloc(4096, { name: "dma-ring", onRelease: noop });
    a.add(noop, undefined, "free-irq");
  }, "probe");
  gpu.alloc(40 * 1024, { name: "firmware" });
  const vram = gpu.createChild({ name: "gpu0/vram", minAlign: 256 });
  for (const size of [4096, 1000, 12000, 300, 2048]) vram.alloc(size, { name: "bo" });

  const net = heap.createArena({ name: "net" });
  const packets = [64, 1500, 128, 576, 1500, 64, 256, 1500, 900, 64, 1500, 128].map((size) =>
    net.alloc(size, { name: "skb" }),
  );
  packets.forEach((ptr, i) => {
    if (i % 3 === 2) net.free(ptr);
  });
  net.strdup("eth0");
  net.add(noop, undefined, "netdev-unregister");
  net.alloc(150 * 1024, { name: "rx-ring" });

  const scratch = heap.createArena({ name: "scratch", minAlign: 64 });
  for (const size of [8, 24, 100, 40, 200]) scratch.alloc(size);
  scratch.alloc(0, { name: "empty" });
  scratch.alloc(3000, { align: 1024, name: "aligned-1k" });

  const gone = heap.createArena({ name: "request-42" });
  gone.alloc(20 * 1024);
  gone.alloc(30 * 1024);
  gone.release();

  return [gpu, net, scratch];
}
