/**
 * A `fetch` for plain-HTTP upstreams that speaks HTTP/1.1 over kept-alive sockets
 * (`Deno.connect`). The runtime's own `fetch` costs about a third of a millisecond per request
 * on a small machine, more than everything else the gateway does; this one writes the request in
 * one write, parses the response head in place, and hands a body that is already complete to the
 * caller as bytes (with its real `content-length`), streaming only what is still arriving.
 *
 * Anything it does not handle goes to the runtime's `fetch` unchanged: `https:` URLs, a
 * `Request` object or a streamed body, and every request when a proxy is configured in the
 * environment (`HTTP_PROXY`, `ALL_PROXY`…). A redirect is handed to the runtime's `fetch` too,
 * which sends the request again and follows it by its own rules. No content coding is asked for
 * (`accept-encoding` is not sent), so bodies arrive as sent. Header values go out as Latin-1 and
 * methods are normalised, as `fetch` does.
 *
 * Responses are framed as RFC 9112 §6.3 says: no body for `HEAD`, 1xx, 204 and 304; chunked when
 * the last transfer coding is `chunked`; `content-length` (one value, digits only); otherwise up
 * to the end of the connection, which is then not reused. A malformed response rejects with a
 * message that says what was wrong, and its connection is closed.
 *
 * @example
 * ```ts ignore
 * const fetch1 = createHttp1Fetch();
 * const res = await fetch1("http://127.0.0.1:3000/mcp", { method: "POST", body: "{}" });
 * console.log(res.status, await res.text());
 * ```
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

/** Tunables for {@link createHttp1Fetch}. */
export interface Http1FetchOptions {
  /** Idle connections kept per origin (default 8). */
  readonly maxIdlePerOrigin?: number;
  /** An idle connection is not reused after this long (default 4 s: below the 5 s of Node servers). */
  readonly idleMs?: number;
  /** Largest response head accepted (default 64 KiB). */
  readonly maxHeadBytes?: number;
  /** A complete body up to this size is read before the response resolves (default 16 MiB). */
  readonly bufferBytes?: number;
  /** Where requests it does not handle go (default: the runtime's `fetch`). */
  readonly fallback?: typeof fetch;
  /** Environment lookup for proxy settings (default `Deno.env.get`). */
  readonly env?: (name: string) => string | undefined;
}

/** A fetch function plus a way to close its idle connections. */
export interface Http1Fetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Close every idle connection (in-flight ones close when their bodies end). */
  close(): void;
}

const CR = 13;
const LF = 10;
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const STANDARD_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "DELETE", "PUT"]);
const PROXY_VARS = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/** An upstream response that is not valid HTTP/1.1. */
export class Http1ProtocolError extends TypeError {
  override name = "Http1ProtocolError";
}

/** One socket with its read buffer. At most one read is outstanding at a time. */
class Connection {
  // 64 KiB: a large streamed body arrives in a few large pieces rather than many small ones.
  buf: Uint8Array<ArrayBuffer> = new Uint8Array(64 * 1024);
  /** Unconsumed bytes are `buf[start, end)`. */
  start = 0;
  end = 0;
  closed = false;
  #pending: Promise<number | null> | null = null;
  /** When it was parked (`performance.now()`). */
  parkedAt = 0;
  /** The pool generation it belongs to: `close()` starts a new one. */
  epoch = 0;
  readonly conn: Deno.Conn;
  readonly origin: string;

  constructor(conn: Deno.Conn, origin: string) {
    this.conn = conn;
    this.origin = origin;
  }

  get available(): number {
    return this.end - this.start;
  }

