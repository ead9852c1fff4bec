// The release core: every operation the facade calls, nothing else.
export {
  init, createArena, alloc, allocWithDestructor, allocArray, free, find, realloc, addAction, addCallback, removeCallback, popCallback, popRange,
  takeDestructor, detach, dropDying, beginRelease, endRelease, popActions, batchBuffer, closeGroup, setQuarantine,
} from "./arena";

import { firstPage, freeRuns, knownPages, mapCapacity, ownerMap, startMap } from "./chunks";
import { liveArenas, mapInfoAt } from "./arena";
import { lock, S_THREAD_BLOCKS, SHARED, STATE, unlock } from "./threads";
import { flushCaches } from "./cache";

const MAP_INFO = memory.data(SHARED ? 32 : 28);

/**
 * For host-side pictures of memory (src/memory-map.ts): seven u32 at the
 * returned address — ownerMap, startMap, firstPage, mapCapacity, freeRuns,
 * liveArenas, knownPages; on a shared heap an eighth, the newest thread's
 * cache block, whose list of live arenas and `next` lead to every live
 * arena (liveArenas is 0 there: assembly/cache.ts). A shared heap flushes
 * every thread's cache first, so that the pages read are exactly those that
 * arenas hold.
 */
export function mapInfo(): usize {
  // A shared heap's threads each have their own words (the creator the static ones).
  const info = SHARED && mapInfoAt ? mapInfoAt : MAP_INFO;
  lock();
  if (SHARED) {
    flushCaches();
    store<u32>(info, load<u32>(STATE, S_THREAD_BLOCKS), 28);
  }
  store<u32>(info, <u32>ownerMap, 0);
  store<u32>(info, <u32>startMap, 4);
  store<u32>(info, firstPage, 8);
  store<u32>(info, mapCapacity, 12);
  store<u32>(info, <u32>freeRuns, 16);
  store<u32>(info, <u32>liveArenas, 20);
  store<u32>(info, knownPages, 24);
  unlock();
  return info;
}
