/**
 * The Streamable HTTP gateway (`mcp-watchdog serve`): a web-standard `(Request) => Promise<Response>`
 * handler that exposes one MCP endpoint to HTTP clients, in front of a remote Streamable HTTP
 * server (`--url`, relayed stream for stream) or a stdio server (one child process per client
 * session). Each client session gets its own {@link ProxySession}; every message, both ways, goes
 * through it exactly as on stdio (batches and `tasks/result` included).
 *
 * Security defaults: `Host` and `Origin` are checked against an allowlist (DNS-rebinding
 * protection, 403 otherwise), an optional bearer token is required, bodies are bounded, and bad
 * requests get a clear status with a JSON-RPC error envelope (400, 401, 403, 404, 405, 406, 409,
 * 413, 415).
 *
 * @module
 */
import type { ChildProcess, Runtime } from "../adapters/runtime.ts";
import { LineFramer } from "../proxy/framing.ts";
import {
  errorResponse,
  type ProxyEvent,
  type ProxySession,
  type Routed,
} from "../proxy/session.ts";
import type { JsonRpcId } from "../types.ts";
import { scrubError, StreamableHttpClient } from "./http_client.ts";
import { readBoundedBody } from "./bounded_body.ts";
import { SharedDeadline } from "./shared_deadline.ts";
import { encodeEvent, type SseEvent, SseParser } from "./sse.ts";

/** Protocol versions a stdio-backed session accepts in `MCP-Protocol-Version`. */
export const SUPPORTED_PROTOCOL_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

const SESSION_HEADER = "mcp-session-id";
const VERSION_HEADER = "mcp-protocol-version";
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** How the gateway reaches the guarded server, per client session. */
export type Upstream =
  | {
    readonly kind: "http";
    readonly url: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly fetch?: typeof fetch;
  }
  | {
    readonly kind: "stdio";
    readonly command: readonly string[];
    readonly runtime: Runtime;
    readonly env?: Record<string, string>;
  };

/** Gateway settings. */
export interface GatewayOptions {
  /** The address the listener is bound to (a loopback name, an address, or a wildcard). */
  readonly host: string;
  /** Extra origins allowed besides loopback ones (`--allow-origin`), e.g. `https://app.example`. */
  readonly allowOrigins?: readonly string[];
  /** Bearer token every request must carry (`--auth-token`). Never logged. */
  readonly authToken?: string;
  readonly maxMessageBytes: number;
  readonly upstream: Upstream;
  /** A fresh ProxySession for a new client session (same detectors, its own correlation state). */
  newSession(id: string): ProxySession;
  /** Notable events (bad requests are not reported: they are answered). */
  event?(e: ProxyEvent): void;
  /** Endpoint path (default `/mcp`; `/` is accepted too). */
  readonly path?: string;
  /** Most client sessions kept at once (default 256): beyond it the least recently used is ended. */
  readonly maxSessions?: number;
}

/** The gateway: the request handler plus lifecycle. */
export interface Gateway {
  handle(req: Request): Promise<Response>;
  /** Number of live client sessions. */
  readonly sessions: number;
  /** End every session (DELETE upstream, stop children). */
  close(): Promise<void>;
}

const enc = new TextEncoder();

/** A JSON-RPC error envelope with an HTTP status. */
export function httpError(
  status: number,
  code: number,
  message: string,
  id: JsonRpcId = null,
  headers?: Readonly<Record<string, string>>,
): Response {
  const r = respond(errorResponse(id, code, message), status, headers);
  r.headers.set("content-type", "application/json");
  return r;
}

function json(body: string, status = 200): Response {
  return respond(body, status, JSON_HEADERS);
}

/**
 * A response with `headers` set after it is made: in Deno a `headers` init costs several times
 * more than the response itself (measured: 5–13 µs against 1–2 µs).
 */
function respond(
  body: BodyInit | null,
  status: number,
  headers?: Readonly<Record<string, string>>,
): Response {
  const r = new Response(body, { status });
  if (headers) { for (const k of Object.keys(headers)) r.headers.set(k, headers[k]); }
  return r;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** Constant-time string comparison (the token is short; length leaks nothing useful). */
function sameSecret(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i % (a.length || 1)) || 0) ^ (b.charCodeAt(i % (b.length || 1)) || 0);
  }
  return diff === 0 && a.length === b.length;
}

/** Header values parsed by {@link mediaTypes}: clients send the same few every time. */
const mediaCache = new Map<string, readonly string[]>();

/** The media types named in an `Accept` or `Content-Type` value, lower-cased, parameters dropped. */
function mediaTypes(h: string | null): readonly string[] {
  if (h === null) return [];
  let types = mediaCache.get(h);
  if (types === undefined) {
    types = h.split(",").map((p) => p.split(";")[0].trim().toLowerCase()).filter(Boolean);
    if (mediaCache.size >= 64) mediaCache.clear();
    mediaCache.set(h, types);
  }
  return types;
}

