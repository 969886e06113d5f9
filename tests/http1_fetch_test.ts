/**
 * The HTTP/1.1 client for plain-`http:` upstreams (`src/adapters/http1_fetch.ts`), against real
 * servers on 127.0.0.1: `Deno.serve` where a well-behaved server is enough, and raw TCP servers
 * (`Deno.listen`) that write hand-crafted bytes for everything a well-behaved server never sends.
 */
import assert from "node:assert/strict";
import {
  createHttp1Fetch,
  type Http1Fetch,
  type Http1FetchOptions,
  Http1ProtocolError,
  parseResponseHead,
} from "../src/adapters/http1_fetch.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const latin1 = new TextDecoder("latin1");
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` after `ms` (a hang fails the test instead of stalling it). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until `done()` holds, polling; a rejection naming `what` after `ms`. */
async function until(done: () => boolean, what: string, ms = 1000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await delay(2);
  }
}

/** A client that closes its idle connections when the test's scope ends. */
function client(o: Http1FetchOptions = {}): Http1Fetch & Disposable {
  const f = createHttp1Fetch(o);
  return Object.assign(f, { [Symbol.dispose]: () => f.close() });
}

/** A request as a raw server read it off the wire. */
interface RawRequest {
  readonly method: string;
  readonly target: string;
  /** Header lines as sent, in order. */
  readonly lines: [string, string][];
  readonly headers: Headers;
  readonly body: Uint8Array;
}

/** One accepted connection of a raw server: reads requests, writes hand-crafted bytes. */
class Peer {
  #buf = new Uint8Array(0);
  readonly conn: Deno.TcpConn;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    conn.setNoDelay(true);
  }

  /** More bytes; false at the end of the stream (or when the connection is gone). */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch {
      return false;
    }
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** The next request, or null when the client closed the connection instead. */
  async request(): Promise<RawRequest | null> {
    let end: number;
    while ((end = latin1.decode(this.#buf).indexOf("\r\n\r\n")) < 0) {
      if (!(await this.#fill())) {
        if (this.#buf.length > 0) throw new Error(`partial request ${latin1.decode(this.#buf)}`);
        return null;
      }
    }
    const [first, ...rest] = latin1.decode(this.#buf.subarray(0, end)).split("\r\n");
    const [method, target] = first.split(" ");
    const lines = rest.map((l): [string, string] => {
      const i = l.indexOf(":");
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const headers = new Headers(lines);
    const length = Number(headers.get("content-length") ?? "0");
    while (this.#buf.length < end + 4 + length) {
      if (!(await this.#fill())) throw new Error("the client closed in the middle of the body");
    }
    const body = this.#buf.slice(end + 4, end + 4 + length);
    this.#buf = this.#buf.slice(end + 4 + length);
    return { method, target, lines, headers, body };
  }

  /** Write each part with its own write, in order. */
  async write(...parts: (string | Uint8Array)[]): Promise<void> {
    for (const part of parts) {
      const bytes = typeof part === "string" ? te.encode(part) : part;
      let off = 0;
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A raw TCP server on 127.0.0.1 that hands each connection to `handle`. */
interface RawServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
}

/**
 * Start a raw server. Closing it closes the listener and every connection, waits for the
 * handlers, and throws what a handler threw (so assertions made server-side count).
 */
function rawServer(handle: (peer: Peer, index: number) => Promise<void>): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peers: Peer[] = [];
  const handlers: Promise<void>[] = [];
  const errors: unknown[] = [];
  let closing = false;
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        const peer = new Peer(conn);
        peers.push(peer);
        handlers.push(
          handle(peer, peers.length - 1).catch((e) => {
            if (!closing) errors.push(e);
          }).finally(() => peer.close()),
        );
      }
    } catch { /* the listener was closed */ }
  })();
  const port = listener.addr.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get accepted() {
      return peers.length;
    },
    async [Symbol.asyncDispose]() {
      closing = true;
      listener.close();
      await loop;
      for (const p of peers) p.close();
      await Promise.all(handlers);
      if (errors.length > 0) throw errors[0];
    },
  };
}

/** `HTTP/1.1 200` with a content-length body. */
function ok(body: string, extra = ""): string {
  return `HTTP/1.1 200 OK\r\ncontent-length: ${te.encode(body).length}\r\n${extra}\r\n${body}`;
}

/** One chunk of a chunked body. */
function chunk(data: string, ext = ""): string {
  return `${te.encode(data).length.toString(16)}${ext}\r\n${data}\r\n`;
}

/** Answer every request on the connection with `METHOD target` (the raw server's default). */
async function answerAll(peer: Peer, seen: RawRequest[] = []): Promise<void> {
  for (let req = await peer.request(); req; req = await peer.request()) {
    seen.push(req);
    await peer.write(ok(`${req.method} ${req.target}`));
  }
}

/** What the echo server saw of a request. */
interface Echo {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The client's port: the same port means the same TCP connection. */
  port: number;
}

/** A `Deno.serve` server that answers every request with what it saw of it. */
function echoServer(): { url: string; port: number } & AsyncDisposable {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req, info) => {
      const u = new URL(req.url);
      const echo: Echo = {
        method: req.method,
        path: u.pathname + u.search,
        headers: Object.fromEntries(req.headers),
        body: await req.text(),
        port: info.remoteAddr.port,
      };
      return Response.json(echo);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Deterministic bytes that are not all alike. */
function bytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Index of the first byte where `a` and `b` differ, or -1 when they are equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** A fallback `fetch` that records its calls. */
function recordingFallback() {
  const calls: { input: string | URL | Request; init: RequestInit | undefined }[] = [];
  const fallback = (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ input, init });
    return Promise.resolve(new Response("fallback"));
  };
  return { calls, fallback: fallback as typeof fetch };
}

// ---------------------------------------------------------------------------------------------
// Requests as the server sees them
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: a JSON POST round-trips with its headers, host, content-length and a non-ASCII body intact", async () => {
  await using srv = echoServer();
  using fetch1 = client();
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { text: "héllo wörld ✓ 日本語 🚀" },
  });
  const res = await fetch1(`${srv.url}/mcp?session=1`, {
    method: "POST",
    headers: { "content-type": "application/json", "X-Api-Token": "abc123" },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const seen: Echo = await res.json();
  assert.equal(seen.method, "POST");
  assert.equal(seen.path, "/mcp?session=1");
  assert.equal(seen.body, body);
  assert.equal(seen.headers["content-type"], "application/json");
  assert.equal(seen.headers["x-api-token"], "abc123");
  assert.equal(seen.headers.host, `127.0.0.1:${srv.port}`);
  assert.equal(seen.headers["content-length"], String(te.encode(body).length));
  assert.equal(seen.headers.accept, "*/*");
  assert.equal(seen.headers["transfer-encoding"], undefined);
  assert.equal(seen.headers["accept-encoding"], undefined, "no content coding is asked for");
});

