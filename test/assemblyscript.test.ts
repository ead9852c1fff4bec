// managed-arena as an AssemblyScript library: a small program imports
// "managed-arena/assembly/embed" the way a consumer's would (through
// node_modules), keeps its own runtime for its own objects, and must find
// its arena memory and its strings intact, with the core's check() at 0.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(dirname(createRequire(import.meta.url).resolve("assemblyscript/package.json")), "bin", "asc.js");
const project = mkdtempSync(join(tmpdir(), "managed-arena-asc-"));
mkdirSync(join(project, "node_modules"));
symlinkSync(root, join(project, "node_modules", "managed-arena"), "dir");
writeFileSync(join(project, "program.ts"), readFileSync(join(root, "test", "assemblyscript", "program.ts")));

afterAll(() => rmSync(project, { recursive: true, force: true }));

/** Compiles program.ts with the given runtime; the compiler's output, and whether it succeeded. */
function compile(runtime: string, out: string): { ok: boolean; output: string } {
  try {
    const output = execFileSync(process.execPath, [asc, "program.ts", "--runtime", runtime, "--outFile", out, "-O"], {
      cwd: project,
      encoding: "utf8",
      stdio: "pipe",
    });
    return { ok: true, output };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failure.stdout ?? ""}${failure.stderr ?? ""}` };
  }
}

function instantiate(file: string): { run(): number; memory: WebAssembly.Memory } {
  const module = new WebAssembly.Module(readFileSync(join(project, file)));
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort: (_message: number, _file: number, line: number, column: number) => {
        throw new Error(`abort at ${line}:${column}`);
      },
      seed: () => 42,
    },
  });
  return instance.exports as unknown as { run(): number; memory: WebAssembly.Memory };
}

describe("AssemblyScript consumers", () => {
  it.each(["incremental", "minimal"])(
    "a program on the %s runtime uses the core as a library",
    (runtime) => {
      const result = compile(runtime, `${runtime}.wasm`);
      expect(result.ok, result.output).toBe(true);
      const program = instantiate(`${runtime}.wasm`);
      // 0: every allocation and every string read back intact, EBADPTR on a double free,
      // the action's slot popped at release, and the core's invariants hold.
      expect(program.run()).toBe(0);
      expect(program.memory.buffer.byteLength).toBeGreaterThan(64 * 65536);
    },
    60_000,
  );

  it("the stub runtime is refused at compile time, with the reason", () => {
    const result = compile("stub", "stub.wasm");
    expect(result.ok).toBe(false);
    expect(result.output).toContain("needs a TLSF runtime");
  }, 60_000);
});
