/**
 * Dispatch of the `mcp-watchdog` command line: subcommands, or the proxy itself.
 *
 * @module
 */
import type { Runtime } from "../adapters/runtime.ts";
import { runStdioProxy } from "../proxy/stdio_proxy.ts";
import { VERSION } from "../version.ts";
import { helpText, parseProxyArgs, UsageError } from "./options.ts";

/** Subcommands, loaded on demand so that the proxy's start-up stays lean. */
const SUBCOMMANDS: Record<string, (args: string[], runtime: Runtime) => Promise<number>> = {};

/** Run the command line; resolves with the exit code. */
export async function main(argv: readonly string[], runtime: Runtime): Promise<number> {
  const sub = SUBCOMMANDS[argv[0] ?? ""];
  if (sub) return await sub(argv.slice(1), runtime);
  try {
    const args = parseProxyArgs(argv);
    if (args.help) {
      await write(runtime, helpText(VERSION));
      return 0;
    }
    if (args.version) {
      await write(runtime, `mcp-watchdog ${VERSION}\n`);
      return 0;
    }
    return await runStdioProxy(args, runtime);
  } catch (e) {
    if (e instanceof UsageError) {
      runtime.writeStderr(`mcp-watchdog: ${e.message}\nTry 'mcp-watchdog --help'.\n`);
      return 2;
    }
    throw e;
  }
}

async function write(runtime: Runtime, text: string): Promise<void> {
  const w = runtime.stdout.getWriter();
  await w.write(new TextEncoder().encode(text));
  w.releaseLock();
}