Deno.test("http1 fetch: request headers from a record, a Headers object and an array of pairs all arrive", async () => {
  await using srv = echoServer();
  using fetch1 = client();
  const forms: [string, HeadersInit][] = [
    ["record", { "X-One": "1", "x-two": " padded value " }],
    ["Headers", new Headers({ "X-One": "1", "x-two": "padded value" })],
    ["pairs", [["X-One", "1"], ["x-two", "padded value"]]],
  ];
  for (const [form, headers] of forms) {
    const seen: Echo = await (await fetch1(`${srv.url}/h`, { headers })).json();
    assert.equal(seen.headers["x-one"], "1", form);
    assert.equal(seen.headers["x-two"], "padded value", form);
    assert.equal(seen.method, "GET", form);
  }
  const seen: Echo = await (await fetch1(`${srv.url}/h`, {
    headers: [["x-multi", "a"], ["x-multi", "b"]],
  })).json();
  assert.equal(seen.headers["x-multi"], "a, b", "repeated pairs are all sent");
});

Deno.test("http1 fetch: the caller's content-length, transfer-encoding and connection headers are replaced, accept and host are kept", async () => {
  const seen: RawRequest[] = [];
  await using srv = rawServer((peer) => answerAll(peer, seen));
  using fetch1 = client();
  const res = await fetch1(`${srv.url}/x`, {
    method: "POST",
    headers: {
      "Content-Length": "999",
      "Transfer-Encoding": "chunked",
      "Connection": "close",
      "Accept": "application/json, text/event-stream",
      "Host": "upstream.example:8080",
    },
    body: "abc",
  });
  assert.equal(await res.text(), "POST /x");
  const names = seen[0].lines.map(([k]) => k.toLowerCase());
  assert.deepEqual(names.filter((n) => n === "content-length"), ["content-length"]);
  assert.equal(seen[0].headers.get("content-length"), "3");
  assert.ok(!names.includes("transfer-encoding"));
  assert.ok(!names.includes("connection"));
  assert.deepEqual(names.filter((n) => n === "accept"), ["accept"]);
  assert.equal(seen[0].headers.get("accept"), "application/json, text/event-stream");
  assert.deepEqual(names.filter((n) => n === "host"), ["host"]);
  assert.equal(seen[0].headers.get("host"), "upstream.example:8080");
  assert.equal(td.decode(seen[0].body), "abc");
});

Deno.test("http1 fetch: Uint8Array and ArrayBuffer bodies are sent byte-exact, a bodyless POST sends content-length 0, a GET none", async () => {
  const seen: RawRequest[] = [];
  await using srv = rawServer((peer) => answerAll(peer, seen));
  using fetch1 = client();
  const data = bytes(3000, 7);
  await (await fetch1(`${srv.url}/u8`, { method: "PUT", body: data })).text();
  await (await fetch1(`${srv.url}/ab`, { method: "POST", body: data.slice().buffer })).text();
  await (await fetch1(`${srv.url}/empty`, { method: "post" })).text();
  await (await fetch1(`${srv.url}/get`)).text();
  assert.deepEqual(seen.map((r) => `${r.method} ${r.target}`), [
    "PUT /u8",
    "POST /ab",
    "POST /empty",
    "GET /get",
  ]);
  assert.equal(firstDifference(seen[0].body, data), -1);
  assert.equal(firstDifference(seen[1].body, data), -1);
  assert.equal(seen[0].headers.get("content-length"), "3000");
  assert.equal(seen[2].headers.get("content-length"), "0");
  assert.equal(seen[3].headers.get("content-length"), null);
  assert.equal(srv.accepted, 1);
});

// ---------------------------------------------------------------------------------------------
// Keep-alive
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: sequential requests reuse one kept-alive TCP connection", async () => {
  const seen: RawRequest[] = [];
  await using srv = rawServer((peer) => answerAll(peer, seen));
  using fetch1 = client();
  for (let i = 0; i < 5; i++) {
    const res = await fetch1(`${srv.url}/r${i}`, {
      method: i % 2 ? "POST" : "GET",
      body: i % 2 ? `{"i":${i}}` : undefined,
    });
    assert.equal(await res.text(), `${i % 2 ? "POST" : "GET"} /r${i}`);
  }
  assert.equal(seen.length, 5);
  assert.equal(srv.accepted, 1, "one TCP connection for five requests");
});

Deno.test("http1 fetch: Deno.serve sees every sequential request come from the same client port", async () => {
  await using srv = echoServer();
  using fetch1 = client();
  const ports = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const seen: Echo = await (await fetch1(`${srv.url}/p`, { method: "POST", body: "{}" })).json();
    ports.add(seen.port);
  }
  assert.equal(ports.size, 1);
});

Deno.test("http1 fetch: concurrent requests each get a connection, which later requests then reuse", async () => {
  const arrived: (() => void)[] = [];
  const ports = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (_req, info) => {
      ports.add(info.remoteAddr.port);
      // The first four wait for each other: they must be on four connections at once.
      if (arrived.length < 4) {
        await new Promise<void>((r) => {
          arrived.push(r);
          if (arrived.length === 4) { for (const go of arrived) go(); }
        });
      }
      return new Response(String(info.remoteAddr.port));
    },
  );
  try {
    using fetch1 = client();
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const first = await within(
      Promise.all([1, 2, 3, 4].map(async () => Number(await (await fetch1(url)).text()))),
      2000,
      "four concurrent requests",
    );
    assert.equal(new Set(first).size, 4);
    for (let i = 0; i < 4; i++) {
      const port = Number(await (await fetch1(url)).text());
      assert.ok(first.includes(port), `request ${i} reused one of the first connections`);
    }
    assert.equal(ports.size, 4);
  } finally {
    await server.shutdown();
  }
});

Deno.test("http1 fetch: maxIdlePerOrigin 0 and idleMs 0 turn reuse off, and the client closes what it does not keep", async () => {
  for (const options of [{ maxIdlePerOrigin: 0 }, { idleMs: 0 }]) {
    const hangups: boolean[] = [];
    await using srv = rawServer(async (peer) => {
      const req = await peer.request();
      assert.ok(req);
      await peer.write(ok("x"));
      hangups.push((await peer.request()) === null);
    });
    using fetch1 = client(options);
    for (let i = 0; i < 3; i++) assert.equal(await (await fetch1(srv.url)).text(), "x");
    assert.equal(srv.accepted, 3, JSON.stringify(options));
    fetch1.close();
    await until(() => hangups.length === 3, "the client to close every connection");
    assert.deepEqual(hangups, [true, true, true]);
  }
});

Deno.test("http1 fetch: a connection idle longer than idleMs is dropped, a younger one is reused", async () => {
  const hangups: number[] = [];
  await using srv = rawServer(async (peer, index) => {
    await answerAll(peer);
    hangups.push(index);
  });
  using fetch1 = client({ idleMs: 150 });
  await (await fetch1(srv.url)).text();
  await delay(5);
  await (await fetch1(srv.url)).text();
  assert.equal(srv.accepted, 1, "reused while young");
  await delay(200);
  await (await fetch1(srv.url)).text();
  assert.equal(srv.accepted, 2, "a new connection once idle too long");
  await until(() => hangups.length > 0, "the stale connection to be closed");
  assert.deepEqual(hangups, [0], "the stale connection was closed by the client");
});

