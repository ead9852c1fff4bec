// renderMemoryMap(heap | arena) and `managed-arena inspect`: the SVG is
// well-formed XML, tiles linear memory exactly (every byte in one segment),
// draws one payload per live allocation at its pointer with its header right
// before it, free blocks where freed blocks went, padding where alignment
// left a gap, subdivided pages with each arena's runs of slots, one colour
// per arena and a legend that names them.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ChildLink, Kind } from "../src/handles.js";
import { type Arena, ArenaError, freeRuns, Heap } from "../src/index.js";
import { renderMemoryMap } from "../src/memory-map.js";
import { builtInScenario } from "../tools/inspect/scenario.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PAGE = 65536;
/** A subdivided page (assembly/layout.ts): 248 slots of 256 B, then its slot table and its block-start bitmap. */
const SLOT = 256;
const SLOT_TABLE_AT = 248 * SLOT;
const BITMAP_AT = 64512;

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
    // Every kind the legend explains is drawn somewhere in this scenario, but free pages: the released
    // arena's blocks were runs of slots, now free slots of their subdivided page, and no page is free.
    const kinds = new Set(segments(svg).map((s) => s.kind));
    for (const kind of ["chunk-head", "bitmap", "header", "payload", "slack", "callback", "free", "padding", "bump"]) {
      expect(kinds, kind).toContain(kind);
    }
    for (const kind of ["slot-table", "free-slots", "record"]) expect(kinds, kind).toContain(kind);
    expect(svg).toContain('data-legend-kind="free-pages"');
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
    // Small chunks of 1, 7, 8, 16 and 32 slots (each as large as the arena was, or as the block that
    // started it needs), and the large run of the ring.
    const heads = segments(svg).filter((s) => s.kind === "chunk-head" && s.arena === net?.record);
    expect(heads).toHaveLength(6);
    expect(net?.text).toContain(`${(stats.reservedBytes / 1024).toFixed(1)} KiB in 6 chunks; 1 action, 0 groups`);
    // The legend explains the kinds of memory.
    for (const kind of [
      "chunk-head",
      "slot-table",
      "header",
      "payload",
      "padding",
      "free",
      "free-pages",
      "free-slots",
    ]) {
      expect(svg).toContain(`data-legend-kind="${kind}"`);
    }
  });

  it("says the size of an arena record as drawn: 272 B, 288 B on a shared heap (its remote-free stack)", async () => {
    for (const [shared, size] of [
      [false, 272],
      [true, 288],
    ] as const) {
      const heap = await Heap.create(shared ? { shared: true } : {});
      const arena = heap.createArena({ name: "r" });
      const svg = renderMemoryMap(heap);
      expect(svg).toMatch(new RegExp(`data-legend-kind="record">[\\s\\S]*?arena record \\(${size} B\\)`));
      const at = `0x${arena.state.record.toString(16)}`;
      const record = segments(svg).find((s) => s.kind === "record" && s.arena === at);
      expect(record && record.end - record.start).toBe(size);
      arena.release();
    }
  });

  it("draws freed blocks as free blocks of their arena, and an arena's freed chunks as free slots or pages", async () => {
    const heap = await Heap.create();
    const a = heap.createArena({ name: "a" });
    const ptrs = [24, 100, 100, 500, 24].map((size) => a.alloc(size));
    // Only the unused ends of chunks a new chunk replaced as the bump range (retired to free lists).
    const retired = segments(renderMemoryMap(heap, { arenas: [a] })).filter((s) => s.kind === "free");
    a.free(ptrs[1]);
    a.free(ptrs[3]);
    const svg = renderMemoryMap(heap, { arenas: [a] });
    const free = segments(svg).filter((s) => s.kind === "free");
    const starts = (list: { start: number }[]) => list.map((s) => s.start).sort((x, y) => x - y);
    expect(starts(free)).toEqual(starts([...retired, { start: ptrs[1] - 16 }, { start: ptrs[3] - 16 }]));
    expect(free.every((s) => s.arena === recordOf(svg, "a"))).toBe(true);
    expect(free.find((s) => s.start === ptrs[1] - 16)?.end).toBe(ptrs[1] + 104); // class of 100 B holds 104
    expect(segments(svg).filter((s) => s.kind === "payload")).toHaveLength(3);

    // A second arena, released: its run of slots goes back to its subdivided page as free slots.
    const b = heap.createArena({ name: "b" });
    const inB = b.alloc(1000);
    const withB = renderMemoryMap(heap, { arenas: [a, b] });
    const ofB = segments(withB).filter((s) => s.arena === recordOf(withB, "b") && s.kind !== "record");
    // Head, header, up to 7 B of alignment and the 1024 B of the class of 1000 B: 1063 B in 5 slots.
    const head = ofB.find((s) => s.kind === "chunk-head");
    expect(head?.title).toBe('small chunk of "b": 5 slots (1280 B)');
    const from = head?.start as number;
    expect(from % SLOT).toBe(0);
    expect(Math.min(...ofB.map((s) => s.start))).toBe(from);
    expect(Math.max(...ofB.map((s) => s.end))).toBe(from + 5 * SLOT);
    expect(inB - from).toBe(32);
    b.release();
    const after = renderMemoryMap(heap, { arenas: [a, b] });
    const freeSlots = segments(after).filter((s) => s.kind === "free-slots");
    expect(freeSlots.some((s) => s.start <= from && s.end >= from + 5 * SLOT)).toBe(true);
    expect(legend(after).map((e) => e.name)).toEqual(["a"]);
    expectTiling(after, heap.memory.buffer.byteLength);

    // An arena past half a page takes whole pages as chunks: head, blocks, the bitmap at the end.
    const c = heap.createArena({ name: "c" });
    for (let i = 0; i < 12; i++) c.alloc(4096);
    const withC = renderMemoryMap(heap, { arenas: [a, c] });
    const ofC = segments(withC).filter((s) => s.arena === recordOf(withC, "c"));
    const pages = ofC.filter((s) => s.kind === "chunk-head" && s.title === 'small chunk of "c": 1 page');
    expect(pages).toHaveLength(1);
    const page = pages[0].start;
    expect(page % PAGE).toBe(0);
    expect(ofC.some((s) => s.kind === "header" && s.start === page + 16)).toBe(true);
    expect(ofC.some((s) => s.kind === "bitmap" && s.start === page + BITMAP_AT && s.end === page + PAGE)).toBe(true);
    // Released, that page is a free page of the heap again.
    c.release();
    const freePages = segments(renderMemoryMap(heap, { arenas: [a] })).filter((s) => s.kind === "free-pages");
    expect(freePages.some((s) => s.start <= page && s.end >= page + PAGE)).toBe(true);
  });

  it("draws a subdivided page shared by two small arenas, each arena's runs of slots in its colour", async () => {
    const heap = await Heap.create();
    const one = heap.createArena({ name: "one" });
    const two = heap.createArena({ name: "two" });
    // A first chunk is a slot; 200 B after 24 B do not fit in it, so "one" takes a second slot after "two"'s.
    const ptrs = [one.alloc(24), two.alloc(40), one.alloc(200), two.alloc(8)];
    const page = Math.floor(ptrs[0] / PAGE) * PAGE;
    expect(ptrs.map((p) => p - page)).toEqual([32, SLOT + 32, 2 * SLOT + 32, SLOT + 96]); // minAlign 16
    const svg = renderMemoryMap(heap, { arenas: [one, two] });
    checkWellFormed(svg);
    expectTiling(svg, heap.memory.buffer.byteLength);
    const drawn = segments(svg).filter((s) => s.start >= page && s.start < page + PAGE);
    const [first, second] = [recordOf(svg, "one"), recordOf(svg, "two")];
    const heads = drawn.filter((s) => s.kind === "chunk-head").sort((a, b) => a.start - b.start);
    expect(heads.map((s) => [s.start - page, s.arena, s.title])).toEqual([
      [0, first, 'small chunk of "one": 1 slot (256 B)'],
      [SLOT, second, 'small chunk of "two": 1 slot (256 B)'],
      [2 * SLOT, first, 'small chunk of "one": 1 slot (256 B)'],
    ]);
    // Every byte of a run of slots is its arena's; then the page's free slots, its slot table and bitmap.
    for (const s of drawn.filter((x) => x.end <= page + 3 * SLOT)) {
      expect(s.arena, s.title).toBe(s.start - page < SLOT || s.start - page >= 2 * SLOT ? first : second);
    }
    const rest = drawn.filter((s) => s.start >= page + 3 * SLOT).sort((a, b) => a.start - b.start);
    expect(rest.map((s) => [s.kind, s.start - page, s.end - page, s.arena])).toEqual([
      ["free-slots", 3 * SLOT, SLOT_TABLE_AT, undefined],
      ["slot-table", SLOT_TABLE_AT, BITMAP_AT, undefined],
      ["bitmap", BITMAP_AT, PAGE, undefined],
    ]);
    const colours = new Map(legend(svg).map((e) => [e.record, e.colour]));
    expect(new Set(colours.values()).size).toBe(2);
    const payloads = drawn.filter((s) => s.kind === "payload");
    expect(payloads.map((s) => s.start)).toEqual(expect.arrayContaining(ptrs));
    for (const s of payloads) expect(s.fill).toBe(colours.get(s.arena as string));
    expect(svg).toContain(">subdivided page</text>");
    expect(svg).toContain(">2 arenas</text>");
    // Highlighted, "one" has its two runs of slots outlined (one row each) and "two" is dimmed, not the page.
    const lit = renderMemoryMap(one, { arenas: [two] });
    expect([...lit.matchAll(/data-highlight="(0x[0-9a-f]+)"/g)].map((m) => m[1])).toEqual([first, first]);
    const shown = segments(lit).filter((s) => s.start >= page && s.start < page + PAGE);
    for (const s of shown) expect(s.dimmed, s.title).toBe(s.arena === second);
  });

  it("draws a medium allocation (10,000 B) as a block of its own in a subdivided page", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "m" });
    const small = arena.alloc(64);
    const ptr = arena.alloc(10_000);
    const page = Math.floor(small / PAGE) * PAGE;
    // Head, header, up to 7 B of alignment and 10,000 B: 10,039 B in 40 slots, right after the small chunk.
    expect(ptr).toBe(page + SLOT + 32);
    const svg = renderMemoryMap(heap, { arenas: [arena] });
    expectTiling(svg, heap.memory.buffer.byteLength);
    const record = recordOf(svg, "m");
    const block = segments(svg)
      .filter((s) => s.start >= page + SLOT && s.end <= page + 41 * SLOT)
      .sort((a, b) => a.start - b.start);
    expect(block.map((s) => [s.kind, s.start - page, s.end - page])).toEqual([
      ["chunk-head", SLOT, SLOT + 16],
      ["header", SLOT + 16, SLOT + 32],
      ["payload", SLOT + 32, SLOT + 32 + 10_000],
      ["slack", SLOT + 32 + 10_000, 41 * SLOT],
    ]);
    expect(block.every((s) => s.arena === record)).toBe(true);
    expect(block[0].title).toBe('medium block of "m": 40 slots (10.0 KiB)');
    expect(block[2].title).toBe(`"alloc" of "m": 10000 B at 0x${ptr.toString(16)}`);
    expect(legend(svg)[0].text).toContain("in 2 chunks");
    // Freed, its slots merge with the free slots after them; the small chunk stays.
    arena.free(ptr);
    const after = segments(renderMemoryMap(heap, { arenas: [arena] }));
    const free = after.find((s) => s.kind === "free-slots" && s.start === page + SLOT);
    expect(free).toMatchObject({
      end: page + SLOT_TABLE_AT,
      title: "free slots: 247 slots (61.8 KiB) of this subdivided page",
    });
    expect(after.some((s) => s.kind === "chunk-head" && s.start === page && s.arena === record)).toBe(true);
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
    expect(padding.some((s) => s.end === first - 16)).toBe(true); // minAlign 64 after the chunk head
    const bump = drawn.filter((s) => s.kind === "bump");
    expect(bump).toHaveLength(1);
    expect(bump[0].start).toBe(big + 104);
    // It ends with the chunk taken for the aligned block: as many bytes as the arena held (a slot), but at
    // least its head, a header, 1023 B to align and 104 B: 1159 B, in 5 slots.
    const chunk = drawn.filter((s) => s.kind === "chunk-head" && s.start < big).sort((x, y) => y.start - x.start)[0];
    expect(chunk.title).toBe('small chunk of "aligned": 5 slots (1280 B)');
    expect(bump[0].end).toBe(chunk.start + 5 * SLOT);
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
    // Head, header and 5 pages: 5 pages and 32 B, the rest of the slot that takes them in the next page.
    expect(drawn.some((s) => s.kind === "chunk-head" && s.title === 'large run of "big": 5 pages and 1 slot')).toBe(
      true,
    );
    expect(svg).toMatch(/data-kind="continued"[^>]*data-band="\d+-\d+"/);
    expect(svg).toContain("3 more pages of this run");
    const tail = run + 5 * PAGE;
    expect(svg).toContain(
      `data-kind="continued" data-arena="${payload[0].arena}" data-continues="payload" data-bytes="${tail}-${tail + 32}"`,
    );
    expect(drawn.some((s) => s.kind === "slack" && s.start === tail + 32 && s.end === tail + SLOT)).toBe(true);
    expectTiling(svg, heap.memory.buffer.byteLength);
  });

  it("draws the tail slots of a large allocation of 70,000 B in the subdivided page after its whole page", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena({ name: "big" });
    const ptr = arena.alloc(70_000);
    const svg = renderMemoryMap(heap, { arenas: [arena], fold: false });
    checkWellFormed(svg);
    expectTiling(svg, heap.memory.buffer.byteLength);
    const drawn = segments(svg);
    const record = recordOf(svg, "big");
    // Head, header, up to 7 B of alignment and 70,000 B: 70,039 B, a page and 4503 B, in 18 slots (4608 B).
    const run = Math.floor(ptr / PAGE) * PAGE;
    expect(ptr).toBe(run + 32);
    const head = drawn.find((s) => s.kind === "chunk-head" && s.arena === record);
    expect(head).toMatchObject({ start: run, title: 'large run of "big": 1 page and 18 slots' });
    // One payload, at its pointer and size, though its last 4496 B are drawn in the next page.
    const payloads = drawn.filter((s) => s.kind === "payload");
    expect(payloads).toHaveLength(1);
    expect(payloads[0]).toMatchObject({ start: ptr, end: ptr + 70_000, rects: 16 });
    const tail = run + PAGE;
    const continued = [...svg.matchAll(/<g data-kind="continued"[^>]*data-bytes="(\d+)-(\d+)"[^>]*>([\s\S]*?)<\/g>/g)];
    expect(continued.map((m) => [Number(m[1]), Number(m[2])])).toEqual([[tail, ptr + 70_000]]);
    expect(continued[0][3].match(/<rect /g)).toHaveLength(2); // its rows of 4096 B: 0 and 1 of the page
    // Then the slack to the end of the 18 slots, the page's free slots, its slot table and bitmap.
    const page = drawn.filter((s) => s.start >= tail && s.start < tail + PAGE).sort((a, b) => a.start - b.start);
    expect(page.map((s) => [s.kind, s.start - tail, s.end - tail])).toEqual([
      ["slack", 4496, 18 * SLOT],
      ["free-slots", 18 * SLOT, SLOT_TABLE_AT],
      ["slot-table", SLOT_TABLE_AT, BITMAP_AT],
      ["bitmap", BITMAP_AT, PAGE],
    ]);
    expect(page[0].arena).toBe(record);
    expect(page[1].title).toBe("free slots: 230 slots (57.5 KiB) of this subdivided page");
    // The free slots are anyone's: a small arena's first chunk takes the first of them.
    const small = heap.createArena({ name: "small" });
    const p = small.alloc(100);
    expect(p - tail).toBe(18 * SLOT + 32);
    const after = renderMemoryMap(heap, { arenas: [arena, small] });
    expectTiling(after, heap.memory.buffer.byteLength);
    expect(segments(after).find((s) => s.kind === "chunk-head" && s.start === tail + 18 * SLOT)?.arena).toBe(
      recordOf(after, "small"),
    );
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
    // Nothing but the maps and their spare room above them; one free run below them, up to them but for
    // the subdivided page the core keeps as a spare with every slot free (the tail page of a large block).
    expect(
      drawn.filter((s) => s.start >= maps[0].start).every((s) => s.kind === "page-map" || s.kind === "spare"),
    ).toBe(true);
    const free = drawn.filter((s) => s.kind === "free-pages");
    expect(free).toHaveLength(1);
    const between = drawn.filter((s) => s.start >= free[0].end && s.end <= maps[0].start);
    if (between.length > 0) {
      expect(between.map((s) => [s.kind, s.start - free[0].end, s.end - free[0].end])).toEqual([
        ["free-slots", 0, SLOT_TABLE_AT],
        ["slot-table", SLOT_TABLE_AT, BITMAP_AT],
        ["bitmap", BITMAP_AT, PAGE],
      ]);
      expect(between[0].title).toContain("every slot: the spare subdivided page the core keeps");
    }
    expect(free[0].end + (between.length > 0 ? PAGE : 0)).toBe(maps[0].start);
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
    // A medium block, the first run of slots of a new subdivided page: the payload is [32, 20032) in the
    // page (after the chunk head and its header).
    expect(ptr % PAGE).toBe(32);
    expect(rows(4096, false)).toBe(5); // rows 0..4
    expect(rows(256, false)).toBe(79); // rows 0..78
    // Folded: of the 77 rows it covers entirely (1..77), the first is drawn and 76 become a band.
    expect(rows(256, true)).toBe(3); // rows 0, 1 and 78
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
      ? [(registration as ChildLink).child as Arena]
      : [],
  );
}

