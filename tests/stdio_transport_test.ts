import assert from "node:assert/strict";
import { type ByteSink, pumpLines } from "../src/transports/stdio.ts";
import type { Routed } from "../src/proxy/session.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A sink that keeps a copy of every write (the pump may reuse the memory it wrote from). */
function recorder(): ByteSink & { text(): string; writes: number } {
  const parts: Uint8Array[] = [];
  const r = {
    writes: 0,
    write(bytes: Uint8Array) {
      r.writes++;
      parts.push(bytes.slice());
      return Promise.resolve();
    },
    text: () => parts.map((p) => dec.decode(p)).join(""),
  };
  return r;
}

/** Chunks of `text` cut at `cuts`, so that lines span chunks and chunks hold several lines. */
function pieces(text: string, cuts: number[]): Uint8Array[] {
  const bytes = enc.encode(text);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.slice(from, c));
    from = c;
  }
  return out;
}

const LINES = [
  '{"jsonrpc":"2.0","id":1,"method":"ping"}',
  '{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"' + "x".repeat(3000) +
  '"}]}}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  '{"jsonrpc":"2.0","id":3,"result":{}}',
];
const INPUT = LINES.join("\n") + "\n";
const CUTS = [10, 41, 60, 2000, 3050, 3060, 3061];

async function run(source: ReadableStream<Uint8Array>, transform = false) {
  const forward = recorder();
  const reply = recorder();
  const seen: string[] = [];
  await pumpLines({
    source,
    forward,
    reply,
    maxMessageBytes: 1 << 20,
    handle(text): Routed {
      seen.push(text);
      // Change one message, so the pump must write lines it copied out of reused memory.
      if (transform && text.includes('"id":3')) {
        return { forward: '{"jsonrpc":"2.0","id":3,"result":{"ok":true}}', replies: [] };
      }
      return { forward: "original", replies: [] };
    },
    oversized: () => ({ forward: null, replies: [] }),
  });
  return { forward: forward.text(), seen };
}

Deno.test("pumpLines: a byte stream is read into reused buffers and every line arrives whole", async () => {
  const chunks = pieces(INPUT, CUTS);
  let i = 0;
  let intoOurBuffer = 0;
  const source = new ReadableStream({
    type: "bytes",
    pull(c: ReadableByteStreamController) {
      const req = c.byobRequest;
      if (i === chunks.length) {
        c.close();
        req?.respond(0);
        return;
      }
      const chunk = chunks[i++];
      if (req?.view) {
        const view = new Uint8Array(req.view.buffer, req.view.byteOffset, req.view.byteLength);
        assert.ok(view.length >= chunk.length, "the pump offers a buffer large enough");
        view.set(chunk);
        intoOurBuffer++;
        req.respond(chunk.length);
      } else c.enqueue(chunk);
    },
  }) as ReadableStream<Uint8Array>;
  const { forward, seen } = await run(source, true);
  assert.equal(intoOurBuffer, chunks.length, "every chunk was read into the pump's own buffer");
  assert.deepEqual(seen, LINES);
  assert.equal(
    forward,
    INPUT.replace(
      '{"jsonrpc":"2.0","id":3,"result":{}}',
      '{"jsonrpc":"2.0","id":3,"result":{"ok":true}}',
    ),
  );
});

Deno.test("pumpLines: a stream that is not a byte stream works through the default reader", async () => {
  const chunks = pieces(INPUT, CUTS);
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  const { forward, seen } = await run(source);
  assert.deepEqual(seen, LINES);
  assert.equal(forward, INPUT);
});

Deno.test("pumpLines: a real child's stdout (a byte stream) is forwarded byte for byte", async () => {
  const script =
    `for (let i = 0; i < 200; i++) process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: i, result: { text: "r".repeat(i * 97) } }) + "\\n");`;
  const child = new Deno.Command("node", { args: ["-e", script], stdout: "piped" }).spawn();
  const forward = recorder();
  let lines = 0;
  await pumpLines({
    source: child.stdout,
    forward,
    reply: recorder(),
    maxMessageBytes: 1 << 20,
    handle: () => {
      lines++;
      return { forward: "original", replies: [] };
    },
    oversized: () => ({ forward: null, replies: [] }),
  });
  await child.status;
  const expected = Array.from(
    { length: 200 },
    (_, i) =>
      JSON.stringify({ jsonrpc: "2.0", id: i, result: { text: "r".repeat(i * 97) } }) + "\n",
  ).join("");
  assert.equal(lines, 200);
  assert.equal(forward.text(), expected);
});