Deno.test("http1 fetch: close() closes idle connections and the server sees the client hang up", async () => {
  let hungUp!: () => void;
  const hangup = new Promise<void>((r) => hungUp = r);
  await using srv = rawServer(async (peer) => {
    await answerAll(peer);
    hungUp();
  });
  const fetch1 = createHttp1Fetch();
  await (await fetch1(srv.url)).text();
  fetch1.close();
  await within(hangup, 1000, "the server to see EOF after close()");
  // Still usable after close(): a new connection.
  assert.equal(await (await fetch1(srv.url)).text(), "GET /");
  assert.equal(srv.accepted, 2);
  fetch1.close();
});

Deno.test("http1 fetch: close() while a body is streaming closes that connection when the body ends (it went back to the pool)", async () => {
  let hungUp!: () => void;
  const hangup = new Promise<void>((r) => hungUp = r);
  let again: RawRequest | null = null;
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk("one"));
    await delay(20);
    await peer.write(chunk("two"), "0\r\n\r\n");
    again = await peer.request();
    hungUp();
  });
  using fetch1 = client();
  const res = await fetch1(srv.url);
  fetch1.close();
  assert.equal(await res.text(), "onetwo");
  await within(hangup, 1000, "the in-flight connection to close after close()");
  assert.equal(again, null);
});

// ---------------------------------------------------------------------------------------------
// Chunked bodies
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: a chunked response complete in one write is returned with its de-chunked content-length and no transfer-encoding", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    // Extensions on the size lines and a trailer: all skipped.
    await peer.write(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
        chunk('{"a":"é",', ";name=value") + chunk('"b":2}', ' ;x="y"') +
        "0\r\nx-trailer: t\r\nx-other: u\r\n\r\n",
    );
    await answerAll(peer);
  });
  using fetch1 = client();
  const res = await fetch1(srv.url);
  assert.equal(res.headers.get("transfer-encoding"), null);
  assert.equal(res.headers.get("content-length"), String(te.encode('{"a":"é","b":2}').length));
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("x-trailer"), null);
  assert.deepEqual(await res.json(), { a: "é", b: 2 });
  // The trailers were consumed: the same connection carries the next request.
  assert.equal(await (await fetch1(`${srv.url}/next`)).text(), "GET /next");
  assert.equal(srv.accepted, 1);
});

Deno.test("http1 fetch: an empty chunked body is an empty body with content-length 0", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n");
    await answerAll(peer);
  });
  using fetch1 = client();
  const res = await fetch1(srv.url);
  assert.equal(res.headers.get("content-length"), "0");
  assert.equal(await res.text(), "");
  assert.equal(await (await fetch1(srv.url)).text(), "GET /");
  assert.equal(srv.accepted, 1);
});

Deno.test("http1 fetch: a chunked SSE response is streamed: the first event is read before the second is written", async () => {
  const ev1 = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n';
  const ev2 = 'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n';
  let gotFirst!: () => void;
  const clientHasFirst = new Promise<void>((r) => gotFirst = r);
  let secondWrittenAt = 0;
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write(
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
      chunk(ev1),
    );
    await clientHasFirst;
    await delay(50);
    secondWrittenAt = performance.now();
    await peer.write(chunk(ev2));
    await delay(5);
    await peer.write("0\r\n\r\n");
    await answerAll(peer);
  });
  using fetch1 = client();
  try {
    const res = await within(fetch1(srv.url, { method: "POST", body: "{}" }), 2000, "the head");
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.equal(res.headers.get("transfer-encoding"), "chunked", "streamed as it came");
    assert.equal(res.headers.get("content-length"), null);
    const reader = res.body!.getReader();
    const first = await within(reader.read(), 2000, "the first event");
    const firstReadAt = performance.now();
    assert.equal(td.decode(first.value), ev1);
    gotFirst();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += td.decode(r.value);
    assert.equal(rest, ev2);
    assert.ok(firstReadAt < secondWrittenAt, "the first event was read before the second was sent");
  } finally {
    gotFirst();
  }
  // The stream ended on the terminal chunk: the connection goes back to the pool.
  assert.equal(await (await fetch1(srv.url)).text(), "GET /");
  assert.equal(srv.accepted, 1);
});

Deno.test("http1 fetch: a chunked response split into tiny writes anywhere (head included) arrives intact", async () => {
  const wire = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n" +
    chunk("Hello, ", ";a=1") + chunk("chunked ") + chunk("wörld") + "0\r\nx-t: 1\r\n\r\n";
  await using srv = rawServer(async (peer) => {
    for (const step of [1, 3, 5]) {
      await peer.request();
      for (let i = 0; i < wire.length; i += step) {
        await peer.write(wire.slice(i, i + step));
        if (i % (step * 8) === 0) await delay(1);
      }
    }
    await answerAll(peer);
  });
  using fetch1 = client();
  for (const step of [1, 3, 5]) {
    const res = await within(fetch1(srv.url), 2000, `head in writes of ${step}`);
    assert.equal(await within(res.text(), 2000, "body"), "Hello, chunked wörld", `step ${step}`);
  }
  assert.equal(await (await fetch1(srv.url)).text(), "GET /");
  assert.equal(srv.accepted, 1);
});

