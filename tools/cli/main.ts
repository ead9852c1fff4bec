// The `managed-arena` command. Each subcommand lives in its own module and is
// loaded only when asked for; the published bin is this file bundled with
// its development-only libraries (scripts/build.mjs), so installing the
// package pulls in no runtime dependency.

/** A subcommand: a one-line summary, its help text and how to run it (resolves to the exit code). */
export interface Command {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<Command>> = {};

/** Registers a subcommand under `name` (called by the modules below). */
export function register(name: string, load: () => Promise<Command>): void {
  commands[name] = load;
}

async function usage(): Promise<string> {
  const lines = ["usage: managed-arena <command> [options]", "", "commands:"];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  lines.push("", "Run `managed-arena <command> --help` for a command's options.");
  return lines.join("\n");
}

/** Runs the command line `args` (without node and the script); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (load === undefined) {
    console.error(`managed-arena: unknown command ${JSON.stringify(name)}\n\n${await usage()}`);
    return 2;
  }
  const command = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  return command.run(rest);
}