/** Whether the request's `Accept` admits every one of `types`. */
function accepts(req: Request, ...types: string[]): boolean {
  const accepted = mediaTypes(req.headers.get("accept"));
  return types.every((type) => {
    const major = type.slice(0, type.indexOf("/"));
    return accepted.some((t) => t === type || t === `${major}/*` || t === "*/*");
  });
}

/** The path of an absolute URL as written (`new URL` for every request costs more). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  let end = url.indexOf("?", start);
  if (end === -1) end = url.length;
  const hash = url.indexOf("#", start);
  return url.slice(start, hash !== -1 && hash < end ? hash : end);
}

/** Hostname of a `Host` header value (`[::1]:8080` → `[::1]`). */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const c = h.lastIndexOf(":");
  return c === -1 ? h : h.slice(0, c);
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
}

interface Item {
  readonly method?: string;
  readonly id?: JsonRpcId;
  readonly isRequest: boolean;
  readonly isResponse: boolean;
}

/** What a JSON-RPC text contains (requests, their ids). Messages are small client messages. */
function summarize(text: string): Item[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  return itemsOf(v);
}

/** {@link summarize} for a message already parsed. */
function itemsOf(v: unknown): Item[] {
  const items = Array.isArray(v) ? v : [v];
  return items.filter((m) => m !== null && typeof m === "object").map((m) => {
    const o = m as Record<string, unknown>;
    const method = typeof o.method === "string" ? o.method : undefined;
    const id = o.id as JsonRpcId | undefined;
    return {
      method,
      id,
      isRequest: method !== undefined && id !== undefined,
      isResponse: method === undefined && id !== undefined,
    };
  });
}

const idKey = (id: JsonRpcId): string => typeof id === "string" ? `s:${id}` : `n:${String(id)}`;

/** One client session of the gateway. */
interface ClientSession {
  readonly id: string;
  readonly proxy: ProxySession;
  readonly backend: Backend;
  lastSeen: number;
}

/** The per-session half that talks to the guarded server. */
interface Backend {
  /** Send an inspected client message; `replies` are answers the proxy made itself. */
  post(req: Request, text: string, items: Item[], replies: readonly string[]): Promise<Response>;
  get(req: Request): Promise<Response>;
  delete(req: Request): Promise<Response>;
  close(): Promise<void>;
  /** Set when the upstream is gone (the session is then removed). */
  readonly dead: boolean;
}

