// The Chromium the real-browser test drives through playwright-core, which
// downloads no browser itself. In this order:
//
// 1. CHROMIUM=/path/to/chromium, when set (a wrong path there is an error,
//    never a silent fallback);
// 2. /usr/bin/chromium (Debian's `chromium` package), when installed;
// 3. otherwise, or with CHROMIUM=@sparticuz/chromium (.ci/run sets it, so
//    that CI proves the npm-only path even where a system Chromium is
//    installed), the Chromium inside the `@sparticuz/chromium` devDependency:
//    a brotli-compressed headless shell for linux-x64, with the NSS and
//    expat libraries it links (built for Amazon Linux 2023) and a font, so
//    `npm install` alone brings a browser. It is unpacked once (about 200 MB,
//    1-2 s) into node_modules/.cache/managed-arena/chromium-<version>/ and
//    launched with those libraries and fonts, not the system's: no apt
//    package is needed, not even for fonts. Its own flags (chromium.args,
//    made for AWS Lambda) are used less those that make it unlike a desktop
//    Chromium where the test looks (PACKAGED_FLAGS_LEFT_OUT): with them, a
//    page served with COOP/COEP is not cross-origin isolated and every page
//    has SharedArrayBuffer.
//
// Headless, no sandbox, no background networking, a fresh profile.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliDecompressSync } from "node:zlib";
import type { BrowserContext } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Debian's Chromium, used when it is installed and CHROMIUM is not set. */
export const SYSTEM_CHROMIUM = "/usr/bin/chromium";
/** The value of CHROMIUM that selects the packaged Chromium even where a system one is installed. */
export const PACKAGED = "@sparticuz/chromium";

/**
 * Flags for every Chromium: headless, no sandbox, nothing fetched in the background; none touches
 * the same-origin policy or site isolation, so a page served with COOP/COEP is cross-origin
 * isolated and no other page has SharedArrayBuffer (what test/browser.test.ts asserts).
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

/**
 * Flags of @sparticuz/chromium's chromium.args that the packaged Chromium is launched without, so
 * that cross-origin isolation works as in a desktop Chromium (measured with 147.0.0):
 * - --disable-web-security turns cross-origin isolation off with the same-origin policy: a page
 *   served with COOP/COEP reports crossOriginIsolated false, with or without --single-process;
 *   without this flag it reports true, even in --single-process;
 * - --enable-features=SharedArrayBuffer gives every page SharedArrayBuffer, isolated or not;
 *   without it only a cross-origin isolated page (and its workers) has one, and
 *   Heap.create({ shared: true }) elsewhere is EINVAL, as in Chrome;
 * - --single-process, --disable-site-isolation-trials, and IsolateOrigins and site-per-process
 *   in --disable-features put every site in one process: without them each site, and the
 *   isolated page, gets a renderer process of its own, as in Chrome (no slower here).
 */
const PACKAGED_FLAGS_LEFT_OUT = [
  "--disable-web-security",
  "--single-process",
  "--disable-site-isolation-trials",
  "--enable-features=SharedArrayBuffer",
  "--disable-features=IsolateOrigins,site-per-process",
];

/** `args` less the flags in `leftOut`; a feature list (--disable-features=a,b,c) only loses the features named there. */
function withoutFlags(args: readonly string[], leftOut: readonly string[]): string[] {
  return args.flatMap((flag) => {
    if (leftOut.includes(flag)) return [];
    const [name, value] = flag.split(/=(.*)/s) as [string, string | undefined];
    if (value === undefined || !/^--(enable|disable)-features$/.test(name)) return [flag];
    const dropped = leftOut.flatMap((other) =>
      other.startsWith(`${name}=`) ? other.slice(name.length + 1).split(",") : [],
    );
    const kept = value.split(",").filter((feature) => !dropped.includes(feature));
    return kept.length === 0 ? [] : [`${name}=${kept.join(",")}`];
  });
}

/** What to launch, and which Chromium that is (for the test's messages). */
export interface Launch {
  executablePath: string;
  args: string[];
  env?: Record<string, string>;
  /** "CHROMIUM", "/usr/bin/chromium" or "@sparticuz/chromium <version>". */
  source: string;
}

export interface Browser {
  context: BrowserContext;
  source: string;
  close(): Promise<void>;
}

/** The browser to launch, as described at the top of this file; throws when there is none. */
export async function findChromium(): Promise<Launch> {
  const override = process.env.CHROMIUM;
  if (override === PACKAGED) return packagedChromium();
  if (override !== undefined && override !== "") {
    if (!existsSync(override)) throw new Error(`CHROMIUM=${override}, but there is no such file`);
    return { executablePath: override, args: CHROMIUM_ARGS, source: "CHROMIUM" };
  }
  if (existsSync(SYSTEM_CHROMIUM))
    return { executablePath: SYSTEM_CHROMIUM, args: CHROMIUM_ARGS, source: SYSTEM_CHROMIUM };
  return packagedChromium();
}