// ---------------------------------------------------------------------------------------------
// Large bodies
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: a 1 MB content-length body and a 1 MB chunked body arrive byte-exact", async () => {
  const data = bytes(1024 * 1024, 42);
  await using srv = rawServer(async (peer) => {
    for (let req = await peer.request(); req; req = await peer.request()) {
      if (req.target === "/length") {
        await peer.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${data.length}\r\n\r\n`,
          data,
        );
      } else {
        await peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        const sizes = [1, 7, 4096, 65536, 100_000, 3];
        for (let off = 0, i = 0; off < data.length; i++) {
          const part = data.subarray(off, off + sizes[i % sizes.length]);
          off += part.length;
          const line = te.encode(`${part.length.toString(16)}${i === 2 ? ";ext" : ""}\r\n`);
          const out = new Uint8Array(line.length + part.length + 2);
          out.set(line);
          out.set(part, line.length);
          out.set([13, 10], line.length + part.length);
          await peer.write(out);
        }
        await peer.write("0\r\n\r\n");
      }
    }
  });
  for (const bufferBytes of [undefined, 1024]) {
    using fetch1 = client({ bufferBytes });
    const what = `bufferBytes ${bufferBytes}`;
    const a = await fetch1(`${srv.url}/length`);
    assert.equal(a.headers.get("content-length"), String(data.length), what);
    assert.equal(firstDifference(new Uint8Array(await a.arrayBuffer()), data), -1, what);
    const b = await fetch1(`${srv.url}/chunked`);
    assert.equal(firstDifference(new Uint8Array(await b.arrayBuffer()), data), -1, what);
    // Both bodies ended exactly at their framing: one connection throughout.
    assert.equal(
      await (await fetch1(`${srv.url}/length`)).arrayBuffer().then((x) => x.byteLength),
      data.length,
    );
  }
  assert.equal(srv.accepted, 2, "one connection per client");
});

// ---------------------------------------------------------------------------------------------
// Bodiless responses, interim responses
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: 204, 304 and HEAD responses have no body and the connection stays reusable", async () => {
  await using srv = rawServer(async (peer) => {
    for (let req = await peer.request(); req; req = await peer.request()) {
      if (req.method === "HEAD") {
        // A HEAD answer announces the length of the GET body it does not carry.
        await peer.write(
          "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: text/plain\r\n\r\n",
        );
      } else if (req.target === "/204") await peer.write("HTTP/1.1 204 No Content\r\n\r\n");
      else if (req.target === "/304") {
        await peer.write('HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 50\r\n\r\n');
      } else await peer.write(ok(`${req.method} ${req.target}`));
    }
  });
  using fetch1 = client();
  const head = await fetch1(`${srv.url}/doc`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  assert.equal(head.headers.get("content-length"), "1000");
  assert.equal(await head.text(), "");
  const none = await fetch1(`${srv.url}/204`, { method: "POST", body: "{}" });
  assert.equal(none.status, 204);
  assert.equal(none.body, null);
  const same = await fetch1(`${srv.url}/304`);
  assert.equal(same.status, 304);
  assert.equal(same.body, null);
  assert.equal(same.headers.get("etag"), '"v1"');
  assert.equal(await (await fetch1(`${srv.url}/after`)).text(), "GET /after");
  assert.equal(srv.accepted, 1, "no body was waited for: one connection throughout");
});

Deno.test("http1 fetch: 100 Continue and 103 Early Hints before the response are skipped", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 100 Continue\r\n\r\n");
    await delay(10);
    await peer.write("HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n");
    await delay(10);
    await peer.write(ok("final", "x-final: yes\r\n"));
    await answerAll(peer);
  });
  using fetch1 = client();
  const res = await fetch1(srv.url, { method: "POST", body: "{}" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-final"), "yes");
  assert.equal(res.headers.get("link"), null, "interim headers are not the response's");
  assert.equal(await res.text(), "final");
  assert.equal(await (await fetch1(srv.url)).text(), "GET /");
  assert.equal(srv.accepted, 1);
});

Deno.test("http1 fetch: a final head that arrives after a large 103 is found (the scan offset went stale when the buffer was compacted)", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write(`HTTP/1.1 103 Early Hints\r\nlink: ${"a".repeat(10_000)}\r\n\r\n`);
    await delay(20);
    await peer.write(ok("after the hints", `x-pad: ${"b".repeat(10_000)}\r\n`));
    await answerAll(peer);
  });
  using fetch1 = client();
  const res = await within(fetch1(srv.url), 1000, "the final head");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-pad")?.length, 10_000);
  assert.equal(await res.text(), "after the hints");
});

Deno.test("http1 fetch: a 101 protocol switch is refused", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n");
    await peer.request();
  });
  using fetch1 = client();
  await assert.rejects(fetch1(srv.url), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /unexpected protocol switch \(101\)/);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// Connections that end the body, or are not reusable
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: a close-delimited body is read to EOF and its connection is not reused", async () => {
  await using srv = rawServer(async (peer, index) => {
    const req = await peer.request();
    assert.ok(req);
    if (index === 0) {
      await peer.write(
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n",
        "part one, ",
      );
      await delay(20);
      await peer.write("part two");
      peer.close();
    } else {
      await peer.write(ok("second"));
      await answerAll(peer);
    }
  });
  using fetch1 = client();
  const res = await fetch1(srv.url);
  assert.equal(res.headers.get("content-length"), null);
  assert.equal(await within(res.text(), 1000, "the body up to EOF"), "part one, part two");
  assert.equal(await (await fetch1(srv.url)).text(), "second");
  assert.equal(srv.accepted, 2);
});

Deno.test("http1 fetch: a response without length or chunking on HTTP/1.1 is read to EOF even without Connection: close", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\n\r\n", "until", " the end");
    await delay(10);
    peer.close();
  });
  using fetch1 = client();
  const res = await fetch1(srv.url);
  assert.equal(await within(res.text(), 1000, "the body up to EOF"), "until the end");
});

Deno.test("http1 fetch: Connection: close and HTTP/1.0 without keep-alive are not reused, the client closes them itself", async () => {
  const answers = [
    ok("a", "Connection: close\r\n"),
    "HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb",
    "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 1\r\n\r\nc",
  ];
  const afterwards: (RawRequest | null)[] = [];
  // Per connection, the answers it gives; then it waits (only the client can end it).
  const plan = [[answers[0]], [answers[1]], [answers[2], answers[2]]];
  await using srv = rawServer(async (peer, index) => {
    for (const answer of plan[index]) {
      await peer.request();
      await peer.write(answer);
    }
    afterwards[index] = await peer.request();
  });
  using fetch1 = client();
  assert.equal(await (await fetch1(srv.url)).text(), "a");
  assert.equal(await (await fetch1(srv.url)).text(), "b");
  assert.equal(await (await fetch1(srv.url)).text(), "c");
  assert.equal(await (await fetch1(srv.url)).text(), "c", "HTTP/1.0 with keep-alive is reused");
  assert.equal(srv.accepted, 3);
  await until(() => 0 in afterwards && 1 in afterwards, "the client to close both");
  assert.deepEqual(afterwards.slice(0, 2), [null, null], "closed by the client");
});

// ---------------------------------------------------------------------------------------------
// Malformed responses
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: malformed responses reject with Http1ProtocolError naming the problem, and the connection is closed", async () => {
  const cases: [string, string, RegExp][] = [
    ["/status", "HTTP/1.1 OK\r\ncontent-length: 0\r\n\r\n", /invalid status line "HTTP\/1.1 OK"/],
    ["/status2", "ICY 200 OK\r\n\r\n", /invalid status line "ICY 200 OK"/],
    ["/status3", "HTTP/1.1 999 Weird\r\n\r\n", /invalid status 999/],
    [
      "/lengths",
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
      /invalid content-length "5,6"/,
    ],
    ["/length", "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", /invalid content-length "-1"/],
    [
      "/chunk",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
      /invalid chunk size "zz"/,
    ],
    [
      "/crlf",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
      /chunk data not followed by CRLF/,
    ],
    [
      "/te",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      /unsupported transfer-encoding "gzip, chunked"/,
    ],
    ["/line", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /invalid header line "no colon here"/],
    [
      "/sizeline",
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${"1".repeat(5000)}`,
      /chunk size line too long/,
    ],
  ];
  const hangups: boolean[] = [];
  await using srv = rawServer(async (peer) => {
    const req = await peer.request();
    assert.ok(req);
    await peer.write(cases.find(([path]) => path === req.target)![1]);
    // Whatever was wrong, the client must hang up rather than send another request here.
    hangups.push((await peer.request()) === null);
  });
  using fetch1 = client();
  for (const [path, , message] of cases) {
    await assert.rejects(within(fetch1(`${srv.url}${path}`), 1000, path), (e: Error) => {
      assert.ok(e instanceof Http1ProtocolError, `${path}: ${e}`);
      assert.ok(e instanceof TypeError, "a TypeError, as fetch's network errors are");
      assert.equal(e.name, "Http1ProtocolError");
      assert.match(e.message, message, path);
      return true;
    });
  }
  assert.equal(srv.accepted, cases.length, "no broken connection was reused");
  await until(() => hangups.length === cases.length, "every connection to be closed");
  assert.ok(hangups.every((h) => h));
});

