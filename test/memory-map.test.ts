// renderMemoryMap(heap | arena) and `managed-arena inspect`: the SVG is
// well-formed XML, tiles linear memory exactly (every byte in one segment),
// draws one payload per live allocation at its pointer with its header right
// before it, free blocks where freed blocks went, padding where alignment
// left a gap, one colour per arena and a legend that names them.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ChildLink, Kind } from "../src/handles.js";
import { type Arena, ArenaError, Heap } from "../src/index.js";
import { builtInScenario } from "../src/inspect/scenario.js";
import { renderMemoryMap } from "../src/memory-map.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAGE = 65536;

// ---- a small XML well-formedness checker ------------------------------------

/** Throws unless `xml` is a well-formed XML 1.0 document (one root, nested tags, quoted unique attributes, entities). */
function checkWellFormed(xml: string): void {
  const invalid = xml.search(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u);
  if (invalid >= 0) throw new Error(`character not allowed in XML at ${invalid}`);
  const entities = (text: string, where: number) => {
    for (const match of text.matchAll(/&([^;\s]*);?/g)) {
      if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(match[0])) {
        throw new Error(`bad entity ${JSON.stringify(match[0])} at ${where + (match.index ?? 0)}`);
      }
    }
  };
  let rest = xml.replace(/^<\?xml [^?]*\?>/, "");
  let at = xml.length - rest.length;
  const stack: string[] = [];
  let roots = 0;
  const name = "[A-Za-z_:][-A-Za-z0-9_:.]*";
  const startTag = new RegExp(`^<(${name})((?:\\s+${name}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`);
  while (rest.length > 0) {
    let length: number;
    if (rest.startsWith("<!--")) {
      const end = rest.indexOf("-->");
      if (end < 0) throw new Error(`unclosed comment at ${at}`);
      length = end + 3;
    } else if (rest.startsWith("</")) {
      const match = new RegExp(`^</(${name})\\s*>`).exec(rest);
      if (!match) throw new Error(`bad end tag at ${at}: ${rest.slice(0, 40)}`);
      const open = stack.pop();
      if (open !== match[1]) throw new Error(`</${match[1]}> closes <${open}> at ${at}`);
      length = match[0].length;
    } else if (rest.startsWith("<")) {
      const match = startTag.exec(rest);
      if (!match) throw new Error(`bad start tag at ${at}: ${rest.slice(0, 60)}`);
      const attributes = [...match[2].matchAll(new RegExp(`(${name})\\s*=\\s*("[^"<]*"|'[^'<]*')`, "g"))];
      const names = attributes.map((a) => a[1]);
      if (new Set(names).size !== names.length) throw new Error(`duplicate attribute in <${match[1]}> at ${at}`);
      for (const a of attributes) entities(a[2], at);
      if (stack.length === 0 && ++roots > 1) throw new Error(`second root element at ${at}`);
      if (match[3] !== "/") stack.push(match[1]);
      length = match[0].length;
    } else {
      const end = rest.indexOf("<");
      const text = end < 0 ? rest : rest.slice(0, end);
      if (stack.length === 0 && text.trim() !== "") throw new Error(`text outside the root at ${at}`);
      if (text.includes("]]>")) throw new Error(`]]> in text at ${at}`);
      entities(text, at);
      length = text.length;
    }
    rest = rest.slice(length);
    at += length;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join("> <")}>`);
  if (roots !== 1) throw new Error("no root element");
}

// ---- reading the picture back -----------------------------------------------

interface Drawn {
  kind: string;
  arena: string | undefined;
  start: number;
  end: number;
  title: string;
  fill: string;
  dimmed: boolean;
  rects: number;
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
}

/** Every segment group of the map: `<g data-kind=… data-start=… data-end=…>`. */
function segments(svg: string): Drawn[] {
  const out: Drawn[] = [];
  const group =
    /<g data-kind="([^"]+)"(?: data-arena="(0x[0-9a-f]+)")? data-start="(\d+)" data-end="(\d+)"([^>]*)>([\s\S]*?)<\/g>/g;
  for (const m of svg.matchAll(group)) {
    const title = /<title>([\s\S]*?)<\/title>/.exec(m[6])?.[1] ?? "";
    out.push({
      kind: m[1],
      arena: m[2],
      start: Number(m[3]),
      end: Number(m[4]),
      title: unescapeXml(title),
      fill: /<rect [^>]*fill="([^"]+)"/.exec(m[6])?.[1] ?? "",
      dimmed: m[5].includes("opacity"),
      rects: m[6].match(/<rect /g)?.length ?? 0,
    });
  }
  return out;
}

interface LegendArena {
  record: string;
  name: string;
  colour: string;
  highlighted: boolean;
  text: string;
}

function legend(svg: string): LegendArena[] {
  const entry =
    /<g data-legend-arena="(0x[0-9a-f]+)" data-name="([^"]*)" data-colour="(#[0-9a-f]{6})"( data-highlighted="true")?[^>]*>([\s\S]*?)<\/g>/g;
  return [...svg.matchAll(entry)].map((m) => ({
    record: m[1],
    name: unescapeXml(m[2]),
    colour: m[3],
    highlighted: m[4] !== undefined,
    text: unescapeXml(m[5].replace(/<[^>]+>/g, "")),
  }));
}

function recordOf(svg: string, name: string): string {
  const found = legend(svg).find((entry) => entry.name === name);
  if (found === undefined) throw new Error(`no legend entry for ${JSON.stringify(name)}`);
  return found.record;
}

/** Asserts that the segments tile [0, bytes) exactly: sorted, no gap, no overlap. */
function expectTiling(svg: string, bytes: number): void {
  const drawn = segments(svg)
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let at = 0;
  for (const s of drawn) {
    if (s.start !== at) throw new Error(`segment ${s.kind} at ${s.start} should start at ${at} (${s.title})`);
    at = s.end;
  }
  expect(at).toBe(bytes);
}

/** Every live allocation of `arenas` (children included through `arenas` itself). */
function liveAllocations(arenas: Arena[]) {
  return arenas.flatMap((arena) =>
    arena.resources().flatMap((r) => (r.kind === "alloc" ? [{ ptr: r.ptr as number, size: r.size, arena }] : [])),
  );
}

describe("renderMemoryMap", () => {
  it("returns a well-formed SVG document that tiles all of linear memory", async () => {
    const heap = await Heap.create();
    const arenas = builtInScenario(heap);
    const svg = renderMemoryMap(heap, { arenas });
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(
      true,
    );
    checkWellFormed(svg);
    expect(svg).toMatch(/<svg [^>]*width="\d+(\.\d+)?" height="\d+(\.\d+)?" viewBox="0 0 /);
    expectTiling(svg, heap.memory.buffer.byteLength);
    // Every kind the legend explains is drawn somewhere in this scenario.
    const kinds = new Set(segments(svg).map((s) => s.kind));
    for (const kind of ["chunk-head", "bitmap", "header", "payload", "slack", "callback", "free", "padding", "bump"]) {
      expect(kinds, kind).toContain(kind);
    }
    expect(kinds).toContain("free-pages");
    expect(kinds).toContain("record");
  });

  it("the checker itself rejects what is not well-formed", () => {
    expect(() => checkWellFormed("<svg><g></svg>")).toThrow(/closes/);
    expect(() => checkWellFormed('<svg a="1" a="2"/>')).toThrow(/duplicate/);
    expect(() => checkWellFormed("<svg>a & b</svg>")).toThrow(/entity/);
    expect(() => checkWellFormed("<svg/><svg/>")).toThrow(/second root/);
    expect(() => checkWellFormed("<svg>\u0001</svg>")).toThrow(/character/);
    expect(() => checkWellFormed("<svg><text x=1>a</text></svg>")).toThrow(/start tag/);
    checkWellFormed('<?xml version="1.0"?>\n<svg a="&amp;&#10;"><g/>text &lt; &#x41;</svg>\n');
  });

  it("draws one payload per live allocation, at its pointer and size, with its header right before it", async () => {
    const heap = await Heap.create();
    const arenas = builtInScenario(heap);
    const svg = renderMemoryMap(heap, { arenas });
    const drawn = segments(svg);
    const payloads = drawn.filter((s) => s.kind === "payload");
    const children = drawn.filter((s) => s.kind === "record").length - arenas.length;
    expect(children).toBe(1); // gpu0/vram: its record is drawn too
    const all = liveAllocations([...arenas, ...childrenOf(heap, arenas)]);
    expect(all).toHaveLength(26);
    expect(payloads).toHaveLength(all.length);
    const headers = new Set(drawn.filter((s) => s.kind === "header").map((s) => `${s.start}-${s.end}`));
    for (const { ptr, size, arena } of all) {
      const payload = payloads.find((s) => s.start === ptr);
      expect(payload, `payload at ${ptr}`).toBeDefined();
      expect(payload?.end).toBe(ptr + size);
      expect(payload?.arena).toBe(recordOf(svg, arena.name));
      expect(headers.has(`${ptr - 16}-${ptr}`), `header before ${ptr}`).toBe(true);
    }
    // Names and sizes are in the tooltips.
    expect(payloads.some((s) => s.title.startsWith('"firmware" of "gpu0": 40960 B'))).toBe(true);
    expect(payloads.some((s) => s.title.includes("with a destructor"))).toBe(true);
    // alloc(0) is a payload too: a hairline.
    const empty = payloads.find((s) => s.title.startsWith('"empty"'));
    expect(empty && empty.end - empty.start).toBe(0);
    expect(empty?.rects).toBe(1);
  });

  it("gives every arena its own colour, used by its payloads, and a legend entry with its name and counters", async () => {
    const heap = await Heap.create();
    const arenas = builtInScenario(heap);
    const svg = renderMemoryMap(heap, { arenas });
    const entries = legend(svg);
    expect(entries.map((e) => e.name)).toEqual(["gpu0", "gpu0/vram", "net", "scratch"]);
    expect(new Set(entries.map((e) => e.colour)).size).toBe(entries.length);
    const colours = new Map(entries.map((e) => [e.record, e.colour]));
    for (const s of segments(svg).filter((s) => s.kind === "payload" || s.kind === "record")) {
      expect(s.fill, s.title).toBe(colours.get(s.arena as string));
    }
    const net = entries.find((e) => e.name === "net");
    const stats = arenas[1].stats();
    expect(net?.text).toContain(
      `net  ${stats.allocations} allocations, ${(stats.liveBytes / 1024).toFixed(1)} KiB live`,
    );
    expect(net?.text).toContain(`${(stats.reservedBytes / 1024).toFixed(1)} KiB in 2 chunks; 1 action, 0 groups`);
    // The legend explains the kinds of memory.
    for (const kind of ["chunk-head", "header", "payload", "padding", "free", "free-pages"]) {
      expect(svg).toContain(`data-legend-kind="${kind}"`);
    }
  });

  it("draws freed blocks as free blocks of their arena, and an arena's freed chunks as free pages", async () => {
    const heap = await Heap.create();
    const a = heap.createArena({ name: "a" });
    const ptrs = [24, 100, 100, 500, 24].map((size) => a.alloc(size));
    const before = segments(renderMemoryMap(heap, { arenas: [a] }));
    expect(before.filter((s) => s.kind === "free")).toHaveLength(0);
    a.free(ptrs[1]);
    a.free(ptrs[3]);
    const svg = renderMemoryMap(heap, { arenas: [a] });
    const free = segments(svg).filter((s) => s.kind === "free");
    expect(free.map((s) => s.start).sort()).toEqual([ptrs[1] - 16, ptrs[3] - 16].sort());
    expect(free.every((s) => s.arena === recordOf(svg, "a"))).toBe(true);
    expect(free.find((s) => s.start === ptrs[1] - 16)?.end).toBe(ptrs[1] + 104); // class of 100 B holds 104
    expect(segments(svg).filter((s) => s.kind === "payload")).toHaveLength(3);

    // A second arena, released: its chunk goes back to the heap's free pages.
    const b = heap.createArena({ name: "b" });
    const inB = b.alloc(1000);
    const page = Math.floor(inB / PAGE) * PAGE;
    expect(
      segments(renderMemoryMap(heap, { arenas: [a, b] })).some((s) => s.start === page && s.kind === "chunk-head"),
    );
    b.release();
    const after = renderMemoryMap(heap, { arenas: [a, b] });
    const freePages = segments(after).filter((s) => s.kind === "free-pages");
    expect(freePages.some((s) => s.start <= page && s.end >= page + PAGE)).toBe(true);
    expect(legend(after).map((e) => e.name)).toEqual(["a"]);
    expectTiling(after, heap.memory.buffer.byteLength);
  });

  it("shows alignment padding before an over-aligned payload, and bump space after the newest block", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "aligned", minAlign: 64 });
    const first = arena.alloc(8);
    const big = arena.alloc(100, { align: 1024 });
    expect(big % 1024).toBe(0);
    const svg = renderMemoryMap(heap, { arenas: [arena] });
    const drawn = segments(svg);
    const padding = drawn.filter((s) => s.kind === "padding");
    expect(padding.some((s) => s.end === big - 16)).toBe(true); // right before the header
    expect(padding.some((s) => s.end === first - 16)).toBe(true); // minAlign 64 after the bitmap
    const bump = drawn.filter((s) => s.kind === "bump");
    expect(bump).toHaveLength(1);
    expect(bump[0].start).toBe(big + 104);
    expect(bump[0].end % PAGE).toBe(0);
    // The slack of the class: 100 B requested, 104 B in the block.
    expect(drawn.some((s) => s.kind === "slack" && s.start === big + 100 && s.end === big + 104)).toBe(true);
  });

  it("draws actions, destructors, groups and children as callback records", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "cb" });
    arena.add(() => {}, undefined, "close-fd");
    arena.alloc(16, { onRelease: () => {} });
    arena.group(() => {}, "probe");
    arena.createChild({ name: "kid" });
    const svg = renderMemoryMap(heap);
    const records = segments(svg).filter((s) => s.kind === "callback");
    // the action, the destructor, the group's two markers, the child link
    expect(records).toHaveLength(5);
    const titles = records.map((s) => s.title).join("\n");
    expect(titles).toContain('action "close-fd" of "cb"');
    expect(titles).toContain("destructor");
    expect(titles).toContain('group (open marker) "probe"');
    expect(titles).toContain('group (close marker) "probe"');
    expect(titles).toContain('child arena "kid"');
    // Found without options: both arenas own registrations or are registered children.
    const entries = legend(svg);
    expect(entries.map((e) => e.name)).toEqual(["cb", "kid"]);
    expect(svg).toContain("└");
  });

  it("gives a large allocation a run of its own, drawn across its pages with the middle ones folded", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "big" });
    const ptr = arena.alloc(5 * PAGE);
    const svg = renderMemoryMap(heap, { arenas: [arena] });
    const drawn = segments(svg);
    const payload = drawn.filter((s) => s.kind === "payload");
    expect(payload).toHaveLength(1);
    expect(payload[0]).toMatchObject({ start: ptr, end: ptr + 5 * PAGE });
    const run = Math.floor(ptr / PAGE) * PAGE;
    expect(drawn.some((s) => s.kind === "chunk-head" && s.start === run)).toBe(true);
    expect(drawn.some((s) => s.kind === "chunk-head" && s.title === 'large run of "big": 6 pages')).toBe(true);
    expect(svg).toMatch(/data-kind="continued"[^>]*data-band="\d+-\d+"/);
    expect(svg).toContain("4 more pages of this run");
    expectTiling(svg, heap.memory.buffer.byteLength);
  });

  it("highlights an arena (and its children) and dims the others", async () => {
    const heap = await Heap.create();
    const arenas = builtInScenario(heap);
    const gpu = arenas[0];
    const svg = renderMemoryMap(gpu, { arenas });
    expect(svg).toContain("<title>managed-arena memory map: arena &quot;gpu0&quot; on a heap of 4 arenas</title>");
    const entries = legend(svg);
    expect(entries.filter((e) => e.highlighted).map((e) => e.name)).toEqual(["gpu0", "gpu0/vram"]);
    const bright = new Set([recordOf(svg, "gpu0"), recordOf(svg, "gpu0/vram")]);
    for (const s of segments(svg).filter((s) => s.arena !== undefined)) {
      expect(s.dimmed, s.title).toBe(!bright.has(s.arena as string));
    }
    const outlined = [...svg.matchAll(/data-highlight="(0x[0-9a-f]+)"/g)].map((m) => m[1]);
    expect(new Set(outlined)).toEqual(bright);
    // Given a heap instead, nothing is dimmed; `highlight` picks one.
    expect(segments(renderMemoryMap(heap, { arenas })).some((s) => s.dimmed)).toBe(false);
    const net = renderMemoryMap(heap, { arenas, highlight: arenas[1] });
    expect(
      legend(net)
        .filter((e) => e.highlighted)
        .map((e) => e.name),
    ).toEqual(["net"]);
  });

  it("escapes names: markup, quotes and control characters stay text", async () => {
    const heap = await Heap.create();
    const name = `<script>"&'\u0001]]>`;
    const arena = heap.createArena({ name });
    arena.alloc(10, { name: "<b>" });
    const svg = renderMemoryMap(arena);
    checkWellFormed(svg);
    expect(svg).not.toContain("<script>");
    expect(legend(svg)[0].name).toBe(`<script>"&'\ufffd]]>`);
    expect(segments(svg).some((s) => s.title.startsWith('"<b>" of'))).toBe(true);
  });

  it("names an arena the host cannot reach by its record, and still draws it", async () => {
    const heap = await Heap.create();
    const known = heap.createArena({ name: "known" });
    const hidden = heap.createArena({ name: "hidden" });
    const ptr = hidden.alloc(64);
    known.alloc(64);
    const svg = renderMemoryMap(known);
    const entries = legend(svg);
    expect(entries.map((e) => e.name)).toEqual(["known", expect.stringMatching(/^arena@0x[0-9a-f]+$/)]);
    expect(segments(svg).some((s) => s.kind === "payload" && s.start === ptr)).toBe(true);
    expect(legend(renderMemoryMap(known, { arenas: [hidden] })).map((e) => e.name)).toEqual(["known", "hidden"]);
  });

  it("finds every live arena through the core's list, even one the host cannot name", async () => {
    const heap = await Heap.create();
    const quiet = heap.createArena({ name: "quiet" }); // no registration, not passed: unreachable from JS
    const ptr = quiet.alloc(64);
    const svg = renderMemoryMap(heap);
    checkWellFormed(svg);
    expectTiling(svg, heap.memory.buffer.byteLength);
    expect(svg).toContain("page maps read from the core");
    expect(legend(svg).map((e) => e.name)).toEqual([expect.stringMatching(/^arena@0x/)]);
    const drawn = segments(svg);
    expect(drawn.some((s) => s.kind === "payload" && s.start === ptr)).toBe(true);
    expect(drawn.filter((s) => s.kind === "page-map")).toHaveLength(2); // owner map, start map
    // Every page is the core's: no foreign page, and the legend leaves the kind out.
    expect(drawn.some((s) => s.kind === "foreign")).toBe(false);
    expect(svg).not.toContain('data-legend-kind="foreign"');
    expect(legend(renderMemoryMap(heap, { arenas: [quiet] })).map((e) => e.name)).toEqual(["quiet"]);
  });

  it("draws the page maps in the last pages once growth has moved them, with the free pages below in one run", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "big" });
    arena.alloc(8 * 1024 * 1024);
    arena.alloc(64 * 1024 * 1024); // past the reach of the maps in the static page
    arena.release();
    const svg = renderMemoryMap(heap);
    checkWellFormed(svg);
    const bytes = heap.memory.buffer.byteLength;
    expectTiling(svg, bytes);
    expect(svg).toContain("the page maps have moved to a META run");
    const drawn = segments(svg).sort((a, b) => a.start - b.start);
    const maps = drawn.filter((s) => s.kind === "page-map");
    expect(maps).toHaveLength(2); // owner map, start map
    expect(maps[0].start % PAGE).toBe(0);
    // Nothing but the maps and their spare room above them; one free run right below them.
    expect(
      drawn.filter((s) => s.start >= maps[0].start).every((s) => s.kind === "page-map" || s.kind === "spare"),
    ).toBe(true);
    const free = drawn.filter((s) => s.kind === "free-pages");
    expect(free).toHaveLength(1);
    expect(free[0].end).toBe(maps[0].start);
  });

  it("draws pages grown by someone else as foreign, before and after the core grows past them", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "a" });
    arena.alloc(64);
    const first = heap.memory.grow(2); // from JS: the core never hears of it
    const expectForeign = (svg: string, why: string) => {
      checkWellFormed(svg);
      expectTiling(svg, heap.memory.buffer.byteLength);
      const foreign = segments(svg).filter((s) => s.kind === "foreign");
      expect(foreign).toHaveLength(1);
      expect(foreign[0]).toMatchObject({ start: first * PAGE, end: (first + 2) * PAGE, arena: undefined });
      expect(foreign[0].title).toContain(why);
      expect(svg).toContain("2 foreign pages");
      expect(svg).toContain('data-legend-kind="foreign"');
      expect(svg).toContain("foreign pages: grown by someone else, never touched");
    };
    // Above the pages the core knows of.
    expectForeign(renderMemoryMap(heap), "since the core last grew memory");

    // Large allocations until the core grows memory: it marks the two pages FOREIGN and grows past them.
    const pages = () => heap.memory.buffer.byteLength / PAGE;
    const before = pages();
    const ptrs: number[] = [];
    while (pages() === before && ptrs.length < 1000) ptrs.push(arena.alloc(PAGE));
    expect(pages()).toBeGreaterThan(before);
    const svg = renderMemoryMap(heap);
    expectForeign(svg, "never touched by the core");
    const payloads = segments(svg).filter((s) => s.kind === "payload");
    expect(payloads).toHaveLength(ptrs.length + 1);
    expect(payloads.some((s) => s.start >= (first + 2) * PAGE)).toBe(true);
  });

  it("draws an empty heap, and scales rows with bytesPerRow", async () => {
    const heap = await Heap.create();
    const svg = renderMemoryMap(heap);
    checkWellFormed(svg);
    expect(svg).toContain("no live arena");
    expectTiling(svg, heap.memory.buffer.byteLength);
    const arena = heap.createArena({ name: "rows" });
    const ptr = arena.alloc(20000);
    const rows = (bytesPerRow: number, fold: boolean) =>
      segments(renderMemoryMap(heap, { arenas: [arena], bytesPerRow, fold })).find((s) => s.start === ptr)?.rects;
    expect(rows(65536, false)).toBe(1);
    // The payload is [1056, 21056) in its chunk (after the head, the bitmap and its header).
    expect(ptr % PAGE).toBe(1056);
    expect(rows(4096, false)).toBe(6); // rows 0..5
    expect(rows(256, false)).toBe(79); // rows 4..82
    // Folded: of the 77 rows it covers entirely (5..81), the first is drawn and 76 become a band.
    expect(rows(256, true)).toBe(3); // rows 4, 5 and 82
    const folded = renderMemoryMap(heap, { arenas: [arena], bytesPerRow: 256 });
    expect(folded).toMatch(/data-fold="76"[^>]*><title>&quot;alloc&quot; of &quot;rows&quot;: 20000 B/);
    expect(folded).toContain("⋮ 76 more rows (19.0 KiB) of payload");
  });

  it("rejects what it cannot draw: EINVAL for a bad target or option, ERELEASED for a released arena", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof ArenaError ? error.code : String(error);
      }
      return "none";
    };
    expect(code(() => renderMemoryMap({} as Heap))).toBe("EINVAL");
    expect(code(() => renderMemoryMap(heap, { bytesPerRow: 1000 }))).toBe("EINVAL");
    expect(code(() => renderMemoryMap(heap, { bytesPerRow: 128 }))).toBe("EINVAL");
    expect(code(() => renderMemoryMap(heap, { rowWidth: 1.5 }))).toBe("EINVAL");
    expect(code(() => renderMemoryMap(heap, { arenas: [heap as unknown as Arena] }))).toBe("EINVAL");
    expect(code(() => renderMemoryMap(heap, null as unknown as object))).toBe("EINVAL");
    arena.release();
    expect(code(() => renderMemoryMap(arena))).toBe("ERELEASED");
  });
});

