// Compile-time contract of the facade's types, checked by `tsc -p
// tsconfig.check.json` in `npm test`: each `@ts-expect-error` below fails the
// type check if the call it marks ever type-checks. The calls also run, so
// the runtime answer to what the types refuse is asserted too.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, expectTypeOf, it } from "vitest";
import { type CoreSource, Heap, type Ptr } from "../src/index.js";
import { expectCode } from "./helpers.js";
import { ok, setup } from "./helpers3.js";

describe("types", () => {
  it("a pointer parameter takes a Ptr (what alloc returned), not any number", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(8);
    expectTypeOf(p).toEqualTypeOf<Ptr>();
    // @ts-expect-error a plain number is not a Ptr
    expectCode(() => arena.free(123), "EBADPTR");
    // @ts-expect-error arithmetic on a Ptr gives a number
    expectCode(() => arena.sizeOf(p + 8), "EBADPTR");
    // Stored as numbers (a Uint32Array), a pointer is cast back on purpose.
    const stored = new Uint32Array([p]);
    expect(arena.sizeOf(stored[0] as Ptr)).toBe(8);
    arena.free(p);
    ok(heap);
  });

  it("add and addOrReset tie data to the action's parameter", async () => {
    const { heap, arena } = await setup();
    const seen: unknown[] = [];
    arena.add(() => seen.push("none"));
    arena.add((n: number) => seen.push(n), 1);
    arena.add((text?: string) => seen.push(text ?? "no text"));
    arena.addOrReset((flag: boolean) => seen.push(flag), true, "flag");
    // @ts-expect-error data is required when the action takes a parameter
    arena.add((n: number) => seen.push(n));
    // @ts-expect-error data of another type than the parameter's
    arena.add((n: number) => seen.push(n), "one");
    // @ts-expect-error the same for addOrReset
    arena.addOrReset((n: number) => seen.push(n));
    arena.release();
    expect(seen).toEqual([undefined, "one", undefined, true, "no text", 1, "none"]);
    ok(heap);
  });

  it("Heap.create's wasm takes a URL, a Response or a promise of one, a Module or bytes (anything else: EINVAL at run time)", async () => {
    const bytes = new Uint8Array(
      readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "core.wasm")),
    );
    const module = await WebAssembly.compile(bytes);
    const accepted: CoreSource[] = [bytes, bytes.buffer, new DataView(bytes.buffer), module, new Response(bytes)];
    accepted.push(
      Promise.resolve(new Response(bytes)),
      "https://example.com/core.wasm",
      new URL("https://example.com/"),
    );
    for (const wasm of accepted.slice(0, 5)) (await Heap.create({ wasm })).createArena().alloc(8);
    // The types cannot refuse a number: WebAssembly.Module is an empty interface, which any
    // object or primitive but null and undefined satisfies. The run time does.
    const error = await Heap.create({ wasm: 42 }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("EINVAL");
  });
});
