/**
 * The `mcp-watchdog` command: a security proxy for MCP servers.
 *
 * ```sh
 * mcp-watchdog [options] -- <server-command> [args...]
 * mcp-watchdog --help
 * ```
 *
 * The runtime adapter is the only host-specific import: the npm build swaps `./src/adapters/deno.ts`
 * for `./src/adapters/node.ts`.
 *
 * @example
 * ```sh
 * deno run -A jsr:@bountyy/mcp-watchdog -- npx -y @modelcontextprotocol/server-filesystem ~/project
 * ```
 *
 * @module
 */
import { denoRuntime as runtime } from "./src/adapters/deno.ts";
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  runtime.exit(await main(runtime.args, runtime));
}