/** The child arenas registered in `arenas` (from the heap's slot table; an action's slot holds a number). */
function childrenOf(heap: Heap, arenas: Arena[]): Arena[] {
  return heap.slots.flatMap((registration) =>
    typeof registration === "object" &&
    registration.role === Kind.Child &&
    arenas.some((a) => a.state === registration.owner)
      ? [(registration as ChildLink).child]
      : [],
  );
}

describe("managed-arena inspect", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-arena-inspect-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    vi.restoreAllMocks();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function inspect(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const { command } = await import("../src/inspect/command.js");
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
    const code = await command.run(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  }

  it("runs the built-in scenario: prints each arena's report and writes the SVG", async () => {
    const file = join(tmp(), "map.svg");
    const { code, out } = await inspect(["--svg", file]);
    expect(code).toBe(0);
    expect(out).toMatch(/^arena "gpu0": 4 allocations/m);
    expect(out).toMatch(/^ {2}arena "gpu0\/vram": 5 allocations/m);
    expect(out).toMatch(/^arena "net": 10 allocations/m);
    expect(out).toMatch(/^arena "scratch": 7 allocations/m);
    expect(out).toContain(`wrote ${file}: 4 arenas`);
    const svg = readFileSync(file, "utf8");
    checkWellFormed(svg);
    expect(legend(svg).map((e) => e.name)).toEqual(["gpu0", "gpu0/vram", "net", "scratch"]);
  });

  it("runs a user's script on the heap it is given, and highlights --arena", async () => {
    const dir = tmp();
    const script = join(dir, "setup.mjs");
    writeFileSync(
      script,
      `export default async (heap) => {
        const a = heap.createArena({ name: "mine" });
        for (let i = 0; i < 5; i++) a.alloc(100 * (i + 1));
        const kid = a.createChild({ name: "kid" });
        kid.alloc(1 << 17);
        heap.createArena({ name: "quiet" }).alloc(8);
      };\n`,
    );
    const file = join(dir, "map.svg");
    const { code, out } = await inspect(["--script", script, "--svg", file, "--arena", "kid"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^arena "mine": 5 allocations/m);
    expect(out).toMatch(/^ {2}arena "kid": 1 allocation/m);
    expect(out).toMatch(/^arena "quiet": 1 allocation/m);
    const svg = readFileSync(file, "utf8");
    expect(legend(svg).map((e) => [e.name, e.highlighted])).toEqual([
      ["mine", false],
      ["kid", true],
      ["quiet", false],
    ]);
  });

  it("explains its mistakes: unknown option, missing value, bad script, unknown arena", async () => {
    expect(await inspect(["--frobnicate"])).toMatchObject({ code: 2, err: expect.stringContaining("unknown option") });
    expect(await inspect(["--svg"])).toMatchObject({ code: 2, err: expect.stringContaining("--svg needs a value") });
    expect(await inspect(["--svg", "x.svg", "--bytes-per-row", "1000"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("--bytes-per-row needs a power of two"),
    });
    expect(await inspect(["--arena", "net"])).toMatchObject({ code: 2, err: expect.stringContaining("needs --svg") });
    const dir = tmp();
    const noDefault = join(dir, "no-default.mjs");
    writeFileSync(noDefault, "export const x = 1;\n");
    expect(await inspect(["--script", noDefault])).toMatchObject({
      code: 2,
      err: expect.stringContaining("must export a default function"),
    });
    expect(await inspect(["--script", join(dir, "missing.mjs")])).toMatchObject({
      code: 2,
      err: expect.stringContaining("cannot load"),
    });
    const throwing = join(dir, "throwing.mjs");
    writeFileSync(throwing, 'export default () => { throw new Error("boom"); };\n');
    expect(await inspect(["--script", throwing])).toMatchObject({ code: 1, err: expect.stringContaining("boom") });
    expect(await inspect(["--svg", join(dir, "x.svg"), "--arena", "nope"])).toMatchObject({
      code: 2,
      err: expect.stringContaining('no live arena named "nope"'),
    });
  });

  it("works from the bundled bin: --help, and --svg - writes the SVG to stdout", () => {
    const bin = join(root, "dist", "bin", "managed-arena.js");
    if (!existsSync(bin)) throw new Error("dist/bin/managed-arena.js is missing: run `node scripts/build.mjs`");
    const help = execFileSync(process.execPath, [bin, "inspect", "--help"], { encoding: "utf8" });
    expect(help).toMatch(/^usage: managed-arena inspect \[--svg FILE\] \[--script FILE\]/);
    expect(execFileSync(process.execPath, [bin, "--help"], { encoding: "utf8" })).toMatch(/^ {2}inspect {4}/m);
    const svg = execFileSync(process.execPath, [bin, "inspect", "--svg", "-"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    checkWellFormed(svg);
    expect(segments(svg).filter((s) => s.kind === "payload")).toHaveLength(26);
  });

  it("docs/memory-map.svg is a well-formed picture of the built-in scenario", () => {
    const svg = readFileSync(join(root, "docs", "memory-map.svg"), "utf8");
    checkWellFormed(svg);
    expect(legend(svg).map((e) => e.name)).toEqual(["gpu0", "gpu0/vram", "net", "scratch"]);
  });
});
