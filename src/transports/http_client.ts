/**
 * Remote upstream (`mcp-watchdog [options] --url <https://host/mcp> [--header "K: V"]...`): speaks
 * newline-delimited JSON-RPC to the client on stdio and Streamable HTTP to the server: POST with
 * `Accept: application/json, text/event-stream`, JSON and SSE responses, server requests and
 * notifications on any stream, `Mcp-Session-Id` and `MCP-Protocol-Version`, the GET stream,
 * resumption with `Last-Event-ID` after a dropped stream, DELETE on exit, and a fallback to the
 * legacy HTTP+SSE transport (2024-11-05) when the server answers that way.
 *
 * Every server message goes through `session.handle("server_to_client")` and every client
 * message through `session.handle("client_to_server")` before it is POSTed. Header values
 * (tokens) never appear in logs or errors.
 *
 * @module
 */
import type { Runtime } from "../adapters/runtime.ts";
import { type ProxyArgs, UsageError } from "../cli/options.ts";
import { LineFramer } from "../proxy/framing.ts";
import { errorResponse, type ProxyEvent, type Routed, sniffId } from "../proxy/session.ts";
import { createProxySetup } from "../proxy/setup.ts";
import type { JsonRpcId } from "../types.ts";
import { readBoundedBody } from "./bounded_body.ts";
import { readSse, SseParser } from "./sse.ts";

const INTERNAL_ERROR = -32603;
const enc = new TextEncoder();

/** Expand `${NAME}` references from the environment; an unset variable is an error. */
export function expandEnv(value: string, env: (name: string) => string | undefined): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}/g, (_, name: string) => {
    const v = env(name);
    if (v === undefined) {
      throw new UsageError(`\${${name}} is referenced but not set in the environment`);
    }
    return v;
  });
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const RESERVED = new Set([
  "content-type",
  "accept",
  "content-length",
  "host",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
]);

/** Parse `--header "K: V"` arguments (with `${ENV}` expansion) into a header record. */
export function parseHeaderArgs(
  list: readonly string[],
  env: (name: string) => string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of list) {
    const c = raw.indexOf(":");
    if (c <= 0) {
      throw new UsageError(`--header must look like 'Name: value', got '${raw.slice(0, 40)}'`);
    }
    const name = raw.slice(0, c).trim();
    if (!TOKEN.test(name)) {
      throw new UsageError(`--header: invalid header name '${name.slice(0, 40)}'`);
    }
    if (RESERVED.has(name.toLowerCase())) {
      throw new UsageError(`--header: ${name} is managed by mcp-watchdog`);
    }
    const value = expandEnv(raw.slice(c + 1).trim(), env);
    if (/[\r\n\0]/.test(value)) {
      throw new UsageError(`--header ${name}: the value contains a line break`);
    }
    out[name] = value;
  }
  return out;
}

/** A URL safe to log: no user info, no query values. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const q = [...u.searchParams.keys()];
    return `${u.origin}${u.pathname}${q.length ? `?${q.map((k) => `${k}=…`).join("&")}` : ""}`;
  } catch {
    return "(invalid URL)";
  }
}

interface Summary {
  readonly requests: JsonRpcId[];
  readonly initializeId?: JsonRpcId;
  readonly initialized: boolean;
}

function summarize(text: string): Summary {
  const requests: JsonRpcId[] = [];
  let initializeId: JsonRpcId | undefined;
  let initialized = false;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { requests, initialized };
  }
  for (const m of Array.isArray(v) ? v : [v]) {
    if (m === null || typeof m !== "object") continue;
    const o = m as Record<string, unknown>;
    if (typeof o.method !== "string") continue;
    if (o.id !== undefined) {
      requests.push(o.id as JsonRpcId);
      if (o.method === "initialize") initializeId = o.id as JsonRpcId;
    } else if (o.method === "notifications/initialized") initialized = true;
  }
  return { requests, initialized, ...(initializeId !== undefined ? { initializeId } : {}) };
}

const idKey = (id: JsonRpcId): string => typeof id === "string" ? `s:${id}` : `n:${String(id)}`;

/** The response ids in a server message (one or a batch). */
function responseIds(text: string): JsonRpcId[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  const out: JsonRpcId[] = [];
  for (const m of Array.isArray(v) ? v : [v]) {
    if (m === null || typeof m !== "object") continue;
    const o = m as Record<string, unknown>;
    if (o.method === undefined && o.id !== undefined) out.push(o.id as JsonRpcId);
  }
  return out;
}

