/**
 * Dispatch of the `mcp-watchdog` command line: subcommands, or the proxy itself.
 *
 * @module
 */
import type { Runtime } from "../adapters/runtime.ts";
import { runStdioProxy } from "../proxy/stdio_proxy.ts";
import { VERSION } from "../version.ts";
import { helpText, parseProxyArgs, UsageError } from "./options.ts";
import type { CliIo } from "./io.ts";
import { RuleError } from "../rules/schema.ts";

/** What a subcommand reads and writes, on the given runtime. */
export function cliIo(runtime: Runtime): CliIo {
  const enc = new TextEncoder();
  return {
    stdout: (text) => writeAllSync(runtime, 1, enc.encode(text)),
    stderr: (text) => runtime.writeStderr(text),
    env: (n) => runtime.env(n),
    cwd: runtime.cwd(),
    home: runtime.homeDir(),
    runtime,
    stdoutIsTerminal: runtime.stdoutIsTerminal(),
    stderrIsTerminal: runtime.stderrIsTerminal(),
  };
}

function writeAllSync(runtime: Runtime, _fd: 1, bytes: Uint8Array): void {
  runtime.writeStdoutSync(bytes);
}

/** `--state-dir DIR` (or `--state-dir=DIR`) taken out of a subcommand's arguments. */
function takeStateDir(args: string[]): { rest: string[]; stateDir?: string } {
  const rest: string[] = [];
  let stateDir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--state-dir") stateDir = args[++i];
    else if (args[i].startsWith("--state-dir=")) stateDir = args[i].slice(12);
    else rest.push(args[i]);
  }
  return { rest, stateDir };
}

/**
 * Subcommands, imported on first use (literal specifiers, so compiled binaries include them) so
 * that the proxy's start-up stays lean.
 */
const SUBCOMMANDS: Record<string, (args: string[], runtime: Runtime) => Promise<number>> = {
  scan: async (a, rt) => (await import("./scan.ts")).runScan(a, cliIo(rt)),
  wrap: async (a, rt) => (await import("./wrap.ts")).runWrap(a, cliIo(rt)),
  unwrap: async (a, rt) => (await import("./wrap.ts")).runUnwrap(a, cliIo(rt)),
  log: async (a, rt) => (await import("./log.ts")).runLog(a, cliIo(rt)),
  serve: async (a, rt) => (await import("./serve.ts")).runServe(a, rt),
  pins: async (a, rt) => {
    const { rest, stateDir } = takeStateDir(a);
    // Approvals must land in the shared database, never in a throwaway in-memory fallback.
    const { openSqliteStateStore, resolveStateDir } = await import("../adapters/state_dir.ts");
    let store;
    try {
      store = openSqliteStateStore(
        resolveStateDir({ flag: stateDir, env: (n) => rt.env(n), home: rt.homeDir() }),
      );
    } catch (e) {
      rt.writeStderr(`mcp-watchdog pins: ${e instanceof Error ? e.message : e}\n`);
      return 1;
    }
    const io = cliIo(rt);
    try {
      return await (await import("./pins.ts")).runPins(rest, {
        stdout: io.stdout,
        stderr: io.stderr,
        store,
      });
    } finally {
      store.close();
    }
  },
  restore: async (a, rt) => {
    const { resolveStateDir } = await import("../adapters/state_dir.ts");
    const io = cliIo(rt);
    const stateDir = resolveStateDir({ env: (n) => rt.env(n), home: rt.homeDir() });
    return (await import("./restore.ts")).runRestore(a, {
      stdout: io.stdout,
      stderr: io.stderr,
      stateDir,
    });
  },
};

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
    if (args.config.serverUrl) {
      return await (await import("../transports/http_client.ts")).runHttpClientProxy(args, runtime);
    }
    return await runStdioProxy(args, runtime);
  } catch (e) {
    if (e instanceof UsageError || e instanceof RuleError) {
      runtime.writeStderr(`mcp-watchdog: ${e.message}\nTry 'mcp-watchdog --help'.\n`);
      return 2;
    }
    throw e;
  }
}

function write(runtime: Runtime, text: string): Promise<void> {
  runtime.writeStdoutSync(new TextEncoder().encode(text));
  return Promise.resolve();
}
