/**
 * The HTTP listener seam: serve a web-standard `(Request) => Promise<Response>` handler. This is
 * the Deno implementation (`Deno.serve`); the npm build swaps in a `node:http` one with the same
 * signature.
 *
 * @module
 */

/** A running listener. */
export interface HttpListener {
  /** The address actually bound (the port is real even when 0 was asked). */
  readonly hostname: string;
  readonly port: number;
  /** Stop accepting, end open connections, resolve when done. */
  close(): Promise<void>;
  /** Settles when the listener has stopped. */
  readonly finished: Promise<void>;
}

/** Options for {@link listenHttp}. */
export interface ListenOptions {
  readonly hostname: string;
  readonly port: number;
  /** Errors thrown by the handler (already answered with 500). */
  onError?(e: unknown): void;
}

/** Serve `handler` on `hostname:port`; resolves once listening. */
export function listenHttp(
  o: ListenOptions,
  handler: (req: Request) => Promise<Response>,
): Promise<HttpListener> {
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: o.hostname,
        port: o.port,
        // onListen runs before Deno.serve returns: resolve once `server` is assigned.
        onListen: (addr) =>
          queueMicrotask(() => {
            resolve({
              hostname: addr.hostname,
              port: addr.port,
              close: async () => {
                await server.shutdown();
              },
              finished: server.finished,
            });
          }),
        onError: (e) => {
          o.onError?.(e);
          return new Response(
            JSON.stringify({
              jsonrpc: "2.0",
              id: null,
              error: { code: -32603, message: "Internal error" },
            }),
            {
              status: 500,
              headers: { "content-type": "application/json" },
            },
          );
        },
      }, handler);
    } catch (e) {
      reject(e);
    }
  });
}