/** Build the gateway handler. */
export function createGateway(o: GatewayOptions): Gateway {
  const holds = new SharedDeadline(SSE_HOLD_MS);
  const sessions = new Map<string, ClientSession>();
  const path = o.path ?? "/mcp";
  const allowOrigins = new Set(
    (o.allowOrigins ?? []).map((x) => x.replace(/\/+$/, "").toLowerCase()),
  );
  const allowHosts = new Set<string>(LOOPBACK);
  if (!isWildcard(o.host)) {
    allowHosts.add(
      hostName(o.host.includes(":") && !o.host.startsWith("[") ? `[${o.host}]` : o.host),
    );
  }
  for (const origin of allowOrigins) {
    try {
      allowHosts.add(new URL(origin).hostname.toLowerCase());
    } catch { /* a bad origin simply never matches */ }
  }

  const originAllowed = (origin: string): boolean => {
    const lower = origin.toLowerCase();
    if (allowOrigins.has(lower) || allowOrigins.has("*")) return true;
    try {
      const u = new URL(lower);
      return (u.protocol === "http:" || u.protocol === "https:") && LOOPBACK.has(u.hostname);
    } catch {
      return false;
    }
  };

  const cors = (req: Request): Record<string, string> => {
    const origin = req.headers.get("origin");
    if (!origin) return {};
    return {
      "access-control-allow-origin": origin,
      "access-control-expose-headers": "mcp-session-id, mcp-protocol-version",
      "vary": "origin",
    };
  };

  const withCors = (req: Request, res: Response): Response => {
    const c = cors(req);
    for (const [k, v] of Object.entries(c)) res.headers.set(k, v);
    return res;
  };

  const isEndpoint = (p: string) => p === path || p === "/";

  const makeBackend = (proxy: ProxySession): Backend =>
    o.upstream.kind === "http"
      ? new HttpRelay(o.upstream, proxy, o.maxMessageBytes, holds)
      : new RoutedBackend(proxy, childChannel(o.upstream, o.maxMessageBytes), o.event);

  const handle = async (req: Request): Promise<Response> => {
    const p = pathOf(req.url);
    // The URL is parsed (dot segments and all) only when the plain reading is not the endpoint.
    if (!isEndpoint(p) && !isEndpoint(new URL(req.url).pathname)) {
      return httpError(404, -32000, `Not Found: the MCP endpoint is ${path}`);
    }
    // DNS rebinding: the Host must be one we serve, and a browser Origin must be allowed.
    const host = req.headers.get("host");
    if (!isWildcard(o.host) && host !== null && !allowHosts.has(hostName(host))) {
      return httpError(403, -32000, "Forbidden: Host not allowed");
    }
    const origin = req.headers.get("origin");
    if (origin !== null && !originAllowed(origin)) {
      return httpError(403, -32000, "Forbidden: Origin not allowed (see --allow-origin)");
    }
    if (req.method === "OPTIONS") {
      return respond(null, 204, {
        ...cors(req),
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-allow-headers":
          "content-type, accept, authorization, mcp-session-id, mcp-protocol-version, last-event-id",
        "access-control-max-age": "600",
      });
    }
    if (o.authToken !== undefined) {
      const auth = req.headers.get("authorization") ?? "";
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m || !sameSecret(m[1], o.authToken)) {
        return withCors(
          req,
          httpError(401, -32000, "Unauthorized: a valid bearer token is required", null, {
            "www-authenticate": 'Bearer realm="mcp-watchdog"',
          }),
        );
      }
    }
    let res: Response;
    switch (req.method) {
      case "POST":
        res = await post(req);
        break;
      case "GET":
        res = await withSession(req, (s) => {
          if (!accepts(req, "text/event-stream")) {
            return Promise.resolve(
              httpError(406, -32000, "Not Acceptable: Client must accept text/event-stream"),
            );
          }
          return s.backend.get(req);
        });
        break;
      case "DELETE":
        res = await withSession(req, async (s) => {
          const r = await s.backend.delete(req);
          if (r.ok) {
            sessions.delete(s.id);
            await s.backend.close();
          }
          return r;
        });
        break;
      default:
        res = httpError(405, -32000, "Method Not Allowed", null, { allow: "GET, POST, DELETE" });
    }
    return withCors(req, res);
  };

  const withSession = async (
    req: Request,
    f: (s: ClientSession) => Promise<Response>,
  ): Promise<Response> => {
    const sid = req.headers.get(SESSION_HEADER);
    if (!sid) return httpError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
    const s = sessions.get(sid);
    if (!s || s.backend.dead) {
      if (s) {
        sessions.delete(sid);
        void s.backend.close();
      }
      return httpError(404, -32001, "Session not found");
    }
    s.lastSeen = Date.now();
    const r = await f(s);
    if (r.status === 404 && s.backend.dead) {
      sessions.delete(sid);
      void s.backend.close();
    }
    return r;
  };

  const post = async (req: Request): Promise<Response> => {
    if (!accepts(req, "application/json", "text/event-stream")) {
      return httpError(
        406,
        -32000,
        "Not Acceptable: Client must accept both application/json and text/event-stream",
      );
    }
    const ct = mediaTypes(req.headers.get("content-type"));
    if (ct[0] !== "application/json") {
      return httpError(
        415,
        -32000,
        "Unsupported Media Type: Content-Type must be application/json",
      );
    }
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > o.maxMessageBytes) {
      return httpError(
        413,
        -32000,
        `Payload Too Large: more than --max-message-bytes ${o.maxMessageBytes}`,
      );
    }
    const body = await readBounded(req, o.maxMessageBytes);
    if (body === null) {
      return httpError(
        413,
        -32000,
        `Payload Too Large: more than --max-message-bytes ${o.maxMessageBytes}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      return httpError(400, -32700, `Parse error: ${e instanceof Error ? e.message : String(e)}`);
    }
    const items = itemsOf(parsed);
    if (items.length === 0) {
      const detail = Array.isArray(parsed) && parsed.length === 0
        ? "empty batch"
        : "not a JSON-RPC message";
      return httpError(400, -32600, `Invalid Request: ${detail}`);
    }
    const sid = req.headers.get(SESSION_HEADER);
    const init = items.some((i) => i.method === "initialize" && i.isRequest);
    if (!sid) {
      if (!init) {
        return httpError(400, -32000, "Bad Request: Server not initialized (no Mcp-Session-Id)");
      }
      if (items.length > 1) {
        return httpError(400, -32600, "Invalid Request: initialize must not be part of a batch");
      }
      const id = crypto.randomUUID();
      const proxy = o.newSession(id);
      let backend: Backend;
      try {
        backend = makeBackend(proxy);
      } catch (e) {
        return httpError(
          502,
          -32603,
          `mcp-watchdog: cannot start the server: ${e instanceof Error ? e.message : String(e)}`,
          items[0].id ?? null,
        );
      }
      const s: ClientSession = { id, proxy, backend, lastSeen: Date.now() };
      const r = await forward(s, req, body, parsed, items);
      if (r.ok && r.status !== 202 && !backend.dead) {
        // Clients that never DELETE must not pile up upstream sessions or processes.
        if (sessions.size >= (o.maxSessions ?? 256)) {
          let oldest: ClientSession | undefined;
          for (const x of sessions.values()) {
            if (!oldest || x.lastSeen < oldest.lastSeen) oldest = x;
          }
          if (oldest) {
            sessions.delete(oldest.id);
            void oldest.backend.close();
          }
        }
        sessions.set(id, s);
        r.headers.set(SESSION_HEADER, id);
      } else {
        void backend.close();
      }
      return r;
    }
    if (init) return httpError(400, -32600, "Invalid Request: Server already initialized");
    return withSession(req, (s) => forward(s, req, body, parsed, items));
  };

  const forward = async (
    s: ClientSession,
    req: Request,
    body: string,
    parsed: unknown,
    items: Item[],
  ): Promise<Response> => {
    let routed: Routed | Promise<Routed> = s.proxy.handle("client_to_server", body, parsed);
    if (routed instanceof Promise) routed = await routed;
    if (routed.forward === null) {
      if (routed.replies.length === 0) return new Response(null, { status: 202 });
      return json(
        routed.replies.length === 1 ? routed.replies[0] : `[${routed.replies.join(",")}]`,
      );
    }
    const text = routed.forward === "original" ? body : routed.forward;
    const fwdItems = routed.forward === "original" ? items : summarize(text);
    try {
      return await s.backend.post(req, text, fwdItems, routed.replies.flatMap(splitBatch));
    } catch (e) {
      const reqs = items.filter((i) => i.isRequest);
      return httpError(
        502,
        -32603,
        `mcp-watchdog: upstream unavailable: ${scrubError(e)}`,
        reqs.length === 1 ? reqs[0].id! : null,
      );
    }
  };

  return {
    handle: async (req) => {
      try {
        return await handle(req);
      } catch (e) {
        return httpError(
          500,
          -32603,
          `mcp-watchdog: internal error: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    },
    get sessions() {
      return sessions.size;
    },
    async close() {
      holds.stop();
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(all.map((s) => s.backend.close()));
    },
  };
}