/** An error message without URLs (they may carry credentials in user info or the query). */
export function scrubError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\bhttps?:\/\/[^\s)"']+/g, (u) => redactUrl(u));
}

/** One line of NDJSON: line breaks in JSON text can only be whitespace between tokens. */
function oneLine(text: string): string {
  return text.indexOf("\n") === -1 && text.indexOf("\r") === -1
    ? text
    : text.replace(/\r\n|\r|\n/g, " ");
}

/** Reconnection timing for dropped streams. */
export interface ReconnectOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive failed attempts before giving up on a stream. */
  readonly maxRetries: number;
}

/** What {@link StreamableHttpClient} needs. */
export interface HttpClientOptions {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
  readonly maxMessageBytes?: number;
  readonly reconnect?: Partial<ReconnectOptions>;
  /** A message from the server (to be inspected). Called in arrival order per stream. */
  onMessage(text: string): void | Promise<void>;
  /** A message made up locally (errors for requests the server can no longer answer). */
  onLocal(text: string): void;
  /** Notable events (stream dropped, resumed, fallback…). */
  onEvent?(e: ProxyEvent): void;
  /** The connection cannot be used any more (session ended by the server, legacy stream closed). */
  onFatal?(reason: string): void;
  /** A server message too large to inspect (`prefix`: its first characters). */
  onOversized?(prefix: string, size: number): void;
}

/** A Streamable HTTP client transport with legacy HTTP+SSE fallback. */
export class StreamableHttpClient {
  readonly url: string;
  #o: HttpClientOptions;
  #fetch: typeof fetch;
  #headers: Readonly<Record<string, string>>;
  #reconnect: ReconnectOptions;
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  #initId: JsonRpcId | undefined;
  #gate: Promise<void> = Promise.resolve();
  #abort = new AbortController();
  #closed = false;
  #retryMs: number | undefined;
  #getRunning = false;
  /** Legacy HTTP+SSE: where to POST, once the server has said so. */
  #legacy: Promise<string> | null = null;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #tasks = new Set<Promise<unknown>>();
  /** Sends and the response streams they opened (what {@link drain} waits for). */
  #posts = new Set<Promise<unknown>>();
  /** Which transport ended up in use. */
  mode: "streamable-http" | "legacy-sse" = "streamable-http";

  constructor(o: HttpClientOptions) {
    this.#o = o;
    this.url = o.url;
    this.#fetch = o.fetch ?? fetch;
    this.#headers = o.headers ?? {};
    this.#reconnect = { initialDelayMs: 1000, maxDelayMs: 30_000, maxRetries: 5, ...o.reconnect };
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  get protocolVersion(): string | undefined {
    return this.#protocolVersion;
  }

  #common(): Headers {
    const h = new Headers(this.#headers);
    if (this.#sessionId) h.set("mcp-session-id", this.#sessionId);
    if (this.#protocolVersion) h.set("mcp-protocol-version", this.#protocolVersion);
    return h;
  }

  #track<T>(p: Promise<T>, post = false): Promise<T> {
    this.#tasks.add(p);
    if (post) this.#posts.add(p);
    p.finally(() => {
      this.#tasks.delete(p);
      this.#posts.delete(p);
    }).catch(() => {});
    return p;
  }

  #fail(ids: readonly JsonRpcId[], why: string): void {
    for (const id of ids) {
      this.#o.onLocal(errorResponse(id, INTERNAL_ERROR, `mcp-watchdog: ${why}`));
    }
  }

  /** Watch server messages for the initialize result (its protocol version goes in every request after). */
  #sawMessage(text: string): void {
    if (this.#initId === undefined || !text.includes('"protocolVersion"')) return;
    try {
      const m = JSON.parse(text) as { id?: JsonRpcId; result?: { protocolVersion?: unknown } };
      if (m.id === this.#initId && typeof m.result?.protocolVersion === "string") {
        this.#protocolVersion = m.result.protocolVersion;
        this.#initId = undefined;
      }
    } catch { /* not ours */ }
  }

  async #deliver(text: string): Promise<void> {
    this.#sawMessage(text);
    const r = this.#o.onMessage(text);
    if (r instanceof Promise) await r;
  }

