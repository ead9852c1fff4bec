// The release core: every operation the facade calls, nothing else.
export {
  init, createArena, alloc, allocArray, free, find, realloc, addAction, removeAction, popAction, beginRelease,
  endRelease,
} from "./arena";