function splitBatch(reply: string): string[] {
  return reply.startsWith("[")
    ? (JSON.parse(reply) as unknown[]).map((x) => JSON.stringify(x))
    : [reply];
}

/** The body of a request or response as text, or null when it is longer than `max` bytes. */
async function readBounded(r: Request | Response, max: number): Promise<string | null> {
  const body = await readBoundedBody(r, max);
  return "text" in body ? body.text : null;
}

/**
 * How long a POST's SSE answer may be held back to go to the client as one body: between this
 * and twice this (see {@link SharedDeadline}), after which whatever has come is streamed.
 */
const SSE_HOLD_MS = 50;

const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  "connection": "keep-alive",
};

/** Combine serialised JSON-RPC messages (one or more, each possibly a batch) into one body. */
function joinMessages(parts: readonly string[]): string {
  if (parts.length === 1) return parts[0];
  return `[${parts.map((p) => p.startsWith("[") ? p.slice(1, -1) : p).join(",")}]`;
}

/**
 * Relays one client session to a remote Streamable HTTP server, request for request and stream
 * for stream: ids and SSE event ids pass through unchanged (so resumption with `Last-Event-ID`
 * is the server's own), only the session id is ours, and every message is inspected.
 */
class HttpRelay implements Backend {
  readonly #up: Extract<Upstream, { kind: "http" }>;
  /** Parsed once (the HTTP/1.1 client would parse the string on every request). */
  readonly #url: URL;
  readonly #proxy: ProxySession;
  readonly #max: number;
  readonly #fetch: typeof fetch;
  readonly #base: Record<string, string> = {};
  #sid: string | undefined;
  #version: string | undefined;
  #dead = false;
  #deleted = false;
  readonly #open = new Set<ReadableStreamDefaultReader<Uint8Array>>();
  /** Set when the server turned out to speak only legacy HTTP+SSE. */
  #fallback: RoutedBackend | undefined;

  readonly #holds: SharedDeadline;

  constructor(
    up: Extract<Upstream, { kind: "http" }>,
    proxy: ProxySession,
    max: number,
    holds: SharedDeadline,
  ) {
    this.#holds = holds;
    this.#up = up;
    this.#url = new URL(up.url);
    this.#proxy = proxy;
    this.#max = max;
    this.#fetch = up.fetch ?? fetch;
    // Names lower-cased once, so that ours replace the user's rather than doubling them.
    for (const [k, v] of Object.entries(up.headers)) this.#base[k.toLowerCase()] = v;
  }

  get dead(): boolean {
    return this.#fallback ? this.#fallback.dead : this.#dead;
  }

