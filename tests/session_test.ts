import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { Inspector } from "../src/pipeline/inspector.ts";
import type { MessageDetector, TextDetector } from "../src/pipeline/detector.ts";
import { type ProxyEvent, ProxySession, sniffId } from "../src/proxy/session.ts";
import type { AuditRecord } from "../src/audit.ts";
import { MemoryStore } from "../src/store/memory_store.ts";

// A real (tiny) text detector: neutralises the word EVIL wherever the model would read it.
const evil: TextDetector = {
  name: "evil",
  scan(field) {
    const i = field.text.indexOf("EVIL");
    return i < 0 ? [] : [{
      layer: "L0-preprocess",
      rule: "test-evil",
      severity: "high",
      action: "neutralize",
      message: "evil",
      path: field.path,
      tool: field.tool,
      span: [i, i + 4],
      replacement: "[removed]",
      evidence: "EVIL",
    }];
  },
};
const blockCalls: MessageDetector = {
  name: "block",
  inspect(msg, ctx) {
    if (ctx.method !== "tools/call" || ctx.direction !== "client_to_server") return undefined;
    const p = msg.params as { name?: string };
    if (p?.name !== "forbidden") return undefined;
    return {
      findings: [{
        layer: "L4-scope",
        rule: "test-block",
        severity: "critical",
        action: "block",
        message: "no",
        path: "/params",
        evidence: "forbidden",
      }],
      block: { code: -32010, message: "refused by test-block" },
    };
  },
};

function session(mode: "enforce" | "monitor" = "enforce") {
  const records: AuditRecord[] = [];
  const events: ProxyEvent[] = [];
  const inspector = new Inspector({ message: [blockCalls], text: [evil] }, {
    server: { name: "t", key: "t" },
    session: "s",
    store: new MemoryStore(),
    config: { ...DEFAULT_CONFIG, mode },
    now: () => 0,
  });
  return {
    s: new ProxySession(inspector, {
      audit: { write: (r) => records.push(r) },
      event: (e) => events.push(e),
    }),
    records,
    events,
  };
}

Deno.test("session: responses are inspected by the method of their request, not their shape", () => {
  const { s } = session();
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}',
  );
  const r = s.handle(
    "server_to_client",
    '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"an EVIL plan"}]}}',
  );
  assert.ok(!(r instanceof Promise));
  assert.equal(JSON.parse(r.forward as string).result.content[0].text, "an [removed] plan");
  // Same shape, but answering prompts/get: inspected as a prompt; an unknown id: as "other" (still inspected).
  const u = s.handle(
    "server_to_client",
    '{"jsonrpc":"2.0","id":99,"result":{"content":[{"type":"text","text":"EVIL"}]}}',
  );
  assert.ok(!(u instanceof Promise) && typeof u.forward === "string");
});

Deno.test("session: a clean message is forwarded as the original (no re-serialisation)", () => {
  const { s, records } = session();
  const r = s.handle(
    "server_to_client",
    '{"jsonrpc":"2.0", "method":"notifications/message","params":{"level":"info","data":"fine"}}',
  );
  assert.ok(!(r instanceof Promise));
  assert.equal(r.forward, "original");
  assert.equal(records.length, 0);
});

Deno.test("session: a blocked request is answered with a JSON-RPC error and not forwarded", () => {
  const { s, records } = session();
  const r = s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"forbidden"}}',
  );
  assert.ok(!(r instanceof Promise));
  assert.equal(r.forward, null);
  assert.deepEqual(JSON.parse(r.replies[0]), {
    jsonrpc: "2.0",
    id: "a",
    error: { code: -32010, message: "refused by test-block" },
  });
  assert.equal(records[0].action, "blocked");
  assert.equal(s.fromClient.size, 0, "a refused request is not tracked");
});

Deno.test("session: monitor mode changes nothing but still records", () => {
  const { s, records } = session("monitor");
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}',
  );
  const r = s.handle(
    "server_to_client",
    '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"EVIL"}]}}',
  );
  assert.ok(!(r instanceof Promise));
  assert.equal(r.forward, "original");
  assert.equal(records[0].action, "alerted");
  const b = s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"forbidden"}}',
  );
  assert.ok(!(b instanceof Promise) && b.forward === "original");
});

