/**
 * The remote upstream (`mcp-watchdog --url`): a real SDK client on stdio, real HTTP servers on
 * 127.0.0.1 (server-everything from npm, and a fixture that drops streams on purpose).
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { connect, PROXY, SDK_TEST, tempDir } from "./helpers.ts";
import { startEverything, startFlakyServer } from "./fixtures/flaky_http_server.ts";
import {
  expandEnv,
  parseHeaderArgs,
  redactUrl,
  scrubError,
} from "../src/transports/http_client.ts";
import { encodeEvent, SseParser } from "../src/transports/sse.ts";

/** A direct SDK HTTP client with the same capabilities and canned answers as `helpers.connect`. */
async function direct(url: string): Promise<Client> {
  const client = new Client(
    { name: "mcp-watchdog-test", version: "1.0.0" },
    { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
  );
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: "decline" }));
  client.setRequestHandler(
    ListRootsRequestSchema,
    () => ({ roots: [{ uri: "file:///tmp", name: "tmp" }] }),
  );
  client.setRequestHandler(CreateMessageRequestSchema, () => ({
    role: "assistant",
    content: { type: "text", text: "sampled answer" },
    model: "test-model",
    stopReason: "endTurn",
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** The proxy on stdio with its own state dir and audit log. */
async function viaProxy(
  url: string,
  dir: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  return await connect([
    ...PROXY,
    "--state-dir",
    `${dir}/state`,
    "--audit-log",
    `${dir}/audit.jsonl`,
    ...extra,
    "--url",
    url,
  ], {
    env,
    stderr: "pipe",
  });
}

Deno.test("sse: parser rebuilds events split anywhere, CRLF, multi-line data, ids and retry", () => {
  const text = `: comment\r\nid: 7\r\nretry: 25\r\ndata: {"a":\r\ndata: 1}\r\n\r\n` +
    encodeEvent('{"b":\n2}', "8") + "event: endpoint\ndata: /m?x=1\n\n";
  for (const size of [1, 2, 3, 5, 7, 64, 10_000]) {
    const p = new SseParser();
    const events = [];
    for (let i = 0; i < text.length; i += size) events.push(...p.push(text.slice(i, i + size)));
    assert.deepEqual(events, [
      { event: "message", data: '{"a":\n1}', id: "7", retry: 25 },
      { event: "message", data: '{"b":\n2}', id: "8" },
      { event: "endpoint", data: "/m?x=1" },
    ], `chunk size ${size}`);
  }
  const big = new SseParser(100);
  const [ev] = big.push(`id: 1\ndata: ${"x".repeat(500)}\n\n`);
  assert.equal(ev.oversized! > 100, true);
  assert.equal(ev.id, "1");
});

Deno.test("http client: headers expand ${ENV}, refuse managed names, and URLs are logged without secrets", () => {
  const env = (n: string) => ({ TOKEN: "s3cret" } as Record<string, string>)[n];
  assert.deepEqual(parseHeaderArgs(["Authorization: Bearer ${TOKEN}", "X-Team:  blue "], env), {
    Authorization: "Bearer s3cret",
    "X-Team": "blue",
  });
  assert.throws(() => parseHeaderArgs(["Mcp-Session-Id: x"], env), /managed/);
  assert.throws(() => parseHeaderArgs(["nocolon"], env), /Name: value/);
  assert.throws(() => expandEnv("${MISSING}", env), /MISSING/);
  assert.equal(
    redactUrl("https://user:pw@host.example/mcp?key=abc&x=1"),
    "https://host.example/mcp?key=…&x=…",
  );
  assert.equal(
    scrubError(new Error("error sending request for url (http://u:pw@127.0.0.1:1/mcp?token=abc)")),
    "error sending request for url (http://127.0.0.1:1/mcp?token=…)",
  );
});

Deno.test({
  name:
    "http client: the SDK over stdio through --url sees what a direct HTTP client sees (server-everything)",
  ...SDK_TEST,
  fn: async () => {
    await using ev = await startEverything();
    await using dir = await tempDir();
    const a = await direct(ev.url);
    const b = await viaProxy(ev.url, dir.path);
    try {
      const [ta, tb] = [await a.listTools(), await b.listTools()];
      assert.deepEqual(
        tb.tools.map((t: { name: string }) => t.name),
        ta.tools.map((t: { name: string }) => t.name),
      );
      assert.deepEqual(tb, ta);
      assert.deepEqual(await b.listPrompts(), await a.listPrompts());
      assert.deepEqual(
        await b.callTool({ name: "echo", arguments: { message: "héllo ✓" } }),
        await a.callTool({ name: "echo", arguments: { message: "héllo ✓" } }),
      );
      assert.deepEqual(
        await b.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }),
        await a.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }),
      );
      // Server→client requests (roots, elicitation) arrive on SSE streams and are answered.
      for (const name of ["get-roots-list", "trigger-elicitation-request"]) {
        assert.deepEqual(
          await b.callTool({ name, arguments: {} }),
          await a.callTool({ name, arguments: {} }),
          name,
        );
      }
      // A server→client request (sampling) arrives on the POST's SSE stream and is answered.
      const sa = await a.callTool({
        name: "trigger-sampling-request",
        arguments: { prompt: "hi", maxTokens: 5 },
      });
      const sb = await b.callTool({
        name: "trigger-sampling-request",
        arguments: { prompt: "hi", maxTokens: 5 },
      });
      assert.deepEqual(sb, sa);
      assert.match(JSON.stringify(sb), /sampled answer/);
      const ra = await a.listResources();
      const rb = await b.listResources();
      assert.deepEqual(
        rb.resources.map((r: { uri: string }) => r.uri),
        ra.resources.map((r: { uri: string }) => r.uri),
      );
      const uri = ra.resources[0].uri;
      assert.deepEqual(await b.readResource({ uri }), await a.readResource({ uri }));
    } finally {
      await a.close();
      await b.close();
    }
  },
});

