/**
 * The stdio proxy's lifecycle: start the server (an argument array, never a shell), pump both
 * directions through the session, and end cleanly. When the client closes stdin the server's stdin
 * is closed, then SIGTERM, then SIGKILL after timeouts; SIGINT/SIGTERM are forwarded; the proxy
 * exits with the server's exit code and never leaves an orphaned server.
 *
 * @module
 */
import { type ChildProcess, type Runtime, type Signal, SpawnError } from "../adapters/runtime.ts";
import type { ProxyArgs } from "../cli/options.ts";
import type { Direction } from "../types.ts";
import { type ByteSink, pumpLines } from "../transports/stdio.ts";
import { createProxySetup } from "./setup.ts";

/** How long a server may take to exit after its stdin closed, before SIGTERM; then before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 5000;
export const KILL_GRACE_MS = 3000;
const SIGNALS: Record<Signal, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** A sink that stops writing (and says so once) when its reader is gone. */
function sinkOf(
  stream: WritableStream<Uint8Array>,
  onGone: (e: unknown) => void,
): ByteSink & { close(): Promise<void>; gone: boolean } {
  const w = stream.getWriter();
  const s = {
    gone: false,
    async write(bytes: Uint8Array) {
      if (s.gone) return;
      try {
        await w.write(bytes);
      } catch (e) {
        s.gone = true;
        onGone(e);
      }
    },
    async close() {
      if (s.gone) return;
      s.gone = true;
      try {
        await w.close();
      } catch { /* already closed by the peer */ }
    },
  };
  return s;
}

/** Run the proxy until the server exits; resolves with the exit code to use. */
export async function runStdioProxy(args: ProxyArgs, runtime: Runtime): Promise<number> {
  const [command, ...cmdArgs] = args.config.serverCommand;
  const setup = await createProxySetup(args, runtime);
  let child: ChildProcess;
  try {
    child = runtime.spawn(command, cmdArgs, { stderr: "inherit" });
  } catch (e) {
    setup.close();
    const msg = e instanceof Error ? e.message : String(e);
    runtime.writeStderr(`mcp-watchdog: ${msg}\n`);
    return e instanceof SpawnError ? e.exitCode : 1;
  }
  const { session } = setup;
  const limit = args.config.maxMessageBytes;

  let exited = false;
  let escalation: ReturnType<typeof setTimeout> | undefined;
  const terminate = (first: Signal | null) => {
    // Close stdin first (done by the caller), then SIGTERM, then SIGKILL.
    if (escalation !== undefined || exited) return;
    const term = () => {
      if (exited) return;
      child.kill("SIGTERM");
      escalation = setTimeout(() => !exited && child.kill("SIGKILL"), KILL_GRACE_MS);
    };
    if (first) {
      child.kill(first);
      escalation = setTimeout(() => !exited && child.kill("SIGKILL"), KILL_GRACE_MS);
    } else escalation = setTimeout(term, SHUTDOWN_GRACE_MS);
  };

  const toServer = sinkOf(child.stdin, () => {});
  const toClient = sinkOf(runtime.stdout, () => {
    setup.event({
      event: "client_gone",
      reason: "the client stopped reading; stopping the server",
    });
    void toServer.close();
    terminate(null);
  });

  const offSignals = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) =>
    runtime.onSignal(sig, () => {
      void toServer.close();
      terminate(sig);
    })
  );

  // One pump per direction: what arrives from `source` is routed by the session and forwarded
  // to `forward`; replies (refusals, parse errors) go back to the sender.
  const pump = (
    direction: Direction,
    source: ReadableStream<Uint8Array>,
    forward: ByteSink,
    reply: ByteSink,
  ) =>
    pumpLines({
      source,
      forward,
      reply,
      maxMessageBytes: limit,
      handle: (t) => session.handle(direction, t),
      oversized: (p, n) => session.oversized(direction, p, n, limit),
    });

  void pump("client_to_server", runtime.stdin, toServer, toClient)
    .catch((e) =>
      setup.event({ event: "client_gone", reason: `reading from the client failed: ${e}` })
    )
    .finally(async () => {
      // The client is done: the server gets EOF, then the escalation if it lingers.
      await toServer.close();
      terminate(null);
    });
  const serverPump = pump("server_to_client", child.stdout, toClient, toServer)
    .catch((e) =>
      setup.event({ event: "server_exit", reason: `reading from the server failed: ${e}` })
    );

  const status = await child.status;
  exited = true;
  clearTimeout(escalation);
  // Whatever the server wrote before it died still reaches the client (bounded wait: a grandchild
  // may hold the pipe open).
  await Promise.race([serverPump, new Promise((r) => setTimeout(r, 2000))]);
  const code = status.signal ? 128 + (SIGNALS[status.signal] ?? 0) : status.code;
  const pending = session.abandonPending(`MCP server exited (code ${code}) before answering`);
  if (pending.length) {
    setup.event({
      event: "server_exit",
      reason: `server exited with code ${code} with ${pending.length} request(s) unanswered`,
    });
    await toClient.write(new TextEncoder().encode(pending.join("\n") + "\n"));
  }
  for (const off of offSignals) off();
  setup.close();
  return code;
}
