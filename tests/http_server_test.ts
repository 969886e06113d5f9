/**
 * The Streamable HTTP gateway (`mcp-watchdog serve`): real SDK HTTP clients against the gateway in
 * front of server-everything (stdio and Streamable HTTP) and the HTTP fixture; status codes and
 * JSON-RPC envelopes for bad requests; DNS-rebinding and token checks; inspection of batches and
 * `tasks/result`.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { connect, EVERYTHING, SDK_TEST, tempDir } from "./helpers.ts";
import {
  type FlakyOptions,
  type FlakyServer,
  startEverything,
  startFlakyServer,
  startServe,
} from "./fixtures/flaky_http_server.ts";

async function httpClient(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client(
    { name: "mcp-watchdog-test", version: "1.0.0" },
    { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, () => ({
    role: "assistant",
    content: { type: "text", text: "sampled answer" },
    model: "test-model",
    stopReason: "endTurn",
  }));
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: "decline" }));
  client.setRequestHandler(
    ListRootsRequestSchema,
    () => ({ roots: [{ uri: "file:///tmp", name: "tmp" }] }),
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
  );
  return client;
}

/**
 * A flaky upstream server, `serve --url` in front of it (with its own state directory and `args`)
 * and an SDK client of the gateway, all closed after `fn`.
 */
async function viaGateway(
  o: { upstream?: FlakyOptions; args?: string[] },
  fn: (client: Client, server: FlakyServer) => Promise<void>,
): Promise<void> {
  const server = await startFlakyServer(o.upstream);
  await using dir = await tempDir();
  try {
    await using gw = await startServe([
      "--state-dir",
      `${dir.path}/state`,
      ...(o.args ?? []),
      "--url",
      server.url,
    ]);
    const client = await httpClient(gw.url);
    try {
      await fn(client, server);
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
}

/** The same conversation with two clients; every answer must be equal. */
async function sameAnswers(a: Client, b: Client): Promise<void> {
  const [ta, tb] = [await a.listTools(), await b.listTools()];
  assert.deepEqual(tb, ta);
  assert.deepEqual(await b.listPrompts(), await a.listPrompts());
  const calls: [string, Record<string, unknown>][] = [
    ["echo", { message: 'héllo ✓ \u2028 "quoted"' }],
    ["get-sum", { a: 2, b: 40 }],
    ["trigger-sampling-request", { prompt: "hi", maxTokens: 5 }],
    ["get-roots-list", {}],
    ["trigger-elicitation-request", {}],
  ];
  for (const [name, args] of calls) {
    assert.deepEqual(
      await b.callTool({ name, arguments: args }),
      await a.callTool({ name, arguments: args }),
      name,
    );
  }
  const ra = await a.listResources();
  assert.deepEqual(await b.listResources(), ra);
  assert.deepEqual(
    await b.readResource({ uri: ra.resources[0].uri }),
    await a.readResource({ uri: ra.resources[0].uri }),
  );
}

Deno.test({
  name:
    "serve: in front of a stdio server, an SDK HTTP client sees what a direct stdio client sees",
  ...SDK_TEST,
  fn: async () => {
    await using dir = await tempDir();
    await using gw = await startServe(["--state-dir", `${dir.path}/state`, "--", ...EVERYTHING]);
    const a = await connect(EVERYTHING);
    const b = await httpClient(gw.url);
    const c = await httpClient(gw.url);
    try {
      await sameAnswers(a, b);
      // A second client session has its own server process and session.
      assert.deepEqual(
        await c.callTool({ name: "echo", arguments: { message: "two" } }),
        await a.callTool({ name: "echo", arguments: { message: "two" } }),
      );
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  },
});

Deno.test({
  name:
    "serve --url: in front of a Streamable HTTP server, an SDK HTTP client sees what a direct one sees",
  ...SDK_TEST,
  fn: async () => {
    await using dir = await tempDir();
    await using ev = await startEverything();
    await using gw = await startServe(["--state-dir", `${dir.path}/state`, "--url", ev.url]);
    const a = await httpClient(ev.url);
    const b = await httpClient(gw.url);
    try {
      await sameAnswers(a, b);
    } finally {
      await a.close();
      await b.close();
    }
  },
});

const JSON_SSE = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};
const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "t", version: "1" },
  },
};

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = JSON_SSE,
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * Status of a POST sent with a forged `Host` header or a request target as written (fetch allows
 * neither).
 */
