#!/usr/bin/env node
// Entry point of the `managed-arena` bin: registers the subcommands, runs one.
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
