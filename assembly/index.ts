// The release core: every operation the facade calls, nothing else.
export {
  init, createArena, alloc, allocWithDestructor, allocArray, free, find, realloc, addAction, addCallback, removeCallback, popCallback, popRange,
  takeDestructor, dropDying, beginRelease, endRelease,
} from "./arena";