Deno.test("http1 fetch: a response with an invalid header name rejects and closes its connection (it was pooled before the headers were checked)", async () => {
  const answers: Record<string, string> = {
    "/whole": "HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 2\r\n\r\nok",
    "/stream": "HTTP/1.1 200 OK\r\nbad\x01name: x\r\ntransfer-encoding: chunked\r\n\r\n" +
      chunk("more to come"),
  };
  const afterwards: (RawRequest | null)[] = [];
  await using srv = rawServer(async (peer, index) => {
    const req = await peer.request();
    assert.ok(req);
    await peer.write(answers[req.target]);
    // The server would carry on; only the client can end the connection.
    afterwards[index] = await peer.request();
  });
  using fetch1 = client();
  for (const [path, name] of [["/whole", "bad name"], ["/stream", "bad\x01name"]]) {
    await assert.rejects(fetch1(`${srv.url}${path}`), (e: Error) => {
      assert.ok(e instanceof Http1ProtocolError, path);
      assert.equal(e.message, `invalid header ${JSON.stringify(name)}`);
      return true;
    });
  }
  assert.equal(srv.accepted, 2, "the first connection was not reused");
  await until(() => 0 in afterwards && 1 in afterwards, "the client to close both connections");
  assert.deepEqual(afterwards, [null, null]);
});

Deno.test("http1 fetch: an invalid chunk size that arrives late errors the streaming body", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk("good"));
    await delay(20);
    await peer.write("-5\r\nbad\r\n");
    await peer.request();
  });
  using fetch1 = client();
  const res = await fetch1(srv.url);
  const reader = res.body!.getReader();
  assert.equal(td.decode((await reader.read()).value), "good");
  await assert.rejects(reader.read(), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /invalid chunk size "-5"/);
    return true;
  });
});

Deno.test("http1 fetch: a head larger than maxHeadBytes is refused while it is still arriving", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\n");
    for (let i = 0; i < 4; i++) {
      await peer.write(`x-filler-${i}: ${"f".repeat(600)}\r\n`);
      await delay(5);
    }
    // Never finished: the client must give up on its own.
    await peer.request();
  });
  using fetch1 = client({ maxHeadBytes: 1024 });
  await assert.rejects(within(fetch1(srv.url), 1000, "the oversize head"), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /response head larger than 1024 bytes/);
    return true;
  });
});

Deno.test("http1 fetch: a head bigger than maxHeadBytes is refused even when it arrives in one read (the limit was only checked before each read)", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write(ok("small body", `x-big: ${"h".repeat(4000)}\r\n`));
    await peer.request();
  });
  using fetch1 = client({ maxHeadBytes: 1024 });
  await assert.rejects(fetch1(srv.url), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /response head larger than 1024 bytes/);
    return true;
  });
  // A head within the limit is accepted.
  using roomy = client({ maxHeadBytes: 8192 });
  assert.equal(await (await roomy(srv.url)).text(), "small body");
});

Deno.test("http1 fetch: a server that closes in the middle of a buffered body rejects the request", async () => {
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", "only ten!!");
    await delay(10);
    peer.close();
  });
  using fetch1 = client();
  await assert.rejects(fetch1(srv.url), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /closed the connection in the middle of the body/);
    return true;
  });
});

Deno.test("http1 fetch: a server that closes in the middle of a streamed body errors the body stream", async () => {
  await using srv = rawServer(async (peer) => {
    const req = await peer.request();
    if (req?.target === "/chunked") {
      await peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk("first"));
    } else {
      await peer.write("HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n", "x".repeat(100));
    }
    await delay(20);
    peer.close();
  });
  for (const [path, first] of [["/chunked", "first"], ["/length", "x".repeat(100)]]) {
    // bufferBytes below the length: the content-length body streams too.
    using fetch1 = client({ bufferBytes: 1000 });
    const res = await fetch1(`${srv.url}${path}`);
    const reader = res.body!.getReader();
    assert.equal(td.decode((await reader.read()).value), first, path);
    await assert.rejects(within(reader.read(), 1000, path), (e: Error) => {
      assert.ok(e instanceof Http1ProtocolError, path);
      assert.match(e.message, /closed the connection in the middle of the body/);
      return true;
    });
  }
});

Deno.test("http1 fetch: a server that closes without a response, or in the middle of the head, rejects the request", async () => {
  await using srv = rawServer(async (peer, index) => {
    await peer.request();
    if (index === 1) await peer.write("HTTP/1.1 200 OK\r\ncontent-le");
    await delay(5);
    peer.close();
  });
  using fetch1 = client();
  await assert.rejects(fetch1(srv.url), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /the server closed the connection without a response/);
    return true;
  });
  await assert.rejects(fetch1(srv.url), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /closed the connection in the middle of the response head/);
    return true;
  });
  assert.equal(srv.accepted, 2, "a fresh connection is not retried");
});

Deno.test("http1 fetch: a refused connection rejects with a TypeError naming the origin (it rejected with Deno.errors.ConnectionRefused)", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  using fetch1 = client();
  await assert.rejects(fetch1(`http://127.0.0.1:${port}/mcp`), (e: Error) => {
    assert.ok(e instanceof TypeError, `${e?.constructor?.name}: ${e}`);
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.ok(e.cause instanceof Deno.errors.ConnectionRefused);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// Abort
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: an AbortSignal aborts a request waiting for headers and closes its connection", async () => {
  let seen!: () => void;
  const requestSeen = new Promise<void>((r) => seen = r);
  let after: RawRequest | null | undefined;
  await using srv = rawServer(async (peer) => {
    await peer.request();
    seen();
    after = await peer.request();
  });
  using fetch1 = client();
  const ac = new AbortController();
  const pending = fetch1(srv.url, { signal: ac.signal });
  await within(requestSeen, 1000, "the request to arrive");
  ac.abort();
  await assert.rejects(within(pending, 1000, "the abort"), { name: "AbortError" });
  await until(() => after !== undefined, "the server to see the connection close");
  assert.equal(after, null);
});

Deno.test("http1 fetch: an abort errors a streaming body with the signal's reason", async () => {
  let after: RawRequest | null | undefined;
  await using srv = rawServer(async (peer) => {
    await peer.request();
    await peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunk("event 1"));
    after = await peer.request();
  });
  using fetch1 = client();
  const ac = new AbortController();
  const res = await fetch1(srv.url, { signal: ac.signal });
  const reader = res.body!.getReader();
  assert.equal(td.decode((await reader.read()).value), "event 1");
  const next = reader.read();
  const reason = new Error("the client went away");
  ac.abort(reason);
  await assert.rejects(within(next, 1000, "the body to error"), (e) => e === reason);
  await until(() => after !== undefined, "the server to see the connection close");
  assert.equal(after, null);
});

