/**
 * One proxied connection, whatever the transport: parses each message once, correlates responses
 * with the requests that produced them (both directions, including server→client sampling,
 * elicitation, roots and ping), hands each message to the {@link Inspector}, and says what to
 * forward and what to answer. Transports (stdio, HTTP) only move text.
 *
 * @module
 */
import type { AuditRecord, AuditSink } from "../audit.ts";
import { safeExcerpt } from "../audit.ts";
import type { JsonRpcMessage } from "../pipeline/detector.ts";
import type { Inspector, InspectResult } from "../pipeline/inspector.ts";
import type { Direction, Json, JsonRpcId } from "../types.ts";
import { RequestTracker } from "./correlation.ts";

/** What to do with one incoming message (or batch). */
export interface Routed {
  /** `"original"`: forward the exact bytes that arrived; a string: forward this instead; null: nothing. */
  readonly forward: "original" | string | null;
  /** Messages to send back to the sender, each a serialised JSON-RPC message. */
  readonly replies: readonly string[];
}

/** Something notable that is not a detector finding (bad input, lifecycle). */
export interface ProxyEvent {
  /** What happened. */
  readonly event:
    | "unparseable"
    | "oversized"
    | "invalid"
    | "internal_error"
    | "server_exit"
    | "server_start_failed"
    | "store_fallback"
    | "monitor_unavailable"
    | "client_gone";
  /** Which way the message was going, when it applies. */
  readonly direction?: Direction;
  /** Why, for people. */
  readonly reason: string;
  /** A short, safe excerpt of the offending input. */
  readonly excerpt?: string;
}

/** Where a session reports. */
export interface SessionSinks {
  /** Where findings go. */
  readonly audit: AuditSink;
  /** Notable events (also written to the audit log by the caller). */
  event(e: ProxyEvent): void;
  /** A client `tools/call` was forwarded (`start`) or answered (`end`): lets the file-system monitor attribute changes. */
  call?(phase: "start" | "end", id: JsonRpcId, tool?: string): void;
}

const ORIGINAL: Routed = { forward: "original", replies: [] };
const DROP: Routed = { forward: null, replies: [] };
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INTERNAL_ERROR = -32603;

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const isId = (v: unknown): v is JsonRpcId =>
  typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) || v === null;

/** A JSON-RPC error response, serialised. */
export function errorResponse(id: JsonRpcId, code: number, message: string, data?: Json): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  });
}

/** The id of a message that could not be parsed in full (oversized), read from its first bytes. */
export function sniffId(prefix: string): JsonRpcId | undefined {
  const m = /"id"\s{0,16}:\s{0,16}("(?:[^"\\\n]|\\.){0,256}"|-?\d{1,20})/.exec(
    prefix.slice(0, 4096),
  );
  if (!m) return undefined;
  try {
    return JSON.parse(m[1]) as JsonRpcId;
  } catch {
    return undefined;
  }
}

/** The proxy's per-connection state and message routing. */
export class ProxySession {
  /** The pipeline every message goes through. */
  readonly inspector: Inspector;
  /** Where findings and events go. */
  readonly sinks: SessionSinks;
  /** Requests the client sent (answered by the server). */
  readonly fromClient: RequestTracker = new RequestTracker();
  /** Requests the server sent (answered by the client). */
  readonly fromServer: RequestTracker = new RequestTracker();

  /** A session inspecting with `inspector` and reporting to `sinks`. */
  constructor(inspector: Inspector, sinks: SessionSinks) {
    this.inspector = inspector;
    this.sinks = sinks;
  }

