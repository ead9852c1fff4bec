#!/usr/bin/env node
// The package.json that `npm pack` and `npm publish` put into the tarball:
// the repository's, without the scripts npm runs at install time.
//
// In the repository `prepare` builds everything at `npm install` (DESIGN.md
// §1), and npm runs it too when the package is installed from a git URL or a
// clone's directory. npm never runs it for a tarball or a registry install,
// but npm 11 still lists it among the "install scripts not yet covered by
// allowScripts" when such a tarball is installed, while the README says
// nothing runs at install. So:
//
//   strip    (prepack)  keeps the original in package.json.packing and writes
//                       package.json without preinstall, install, postinstall,
//                       prepare, preprepare, postprepare, prepublish; npm reads
//                       the manifest again after prepack and packs that file
//                       (it then has no prepare to run either);
//   restore  (postpack, or postpublish under `npm publish`, which sends the
//                       manifest it reads after packing to the registry) puts
//                       the original back, byte for byte, with its times, so
//                       `scripts/build.mjs --if-needed` sees no change.
//
// npm skips postpack when packing fails (a bad --pack-destination, a full
// disk, Ctrl-C). So `strip` also starts a detached watcher that restores the
// original as soon as the npm process that packs has exited, whichever way
// (that process is found among the script's ancestors: /proc on Linux, `ps`
// elsewhere; on Windows there is no watcher). And `strip`, `scripts/build.mjs`
// (npm start, npm test) and `restore` put back a leftover copy whose npm is
// gone. Replacing package.json is atomic (a rename), so a process that reads
// it meanwhile sees one version or the other, never half of one.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const manifest = join(root, "package.json");
/** The original package.json while a pack is under way: JSON { npm, atimeMs, mtimeMs, text }. */
export const BACKUP = join(root, "package.json.packing");

/** The scripts npm may run when the package is installed (prepare: from git or a directory). */
export const INSTALL_SCRIPTS = [
  "preinstall",
  "install",
  "postinstall",
  "preprepare",
  "prepare",
  "postprepare",
  "prepublish",
];

/** Writes `text` to `path` through a rename, with the given times. */
function replace(path, text, atimeMs, mtimeMs) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  utimesSync(temporary, atimeMs / 1000, mtimeMs / 1000);
  renameSync(temporary, path);
}

/** Whether process `pid` runs (a zombie, exited but not yet reaped by its parent, does not). */
function alive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === "EPERM";
  }
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The parent and command line of `pid`, or undefined where they cannot be read. */
function processInfo(pid) {
  try {
    if (process.platform === "linux") {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      return { ppid, command };
    }
    if (process.platform === "win32") return undefined;
    const line = execFileSync("ps", ["-o", "ppid=", "-o", "args=", "-p", String(pid)], { encoding: "utf8" }).trim();
    const [, ppid, command] = /^(\d+)\s+(.*)$/s.exec(line) ?? [];
    return ppid === undefined ? undefined : { ppid: Number(ppid), command };
  } catch {
    return undefined;
  }
}

/** The npm process running this lifecycle script (npm titles itself "npm <command>"), if found. */
function npmProcess() {
  let pid = process.ppid;
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    const info = processInfo(pid);
    if (info === undefined) return undefined;
    if (/^npm(\s|$)|[\\/]npm-cli\.js\b/.test(info.command)) return pid;
    pid = info.ppid;
  }
  return undefined;
}

/** Puts the original package.json back; with `onlyIfStale`, only when the npm that stripped it is gone. */
export function restore({ onlyIfStale = false, owner } = {}) {
  let saved;
  try {
    saved = JSON.parse(readFileSync(BACKUP, "utf8"));
  } catch (error) {
    if (error.code === "ENOENT") return false;
    throw new Error(`${BACKUP} is unreadable (${error.message}): restore package.json from git and delete it`);
  }
  if (owner !== undefined && saved.npm !== owner) return false;
  if (onlyIfStale && alive(saved.npm)) return false;
  replace(manifest, saved.text, saved.atimeMs, saved.mtimeMs);
  try {
    unlinkSync(BACKUP);
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  return true;
}

function strip() {
  const npm = npmProcess();
  if (existsSync(BACKUP)) {
    const saved = JSON.parse(readFileSync(BACKUP, "utf8"));
    if (saved.npm !== npm && alive(saved.npm)) {
      throw new Error(`another npm (pid ${saved.npm}) is packing this directory; ${BACKUP} is its copy`);
    }
    restore();
  }
  const text = readFileSync(manifest, "utf8");
  const pkg = JSON.parse(text);
  const stripped = INSTALL_SCRIPTS.filter((name) => pkg.scripts?.[name] !== undefined);
  if (stripped.length === 0) return;
  for (const name of stripped) delete pkg.scripts[name];
  const { atimeMs, mtimeMs } = statSync(manifest);
  replace(BACKUP, `${JSON.stringify({ npm, atimeMs, mtimeMs, text })}\n`, atimeMs, mtimeMs);
  replace(manifest, `${JSON.stringify(pkg, null, 2)}\n`, atimeMs, mtimeMs);
  if (npm !== undefined) {
    spawn(process.execPath, [fileURLToPath(import.meta.url), "watch", String(npm)], {
      detached: true,
      stdio: "ignore",
    }).unref();
  }
  console.error(`packed-manifest: the tarball's package.json has no ${stripped.join(", ")}`);
}

/** Waits for npm `pid` to exit (at most an hour), then restores package.json if its copy is still there. */
async function watch(pid) {
  const deadline = Date.now() + 3600_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  restore({ owner: pid });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, argument] = process.argv.slice(2);
  if (command === "strip") strip();
  else if (command === "restore") {
    // `npm publish` reads the manifest it sends to the registry after packing: keep the stripped
    // one until postpublish (or the watcher, if publishing fails).
    if (!(process.env.npm_lifecycle_event === "postpack" && process.env.npm_command === "publish")) restore();
  } else if (command === "watch") await watch(Number(argument));
  else {
    console.error("usage: node scripts/packed-manifest.mjs strip | restore | watch <npm pid>");
    process.exit(2);
  }
}