  /** Read more bytes into the buffer; false at the end of the stream. */
  async fill(): Promise<boolean> {
    if (this.end === this.buf.length) {
      const live = this.available;
      if (this.start > 0 && live <= this.buf.length / 2) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf.subarray(this.start, this.end));
        this.buf = bigger;
      }
      this.start = 0;
      this.end = live;
    }
    const p = this.#pending ?? this.conn.read(this.buf.subarray(this.end));
    this.#pending = null;
    const n = await p;
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /** Read into `target` (outside the buffer, which must be empty); null at the end of the stream. */
  async readInto(target: Uint8Array): Promise<number | null> {
    if (this.#pending || this.available > 0) {
      // Not expected (the head was read first), but correct: go through the buffer.
      if (this.available === 0 && !(await this.fill())) return null;
      const n = Math.min(this.available, target.length);
      target.set(this.buf.subarray(this.start, this.start + n));
      this.start += n;
      return n;
    }
    return await this.conn.read(target);
  }

  /**
   * Parked in the pool: a read stays posted so that a close by the server is seen at once. (No
   * idle timer: a timer per request costs more than the request; age is checked when taken.)
   */
  park(onGone: () => void): void {
    this.parkedAt = performance.now();
    // An idle connection does not keep the process alive.
    this.conn.unref();
    if (this.start === this.end) this.start = this.end = 0;
    const p = this.conn.read(this.buf.subarray(this.end));
    this.#pending = p;
    p.then((n) => {
      // Bytes nobody asked for, or the end: either way the connection is unusable.
      if (this.#pending === p) {
        this.#pending = null;
        if (n !== null) this.end += n;
        onGone();
      }
    }, () => {
      if (this.#pending === p) onGone();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  async writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }
}

/** Index of `\r\n\r\n` at or after `from` and before `to`, or -1. */
function findHeadEnd(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (b[i] === CR && b[i + 1] === LF && b[i + 2] === CR && b[i + 3] === LF) return i;
  }
  return -1;
}

/** Index of `\r\n` at or after `from` and before `to`, or -1. */
function findLineEnd(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (b[i] === CR && b[i + 1] === LF) return i;
  return -1;
}

/** A parsed response head. */
export interface ResponseHead {
  readonly status: number;
  readonly statusText: string;
  /** Header lines as sent (name, value), in order. */
  readonly headers: [string, string][];
  /** How the body is delimited. */
  readonly framing: "none" | "chunked" | "length" | "close";
  readonly contentLength: number;
  /** Whether the connection may carry another request after this response. */
  readonly reusable: boolean;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parse a response head (the text before the blank line) for a request made with `method`.
 * Throws {@link Http1ProtocolError} with a precise reason.
 */
export function parseResponseHead(text: string, method: string): ResponseHead {
  const lines = text.split("\r\n");
  const m = STATUS_LINE.exec(lines[0]);
  if (!m) {
    throw new Http1ProtocolError(`invalid status line ${JSON.stringify(lines[0].slice(0, 80))}`);
  }
  const status = Number(m[2]);
  if (status < 100 || status > 599) throw new Http1ProtocolError(`invalid status ${status}`);
  const headers: [string, string][] = [];
  let lengths: string | undefined;
  let te: string | undefined;
  let connection = "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new Http1ProtocolError(`invalid header line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    // Names and values are checked when the response's `Headers` take them (`toResponse`).
    headers.push([name, value]);
    // Only three names matter for framing; most lines skip the lower-casing.
    const first = name.charCodeAt(0) | 0x20;
    if (first !== 0x63 && first !== 0x74) continue; // c, t
    const lower = name.toLowerCase();
    if (lower === "content-length") lengths = lengths === undefined ? value : `${lengths},${value}`;
    else if (lower === "transfer-encoding") te = te === undefined ? value : `${te},${value}`;
    else if (lower === "connection") connection += `,${value.toLowerCase()}`;
  }
  let reusable = m[1] === "1"
    ? !/(^|,)\s*close\s*(,|$)/.test(connection)
    : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
  let framing: ResponseHead["framing"];
  let contentLength = -1;
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) framing = "none";
  else if (te !== undefined) {
    // A length beside a transfer coding is ignored (and the connection not reused: RFC 9112 §6.3).
    if (lengths !== undefined) reusable = false;
    const codings = te.split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "");
    if (codings.length !== 1 || codings[0] !== "chunked") {
      // A content coding below the chunks would reach the caller still encoded.
      throw new Http1ProtocolError(`unsupported transfer-encoding ${JSON.stringify(te)}`);
    }
    framing = "chunked";
  } else if (lengths !== undefined) {
    const values = new Set(lengths.split(",").map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
      throw new Http1ProtocolError(`invalid content-length ${JSON.stringify(lengths)}`);
    }
    framing = "length";
    contentLength = Number(only);
  } else framing = "close";
  if (framing === "close") reusable = false;
  return { status, statusText: m[3] ?? "", headers, framing, contentLength, reusable };
}