Deno.test("http1 fetch: an already-aborted signal rejects at once and nothing is sent", async () => {
  await using srv = rawServer((peer) => answerAll(peer));
  using fetch1 = client();
  await assert.rejects(fetch1(srv.url, { signal: AbortSignal.abort() }), { name: "AbortError" });
  const reason = new Error("why");
  await assert.rejects(
    fetch1(srv.url, { method: "POST", body: "{}", signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  await delay(20);
  assert.equal(srv.accepted, 0);
});

Deno.test("http1 fetch: a signal aborted while the connection is being made aborts the request (the abort was missed and the request hung)", async () => {
  await using srv = rawServer(async (peer) => {
    // Never answers: only the abort can end the request.
    while (await peer.request());
  });
  using fetch1 = client();
  const ac = new AbortController();
  const pending = fetch1(srv.url, { signal: ac.signal });
  ac.abort();
  await assert.rejects(within(pending, 1000, "the abort"), { name: "AbortError" });
});

Deno.test("http1 fetch: aborting after a buffered response has no effect and the connection stays pooled", async () => {
  await using srv = rawServer((peer) => answerAll(peer));
  using fetch1 = client();
  const ac = new AbortController();
  const res = await fetch1(srv.url, { signal: ac.signal });
  ac.abort();
  assert.equal(await res.text(), "GET /");
  assert.equal(await (await fetch1(`${srv.url}/again`)).text(), "GET /again");
  assert.equal(srv.accepted, 1);
});

// ---------------------------------------------------------------------------------------------
// A server that closes idle connections
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: after the server closes an idle kept-alive connection, the next GET and POST still succeed", async () => {
  const seen: string[] = [];
  let closed = 0;
  await using srv = rawServer(async (peer) => {
    const req = await peer.request();
    assert.ok(req);
    seen.push(`${req.method} ${td.decode(req.body)}`);
    // No Connection: close: the client believes it may keep the connection.
    await peer.write(ok(`${req.method} ${td.decode(req.body)}`));
    await delay(1);
    peer.close();
    closed++;
  });
  using fetch1 = client();
  assert.equal(await (await fetch1(srv.url)).text(), "GET ");
  await until(() => closed === 1, "the server to close");
  await delay(10);
  // The parked read saw the close: the POST goes on a new connection rather than failing.
  assert.equal(await (await fetch1(srv.url, { method: "POST", body: "p1" })).text(), "POST p1");
  await until(() => closed === 2, "the server to close");
  await delay(10);
  assert.equal(await (await fetch1(srv.url, { method: "POST", body: "p2" })).text(), "POST p2");
  // Right after the close (no delay): the stale connection is dropped or the GET retried.
  for (let i = 0; i < 4; i++) assert.equal(await (await fetch1(srv.url)).text(), "GET ");
  assert.deepEqual(seen.slice(0, 3), ["GET ", "POST p1", "POST p2"]);
  assert.ok(seen.slice(3).every((s) => s === "GET "));
});

Deno.test("http1 fetch: a GET is retried once on a new connection when a reused one closes unanswered, a POST is not", async () => {
  const seen: string[] = [];
  await using srv = rawServer(async (peer) => {
    // The first request is answered; the second is read and the connection dropped.
    const first = await peer.request();
    assert.ok(first);
    seen.push(`${first.method} ${first.target}`);
    await peer.write(ok("first"));
    const second = await peer.request();
    if (second) seen.push(`${second.method} ${second.target} (dropped)`);
    peer.close();
  });
  using fetch1 = client();
  assert.equal(await (await fetch1(`${srv.url}/a`)).text(), "first");
  assert.equal(await (await fetch1(`${srv.url}/b`)).text(), "first", "retried on a new connection");
  assert.deepEqual(seen, ["GET /a", "GET /b (dropped)", "GET /b"]);
  assert.equal(srv.accepted, 2);
  // The second connection is parked again; a POST on it is dropped and must not be sent twice.
  await assert.rejects(fetch1(`${srv.url}/c`, { method: "POST", body: "{}" }), (e: Error) => {
    assert.ok(e instanceof Http1ProtocolError);
    assert.match(e.message, /closed the connection without a response/);
    return true;
  });
  assert.deepEqual(seen.slice(3), ["POST /c (dropped)"]);
  assert.equal(srv.accepted, 2, "the POST was not retried");
});

Deno.test("http1 fetch: bytes arriving on an idle connection make the client drop it", async () => {
  const after: (RawRequest | null)[] = [];
  let sent408 = false;
  await using srv = rawServer(async (peer, index) => {
    const req = await peer.request();
    assert.ok(req);
    await peer.write(ok(`conn ${index}`));
    if (index === 0) {
      await delay(5);
      // What Node sends before it closes an idle connection.
      await peer.write("HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n");
      sent408 = true;
    }
    after[index] = await peer.request();
  });
  using fetch1 = client();
  assert.equal(await (await fetch1(srv.url)).text(), "conn 0");
  await until(() => sent408, "the unsolicited 408");
  await delay(10);
  assert.equal(await (await fetch1(srv.url)).text(), "conn 1", "not the unsolicited 408");
  await until(() => 0 in after, "the client to close the poisoned connection");
  assert.equal(after[0], null);
});

Deno.test("http1 fetch: an idle kept-alive connection does not keep the process alive", async () => {
  let hungUp!: () => void;
  const hangup = new Promise<void>((r) => hungUp = r);
  const seen: RawRequest[] = [];
  await using srv = rawServer(async (peer) => {
    await answerAll(peer, seen);
    hungUp();
  });
  const module = new URL("../src/adapters/http1_fetch.ts", import.meta.url).href;
  const script = `import { createHttp1Fetch } from ${JSON.stringify(module)};
const res = await createHttp1Fetch()(${JSON.stringify(`${srv.url}/child`)});
console.log(res.status, await res.text());`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill(), 5000);
  try {
    const out = await child.output();
    assert.equal(td.decode(out.stdout).trim(), "200 GET /child", td.decode(out.stderr));
    assert.equal(out.code, 0, "exited on its own with the connection still parked");
  } finally {
    clearTimeout(timer);
  }
  await within(hangup, 1000, "the exiting process to close the connection");
  assert.equal(seen.length, 1);
});

