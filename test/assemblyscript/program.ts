// An AssemblyScript program that uses managed-arena as a library (compiled by test/assemblyscript.test.ts).
import * as arenas from "managed-arena/assembly/embed";

export function run(): i32 {
  if (arenas.init(65535) != arenas.OK) return -1;
  const arena = arenas.createArena(4, u32.MAX_VALUE, 0);
  const names = new Array<string>();
  const ptrs = new StaticArray<usize>(2000);
  for (let i = 0; i < 2000; i++) {
    names.push("item " + i.toString());
    const ptr = arenas.alloc(arena, 100 + i * 37, 1, 0);
    if (ptr < arenas.STATUS_LIMIT) return -2;
    memory.fill(ptr, <u8>i, 100 + i * 37);
    ptrs[i] = ptr;
  }
  for (let i = 0; i < 2000; i++) if (load<u8>(ptrs[i] + 99) != <u8>i || names[i] != "item " + i.toString()) return -3;
  for (let i = 0; i < 2000; i += 2) if (arenas.free(arena, ptrs[i]) != arenas.OK) return -4;
  if (arenas.free(arena, ptrs[0]) != arenas.EBADPTR) return -5;
  if (arenas.check() != 0) return -6;
  arenas.addAction(arena, 7);
  arenas.beginRelease(arena);
  let ran = 0;
  for (let slot = arenas.popCallback(arena); slot >= 0; slot = arenas.popCallback(arena)) ran += slot;
  arenas.endRelease(arena, 0);
  if (ran != 7) return -7;
  return <i32>arenas.check();
}