Deno.test({
  name: "http client: resumes a dropped stream with Last-Event-ID, sends headers, DELETEs on exit",
  ...SDK_TEST,
  fn: async () => {
    const server = await startFlakyServer();
    await using dir = await tempDir();
    try {
      const a = await direct(server.url);
      const directResult = await a.callTool({ name: "slow", arguments: {} });
      await a.close();
      const resumesDirect = server.stats.resumes.length;
      assert.equal(resumesDirect >= 1, true, "the direct SDK client resumed");

      const b = await viaProxy(server.url, dir.path, ["--header", "X-Api-Key: ${FLAKY_KEY}"], {
        FLAKY_KEY: "k-123456789-secret",
      });
      const progress: number[] = [];
      const viaResult = await b.callTool({ name: "slow", arguments: {} }, undefined, {
        onprogress: (p: { progress: number }) => progress.push(p.progress),
      });
      assert.deepEqual(viaResult, directResult);
      assert.equal(
        server.stats.resumes.length > resumesDirect,
        true,
        "the proxy resumed with Last-Event-ID",
      );
      assert.deepEqual(progress, [1], "the progress notification sent before the drop arrived");
      assert.equal(server.stats.headers["x-api-key"], "k-123456789-secret");
      assert.ok(
        server.stats.protocolVersions.length > 0,
        "MCP-Protocol-Version sent after initialize",
      );
      const deletes = server.stats.deletes;
      await b.close();
      // The proxy ends the session when the client goes.
      for (let i = 0; i < 100 && server.stats.deletes === deletes; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(server.stats.deletes, deletes + 1);
      const audit = await Deno.readTextFile(`${dir.path}/audit.jsonl`).catch(() => "");
      assert.doesNotMatch(audit, /k-123456789-secret/);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name:
    "http client: JSON responses, server requests on the POST stream, notifications on the GET stream, a poisoned tool description neutralised",
  ...SDK_TEST,
  fn: async () => {
    for (const json of [false, true]) {
      const server = await startFlakyServer({ poison: true, json });
      await using dir = await tempDir();
      try {
        const b = await viaProxy(server.url, dir.path);
        const { tools } = await b.listTools();
        const echo = tools.find((t: { name: string }) => t.name === "echo")!;
        assert.doesNotMatch(echo.description!, /id_rsa/);
        assert.match(echo.description!, /mcp-watchdog removed/);
        assert.deepEqual(await b.callTool({ name: "echo", arguments: { text: "x" } }), {
          content: [{ type: "text", text: "Echo: x" }],
        });
        if (!json) {
          // A notification on the standalone GET stream reaches the client.
          let changed!: () => void;
          const seen = new Promise<void>((r) => changed = r);
          b.setNotificationHandler(ToolListChangedNotificationSchema, () => changed());
          for (let i = 0; i < 50; i++) {
            const r = await b.callTool({ name: "notify", arguments: {} }) as {
              content: { text: string }[];
            };
            if (r.content[0].text === "sent on GET: true") break;
            await new Promise((r) => setTimeout(r, 20)); // the GET stream opens after initialized
          }
          await seen;
          assert.deepEqual(await b.callTool({ name: "ask", arguments: {} }), {
            content: [{ type: "text", text: "model said: sampled answer" }],
          });
        }
        const big = await b.callTool({ name: "big", arguments: { bytes: 200_000 } }) as {
          content: { text: string }[];
        };
        assert.equal(big.content[0].text.length, 200_000);
        await b.close();
        const audit = await Deno.readTextFile(`${dir.path}/audit.jsonl`);
        assert.match(audit, /smac5-important-block/);
      } finally {
        await server.close();
      }
    }
  },
});

Deno.test({
  name:
    "http client: falls back to the legacy HTTP+SSE transport (fixture and server-everything sse)",
  ...SDK_TEST,
  fn: async () => {
    const server = await startFlakyServer({ legacy: true, poison: true });
    await using dir = await tempDir();
    try {
      const b = await viaProxy(server.url, dir.path);
      const { tools } = await b.listTools();
      assert.match(
        tools.find((t: { name: string }) => t.name === "echo")!.description!,
        /mcp-watchdog removed/,
      );
      assert.deepEqual(await b.callTool({ name: "ask", arguments: {} }), {
        content: [{ type: "text", text: "model said: sampled answer" }],
      });
      await b.close();
    } finally {
      await server.close();
    }
    await using ev = await startEverything("sse");
    const c = await viaProxy(ev.url, dir.path);
    try {
      const r = await c.callTool({ name: "echo", arguments: { message: "legacy" } });
      assert.match(JSON.stringify(r), /Echo: legacy/);
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "http client: a server message over --max-message-bytes becomes an error, never a hang",
  ...SDK_TEST,
  fn: async () => {
    for (const json of [false, true]) {
      const server = await startFlakyServer({ json });
      await using dir = await tempDir();
      try {
        const b = await viaProxy(server.url, dir.path, ["--max-message-bytes", "100000"]);
        await assert.rejects(
          b.callTool({ name: "big", arguments: { bytes: 200_000 } }),
          /max-message-bytes/,
        );
        // The session still works.
        assert.deepEqual(await b.callTool({ name: "echo", arguments: { text: "ok" } }), {
          content: [{ type: "text", text: "Echo: ok" }],
        });
        await b.close();
      } finally {
        await server.close();
      }
    }
  },
});