describe("freeRuns", () => {
  const freeBytes = (heap: Heap) => freeRuns(heap).reduce((sum, run) => sum + run.pages * PAGE, 0);

  it("lists whole free pages inside memory, and a large block released is the newest run", async () => {
    const heap = await Heap.create({ initialPages: 64 });
    const before = freeRuns(heap);
    expect(before.length).toBeGreaterThan(0);
    for (const run of before) {
      expect(run.start % PAGE).toBe(0);
      expect(run.pages).toBeGreaterThan(0);
      expect(run.start + run.pages * PAGE).toBeLessThanOrEqual(heap.memory.buffer.byteLength);
    }
    const arena = heap.createArena();
    const ptr = arena.alloc(5 * PAGE);
    const taken = freeBytes(heap);
    expect(freeRuns(heap).some((run) => run.start <= ptr && ptr < run.start + run.pages * PAGE)).toBe(false);
    arena.release();
    const newest = freeRuns(heap)[0];
    expect(newest.start <= ptr && ptr < newest.start + newest.pages * PAGE).toBe(true);
    expect(freeBytes(heap) - taken).toBeGreaterThanOrEqual(5 * PAGE);
  });

  it("is EINVAL for anything but a heap", async () => {
    const heap = await Heap.create();
    const arena = heap.createArena();
    for (const value of [arena, {}, null, undefined, 1]) {
      expect(() => freeRuns(value as unknown as Heap)).toThrow(ArenaError);
      try {
        freeRuns(value as unknown as Heap);
      } catch (error) {
        expect((error as ArenaError).code).toBe("EINVAL");
      }
    }
    arena.release();
  });
});

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
    const { command } = await import("../tools/inspect/command.js");
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