  /**
   * Send one client message (or batch), already inspected. Resolves once the server has taken it
   * (response headers); responses arrive through `onMessage`. Never rejects: failures become
   * JSON-RPC errors for the requests in the message.
   */
  send(text: string): Promise<void> {
    return this.#track(this.#send(text), true);
  }

  async #send(text: string): Promise<void> {
    const s = summarize(text);
    if (this.#closed) return this.#fail(s.requests, "the connection to the server is closed");
    let release: (() => void) | undefined;
    if (s.initializeId !== undefined) {
      this.#initId = s.initializeId;
      const prev = this.#gate;
      this.#gate = new Promise((r) => release = r);
      await prev;
    } else await this.#gate;
    try {
      if (this.#legacy) return await this.#sendLegacy(text, s);
      const h = this.#common();
      h.set("content-type", "application/json");
      h.set("accept", "application/json, text/event-stream");
      let res: Response;
      try {
        res = await this.#fetch(this.url, {
          method: "POST",
          headers: h,
          body: text,
          signal: this.#abort.signal,
        });
      } catch (e) {
        return this.#fail(
          s.requests,
          `cannot reach the server: ${scrubError(e)}`,
        );
      }
      const sid = res.headers.get("mcp-session-id");
      if (sid) this.#sessionId = sid;
      if (!res.ok) {
        if (
          s.initializeId !== undefined && !this.#sessionId &&
          (res.status === 400 || res.status === 404 || res.status === 405)
        ) {
          await res.body?.cancel();
          if (await this.#startLegacy()) return await this.#sendLegacy(text, s);
          return this.#fail(s.requests, `the server answered HTTP ${res.status} to initialize`);
        }
        return await this.#httpError(res, s);
      }
      const type = (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (res.status === 202 || s.requests.length === 0) {
        await res.body?.cancel();
        if (s.initialized) this.#startGet();
        return;
      }
      if (type === "text/event-stream" && res.body) {
        const pending = new Set(s.requests.map(idKey));
        // Stream in the background: the next client message must not wait for a long tool call.
        void this.#track(this.#consume(res.body, pending, false, s.requests), true);
        return;
      }
      if (type === "application/json") {
        const max = this.#o.maxMessageBytes ?? Infinity;
        const body = await readBoundedBody(res, max);
        if ("oversized" in body) {
          if (this.#o.onOversized) this.#o.onOversized(body.prefix, body.oversized);
          // The prefix may not name the request: answer every request of this POST.
          return this.#fail(s.requests, `the server's response exceeds --max-message-bytes ${max}`);
        }
        if (body.text.trim()) await this.#deliver(body.text);
        return;
      }
      await res.body?.cancel();
      return this.#fail(s.requests, `unexpected content type from the server: ${type || "(none)"}`);
    } finally {
      release?.();
    }
  }

  async #httpError(res: Response, s: Summary): Promise<void> {
    let body = "";
    try {
      // Bounded like any message: an oversized error body is dropped (its requests still fail).
      const b = await readBoundedBody(res, this.#o.maxMessageBytes ?? Infinity);
      body = "text" in b ? b.text : "";
    } catch { /* dropped */ }
    if (res.status === 404 && this.#sessionId) {
      this.#o.onEvent?.({
        event: "server_exit",
        reason: "the server ended the session (HTTP 404)",
      });
      this.#fail(
        s.requests,
        "the server ended the session (HTTP 404); restart the client to reconnect",
      );
      this.#o.onFatal?.("the server ended the session (HTTP 404)");
      return;
    }
    // A JSON-RPC error the server addressed to one of our requests goes through inspection.
    if (body && (res.headers.get("content-type") ?? "").includes("json")) {
      const ids = new Set(responseIds(body).map(idKey));
      if (s.requests.length > 0 && s.requests.every((id) => ids.has(idKey(id)))) {
        await this.#deliver(body);
        return;
      }
    }
    this.#fail(s.requests, `the server answered HTTP ${res.status}`);
  }

  /**
   * Read one SSE stream. For a POST stream, `pending` holds the requests it must answer: if it
   * breaks first, resume it with a GET carrying `Last-Event-ID`.
   */
  async #consume(
    body: ReadableStream<Uint8Array>,
    pending: Set<string> | null,
    isGet: boolean,
    ids: readonly JsonRpcId[] = [],
  ): Promise<void> {
    let lastId: string | undefined;
    let attempt = 0;
    for (;;) {
      const parser = new SseParser(this.#o.maxMessageBytes ?? Infinity);
      let broke = false;
      try {
        await readSse(body, async (e) => {
          if (e.id !== undefined) lastId = e.id;
          if (e.retry !== undefined) this.#retryMs = e.retry;
          if (e.oversized) {
            // Too big to inspect: never delivered; the request it answers gets an error instead.
            const sniffed = sniffId(e.data);
            if (pending && sniffed !== undefined) pending.delete(idKey(sniffed));
            if (this.#o.onOversized) this.#o.onOversized(e.data, e.oversized);
            else {
              this.#o.onEvent?.({
                event: "oversized",
                direction: "server_to_client",
                reason: `server event of ${e.oversized} characters exceeds --max-message-bytes`,
              });
            }
            return;
          }
          if (!e.data || e.event !== "message") return;
          attempt = 0;
          if (pending && pending.size) {
            for (const id of responseIds(e.data)) pending.delete(idKey(id));
          }
          await this.#deliver(e.data);
        }, parser);
      } catch {
        broke = true;
      }
      if (this.#closed) return;
      const unanswered = pending !== null && pending.size > 0;
      if (!isGet && !unanswered) return;
      if (!isGet && lastId === undefined) {
        // Not resumable: the requests cannot be answered any more.
        this.#fail(
          ids.filter((id) => pending!.has(idKey(id))),
          "the server closed the stream before answering",
        );
        return;
      }
      if (attempt >= this.#reconnect.maxRetries) {
        this.#o.onEvent?.({
          event: "server_exit",
          reason: `the ${
            isGet ? "GET" : "response"
          } stream could not be resumed after ${attempt} attempts`,
        });
        if (pending) {
          this.#fail(ids.filter((id) => pending.has(idKey(id))), "the stream could not be resumed");
        }
        if (isGet) this.#getRunning = false;
        return;
      }
      this.#o.onEvent?.({
        event: "client_gone",
        reason: `server stream ${broke ? "dropped" : "closed"}; resuming${
          lastId ? " with Last-Event-ID" : ""
        }`,
      });
      await this.#sleep(this.#delay(attempt));
      attempt++;
      if (this.#closed) return;
      const next = await this.#openGet(lastId);
      if (next === "unsupported") {
        if (pending) {
          this.#fail(
            ids.filter((id) => pending.has(idKey(id))),
            "the server does not support resuming streams",
          );
        }
        if (isGet) this.#getRunning = false;
        return;
      }
      if (next === null) continue; // try again (counts as an attempt)
      body = next;
    }
  }

  #delay(attempt: number): number {
    const base = this.#retryMs ?? this.#reconnect.initialDelayMs;
    return Math.min(base * 1.5 ** attempt, this.#reconnect.maxDelayMs);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        r();
      }, ms);
      this.#timers.add(t);
    });
  }

  /** Open a GET stream; `null` on a transient failure, `"unsupported"` on 405. */
  async #openGet(lastEventId?: string): Promise<ReadableStream<Uint8Array> | null | "unsupported"> {
    const h = this.#common();
    h.set("accept", "text/event-stream");
    if (lastEventId !== undefined) h.set("last-event-id", lastEventId);
    try {
      const res = await this.#fetch(this.url, {
        method: "GET",
        headers: h,
        signal: this.#abort.signal,
      });
      if (res.status === 405) {
        await res.body?.cancel();
        return "unsupported";
      }
      const type = (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (!res.ok || type !== "text/event-stream" || !res.body) {
        await res.body?.cancel();
        return res.status === 404 ? "unsupported" : null;
      }
      return res.body;
    } catch {
      return null;
    }
  }

  /** Start the standalone GET stream (server requests and notifications outside any request). */
  #startGet(): void {
    if (this.#getRunning || this.#closed) return;
    this.#getRunning = true;
    void this.#track((async () => {
      const body = await this.#openGet();
      if (body === null || body === "unsupported") {
        this.#getRunning = false;
        return;
      }
      await this.#consume(body, null, true);
      this.#getRunning = false;
    })());
  }

  // ---- legacy HTTP+SSE (2024-11-05) ----

  async #startLegacy(): Promise<boolean> {
    const h = new Headers(this.#headers);
    h.set("accept", "text/event-stream");
    let res: Response;
    try {
      res = await this.#fetch(this.url, { method: "GET", headers: h, signal: this.#abort.signal });
    } catch {
      return false;
    }
    const type = (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (!res.ok || type !== "text/event-stream" || !res.body) {
      await res.body?.cancel();
      return false;
    }
    this.mode = "legacy-sse";
    this.#o.onEvent?.({
      event: "store_fallback",
      reason: "the server speaks the legacy HTTP+SSE transport (2024-11-05); using it",
    });
    let resolve!: (u: string) => void;
    let reject!: (e: Error) => void;
    this.#legacy = new Promise<string>((a, b) => {
      resolve = a;
      reject = b;
    });
    this.#legacy.catch(() => {});
    const body = res.body;
    void this.#track((async () => {
      let gotEndpoint = false;
      try {
        await readSse(body, async (e) => {
          if (e.event === "endpoint") {
            try {
              const u = new URL(e.data, this.url);
              if (u.origin !== new URL(this.url).origin) {
                throw new Error("endpoint on another origin");
              }
              gotEndpoint = true;
              resolve(u.href);
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
            return;
          }
          if (e.event === "message" && e.data) await this.#deliver(e.data);
        }, new SseParser(this.#o.maxMessageBytes ?? Infinity));
      } catch { /* dropped */ }
      if (!gotEndpoint) reject(new Error("the SSE stream ended before the endpoint event"));
      if (!this.#closed && gotEndpoint) {
        this.#closed = true;
        this.#o.onEvent?.({ event: "server_exit", reason: "the legacy SSE stream ended" });
        this.#o.onFatal?.("the server closed its SSE stream");
      }
    })());
    try {
      await this.#legacy;
      return true;
    } catch {
      return false;
    }
  }

  async #sendLegacy(text: string, s: Summary): Promise<void> {
    let endpoint: string;
    try {
      endpoint = await this.#legacy!;
    } catch (e) {
      return this.#fail(
        s.requests,
        `legacy SSE transport failed: ${e instanceof Error ? e.message : e}`,
      );
    }
    const h = new Headers(this.#headers);
    h.set("content-type", "application/json");
    try {
      const res = await this.#fetch(endpoint, {
        method: "POST",
        headers: h,
        body: text,
        signal: this.#abort.signal,
      });
      await res.body?.cancel();
      if (!res.ok) return this.#fail(s.requests, `the server answered HTTP ${res.status}`);
    } catch (e) {
      return this.#fail(
        s.requests,
        `cannot reach the server: ${scrubError(e)}`,
      );
    }
  }

  /** End the session: DELETE (Streamable HTTP), abort every stream, stop reconnecting. */
  async close(): Promise<void> {
    if (this.#closed && this.#abort.signal.aborted) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#sessionId && this.mode === "streamable-http") {
      try {
        const res = await this.#fetch(this.url, {
          method: "DELETE",
          headers: this.#common(),
          signal: AbortSignal.timeout(3000),
        });
        await res.body?.cancel();
      } catch { /* best effort */ }
    }
    this.#abort.abort();
    await Promise.allSettled([...this.#tasks]);
  }

  /** Wait for the messages sent so far to be taken and their streams to end (bounded by the caller). */
  async drain(): Promise<void> {
    while (this.#posts.size) await Promise.allSettled([...this.#posts]);
  }
}

/**
 * Run the proxy with a remote upstream: stdio to the client, HTTP to the server. Resolves with the
 * exit code when the client closes stdin or a signal arrives.
 */
export async function runHttpClientProxy(args: ProxyArgs, runtime: Runtime): Promise<number> {
  const url = args.config.serverUrl!;
  let headers: Record<string, string>;
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new UsageError(`--url must be http(s), got ${u.protocol}`);
    }
    headers = parseHeaderArgs(args.headers, (n) => runtime.env(n));
  } catch (e) {
    runtime.writeStderr(`mcp-watchdog: ${e instanceof Error ? e.message : e}\n`);
    return 2;
  }
  const setup = await createProxySetup(args, runtime);
  const { session } = setup;
  const limit = args.config.maxMessageBytes;
  const out = runtime.stdout.getWriter();
  let outChain: Promise<void> = Promise.resolve();
  let clientGone = false;
  const toClient = (text: string): Promise<void> => {
    outChain = outChain.then(() => clientGone ? undefined : out.write(enc.encode(text + "\n")))
      .catch(() => {
        if (!clientGone) {
          setup.event({ event: "client_gone", reason: "the client stopped reading" });
        }
        clientGone = true;
      });
    return outChain;
  };
  const client: StreamableHttpClient = new StreamableHttpClient({
    url,
    headers,
    fetch: runtime.fetch,
    maxMessageBytes: limit,
    onMessage: async (text) => {
      let r: Routed | Promise<Routed> = session.handle("server_to_client", text);
      if (r instanceof Promise) r = await r;
      for (const reply of r.replies) void client.send(reply);
      if (r.forward !== null) await toClient(r.forward === "original" ? oneLine(text) : r.forward);
    },
    onOversized: (prefix, size) => {
      const r = session.oversized("server_to_client", prefix, size, limit);
      if (typeof r.forward === "string") void toClient(r.forward);
    },
    onLocal: (text) => void toClient(text),
    onEvent: (e) => setup.event(e),
    onFatal: (reason) => {
      // Like a stdio server that exited: whatever is pending gets an error, then we exit.
      for (const err of session.abandonPending(`mcp-watchdog: ${reason}`)) void toClient(err);
      exitCode = 1;
      stop();
    },
  });

  let exitCode = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => stop = r);
  const offs = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) =>
    runtime.onSignal(sig, () => stop())
  );

  const pump = (async () => {
    const framer = new LineFramer(limit);
    const dec = new TextDecoder();
    const reader = runtime.stdin.getReader();
    const route = async (r: Routed | Promise<Routed>, text: string | null) => {
      if (r instanceof Promise) r = await r;
      for (const reply of r.replies) await toClient(reply);
      if (r.forward !== null) void client.send(r.forward === "original" ? text! : r.forward);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const f of framer.push(value)) {
          if (f.type === "oversized") {
            await route(
              session.oversized("client_to_server", dec.decode(f.prefix), f.bytes, limit),
              null,
            );
          } else {
            const text = dec.decode(f.bytes);
            await route(session.handle("client_to_server", text), text);
          }
        }
      }
      for (const f of framer.end()) {
        if (f.type === "line") {
          const text = dec.decode(f.bytes);
          await route(session.handle("client_to_server", text), text);
        }
      }
    } catch (e) {
      setup.event({ event: "client_gone", reason: `reading from the client failed: ${e}` });
    } finally {
      reader.releaseLock();
    }
  })();

  await Promise.race([pump, stopped]);
  // The client is done: let answers in flight arrive (bounded), then end the session.
  let grace: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([client.drain(), stopped, new Promise((r) => grace = setTimeout(r, 2000))]);
  clearTimeout(grace);
  await client.close();
  for (const off of offs) off();
  await outChain;
  try {
    out.releaseLock();
  } catch { /* ignore */ }
  setup.close();
  return exitCode;
}