// ---------------------------------------------------------------------------------------------
// What goes to the fallback
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: https URLs, Request objects and streamed or other non-byte bodies go to the fallback", async () => {
  await using srv = rawServer((peer) => answerAll(peer));
  const { calls, fallback } = recordingFallback();
  using fetch1 = client({ fallback, env: () => undefined });
  const request = new Request(`${srv.url}/req`, { method: "POST", body: "x" });
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(te.encode("streamed"));
      c.close();
    },
  });
  const inputs: [string | URL | Request, RequestInit | undefined][] = [
    ["https://example.com/mcp", { method: "POST", body: "{}" }],
    [new URL("https://example.com/u"), undefined],
    [request, undefined],
    [`${srv.url}/stream`, { method: "POST", body: stream }],
    [`${srv.url}/blob`, { method: "POST", body: new Blob(["b"]) }],
    [`${srv.url}/form`, { method: "POST", body: new URLSearchParams({ a: "1" }) }],
    ["http://user:secret@127.0.0.1:1/creds", undefined],
  ];
  for (const [input, init] of inputs) {
    const res = await fetch1(input, init);
    assert.equal(await res.text(), "fallback", String(input));
  }
  assert.equal(calls.length, inputs.length);
  calls.forEach((call, i) => {
    assert.equal(call.input, inputs[i][0], "the input is passed on unchanged");
    if (inputs[i][1]) assert.equal(call.init?.body, inputs[i][1]!.body);
  });
  await stream.cancel().catch(() => {});
  await request.body?.cancel().catch(() => {});
  // And a plain http: request with a string body does not.
  assert.equal(
    await (await fetch1(`${srv.url}/direct`, { method: "POST", body: "s" })).text(),
    "POST /direct",
  );
  assert.equal(calls.length, inputs.length);
  assert.equal(srv.accepted, 1, "only the direct request reached the server");
});

Deno.test("http1 fetch: a proxy in the environment sends every request to the fallback", async () => {
  await using srv = rawServer((peer) => answerAll(peer));
  for (const name of ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]) {
    const { calls, fallback } = recordingFallback();
    const asked: string[] = [];
    using fetch1 = client({
      fallback,
      env: (n) => {
        asked.push(n);
        return n === name ? "http://proxy:1" : undefined;
      },
    });
    assert.equal(
      await (await fetch1(`${srv.url}/p`, { method: "POST", body: "{}" })).text(),
      "fallback",
    );
    assert.equal(await (await fetch1(`${srv.url}/q`)).text(), "fallback");
    assert.equal(calls.length, 2, name);
    assert.ok(asked.includes(name));
  }
  // An empty variable is no proxy.
  const { calls, fallback } = recordingFallback();
  using fetch1 = client({ fallback, env: (n) => (n === "HTTP_PROXY" ? "" : undefined) });
  assert.equal(await (await fetch1(`${srv.url}/direct`)).text(), "GET /direct");
  assert.equal(calls.length, 0);
  assert.equal(srv.accepted, 1);
});

// ---------------------------------------------------------------------------------------------
// What is refused before anything is sent
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: a record header value containing CR LF is refused with a TypeError and nothing is sent", async () => {
  await using srv = rawServer((peer) => answerAll(peer));
  using fetch1 = client();
  const bad: Record<string, string>[] = [
    { "x-inject": "a\r\nx-evil: 1" },
    { "x-inject": "a\nx-evil: 1" },
    { "x-inject": "a\rb" },
    { "x-nul": "a\0b" },
    { "bad name": "v" },
    { "x-bad:name": "v" },
    { "": "v" },
  ];
  for (const headers of bad) {
    await assert.rejects(
      fetch1(srv.url, { method: "POST", headers, body: "{}" }),
      (e: Error) => e instanceof TypeError && /invalid header/.test(e.message),
      JSON.stringify(headers),
    );
  }
  await delay(20);
  assert.equal(srv.accepted, 0, "nothing was sent");
});

Deno.test("http1 fetch: a method that is not a token is refused (it was written into the request line as given)", async () => {
  const seen: RawRequest[] = [];
  await using srv = rawServer((peer) => answerAll(peer, seen));
  using fetch1 = client();
  for (const method of ["GET / HTTP/1.1\r\nx-evil: 1\r\n\r\nGET", "GET /x", "PO\nST", ""]) {
    await assert.rejects(
      fetch1(srv.url, { method }),
      (e: Error) => e instanceof TypeError && /method/i.test(e.message),
      JSON.stringify(method),
    );
  }
  await delay(20);
  assert.equal(srv.accepted, 0, "nothing was sent");
  assert.equal(seen.length, 0);
});

Deno.test("http1 fetch: header values are sent as Latin-1 like the runtime's fetch (they were UTF-8 encoded)", async () => {
  await using srv = echoServer();
  using fetch1 = client();
  const value = "José café ñ";
  const viaFetch: Echo = await (await fetch(srv.url, { headers: { "x-name": value } })).json();
  assert.equal(viaFetch.headers["x-name"], value, "what the runtime's fetch delivers");
  for (const headers of [{ "x-name": value }, new Headers({ "x-name": value })]) {
    const seen: Echo = await (await fetch1(srv.url, { headers })).json();
    assert.equal(seen.headers["x-name"], value);
  }
  // Beyond Latin-1 a header cannot be sent at all, as with fetch.
  await assert.rejects(fetch1(srv.url, { headers: { "x-name": "✓" } }), TypeError);
});

Deno.test({
  name: "http1 fetch: an IPv6 literal host is connected to without its brackets",
  ignore: (() => {
    try {
      Deno.listen({ hostname: "::1", port: 0 }).close();
      return false;
    } catch {
      return true;
    }
  })(),
  async fn() {
    const server = Deno.serve(
      { hostname: "::1", port: 0, onListen() {} },
      (req) => new Response(req.headers.get("host")),
    );
    try {
      using fetch1 = client();
      const res = await fetch1(`http://[::1]:${server.addr.port}/`);
      assert.equal(await res.text(), `[::1]:${server.addr.port}`);
    } finally {
      await server.shutdown();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// parseResponseHead
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: parseResponseHead decides the framing as RFC 9112 §6.3 says", () => {
  const cases: [string, string, string, number][] = [
    ["HTTP/1.1 200 OK\r\ncontent-length: 12", "GET", "length", 12],
    ["HTTP/1.1 200 OK\r\nContent-Length: 0", "POST", "length", 0],
    ["HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5", "GET", "length", 5],
    ["HTTP/1.1 200 OK\r\ncontent-length: 5, 5", "GET", "length", 5],
    ["HTTP/1.1 200 OK\r\nContent-Length: 12", "HEAD", "none", -1],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked", "HEAD", "none", -1],
    ["HTTP/1.1 204 No Content", "GET", "none", -1],
    ["HTTP/1.1 304 Not Modified\r\ncontent-length: 5", "GET", "none", -1],
    ["HTTP/1.1 100 Continue", "POST", "none", -1],
    ["HTTP/1.1 103 Early Hints\r\nlink: </a>", "GET", "none", -1],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "GET", "chunked", -1],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED", "POST", "chunked", -1],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 10", "GET", "chunked", -1],
    ["HTTP/1.1 200 OK\r\ncontent-type: text/plain", "GET", "close", -1],
    ["HTTP/1.1 404", "GET", "close", -1],
    ["HTTP/1.0 200 OK\r\ncontent-length: 3", "GET", "length", 3],
  ];
  for (const [text, method, framing, contentLength] of cases) {
    const head = parseResponseHead(text, method);
    assert.equal(head.framing, framing, `${method} ${JSON.stringify(text)}`);
    assert.equal(head.contentLength, contentLength, `${method} ${JSON.stringify(text)}`);
  }
});

