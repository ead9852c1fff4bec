// Runs in the page: renders the built-in scenario of `managed-arena inspect`
// with renderMemoryMap, parses the SVG with the browser's XML parser and
// shows it; the counts go to window.results for the test to assert.
import * as pkg from "../../dist/index.js";
// The scenario from its TypeScript source (tools/ is not built to dist/; test/browser/server.ts strips its types).
import { builtInScenario } from "../../tools/inspect/scenario.js";

async function draw() {
  // renderMemoryMap from the package's entry point once it is exported there, else from its module.
  const render = pkg.renderMemoryMap ?? (await import("../../dist/memory-map.js")).renderMemoryMap;
  const heap = await pkg.Heap.create();
  const arenas = builtInScenario(heap);
  const svg = render(heap, { arenas });
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  const error = doc.querySelector("parsererror");
  if (error) return { wellFormed: false, parserError: error.textContent };
  const node = document.importNode(doc.documentElement, true);
  document.getElementById("map").append(node);
  const totals = arenas.map((arena) => Number(/^total: (\d+) allocation/m.exec(arena.report())?.[1]));
  const box = node.getBoundingClientRect();
  return {
    wellFormed: true,
    fromIndex: typeof pkg.renderMemoryMap === "function",
    allocations: totals.reduce((a, b) => a + b, 0),
    payloads: node.querySelectorAll('g[data-kind="payload"]').length,
    legendArenas: [...node.querySelectorAll("[data-legend-arena]")].map((g) => g.textContent),
    width: box.width,
    height: box.height,
  };
}

try {
  window.results = await draw();
} catch (error) {
  window.results = { error: String(error?.stack ?? error) };
}