Deno.test("session: batches are handled element by element; a refused element is answered in a batch", () => {
  const { s } = session();
  const r = s.handle(
    "client_to_server",
    '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"forbidden"}}]',
  );
  assert.ok(!(r instanceof Promise));
  assert.deepEqual(JSON.parse(r.forward as string).map((m: { id: number }) => m.id), [1]);
  assert.deepEqual(JSON.parse(r.replies[0]).map((m: { id: number }) => m.id), [2]);
  assert.equal(s.fromClient.size, 1);
});

Deno.test("session: notifications/cancelled forgets the request; server→client requests are tracked too", () => {
  const { s } = session();
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x"}}',
  );
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}',
  );
  assert.equal(s.fromClient.size, 0);
  s.handle(
    "server_to_client",
    '{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}',
  );
  assert.equal(s.fromServer.size, 1);
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":"srv-1","result":{"role":"assistant","content":{"type":"text","text":"x"}}}',
  );
  assert.equal(s.fromServer.size, 0);
});

Deno.test("session: hostile input never throws: invalid JSON, non-objects, bad ids, empty batch", () => {
  const { s, events } = session();
  for (
    const bad of [
      "{",
      "42",
      "[]",
      '{"jsonrpc":"2.0","id":{},"method":"x"}',
      '{"jsonrpc":"2.0"}',
      "[1,2]",
    ]
  ) {
    const r = s.handle("client_to_server", bad);
    assert.ok(!(r instanceof Promise));
    assert.equal(r.forward, null, bad);
    assert.equal(r.replies.length, 1, bad);
  }
  assert.ok(events.length >= 4);
});

Deno.test("sniffId reads the id of an oversized message from its first bytes", () => {
  assert.equal(sniffId('{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":"...'), 42);
  assert.equal(sniffId('{"id" : "a\\"b","method"'), 'a"b');
  assert.equal(sniffId('{"method":"x","params":{"text":"'), undefined);
});

Deno.test("session: many hits of one rule in one field are one audit record with a count", () => {
  const { s, records } = session();
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}',
  );
  // The test detector reports the first EVIL only; a real detector reporting many is grouped.
  const many: TextDetector = {
    name: "many",
    scan(field) {
      const out = [];
      for (let i = field.text.indexOf("x"); i >= 0; i = field.text.indexOf("x", i + 1)) {
        out.push({
          layer: "L0-preprocess" as const,
          rule: "test-x",
          severity: "low" as const,
          action: "neutralize" as const,
          message: "x",
          path: field.path,
          span: [i, i + 1] as const,
          replacement: "",
          evidence: "x",
        });
      }
      return out;
    },
  };
  const inspector = new Inspector({ message: [], text: [many] }, s.inspector.env);
  const r = inspector.inspect(
    { jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "axbxcx".repeat(100) }] } },
    { server: "t", direction: "server_to_client", method: "tools/call", id: 1 },
  );
  assert.ok(!(r instanceof Promise));
  assert.equal(r.records.length, 1);
  assert.equal(r.records[0].details?.occurrences, 300);
  assert.equal(
    (r.message.result as { content: { text: string }[] }).content[0].text,
    "abc".repeat(100),
  );
  assert.equal(records.length, 0);
});

Deno.test("session: a resource blob with a textual media type is inspected decoded and re-encoded", () => {
  const { s, records } = session();
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///a.md"}}',
  );
  const blob = btoa("notes: an EVIL plan");
  const r = s.handle(
    "server_to_client",
    JSON.stringify({
      jsonrpc: "2.0",
      id: 3,
      result: { contents: [{ uri: "file:///a.md", mimeType: "text/markdown", blob }] },
    }),
  );
  assert.ok(!(r instanceof Promise));
  const out = JSON.parse(r.forward as string).result.contents[0];
  assert.equal(atob(out.blob), "notes: an [removed] plan");
  assert.equal(records[0].path, "/result/contents/0/blob");
  // A binary blob (image) is never decoded or touched.
  s.handle(
    "client_to_server",
    '{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"file:///a.png"}}',
  );
  const img = s.handle(
    "server_to_client",
    JSON.stringify({
      jsonrpc: "2.0",
      id: 4,
      result: { contents: [{ uri: "file:///a.png", mimeType: "image/png", blob: btoa("EVIL") }] },
    }),
  );
  assert.ok(!(img instanceof Promise) && img.forward === "original");
});
