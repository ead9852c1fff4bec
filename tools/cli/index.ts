#!/usr/bin/env node
// Entry point of the `managed-arena` bin: registers the subcommands, runs one.
import { main, register } from "./main.js";

register("bench", async () => (await import("../bench/command.js")).command);
register("inspect", async () => (await import("../inspect/command.js")).command);
register("fuzz", async () => (await import("../fuzz/command.js")).command);

process.exitCode = await main(process.argv.slice(2));
