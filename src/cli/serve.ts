/**
 * `mcp-watchdog serve [--host 127.0.0.1] [--port N] [--allow-origin O]... [--auth-token T]
 * [proxy options] -- <server...>` (or `--url <upstream>`): a Streamable HTTP gateway in front of a
 * stdio or remote MCP server. Every client session gets its own upstream session and its own
 * {@link ProxySession}, built from the same detectors as the stdio proxy.
 *
 * @module
 */
import type { Runtime } from "../adapters/runtime.ts";
import { listenHttp } from "../adapters/http_serve.ts";
import { Inspector } from "../pipeline/inspector.ts";
import { ProxySession } from "../proxy/session.ts";
import { createProxySetup } from "../proxy/setup.ts";
import { createGateway, type Upstream } from "../transports/http_server.ts";
import { expandEnv, parseHeaderArgs, redactUrl } from "../transports/http_client.ts";
import { parseProxyArgs, type ProxyArgs, UsageError } from "./options.ts";

/** Default port of the gateway. */
export const DEFAULT_PORT = 8787;

/** The serve-only options (the rest are the proxy's). */
export interface ServeArgs {
  readonly host: string;
  readonly port: number;
  readonly allowOrigins: readonly string[];
  readonly authToken?: string;
  readonly proxy: ProxyArgs;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export const SERVE_HELP =
  `Usage: mcp-watchdog serve [--host H] [--port N] [--allow-origin O]... [--auth-token T] [options] -- <server...>
       mcp-watchdog serve [--host H] [--port N] ... --url <https://host/mcp> [--header 'K: V']...

Serves Streamable HTTP at http://H:N/mcp in front of a stdio server (one process per client
session) or a remote server (one upstream session per client session), inspecting every message.

  --host H            Address to bind (default 127.0.0.1; anything else exposes the gateway).
  --port N            Port (default ${DEFAULT_PORT}; 0 picks a free one).
  --allow-origin O    Browser Origin allowed besides loopback ones (repeatable). Others get 403.
  --auth-token T      Require 'Authorization: Bearer T' from clients (\${ENV} references are
                      expanded; or set MCP_WATCHDOG_AUTH_TOKEN). Never logged.
  All proxy options (--mode, --audit-log, --rules, --name ...) apply; see mcp-watchdog --help.
`;

/** Split `serve`'s own options from the proxy's. */
export function parseServeArgs(
  argv: readonly string[],
  env: (n: string) => string | undefined,
): ServeArgs & { help: boolean } {
  const dd = argv.indexOf("--");
  const head = dd === -1 ? [...argv] : argv.slice(0, dd);
  const tail = dd === -1 ? [] : argv.slice(dd);
  const rest: string[] = [];
  let host = "127.0.0.1";
  let port = DEFAULT_PORT;
  const origins: string[] = [];
  let token: string | undefined = env("MCP_WATCHDOG_AUTH_TOKEN") || undefined;
  let help = false;
  for (let i = 0; i < head.length; i++) {
    const a = head[i];
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq !== -1 ? a.slice(0, eq) : a;
    const take = (): string => {
      if (eq !== -1 && a.startsWith("--")) return a.slice(eq + 1);
      const v = head[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--host":
        host = take();
        break;
      case "--port": {
        const v = take();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) {
          throw new UsageError(`--port must be 0-65535, got '${v}'`);
        }
        port = n;
        break;
      }
      case "--allow-origin":
        origins.push(take());
        break;
      case "--auth-token":
        token = expandEnv(take(), env);
        break;
      case "--help":
      case "-h":
        help = true;
        break;
      default:
        rest.push(a);
    }
  }
  if (help) return { help, host, port, allowOrigins: origins, proxy: parseProxyArgs(["--help"]) };
  const proxy = parseProxyArgs([...rest, ...tail]);
  return { help, host, port, allowOrigins: origins, ...(token ? { authToken: token } : {}), proxy };
}

/** Run the gateway until SIGINT/SIGTERM; resolves with the exit code. */
export async function runServe(argv: readonly string[], runtime: Runtime): Promise<number> {
  let args: ReturnType<typeof parseServeArgs>;
  try {
    args = parseServeArgs(argv, (n) => runtime.env(n));
  } catch (e) {
    if (e instanceof UsageError) {
      runtime.writeStderr(`mcp-watchdog serve: ${e.message}\nTry 'mcp-watchdog serve --help'.\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    runtime.writeStderr(SERVE_HELP);
    return 0;
  }
  const config = args.proxy.config;
  let upstream: Upstream;
  if (config.serverUrl) {
    let headers: Record<string, string>;
    try {
      headers = parseHeaderArgs(args.proxy.headers, (n) => runtime.env(n));
    } catch (e) {
      runtime.writeStderr(`mcp-watchdog serve: ${e instanceof Error ? e.message : e}\n`);
      return 2;
    }
    upstream = { kind: "http", url: config.serverUrl, headers, fetch: runtime.fetch };
  } else {
    upstream = { kind: "stdio", command: config.serverCommand, runtime };
  }

  const setup = await createProxySetup(args.proxy, runtime);
  const base = setup.session;
  const newSession = (id: string) =>
    new ProxySession(
      new Inspector(base.inspector.detectors, {
        ...base.inspector.env,
        session: `http:${id}`,
        now: () => Date.now(),
      }),
      base.sinks,
    );
  const gateway = createGateway({
    host: args.host,
    allowOrigins: args.allowOrigins,
    authToken: args.authToken,
    maxMessageBytes: config.maxMessageBytes,
    upstream,
    newSession,
    event: (e) => setup.event(e),
  });
  let listener;
  try {
    listener = await listenHttp({ hostname: args.host, port: args.port }, gateway.handle);
  } catch (e) {
    runtime.writeStderr(
      `mcp-watchdog serve: cannot listen on ${args.host}:${args.port}: ${
        e instanceof Error ? e.message : e
      }\n`,
    );
    setup.close();
    return 1;
  }
  const shown = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
  const target = config.serverUrl ? redactUrl(config.serverUrl) : config.serverCommand.join(" ");
  // Printed even with --quiet: with --port 0 it is the only way to learn the address.
  runtime.writeStderr(`mcp-watchdog: serving http://${shown}:${listener.port}/mcp for ${target}\n`);
  if (!LOOPBACK_HOSTS.has(args.host) && !args.authToken) {
    runtime.writeStderr(
      `mcp-watchdog: warning: listening on ${args.host} without --auth-token: anyone who can reach this port can use the server\n`,
    );
  }
  await new Promise<void>((resolve) => {
    const offs = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) =>
      runtime.onSignal(s, () => {
        for (const off of offs) off();
        resolve();
      })
    );
  });
  await gateway.close();
  await listener.close();
  setup.close();
  return 0;
}