async function rawStatus(url: string, host: string, target?: string): Promise<number> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  const body = "{}";
  await conn.write(new TextEncoder().encode(
    `POST ${
      target ?? u.pathname
    } HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  ));
  let text = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
    if (text.includes("\r\n")) break;
  }
  conn.close();
  return Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
}

/** The JSON-RPC messages in a JSON or SSE body. */
/** Open a session by hand (initialize, initialized); the headers its requests carry. */
async function openSession(
  url: string,
  version = "2025-06-18",
): Promise<Record<string, string>> {
  const r = await post(url, { ...INIT, params: { ...INIT.params, protocolVersion: version } });
  const sid = r.headers.get("mcp-session-id")!;
  const h = { ...JSON_SSE, "mcp-session-id": sid, "mcp-protocol-version": version };
  assert.equal(
    (await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, h)).status,
    202,
  );
  return h;
}

/** Start server-everything's long-running tool (progress every duration/steps seconds). */
function longRunning(
  url: string,
  h: Record<string, string>,
  id: number,
  duration: number,
  steps: number,
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: h,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: {
        name: "trigger-long-running-operation",
        arguments: { duration, steps },
        _meta: { progressToken: "p" },
      },
    }),
  });
}

function messages(text: string): Record<string, unknown>[] {
  const t = text.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    const v = JSON.parse(t);
    return Array.isArray(v) ? v : [v];
  }
  return t.split(/\n\n/).flatMap((ev) => {
    const data = ev.split("\n").filter((l) => l.startsWith("data:")).map((l) =>
      l.slice(5).trimStart()
    ).join("\n");
    if (!data) return [];
    const v = JSON.parse(data);
    return Array.isArray(v) ? v : [v];
  });
}

Deno.test({
  name: "serve: bad requests get clear HTTP statuses and JSON-RPC error envelopes",
  ...SDK_TEST,
  fn: async () => {
    const server = await startFlakyServer();
    await using dir = await tempDir();
    try {
      await using gw = await startServe(["--state-dir", `${dir.path}/state`, "--url", server.url]);
      const url = gw.url;
      const err = (text: string) =>
        (JSON.parse(text) as { error: { code: number; message: string } }).error;

      let r = await post(url, INIT, {
        "content-type": "application/json",
        accept: "application/json",
      });
      assert.equal(r.status, 406);
      assert.equal(err(r.text).code, -32000);
      r = await post(url, INIT, { "content-type": "text/plain", accept: JSON_SSE.accept });
      assert.equal(r.status, 415);
      r = await post(url, "{not json");
      assert.equal(r.status, 400);
      assert.equal(err(r.text).code, -32700);
      r = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" });
      assert.equal(r.status, 400, "no session and not an initialize");
      r = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, {
        ...JSON_SSE,
        "mcp-session-id": "nope",
      });
      assert.equal(r.status, 404);
      assert.equal(err(r.text).code, -32001);
      r = await post(url, INIT, { ...JSON_SSE, origin: "http://evil.example" });
      assert.equal(r.status, 403);
      assert.equal(await rawStatus(url, "evil.example"), 403, "DNS rebinding: foreign Host");
      assert.equal(
        await rawStatus(url, `localhost:${new URL(url).port}`),
        400,
        "a loopback Host passes the check",
      );
      // The endpoint's path: read as written, parsed only when that is not it.
      const loopback = `localhost:${new URL(url).port}`;
      assert.equal(await rawStatus(url, loopback, "/elsewhere"), 404);
      assert.equal(await rawStatus(url, loopback, "/mcpx"), 404);
      assert.equal(
        await rawStatus(url, loopback, "/mcp?session=1"),
        400,
        "a query is not the path",
      );
      assert.equal(await rawStatus(url, loopback, "/x/../mcp"), 400, "dot segments resolved");
      assert.equal(await rawStatus(url, loopback, "/"), 400, "the root serves MCP too");
      const put = await fetch(url, { method: "PUT", body: "{}" });
      await put.body?.cancel();
      assert.equal(put.status, 405);
      const get = await fetch(url, { headers: { accept: "text/event-stream" } });
      await get.body?.cancel();
      assert.equal(get.status, 400, "GET without a session");
      assert.equal(server.stats.sessions, 0, "nothing reached the server");

      // A real session: initialize, then a batch (2025-03-26) with an injected tasks/result.
      r = await post(url, INIT);
      assert.equal(r.status, 200);
      const sid = r.headers.get("mcp-session-id")!;
      assert.ok(sid);
      assert.equal(messages(r.text)[0].id, 1);
      const h = { ...JSON_SSE, "mcp-session-id": sid, "mcp-protocol-version": "2025-03-26" };
      r = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, h);
      assert.equal(r.status, 202);
      r = await post(url, [
        { jsonrpc: "2.0", id: 10, method: "tasks/result", params: { taskId: "t1" } },
        { jsonrpc: "2.0", id: 11, method: "ping" },
      ], h);
      assert.equal(r.status, 200);
      const got = messages(r.text);
      const task = got.find((m) => m.id === 10) as { result: { content: { text: string }[] } };
      assert.doesNotMatch(task.result.content[0].text, /id_rsa/);
      assert.match(task.result.content[0].text, /mcp-watchdog removed/);
      assert.deepEqual(got.find((m) => m.id === 11), { jsonrpc: "2.0", id: 11, result: {} });
      const wrongAccept = await fetch(url, {
        headers: { accept: "application/json", "mcp-session-id": sid },
      });
      await wrongAccept.body?.cancel();
      assert.equal(wrongAccept.status, 406);
      const del = await fetch(url, {
        method: "DELETE",
        headers: { "mcp-session-id": h["mcp-session-id"] },
      });
      await del.body?.cancel();
      assert.equal(del.status, 200);
      assert.equal(server.stats.deletes, 1, "DELETE reached the server");
      r = await post(url, { jsonrpc: "2.0", id: 3, method: "ping" }, h);
      assert.equal(r.status, 404, "the session is gone");
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name:
    "serve: --auth-token is required, --allow-origin admits a browser origin, poisoned tools are neutralised",
  ...SDK_TEST,
  fn: async () => {
    const server = await startFlakyServer({ poison: true });
    await using dir = await tempDir();
    try {
      await using gw = await startServe(
        [
          "--state-dir",
          `${dir.path}/state`,
          "--audit-log",
          `${dir.path}/audit.jsonl`,
          "--auth-token",
          "${GW_TOKEN}",
          "--allow-origin",
          "https://app.example",
          "--url",
          server.url,
        ],
        { GW_TOKEN: "tok-0123456789abcdef" },
      );
      let r = await post(gw.url, INIT);
      assert.equal(r.status, 401);
      r = await post(gw.url, INIT, { ...JSON_SSE, authorization: "Bearer wrong" });
      assert.equal(r.status, 401);
      r = await post(gw.url, INIT, {
        ...JSON_SSE,
        authorization: "Bearer tok-0123456789abcdef",
        origin: "https://app.example",
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("access-control-allow-origin"), "https://app.example");

      const client = await httpClient(gw.url, { authorization: "Bearer tok-0123456789abcdef" });
      try {
        const { tools } = await client.listTools();
        const echo = tools.find((t: { name: string }) => t.name === "echo")!;
        assert.doesNotMatch(echo.description!, /id_rsa/);
        assert.match(echo.description!, /mcp-watchdog removed/);
        const big = await client.callTool({ name: "big", arguments: { bytes: 300_000 } }) as {
          content: { text: string }[];
        };
        assert.equal(big.content[0].text.length, 300_000);
      } finally {
        await client.close();
      }
      const audit = await Deno.readTextFile(`${dir.path}/audit.jsonl`);
      assert.match(audit, /smac5-important-block/);
      assert.doesNotMatch(audit + gw.stderr(), /tok-0123456789abcdef/);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "serve: a client resumes a dropped stream through the gateway with Last-Event-ID",
  ...SDK_TEST,
  fn: () =>
    viaGateway({}, async (client, server) => {
      const r = await client.callTool({ name: "slow", arguments: {} });
      assert.deepEqual(r, { content: [{ type: "text", text: "slow result after resume" }] });
      assert.ok(server.stats.resumes.length >= 1, "the Last-Event-ID reached the server");
    }),
});

Deno.test({
  name:
    "serve: in front of a stdio server, a dropped POST stream is replayed on GET with Last-Event-ID",
  ...SDK_TEST,
  fn: async () => {
    await using dir = await tempDir();
    await using gw = await startServe(["--state-dir", `${dir.path}/state`, "--", ...EVERYTHING]);
    const h = await openSession(gw.url, "2025-11-25");
    // Start a call that takes a moment, read only the priming event, and hang up.
    const res = await longRunning(gw.url, h, 7, 0.4, 2);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n\n")) first += (await reader.read()).value ?? "";
    await reader.cancel();
    const lastId = /^id: (\S+)/m.exec(first)?.[1];
    assert.ok(lastId, `a priming event with an id: ${first}`);
    const resumed = await fetch(gw.url, {
      headers: {
        accept: "text/event-stream",
        "mcp-session-id": h["mcp-session-id"],
        "mcp-protocol-version": h["mcp-protocol-version"],
        "last-event-id": lastId,
      },
    });
    assert.equal(resumed.status, 200);
    const got = messages(await resumed.text());
    assert.ok(
      got.some((m) => m.method === "notifications/progress"),
      "progress replayed or streamed",
    );
    const result = got.find((m) => m.id === 7) as { result: { content: { text: string }[] } };
    assert.match(result.result.content[0].text, /Long running operation completed/);
    const del = await fetch(gw.url, {
      method: "DELETE",
      headers: { "mcp-session-id": h["mcp-session-id"] },
    });
    await del.body?.cancel();
    assert.equal(del.status, 200);
  },
});

Deno.test({
  name:
    "serve --url: a legacy HTTP+SSE server (2024-11-05) is reached through the client transport",
  ...SDK_TEST,
  fn: () =>
    viaGateway({ upstream: { legacy: true, poison: true } }, async (client) => {
      const { tools } = await client.listTools();
      const echo = tools.find((t: { name: string }) => t.name === "echo")!;
      assert.match(echo.description!, /mcp-watchdog removed/);
      assert.deepEqual(await client.callTool({ name: "ask", arguments: {} }), {
        content: [{ type: "text", text: "model said: sampled answer" }],
      });
      assert.deepEqual(await client.callTool({ name: "echo", arguments: { text: "old" } }), {
        content: [{ type: "text", text: "Echo: old" }],
      });
    }),
});

Deno.test({
  name: "serve: an upstream message over --max-message-bytes becomes an error for its request",
  ...SDK_TEST,
  fn: () =>
    viaGateway({ args: ["--max-message-bytes", "100000"] }, async (client) => {
      await assert.rejects(
        client.callTool({ name: "big", arguments: { bytes: 200_000 } }),
        /max-message-bytes/,
      );
      assert.deepEqual(await client.callTool({ name: "echo", arguments: { text: "ok" } }), {
        content: [{ type: "text", text: "Echo: ok" }],
      });
    }),
});

Deno.test({
  name:
    "serve --url: a short SSE answer reaches the client as one body; a slow call's progress is streamed while it runs",
  ...SDK_TEST,
  fn: async () => {
    await using ev = await startEverything();
    await using dir = await tempDir();
    await using gw = await startServe(["--state-dir", `${dir.path}/state`, "--url", ev.url]);
    const h = await openSession(gw.url);
    // A quick answer: held back until its stream ended, then sent whole (with its length).
    const r = await post(gw.url, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "echo", arguments: { message: "one body" } },
    }, h);
    assert.equal(r.headers.get("content-type"), "text/event-stream");
    assert.equal(Number(r.headers.get("content-length")), new TextEncoder().encode(r.text).length);
    assert.deepEqual(messages(r.text).map((m) => m.id), [2]);

    // A slow one (1.2 s, progress every 0.3 s): the first progress must not wait for the result.
    const t0 = performance.now();
    const res = await longRunning(gw.url, h, 3, 1.2, 4);
    const headersAt = performance.now() - t0;
    assert.equal(res.headers.get("content-length"), null, "streamed");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let firstProgressAt = -1;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (firstProgressAt < 0 && text.includes("notifications/progress")) {
        firstProgressAt = performance.now() - t0;
      }
    }
    const endAt = performance.now() - t0;
    const got = messages(text);
    assert.ok(got.some((m) => m.id === 3), "the result arrives");
    assert.ok(firstProgressAt >= 0, "progress arrives");
    assert.ok(headersAt < 600, `headers after ${headersAt.toFixed(0)} ms, not held back`);
    assert.ok(
      endAt - firstProgressAt > 500,
      `first progress at ${firstProgressAt.toFixed(0)} ms, end at ${endAt.toFixed(0)} ms`,
    );
    const del = await fetch(gw.url, {
      method: "DELETE",
      headers: { "mcp-session-id": h["mcp-session-id"] },
    });
    await del.body?.cancel();
    assert.equal(del.status, 200);
  },
});