Deno.test("http1 fetch: parseResponseHead decides whether the connection may be reused", () => {
  const cases: [string, string, boolean][] = [
    ["HTTP/1.1 200 OK\r\ncontent-length: 1", "GET", true],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked", "GET", true],
    ["HTTP/1.1 204 No Content", "DELETE", true],
    ["HTTP/1.1 200 OK\r\ncontent-length: 1000", "HEAD", true],
    ["HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1", "GET", false],
    ["HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\ncontent-length: 1", "GET", false],
    [
      "HTTP/1.1 200 OK\r\nconnection: upgrade\r\nconnection: close\r\ncontent-length: 1",
      "GET",
      false,
    ],
    ["HTTP/1.1 200 OK\r\nconnection: closed\r\ncontent-length: 1", "GET", true],
    ["HTTP/1.0 200 OK\r\ncontent-length: 1", "GET", false],
    ["HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 1", "GET", true],
    ["HTTP/1.0 200 OK\r\nConnection: keep-alive", "GET", false],
    ["HTTP/1.1 200 OK\r\ncontent-length: 4\r\ntransfer-encoding: chunked", "GET", false],
    ["HTTP/1.1 200 OK", "GET", false],
  ];
  for (const [text, method, reusable] of cases) {
    assert.equal(
      parseResponseHead(text, method).reusable,
      reusable,
      `${method} ${JSON.stringify(text)}`,
    );
  }
});

Deno.test("http1 fetch: parseResponseHead keeps the status, reason phrase and header lines as sent", () => {
  const head = parseResponseHead(
    "HTTP/1.1 418 I'm a teapot\r\nX-A: 1\r\nx-b:   two words  \r\nX-A: 2\r\nempty:",
    "GET",
  );
  assert.equal(head.status, 418);
  assert.equal(head.statusText, "I'm a teapot");
  assert.deepEqual(head.headers, [["X-A", "1"], ["x-b", "two words"], ["X-A", "2"], ["empty", ""]]);
  assert.equal(parseResponseHead("HTTP/1.1 200 ", "GET").statusText, "");
  assert.equal(parseResponseHead("HTTP/1.1 200", "GET").statusText, "");
});

Deno.test("http1 fetch: parseResponseHead refuses what it cannot frame or parse, saying why", () => {
  const cases: [string, RegExp][] = [
    [
      "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked",
      /unsupported transfer-encoding "gzip, chunked"/,
    ],
    [
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: gzip",
      /unsupported transfer-encoding "chunked,gzip"/,
    ],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, chunked", /unsupported transfer-encoding/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: identity", /unsupported transfer-encoding "identity"/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 5, 6", /invalid content-length "5, 6"/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 7", /invalid content-length "5,7"/],
    ["HTTP/1.1 200 OK\r\ncontent-length: +5", /invalid content-length/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 0x10", /invalid content-length/],
    ["HTTP/1.1 200 OK\r\ncontent-length:", /invalid content-length ""/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 1234567890123456", /invalid content-length/],
    ["HTTP/2 200", /invalid status line "HTTP\/2 200"/],
    ["http/1.1 200 OK", /invalid status line/],
    ["HTTP/1.1 20 OK", /invalid status line/],
    ["HTTP/1.1 200OK", /invalid status line/],
    ["", /invalid status line ""/],
    ["HTTP/1.1 099 Low", /invalid status 99/],
    ["HTTP/1.1 600 High", /invalid status 600/],
    ["HTTP/1.1 200 OK\r\nno-colon", /invalid header line "no-colon"/],
    ["HTTP/1.1 200 OK\r\n: no name", /invalid header line ": no name"/],
    ["HTTP/1.1 200 OK\r\n", /invalid header line ""/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseResponseHead(text, "GET"), (e: Error) => {
      assert.ok(e instanceof Http1ProtocolError, JSON.stringify(text));
      assert.ok(e instanceof TypeError);
      assert.equal(e.name, "Http1ProtocolError");
      assert.match(e.message, message, JSON.stringify(text));
      return true;
    });
  }
  // A status line is cut short in the message.
  assert.throws(
    () => parseResponseHead(`XYZ ${"x".repeat(500)}`, "GET"),
    (e: Error) => e.message.length < 120,
  );
});

// ---------------------------------------------------------------------------------------------
// What fetch does that the client leaves to fetch, or mirrors
// ---------------------------------------------------------------------------------------------

Deno.test("http1 fetch: a redirect is followed by the fallback fetch, with the request as it was asked", async () => {
  const seen: RawRequest[] = [];
  await using srv = rawServer(async (peer) => {
    for (let req = await peer.request(); req; req = await peer.request()) {
      seen.push(req);
      if (req.target === "/old") {
        await peer.write(
          "HTTP/1.1 307 Temporary Redirect\r\nlocation: /new\r\ncontent-length: 0\r\n\r\n",
        );
      } else await peer.write(ok(`${req.method} ${req.target} ${td.decode(req.body)}`));
    }
  });
  const { calls, fallback } = recordingFallback();
  using fetch1 = client({ fallback, env: () => undefined });
  const res = await fetch1(`${srv.url}/old`, { method: "POST", body: '{"a":1}' });
  assert.equal(await res.text(), "fallback");
  assert.equal(calls.length, 1);
  assert.equal(String(calls[0].input), `${srv.url}/old`);
  assert.equal(calls[0].init?.method, "POST");
  assert.equal(calls[0].init?.body, '{"a":1}');
  // With the runtime's fetch as the fallback, the redirect really is followed.
  using real = client({ env: () => undefined });
  const followed = await real(`${srv.url}/old`, { method: "POST", body: '{"a":1}' });
  assert.equal(await followed.text(), 'POST /new {"a":1}');
  // `redirect: "manual"` hands the 307 itself back.
  const manual = await fetch1(`${srv.url}/old`, { method: "POST", body: "x", redirect: "manual" });
  assert.equal(manual.status, 307);
  assert.equal(manual.headers.get("location"), "/new");
  await manual.body?.cancel();
  assert.equal(calls.length, 1);
  assert.ok(seen.some((r) => r.target === "/new"));
});

Deno.test("http1 fetch: standard methods are upper-cased, others sent as written; GET and HEAD refuse a body", async () => {
  const seen: RawRequest[] = [];
  await using srv = rawServer((peer) => answerAll(peer, seen));
  using fetch1 = client({ env: () => undefined });
  assert.equal(
    await (await fetch1(`${srv.url}/a`, { method: "post", body: "x" })).text(),
    "POST /a",
  );
  assert.equal(
    await (await fetch1(`${srv.url}/b`, { method: "Patch", body: "x" })).text(),
    "Patch /b",
  );
  for (const method of ["GET", "HEAD", "get"]) {
    await assert.rejects(
      () => fetch1(`${srv.url}/c`, { method, body: "x" }),
      (e: unknown) => e instanceof TypeError && /cannot have a body/.test(e.message),
    );
  }
  assert.deepEqual(seen.map((r) => r.method), ["POST", "Patch"]);
});