  /** Headers for an upstream request (a plain record: cheaper than `Headers` on every request). */
  #headers(req: Request | null): Record<string, string> {
    const h: Record<string, string> = { ...this.#base };
    const v = req?.headers.get(VERSION_HEADER) ?? this.#version;
    if (v) {
      h[VERSION_HEADER] = v;
      this.#version = v;
    }
    if (this.#sid) h[SESSION_HEADER] = this.#sid;
    return h;
  }

  async post(
    req: Request,
    text: string,
    items: Item[],
    replies: readonly string[],
  ): Promise<Response> {
    if (this.#fallback) return this.#fallback.post(req, text, items, replies);
    const h = this.#headers(req);
    h["content-type"] = "application/json";
    h["accept"] = "application/json, text/event-stream";
    const res = await this.#fetch(this.#url, { method: "POST", headers: h, body: text });
    const sid = res.headers.get(SESSION_HEADER);
    if (sid) this.#sid = sid;
    if (res.status === 404 && this.#sid) this.#dead = true;
    const init = items.some((i) => i.method === "initialize" && i.isRequest);
    if (init && !this.#sid && [400, 404, 405].includes(res.status)) {
      // Maybe a legacy HTTP+SSE server (2024-11-05): the client transport knows how to talk to it.
      await res.body?.cancel();
      this.#fallback = new RoutedBackend(this.#proxy, clientChannel(this.#up, this.#max));
      return this.#fallback.post(req, text, items, replies);
    }
    return this.#relay(res, replies, items);
  }

  async get(req: Request): Promise<Response> {
    if (this.#fallback) return this.#fallback.get(req);
    const h = this.#headers(req);
    h["accept"] = "text/event-stream";
    const last = req.headers.get("last-event-id");
    if (last !== null) h["last-event-id"] = last;
    const res = await this.#fetch(this.#url, { method: "GET", headers: h });
    if (res.status === 404 && this.#sid) this.#dead = true;
    return this.#relay(res, [], []);
  }

  async delete(req: Request): Promise<Response> {
    if (this.#fallback) return this.#fallback.delete(req);
    const res = await this.#fetch(this.#url, { method: "DELETE", headers: this.#headers(req) });
    await res.body?.cancel();
    this.#deleted = res.ok || res.status === 404;
    if (res.ok) return new Response(null, { status: 200 });
    return res.status === 405
      ? httpError(
        405,
        -32000,
        "Method Not Allowed: the server does not allow ending sessions",
        null,
        { allow: "GET, POST" },
      )
      : httpError(res.status, -32000, `Upstream answered DELETE with HTTP ${res.status}`);
  }

  async close(): Promise<void> {
    if (this.#fallback) return await this.#fallback.close();
    for (const r of this.#open) r.cancel().catch(() => {});
    this.#open.clear();
    this.#dead = true;
    if (this.#sid && !this.#deleted) {
      this.#deleted = true;
      try {
        const res = await this.#fetch(this.#url, {
          method: "DELETE",
          headers: this.#headers(null),
          signal: AbortSignal.timeout(2000),
        });
        await res.body?.cancel();
      } catch { /* best effort */ }
    }
  }

  /** Inspect one server message; answers the proxy itself makes go back upstream. */
  async #inspect(text: string): Promise<string | null> {
    let r: Routed | Promise<Routed> = this.#proxy.handle("server_to_client", text);
    if (r instanceof Promise) r = await r;
    for (const reply of r.replies) this.#answerServer(reply);
    return r.forward === "original" ? text : r.forward;
  }

  #answerServer(reply: string): void {
    const h = this.#headers(null);
    h["content-type"] = "application/json";
    h["accept"] = "application/json, text/event-stream";
    this.#fetch(this.#url, { method: "POST", headers: h, body: reply }).then(
      (r) => r.body?.cancel(),
      () => {},
    );
  }

  async #relay(
    res: Response,
    replies: readonly string[],
    items: readonly Item[],
  ): Promise<Response> {
    const type = mediaTypes(res.headers.get("content-type"))[0];
    const declared = res.headers.get("content-length");
    // `body` is read only when the length is unknown: in Deno that turns a body held as bytes
    // into a stream (and a whole answer of the HTTP/1.1 client always has a length).
    if (
      res.status === 202 || res.status === 204 || (declared === null && res.body === null)
    ) {
      await res.body?.cancel();
      if (replies.length) return json(joinMessages(replies));
      return new Response(null, { status: res.status === 204 ? 202 : res.status });
    }
    if (type === "text/event-stream" && res.ok) {
      if (declared !== null && Number(declared) <= this.#max) {
        // The whole stream is here already (a short answer): relay it as one body, which costs
        // the client a fraction of a streamed one.
        const parser = new SseParser(this.#max);
        let out = replies.map((r) => encodeEvent(r)).join("");
        for (const e of parser.push(await res.text())) out += await this.#relayEvent(e);
        return respond(out, res.status, SSE_HEADERS);
      }
      return await this.#relaySse(res.status, res.body!, replies, items);
    }
    if (type === "application/json") {
      const text = await readBounded(res, this.#max);
      if (text === null) {
        return httpError(
          502,
          -32603,
          `mcp-watchdog: upstream response exceeds --max-message-bytes ${this.#max}`,
        );
      }
      const out = text.trim() === "" ? null : await this.#inspect(text);
      const parts = out === null ? [...replies] : [out, ...replies];
      if (parts.length === 0) return new Response(null, { status: res.ok ? 202 : res.status });
      return json(joinMessages(parts), res.status);
    }
    await res.body?.cancel();
    // Anything else (an HTML error page…) is not passed to the client uninspected.
    if (res.ok) {
      return httpError(
        502,
        -32603,
        `mcp-watchdog: upstream answered with unexpected content type ${type ?? "(none)"}`,
      );
    }
    const retryAfter = res.headers.get("retry-after");
    return httpError(
      res.status,
      -32000,
      `Upstream answered HTTP ${res.status}`,
      null,
      retryAfter ? { "retry-after": retryAfter } : undefined,
    );
  }

  /** One upstream SSE event as it goes to the client: its message inspected, ids kept. */
  async #relayEvent(e: SseEvent): Promise<string> {
    let head = "";
    if (e.id !== undefined) head += `id: ${e.id}\n`;
    if (e.retry !== undefined) head += `retry: ${e.retry}\n`;
    if (e.oversized) {
      // Too big to inspect: the client gets an error for the request it answered, if any.
      const r = this.#proxy.oversized("server_to_client", e.data, e.oversized, this.#max);
      if (typeof r.forward === "string") return head + encodeEvent(r.forward);
      return head ? `${head}data: \n\n` : "";
    }
    if (e.data === "" || (e.event !== "message" && e.event !== "")) {
      // Priming events and keep-alives carry no message; other event types are not MCP messages.
      return e.data === "" ? (head ? `${head}data: \n\n` : "") : "";
    }
    const out = await this.#inspect(e.data);
    if (out === null) return head ? `${head}data: \n\n` : "";
    return head + encodeEvent(out);
  }

  /**
   * Relay an upstream SSE stream, event for event, each message inspected. The answer to a POST
   * usually comes at once, with the end of the stream right behind it: then it goes to the client
   * as one body (a streamed response costs the client far more, and a large event is passed on
   * as text rather than encoded again). It is held back only while there is nothing to pass on
   * (a partial event, the end still to come) and for at most {@link SSE_HOLD_MS}–2× that: a
   * message that does not finish the answer (progress, a server request) or a slow answer is
   * streamed from then on, so that the client gets its headers and events without delay.
   */
  async #relaySse(
    status: number,
    body: ReadableStream<Uint8Array>,
    replies: readonly string[],
    items: readonly Item[],
  ): Promise<Response> {
    // Decoded by hand: a TextDecoderStream per response costs more than the relay itself.
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser(this.#max);
    let pending: string[] = replies.map((r) => encodeEvent(r));
    let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    /** Relay the events completed by `chunk`; the number that carried a message. */
    const relayChunk = async (chunk: Uint8Array): Promise<number> => {
      let messages = 0;
      for (const e of parser.push(decoder.decode(chunk, { stream: true }))) {
        const s = await this.#relayEvent(e);
        if (s) pending.push(s);
        if (e.data !== "") messages++;
      }
      return messages;
    };
    // Open from the start: ending the session cancels it, held back or streamed.
    this.#open.add(reader);
    const asked = items.filter((i) => i.isRequest && i.id !== undefined);
    if (asked.length) {
      const hold = this.#holds.start();
      try {
        for (;;) {
          next = reader.read();
          const r = await Promise.race([next, hold.passed]);
          if (r === null) break;
          next = undefined;
          if (r.done) {
            this.#open.delete(reader);
            return respond(pending.join(""), status, SSE_HEADERS);
          }
          const messages = await relayChunk(r.value);
          if (messages > 0 && asked.some((i) => this.#proxy.fromClient.has(i.id!))) break;
        }
      } catch {
        // Streamed below, where the error reaches the client as a broken stream.
      } finally {
        hold.end();
      }
    }
    const stream = new ReadableStream<Uint8Array>({
      pull: async (ctl) => {
        for (;;) {
          if (pending.length) {
            ctl.enqueue(enc.encode(pending.length === 1 ? pending[0] : pending.join("")));
            pending = [];
            return;
          }
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await (next ?? reader.read());
            next = undefined;
          } catch (e) {
            this.#open.delete(reader);
            // The upstream stream broke: break ours too, so the client resumes with Last-Event-ID.
            ctl.error(e);
            return;
          }
          if (chunk.done) {
            this.#open.delete(reader);
            ctl.close();
            return;
          }
          await relayChunk(chunk.value);
        }
      },
      cancel: (reason) => {
        this.#open.delete(reader);
        return reader.cancel(reason).catch(() => {});
      },
    }, { highWaterMark: 0 });
    return respond(stream, status, SSE_HEADERS);
  }
}

/** One SSE response stream of a stdio-backed session, with a bounded replay log. */
class OutStream {
  readonly no: number;
  readonly waiting = new Set<string>();
  #seq = 0;
  #log: { seq: number; chunk: Uint8Array }[] = [];
  #logBytes = 0;
  #ctl: ReadableStreamDefaultController<Uint8Array> | null = null;
  finished = false;
  /** Whether a client ever read it to the end (then it can be forgotten). */
  delivered = false;

  constructor(no: number) {
    this.no = no;
  }

  get attached(): boolean {
    return this.#ctl !== null;
  }

  /** A response body for this stream, replaying what came after `afterSeq`. */
  open(afterSeq = -1): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (ctl) => {
        this.#ctl = ctl;
        for (const e of this.#log) if (e.seq > afterSeq) ctl.enqueue(e.chunk);
        if (this.finished) this.#end();
      },
      cancel: () => {
        this.#ctl = null;
      },
    });
  }

  prime(): void {
    this.#emit("", true);
  }

  send(data: string): void {
    this.#emit(data, false);
  }

  #emit(data: string, priming: boolean): void {
    const seq = ++this.#seq;
    const id = `${this.no}_${seq}`;
    const chunk = enc.encode(priming ? `id: ${id}\ndata: \n\n` : encodeEvent(data, id));
    this.#log.push({ seq, chunk });
    this.#logBytes += chunk.length;
    while (this.#log.length > 1 && (this.#log.length > 1000 || this.#logBytes > 16 * 1024 * 1024)) {
      this.#logBytes -= this.#log.shift()!.chunk.length;
    }
    try {
      this.#ctl?.enqueue(chunk);
    } catch {
      this.#ctl = null;
    }
  }

  finish(): void {
    this.finished = true;
    this.#end();
  }

  /** Close the current connection (one its client dropped) so that a resume can take over. */
  detach(): void {
    if (!this.#ctl) return;
    try {
      this.#ctl.close();
    } catch { /* already closed */ }
    this.#ctl = null;
  }

  #end(): void {
    if (!this.#ctl) return;
    try {
      this.#ctl.close();
    } catch { /* already closed */ }
    this.#ctl = null;
    this.delivered = true;
  }
}

/**
 * A stdio server behind the gateway: one child process per client session. Responses go back on
 * the SSE stream of the POST that carried the request; server requests and notifications go on
 * the GET stream when there is one, else on the newest open POST stream, else they wait (bounded).
 */
class RoutedBackend implements Backend {
  readonly #proxy: ProxySession;
  readonly #event?: (e: ProxyEvent) => void;
  readonly #channel: Channel;
  readonly #streams = new Map<number, OutStream>();
  readonly #pending = new Map<string, OutStream>();
  #get: OutStream | null = null;
  #queue: string[] = [];
  #next = 1;
  #dead = false;

  constructor(
    proxy: ProxySession,
    open: (sink: ChannelSink) => Channel,
    event?: (e: ProxyEvent) => void,
  ) {
    this.#proxy = proxy;
    this.#event = event;
    this.#channel = open({
      message: (text) => this.#fromServer(text),
      local: (text) => this.#route(text),
      oversized: (prefix, bytes, max) => {
        const r = this.#proxy.oversized("server_to_client", prefix, bytes, max);
        if (typeof r.forward === "string") this.#route(r.forward);
      },
      exited: (reason) => this.#exited(reason),
    });
  }

