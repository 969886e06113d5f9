/**
 * The `mcp-watchdog` command: a security proxy for MCP servers.
 *
 * ```sh
 * mcp-watchdog [options] -- <server-command> [args...]
 * deno run -A jsr:@bountyy/mcp-watchdog/cli -- npx -y @modelcontextprotocol/server-filesystem ~/project
 * ```
 *
 * The runtime adapter is the only host-specific import: the npm build swaps `./src/adapters/deno.ts`
 * for `./src/adapters/node.ts`.
 *
 * @example Run the command line in-process and get its exit code
 * ```ts
 * import { main } from "./cli.ts";
 * import { denoRuntime } from "./src/adapters/deno.ts";
 *
 * const code = await main(["--version"], denoRuntime); // prints "mcp-watchdog <version>"
 * ```
 *
 * @module
 */
import { denoRuntime as runtime } from "./src/adapters/deno.ts";
import { main } from "./src/cli/main.ts";

export { main };
export type { Runtime } from "./src/adapters/runtime.ts";

/** Run the command line with this process's arguments and exit with its status. */
export async function run(): Promise<never> {
  return runtime.exit(await main(runtime.args, runtime));
}

if (import.meta.main) await run();
