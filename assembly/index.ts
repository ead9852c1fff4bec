// The release core: every operation the facade calls, nothing else.
export {
  init, createArena, alloc, allocWithDestructor, allocArray, free, find, realloc, addAction, addCallback, removeCallback, popCallback, popRange,
  takeDestructor, detach, dropDying, beginRelease, endRelease, popActions, batchBuffer, closeGroup, setQuarantine,
} from "./arena";

import { firstPage, freeRuns, knownPages, mapCapacity, ownerMap, startMap } from "./chunks";
import { liveArenas } from "./arena";

const MAP_INFO = memory.data(28);

/**
 * For host-side pictures of memory (src/memory-map.ts): seven u32 at the
 * returned address — ownerMap, startMap, firstPage, mapCapacity, freeRuns,
 * liveArenas, knownPages.
 */
export function mapInfo(): usize {
  store<u32>(MAP_INFO, <u32>ownerMap, 0);
  store<u32>(MAP_INFO, <u32>startMap, 4);
  store<u32>(MAP_INFO, firstPage, 8);
  store<u32>(MAP_INFO, mapCapacity, 12);
  store<u32>(MAP_INFO, <u32>freeRuns, 16);
  store<u32>(MAP_INFO, <u32>liveArenas, 20);
  store<u32>(MAP_INFO, knownPages, 24);
  return MAP_INFO;
}