  get dead(): boolean {
    return this.#dead;
  }

  #write(text: string): Promise<void> {
    return this.#channel.write(text);
  }

  async #fromServer(text: string): Promise<void> {
    let r: Routed | Promise<Routed> = this.#proxy.handle("server_to_client", text);
    if (r instanceof Promise) r = await r;
    for (const reply of r.replies) void this.#write(reply);
    if (r.forward === null) return;
    this.#route(r.forward === "original" ? text : r.forward);
  }

  #route(text: string): void {
    const items = summarize(text);
    let target: OutStream | undefined;
    for (const i of items) {
      if (!i.isResponse) continue;
      const s = this.#pending.get(idKey(i.id!));
      if (s) {
        this.#pending.delete(idKey(i.id!));
        s.waiting.delete(idKey(i.id!));
        target ??= s;
      }
    }
    if (!target) {
      if (this.#get && this.#get.attached) target = this.#get;
      else {
        for (const s of this.#streams.values()) {
          if (!s.finished && s.attached && (!target || s.no > target.no)) target = s;
        }
      }
    }
    if (!target) {
      if (this.#queue.length < 1000) this.#queue.push(text);
      return;
    }
    target.send(text);
    if (target !== this.#get && target.waiting.size === 0) this.#finish(target);
  }

  #finish(s: OutStream): void {
    s.finish();
    if (s.delivered) this.#streams.delete(s.no);
    // Streams the client dropped stay resumable, within bounds.
    if (this.#streams.size > 64) {
      for (const [no, old] of this.#streams) {
        if (old.finished) this.#streams.delete(no);
        if (this.#streams.size <= 64) break;
      }
    }
  }

  #newStream(req: Request): OutStream {
    const s = new OutStream(this.#next++);
    this.#streams.set(s.no, s);
    const v = req.headers.get(VERSION_HEADER);
    if (v !== null && v >= "2025-11-25") s.prime();
    return s;
  }

  post(req: Request, text: string, items: Item[], replies: readonly string[]): Promise<Response> {
    if (this.#dead) {
      return Promise.resolve(httpError(404, -32001, "Session not found (the server exited)"));
    }
    const v = req.headers.get(VERSION_HEADER);
    if (v !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(v)) {
      return Promise.resolve(
        httpError(
          400,
          -32000,
          `Bad Request: Unsupported protocol version: ${v} (supported versions: ${
            SUPPORTED_PROTOCOL_VERSIONS.join(", ")
          })`,
        ),
      );
    }
    const reqs = items.filter((i) => i.isRequest);
    if (reqs.length === 0) {
      void this.#write(text);
      return Promise.resolve(
        replies.length ? json(joinMessages(replies)) : new Response(null, { status: 202 }),
      );
    }
    const s = this.#newStream(req);
    for (const i of reqs) {
      s.waiting.add(idKey(i.id!));
      this.#pending.set(idKey(i.id!), s);
    }
    for (const r of replies) s.send(r);
    const body = s.open();
    void this.#write(text);
    return Promise.resolve(respond(body, 200, SSE_HEADERS));
  }

  get(req: Request): Promise<Response> {
    const last = req.headers.get("last-event-id");
    const m = last ? /^(\d+)_(\d+)$/.exec(last) : null;
    const old = m ? this.#streams.get(Number(m[1])) : undefined;
    if (old) {
      // A client resuming with Last-Event-ID has lost that stream, even if we have not yet seen
      // the old connection close: the resume takes it over (a 409 here would race the drop).
      if (old.attached) old.detach();
      return Promise.resolve(
        respond(old.open(Number(m![2])), 200, SSE_HEADERS),
      );
    }
    if (this.#get?.attached) {
      return Promise.resolve(
        httpError(409, -32000, "Conflict: Only one SSE stream is allowed per session"),
      );
    }
    this.#get = new OutStream(0);
    const body = this.#get.open();
    const queued = this.#queue;
    this.#queue = [];
    for (const q of queued) this.#get.send(q);
    return Promise.resolve(respond(body, 200, SSE_HEADERS));
  }

  async delete(_req: Request): Promise<Response> {
    await this.close();
    return new Response(null, { status: 200 });
  }

  #exited(reason: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#event?.({ event: "server_exit", reason });
    const abandoned = this.#proxy.abandonPending(`mcp-watchdog: ${reason}`);
    for (const text of abandoned) this.#route(text);
    for (const s of this.#streams.values()) s.finish();
    this.#get?.finish();
  }

  async close(): Promise<void> {
    if (!this.#dead) {
      this.#dead = true;
      await this.#channel.close();
      for (const s of this.#streams.values()) s.finish();
      this.#get?.finish();
    } else await this.#channel.close();
  }
}

/** What a {@link Channel} reports to its backend. */
interface ChannelSink {
  /** A message from the server (to be inspected), in order. */
  message(text: string): Promise<void>;
  /** A message made up locally (an error for a request the server can no longer answer). */
  local(text: string): void;
  oversized(prefix: string, bytes: number, max: number): void;
  /** The server is gone. */
  exited(reason: string): void;
}

/** How a routed backend reaches its server: a child process, or an HTTP client transport. */
interface Channel {
  /** Send one inspected client message. */
  write(text: string): Promise<void>;
  /** End the connection (idempotent). */
  close(): Promise<void>;
}

/** A remote server through the client transport (used when it only speaks legacy HTTP+SSE). */
function clientChannel(
  up: Extract<Upstream, { kind: "http" }>,
  max: number,
): (sink: ChannelSink) => Channel {
  return (sink) => {
    const client = new StreamableHttpClient({
      url: up.url,
      headers: up.headers,
      ...(up.fetch ? { fetch: up.fetch } : {}),
      maxMessageBytes: max,
      onMessage: (text) => sink.message(text),
      onLocal: (text) => sink.local(text),
      onOversized: (prefix, bytes) => sink.oversized(prefix, bytes, max),
      onFatal: (reason) => sink.exited(reason),
    });
    return { write: (text) => client.send(text), close: () => client.close() };
  };
}

/** A stdio server in a child process (newline-delimited JSON-RPC). */
function childChannel(
  up: Extract<Upstream, { kind: "stdio" }>,
  max: number,
): (sink: ChannelSink) => Channel {
  return (sink) => {
    const child: ChildProcess = up.runtime.spawn(up.command[0], up.command.slice(1), {
      env: up.env,
      stderr: "inherit",
    });
    const writer = child.stdin.getWriter();
    let writes: Promise<void> = Promise.resolve();
    const pump = async () => {
      const framer = new LineFramer(max);
      const dec = new TextDecoder();
      const reader = child.stdout.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const f of framer.push(value)) {
            if (f.type === "oversized") sink.oversized(dec.decode(f.prefix), f.bytes, max);
            else await sink.message(dec.decode(f.bytes));
          }
        }
        for (const f of framer.end()) {
          if (f.type === "line") await sink.message(dec.decode(f.bytes));
        }
      } finally {
        reader.releaseLock();
      }
    };
    const pumped = pump().catch(() => {});
    child.status.then((st) =>
      sink.exited(`server exited (code ${st.code}${st.signal ? `, ${st.signal}` : ""})`)
    );
    let closing: Promise<void> | null = null;
    return {
      write(text) {
        const line = /[\r\n]/.test(text) ? text.replace(/\r\n|\r|\n/g, " ") : text;
        writes = writes.then(() => writer.write(enc.encode(line + "\n"))).catch(() => {});
        return writes;
      },
      close: () =>
        closing ??= (async () => {
          await writes;
          await writer.close().catch(() => {});
          const term = setTimeout(() => child.kill("SIGTERM"), 2000);
          const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
          await child.status;
          clearTimeout(term);
          clearTimeout(kill);
          await pumped;
        })(),
    };
  };
}