/**
 * Decodes a chunked body incrementally from a connection buffer. `step` consumes what it can
 * and reports data ranges; it never copies.
 */
class ChunkedReader {
  /** Bytes left in the current chunk's data, or -1 when a size line is expected next. */
  #left = -1;
  /** After a chunk's data, its CRLF is still to come. */
  #crlf = false;
  #trailers = false;
  done = false;

  /**
   * Consume from `c` (its buffer between start and end). Calls `data` for each data range.
   * Returns false when more bytes are needed.
   */
  step(c: Connection, data: (b: Uint8Array<ArrayBuffer>) => void): boolean {
    for (;;) {
      if (this.done) return true;
      if (this.#crlf) {
        if (c.available < 2) return false;
        if (c.buf[c.start] !== CR || c.buf[c.start + 1] !== LF) {
          throw new Http1ProtocolError("chunk data not followed by CRLF");
        }
        c.start += 2;
        this.#crlf = false;
      }
      if (this.#left > 0) {
        if (c.available === 0) return false;
        const n = Math.min(this.#left, c.available);
        data(c.buf.subarray(c.start, c.start + n));
        c.start += n;
        this.#left -= n;
        if (this.#left === 0) {
          this.#left = -1;
          this.#crlf = true;
        }
        continue;
      }
      const eol = findLineEnd(c.buf, c.start, c.end);
      if (eol < 0) {
        if (c.available > 4096) throw new Http1ProtocolError("chunk size line too long");
        return false;
      }
      const line = latin1.decode(c.buf.subarray(c.start, eol));
      c.start = eol + 2;
      if (this.#trailers) {
        if (line === "") this.done = true;
        continue;
      }
      const size = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (!size) {
        throw new Http1ProtocolError(`invalid chunk size ${JSON.stringify(line.slice(0, 40))}`);
      }
      const n = parseInt(size[1], 16);
      if (n === 0) this.#trailers = true;
      else this.#left = n;
    }
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The request was aborted", "AbortError");
}

/** Create a {@link Http1Fetch}. */
export function createHttp1Fetch(o: Http1FetchOptions = {}): Http1Fetch {
  const maxIdle = o.maxIdlePerOrigin ?? 8;
  const idleMs = o.idleMs ?? 4000;
  const maxHead = o.maxHeadBytes ?? 64 * 1024;
  const bufferBytes = o.bufferBytes ?? 16 * 1024 * 1024;
  const env = o.env ?? ((n: string) => Deno.env.get(n));
  const idle = new Map<string, Connection[]>();
  let proxied: boolean | undefined;
  /** Bumped by `close()`: a connection in flight then is closed, not pooled, when it is done. */
  let epoch = 0;

  const fallback = (input: string | URL | Request, init?: RequestInit) =>
    (o.fallback ?? fetch)(input, init);

  function take(origin: string): Connection | undefined {
    const list = idle.get(origin);
    if (!list) return undefined;
    const now = performance.now();
    for (let c = list.pop(); c; c = list.pop()) {
      // Idle too long: the server may be closing it right now.
      if (now - c.parkedAt < idleMs && !c.closed) {
        c.conn.ref();
        return c;
      }
      c.close();
    }
    return undefined;
  }

  function release(c: Connection, reusable: boolean): void {
    if (!reusable || c.closed || c.available > 0 || c.epoch !== epoch) return c.close();
    let list = idle.get(c.origin);
    if (!list) idle.set(c.origin, list = []);
    if (list.length >= maxIdle) return c.close();
    list.push(c);
    c.park(() => {
      const l = idle.get(c.origin);
      const i = l?.indexOf(c) ?? -1;
      if (i >= 0) l!.splice(i, 1);
      c.close();
    });
  }

  async function connect(url: URL): Promise<Connection> {
    const conn = await Deno.connect({
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port ? Number(url.port) : 80,
    });
    conn.setNoDelay(true);
    return new Connection(conn, url.origin);
  }

  /** Serialise the request line, headers and body into one buffer. */
  function serialise(
    url: URL,
    method: string,
    init: HeadersInit | undefined,
    body: Uint8Array | null,
  ): Uint8Array {
    let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
    let host = false;
    let accept = false;
    const add = (k: string, v: string) => {
      const name = k.toLowerCase();
      if (name === "content-length" || name === "transfer-encoding" || name === "connection") {
        return;
      }
      if (name === "host") host = true;
      else if (name === "accept") accept = true;
      head += `${k}: ${v}\r\n`;
    };
    if (init === undefined || init instanceof Headers || Array.isArray(init)) {
      for (const [k, v] of new Headers(init)) add(k, v);
    } else {
      // A plain record (what the gateway passes): checked here as `Headers` would check it.
      const record = init as Record<string, string>;
      for (const k of Object.keys(record)) {
        const v = String(record[k]).trim();
        // As `Headers` checks: no CR, LF or NUL, nothing beyond Latin-1 (a ByteString).
        if (!TOKEN.test(k) || /[\r\n\0\u0100-\uffff]/.test(v)) {
          throw new TypeError(`invalid header ${JSON.stringify(k)}`);
        }
        add(k, v);
      }
    }
    if (!host) head += `host: ${url.host}\r\n`;
    if (!accept) head += "accept: */*\r\n";
    if (body !== null) head += `content-length: ${body.length}\r\n`;
    else if (method === "POST" || method === "PUT" || method === "PATCH") {
      head += "content-length: 0\r\n";
    }
    head += "\r\n";
    // Latin-1, one byte per character, as fetch sends header values (UTF-8 garbled "é"). Every
    // character is below 256: header values are checked above or by `Headers`, the method is a
    // token, the URL's path, query and host are ASCII.
    const out = new Uint8Array(head.length + (body?.length ?? 0));
    for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
    if (body !== null) out.set(body, head.length);
    return out;
  }

  async function readHead(c: Connection, method: string): Promise<ResponseHead> {
    const tooLarge = () => new Http1ProtocolError(`response head larger than ${maxHead} bytes`);
    for (;;) {
      // Bytes after `c.start` already searched: relative, as `fill()` may move them to the front
      // of the buffer (an absolute index went stale after a 1xx head and missed the end).
      let scanned = 0;
      let end: number;
      while ((end = findHeadEnd(c.buf, c.start + Math.max(0, scanned - 3), c.end)) < 0) {
        scanned = c.available;
        if (c.available > maxHead) throw tooLarge();
        if (!(await c.fill())) {
          throw new Http1ProtocolError(
            c.available === 0
              ? "the server closed the connection without a response"
              : "the server closed the connection in the middle of the response head",
          );
        }
      }
      // Checked here too: a head that arrives in one read never went through the check above.
      if (end - c.start > maxHead) throw tooLarge();
      const text = latin1.decode(c.buf.subarray(c.start, end));
      c.start = end + 4;
      const head = parseResponseHead(text, method);
      if (head.status === 101) throw new Http1ProtocolError("unexpected protocol switch (101)");
      if (head.status >= 200) return head;
      // 1xx interim responses (100 Continue, 103 Early Hints) are skipped.
    }
  }

  /** A `content-length` body of at most `bufferBytes`, read whole; null for a longer one. */
  async function readWhole(c: Connection, n: number): Promise<Uint8Array<ArrayBuffer> | null> {
    if (n > bufferBytes) return null;
    if (c.available >= n) {
      const body = c.buf.slice(c.start, c.start + n);
      c.start += n;
      return body;
    }
    // Read straight into a buffer of the body's size (growing the connection's buffer by
    // doubling would copy a large body several times).
    const body = new Uint8Array(n);
    let got = c.available;
    body.set(c.buf.subarray(c.start, c.end));
    c.start = c.end = 0;
    while (got < n) {
      const k = await c.readInto(body.subarray(got));
      if (k === null) {
        throw new Http1ProtocolError("the server closed the connection in the middle of the body");
      }
      got += k;
    }
    return body;
  }

  function streamBody(
    c: Connection,
    head: ResponseHead,
    chunked: ChunkedReader | null,
    signal: AbortSignal | null | undefined,
    first: Uint8Array | null,
  ): ReadableStream<Uint8Array> {
    let left = head.framing === "length" ? head.contentLength : Infinity;
    let finished = false;
    const finish = (reusable: boolean) => {
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      release(c, reusable);
    };
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const onAbort = () => {
      if (finished) return;
      finished = true;
      c.close();
      try {
        controller?.error(abortError(signal!));
      } catch { /* already closed */ }
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    return new ReadableStream<Uint8Array>({
      start: (ctl) => {
        controller = ctl;
        if (first !== null) ctl.enqueue(first);
      },
      pull: async (ctl) => {
        if (finished) return;
        try {
          for (;;) {
            let got = false;
            if (chunked) {
              chunked.step(c, (b) => {
                ctl.enqueue(b.slice());
                got = true;
              });
              if (chunked.done) {
                ctl.close();
                return finish(head.reusable);
              }
            } else if (c.available > 0) {
              const n = Math.min(left, c.available);
              ctl.enqueue(c.buf.slice(c.start, c.start + n));
              c.start += n;
              left -= n;
              got = true;
              if (left === 0) {
                ctl.close();
                return finish(head.reusable);
              }
            }
            if (got) return;
            if (!(await c.fill())) {
              if (head.framing === "close") {
                ctl.close();
                return finish(false);
              }
              throw new Http1ProtocolError(
                "the server closed the connection in the middle of the body",
              );
            }
            if (finished) return;
          }
        } catch (e) {
          if (finished) return;
          finish(false);
          ctl.error(e);
        }
      },
      cancel: () => {
        if (!finished) finish(false);
      },
    }, { highWaterMark: 0 });
  }

  async function request(url: URL, init: RequestInit, body: Uint8Array | null): Promise<Response> {
    // As fetch: the six standard methods are upper-cased, any other is sent as written.
    const asked = init.method ?? "GET";
    const upper = asked.toUpperCase();
    const method = STANDARD_METHODS.has(upper) ? upper : asked;
    // It goes into the request line as is: anything but a token would inject (fetch refuses it).
    if (!TOKEN.test(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
    if (body !== null && (method === "GET" || method === "HEAD")) {
      throw new TypeError(`a ${method} request cannot have a body`);
    }
    const signal = init.signal;
    if (signal?.aborted) throw abortError(signal);
    const bytes = serialise(url, method, init.headers, body);
    const reused = take(url.origin);
    let c: Connection;
    try {
      c = reused ?? await connect(url);
    } catch (e) {
      // A network error is a TypeError, as with fetch (it was `Deno.errors.ConnectionRefused`…).
      if (signal?.aborted) throw abortError(signal);
      throw new TypeError(`error sending request to ${url.origin}: ${errorText(e)}`, { cause: e });
    }
    c.epoch = epoch;
    const onAbort = () => c.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    // Aborted while connecting: the listener came too late to fire, and the request would hang.
    if (signal?.aborted) c.close();
    let head: ResponseHead;
    let whole: Uint8Array<ArrayBuffer> | null = null;
    let chunked: ChunkedReader | null = null;
    let first: Uint8Array | null = null;
    try {
      await c.writeAll(bytes);
      head = await readHead(c, method);
      if (head.framing === "none") whole = new Uint8Array(0);
      else if (head.framing === "chunked") {
        // Complete already (the usual case for a short answer): hand it over as bytes.
        chunked = new ChunkedReader();
        const parts: Uint8Array<ArrayBuffer>[] = [];
        chunked.step(c, (b) => {
          parts.push(b);
        });
        if (chunked.done) whole = concatBytes(parts, true);
        // Not complete: what came is the stream's first piece, the rest is read as it comes.
        else if (parts.length > 0) first = concatBytes(parts, true);
      } else if (head.framing === "length") whole = await readWhole(c, head.contentLength);
    } catch (e) {
      signal?.removeEventListener("abort", onAbort);
      c.close();
      if (signal?.aborted) throw abortError(signal);
      // A kept-alive connection the server closed just as it was reused: a request that may be
      // repeated is sent again once, on a new connection (RFC 9110 §9.2.2).
      if (reused && c.start === 0 && c.end === 0 && IDEMPOTENT.has(method)) {
        return await request(url, init, body);
      }
      throw e instanceof Http1ProtocolError
        ? e
        : new TypeError(`error sending request to ${url.origin}: ${errorText(e)}`, { cause: e });
    }
    signal?.removeEventListener("abort", onAbort);
    if (REDIRECTS.has(head.status) && init.redirect !== "manual") {
      // Rare for an MCP endpoint: the runtime's fetch sends it again and follows the redirect
      // with all of its rules (method changes, limits, `redirect: "error"`).
      if (whole !== null) release(c, head.reusable);
      else c.close();
      return await fallback(url, init);
    }
    const nullBody = head.status === 204 || head.status === 304 || method === "HEAD";
    if (whole !== null) {
      let res: Response;
      try {
        res = toResponse(
          nullBody ? null : whole,
          head,
          head.framing === "chunked" ? whole.length : -1,
        );
      } catch (e) {
        // A malformed response closes its connection (it used to be pooled before the check).
        c.close();
        throw e;
      }
      release(c, head.reusable);
      return res;
    }
    return toResponse(streamBody(c, head, chunked, signal, first), head, -1);
  }

  const f = ((input: string | URL | Request, init: RequestInit = {}) => {
    if (input instanceof Request) return fallback(input, init);
    const url = input instanceof URL ? input : new URL(input);
    const raw = init.body;
    let body: Uint8Array | null;
    if (raw === undefined || raw === null) body = null;
    else if (typeof raw === "string") body = enc.encode(raw);
    else if (raw instanceof Uint8Array) body = raw;
    else if (raw instanceof ArrayBuffer) body = new Uint8Array(raw);
    else return fallback(input, init);
    proxied ??= PROXY_VARS.some((v) => (env(v) ?? "") !== "");
    if (url.protocol !== "http:" || proxied || url.username || url.password) {
      return fallback(input, init);
    }
    return request(url, init, body);
  }) as Http1Fetch;
  f.close = () => {
    epoch++;
    for (const list of idle.values()) for (const c of list) c.close();
    idle.clear();
  };
  return f;
}

/**
 * The `Response` for a parsed head. Headers are appended after it is made (a `headers` init
 * costs several times more in Deno). A chunked body that was read whole gets its real length
 * in place of the transfer coding.
 */
function toResponse(
  body: BodyInit | null,
  head: ResponseHead,
  dechunkedLength: number,
): Response {
  let r: Response;
  try {
    r = new Response(body, { status: head.status, statusText: head.statusText });
  } catch {
    // A reason phrase the Fetch standard refuses: it carries no meaning, drop it.
    r = new Response(body, { status: head.status });
  }
  const h = r.headers;
  for (const [k, v] of head.headers) {
    if (dechunkedLength >= 0 && /^transfer-encoding$/i.test(k)) continue;
    try {
      // Checks that the name is a token and the value has no control characters.
      h.append(k, v);
    } catch {
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      throw new Http1ProtocolError(`invalid header ${JSON.stringify(k.slice(0, 80))}`);
    }
  }
  if (dechunkedLength >= 0) h.set("content-length", String(dechunkedLength));
  return r;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