  #now(): number {
    return this.inspector.env.now();
  }

  /**
   * Route one framed message (a line of stdio, an HTTP body or SSE event). Synchronous unless the
   * async classifier is consulted. `parsed`: `JSON.parse(text)` when the caller has it already
   * (it is not parsed again, and inspection may change it).
   */
  handle(direction: Direction, text: string, parsed?: unknown): Routed | Promise<Routed> {
    if (parsed === undefined) {
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        if (text.trim() === "") return ORIGINAL;
        return this.#unparseable(direction, text, e instanceof Error ? e.message : String(e));
      }
    }
    try {
      if (Array.isArray(parsed)) return this.#batch(direction, parsed);
      if (!isObj(parsed)) return this.#invalid(direction, text, "not a JSON-RPC object");
      const r = this.#one(direction, parsed);
      return r instanceof Promise
        ? r.then((x) => this.#single(x), (e) => this.#failed(direction, e))
        : this.#single(r);
    } catch (e) {
      return this.#failed(direction, e);
    }
  }

  /** A detector bug must not lose the message or kill the proxy: forward it and say so. */
  #failed(direction: Direction, e: unknown): Routed {
    this.sinks.event({
      event: "internal_error",
      direction,
      reason: `inspection failed, message forwarded unchanged: ${
        e instanceof Error ? e.stack ?? e.message : String(e)
      }`,
    });
    return ORIGINAL;
  }

  /** Errors for every request the client is still waiting on (used when the server dies). */
  abandonPending(reason: string): string[] {
    const out = this.fromClient.outstanding().map((p) =>
      errorResponse(p.id, INTERNAL_ERROR, reason)
    );
    for (const p of this.fromClient.outstanding()) this.fromClient.cancel(p.id);
    return out;
  }

  /** Report a message that exceeded the size limit; answer the sender when it was a request. */
  oversized(direction: Direction, prefix: string, bytes: number, limit: number): Routed {
    const id = sniffId(prefix);
    const reason = `message of ${bytes} bytes exceeds --max-message-bytes ${limit}`;
    this.sinks.event({ event: "oversized", direction, reason, excerpt: safeExcerpt(prefix, 80) });
    if (id === undefined) return DROP;
    if (direction === "client_to_server") {
      return {
        forward: null,
        replies: [errorResponse(id, INVALID_REQUEST, `mcp-watchdog: ${reason}`)],
      };
    }
    // A response from the server that cannot be inspected: the client gets an error instead of a hang.
    if (this.fromClient.resolve(id)) {
      return { forward: errorResponse(id, INTERNAL_ERROR, `mcp-watchdog: ${reason}`), replies: [] };
    }
    return DROP;
  }

  #unparseable(direction: Direction, text: string, why: string): Routed {
    this.sinks.event({
      event: "unparseable",
      direction,
      reason: `invalid JSON: ${why}`,
      excerpt: safeExcerpt(text, 80),
    });
    // Nothing uninspectable reaches the model; a client gets the JSON-RPC parse error it caused.
    return direction === "client_to_server"
      ? { forward: null, replies: [errorResponse(null, PARSE_ERROR, `Parse error: ${why}`)] }
      : DROP;
  }

  #invalid(direction: Direction, text: string, why: string): Routed {
    this.sinks.event({ event: "invalid", direction, reason: why, excerpt: safeExcerpt(text, 80) });
    return direction === "client_to_server"
      ? {
        forward: null,
        replies: [errorResponse(null, INVALID_REQUEST, `Invalid Request: ${why}`)],
      }
      : DROP;
  }

  #single(r: ElementResult): Routed {
    if (r.reply !== undefined) return { forward: null, replies: [r.reply] };
    if (r.out === undefined) return DROP;
    return r.out === "original" ? ORIGINAL : { forward: r.out, replies: [] };
  }

  #batch(direction: Direction, items: unknown[]): Routed | Promise<Routed> {
    if (items.length === 0) return this.#invalid(direction, "[]", "empty batch");
    const results = items.map((m) =>
      isObj(m) ? this.#one(direction, m) : {
        out: undefined,
        reply: errorResponse(
          null,
          INVALID_REQUEST,
          "Invalid Request: batch element is not an object",
        ),
      } as ElementResult
    );
    const combine = (rs: ElementResult[]): Routed => {
      if (rs.every((r) => r.out === "original")) return ORIGINAL;
      const fwd: string[] = [];
      const replies: string[] = [];
      rs.forEach((r, i) => {
        if (r.reply !== undefined) replies.push(r.reply);
        if (r.out === "original") fwd.push(JSON.stringify(items[i]));
        else if (r.out !== undefined) fwd.push(r.out);
      });
      return {
        forward: fwd.length ? `[${fwd.join(",")}]` : null,
        replies: replies.length ? [`[${replies.join(",")}]`] : [],
      };
    };
    return results.some((r) => r instanceof Promise)
      ? Promise.all(results).then(combine)
      : combine(results as ElementResult[]);
  }

  /** Inspect one message object; `out` undefined = drop, `reply` = answer the sender. */
  #one(direction: Direction, msg: Obj): ElementResult | Promise<ElementResult> {
    const now = this.#now();
    const sent = direction === "client_to_server" ? this.fromClient : this.fromServer;
    const answered = direction === "client_to_server" ? this.fromServer : this.fromClient;
    const method = typeof msg.method === "string" ? msg.method : undefined;
    const id = msg.id;
    let ctxMethod: string;
    let tool: string | undefined;
    let isRequest = false;

    if (method !== undefined) {
      ctxMethod = method;
      if (id !== undefined) {
        if (!isId(id)) {
          return {
            out: undefined,
            reply: errorResponse(null, INVALID_REQUEST, "Invalid Request: bad id"),
          };
        }
        isRequest = true;
        if (method === "tools/call" && isObj(msg.params) && typeof msg.params.name === "string") {
          tool = msg.params.name;
        }
      } else if (
        method === "notifications/cancelled" && isObj(msg.params) && isId(msg.params.requestId)
      ) {
        sent.cancel(msg.params.requestId);
      }
    } else if (id !== undefined && ("result" in msg || "error" in msg)) {
      const req = isId(id) ? answered.resolve(id) : undefined;
      ctxMethod = req?.method ?? "";
      tool = req?.tool;
      if (req?.method === "tools/call" && direction === "server_to_client") {
        this.sinks.call?.("end", id as JsonRpcId, tool);
      }
    } else {
      this.sinks.event({
        event: "invalid",
        direction,
        reason: "neither request, notification nor response",
        excerpt: safeExcerpt(JSON.stringify(msg), 80),
      });
      return direction === "client_to_server"
        ? {
          out: undefined,
          reply: errorResponse(isId(id) ? id : null, INVALID_REQUEST, "Invalid Request"),
        }
        : { out: undefined };
    }

    const ctx = {
      server: this.inspector.env.server.name,
      direction,
      method: ctxMethod,
      id: isId(id) ? id : undefined,
      tool,
    };
    const after = (r: InspectResult): ElementResult => {
      this.#audit(r.records);
      if (r.block) {
        if (isRequest) {
          return {
            out: undefined,
            reply: errorResponse(id as JsonRpcId, r.block.code, r.block.message, r.block.data),
          };
        }
        if (method === undefined && isId(id)) {
          // A refused response: the receiver still gets an answer for its id.
          return { out: errorResponse(id, r.block.code, r.block.message, r.block.data) };
        }
        return { out: undefined };
      }
      if (isRequest) {
        sent.track(id as JsonRpcId, ctxMethod, tool, now);
        if (ctxMethod === "tools/call" && direction === "client_to_server") {
          this.sinks.call?.("start", id as JsonRpcId, tool);
        }
      }
      return { out: r.changed ? JSON.stringify(r.message) : "original" };
    };
    const r = this.inspector.inspect(msg as JsonRpcMessage, ctx);
    return r instanceof Promise ? r.then(after) : after(r);
  }

  #audit(records: readonly AuditRecord[]): void {
    for (const rec of records) this.sinks.audit.write(rec);
  }
}

interface ElementResult {
  /** "original", a replacement, or undefined to drop. */
  readonly out?: "original" | string;
  /** An answer to the sender. */
  readonly reply?: string;
}