/** Launches Chromium with a fresh user-data-dir; throws a clear error when there is none. */
export async function launchChromium(): Promise<Browser> {
  const launch = await findChromium();
  let playwright: typeof import("playwright-core");
  try {
    playwright = await import("playwright-core");
  } catch (error) {
    throw new Error(`playwright-core is not installed (npm install): ${error}`);
  }
  const profile = mkdtempSync(join(tmpdir(), "managed-arena-chromium-"));
  try {
    const context = await playwright.chromium.launchPersistentContext(profile, {
      executablePath: launch.executablePath,
      headless: true,
      args: launch.args,
      ...(launch.env === undefined ? {} : { env: launch.env }),
      viewport: { width: 1280, height: 900 },
      timeout: 20_000,
    });
    return {
      context,
      source: launch.source,
      async close() {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`could not launch Chromium (${launch.source}, ${launch.executablePath}): ${error}`);
  }
}

/** The Chromium of @sparticuz/chromium, unpacked into node_modules/.cache on first use. */
async function packagedChromium(): Promise<Launch> {
  const hint =
    process.env.CHROMIUM === PACKAGED
      ? "CHROMIUM=@sparticuz/chromium, but @sparticuz/chromium (a devDependency, `npm install` brings it)"
      : `no Chromium: CHROMIUM is not set, ${SYSTEM_CHROMIUM} does not exist, and @sparticuz/chromium` +
        " (a devDependency, `npm install` brings it)";
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `${hint} ships a linux-x64 binary only, not ${process.platform}-${process.arch}: ` +
        "set CHROMIUM=/path/to/chromium (or Google Chrome)",
    );
  }
  let chromium: typeof import("@sparticuz/chromium").default;
  let packageDir: string;
  try {
    chromium = (await import("@sparticuz/chromium")).default;
    // Its exports map hides package.json; the entry point is build/cjs/index.cjs.
    packageDir = join(dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium")), "..", "..");
  } catch (error) {
    throw new Error(`${hint} is not installed: ${error}`);
  }
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { version: string };
  const dir = join(root, "node_modules", ".cache", "managed-arena", `chromium-${version}`);
  if (!existsSync(join(dir, "chromium"))) await unpack(chromium, join(packageDir, "bin"), dir);
  const libraries = join(dir, "lib");
  return {
    executablePath: join(dir, "chromium"),
    // Its own recommended flags (--headless='shell', SwiftShader for WebGL, no sandbox...) less
    // PACKAGED_FLAGS_LEFT_OUT, and ours that keep it off the network.
    args: [
      ...withoutFlags(chromium.args, PACKAGED_FLAGS_LEFT_OUT),
      ...CHROMIUM_ARGS.filter((flag) => !/^--(headless|no-sandbox|disable-gpu)/.test(flag)),
    ],
    env: {
      ...(process.env as Record<string, string>),
      LD_LIBRARY_PATH: [libraries, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
      FONTCONFIG_FILE: join(dir, "fonts.conf"),
    },
    source: `@sparticuz/chromium ${version}`,
  };
}

/**
 * Unpacks the package's brotli files into `dir`: chromium, the SwiftShader libraries, fonts/ (by
 * the package's own code, which writes to os.tmpdir(), pointed here through TMPDIR), lib/ (the
 * al2023 libraries, which the package unpacks only on AWS), and a fonts.conf. Everything goes to
 * a temporary directory that is renamed into place when complete, so an interrupted or concurrent
 * unpacking never leaves a half-written browser behind.
 */
async function unpack(chromium: typeof import("@sparticuz/chromium").default, bin: string, dir: string) {
  mkdirSync(dirname(dir), { recursive: true });
  const partial = mkdtempSync(`${dir}.partial-`);
  try {
    const savedTmpdir = process.env.TMPDIR;
    try {
      process.env.TMPDIR = partial;
      const executable = await chromium.executablePath(bin);
      if (executable !== join(partial, "chromium")) throw new Error(`unpacked to ${executable}, not into ${partial}`);
    } finally {
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
    }
    extractTar(brotliDecompressSync(readFileSync(join(bin, "al2023.tar.br"))), partial);
    // The package's fonts, then the system's where there are any (DejaVu Sans Mono, the memory
    // map's first choice, on Debian); the system's are not needed.
    writeFileSync(
      join(partial, "fonts.conf"),
      `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>${join(dir, "fonts")}</dir>
  <cachedir>${join(dir, "fonts-cache")}</cachedir>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
</fontconfig>
`,
    );
    renameSync(partial, dir);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    // Another process unpacked the same version first: use its copy.
    if (!existsSync(join(dir, "chromium"))) throw error;
  }
}

/** Writes the regular files of a ustar archive below `dir` (enough for al2023.tar: lib/*.so). */
function extractTar(archive: Buffer, dir: string) {
  const field = (header: Buffer, start: number, length: number) =>
    header
      .subarray(start, start + length)
      .toString("latin1")
      .replace(/\0.*$/s, "");
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const header = archive.subarray(offset, offset + 512);
    const name = field(header, 0, 100);
    if (name === "") break;
    const prefix = field(header, 345, 155);
    const size = Number.parseInt(field(header, 124, 12).trim() || "0", 8);
    const type = field(header, 156, 1) || "0";
    const path = join(dir, prefix === "" ? name : `${prefix}/${name}`);
    if (!path.startsWith(`${dir}/`)) throw new Error(`unsafe path in archive: ${name}`);
    if (type === "5") mkdirSync(path, { recursive: true });
    else if (type === "0") {
      mkdirSync(dirname(path), { recursive: true });
      const mode = Number.parseInt(field(header, 100, 8).trim() || "644", 8) & 0o755;
      writeFileSync(path, archive.subarray(offset + 512, offset + 512 + size), { mode });
    } else throw new Error(`unexpected entry type ${type} in archive: ${name}`);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
}
