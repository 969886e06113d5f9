/** `readBoundedBody` against a real HTTP server: bodies within, at and over the limit. */
import assert from "node:assert/strict";
import { readBoundedBody } from "../src/transports/bounded_body.ts";

/** A server whose `/stream` body is `total` bytes of "x" sent in 16 KiB pieces without a length. */
function server(total: number) {
  let pulled = 0;
  const piece = new TextEncoder().encode("x".repeat(16 * 1024));
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/declared") return new Response("y".repeat(total));
    if (path === "/small") return new Response(JSON.stringify({ ok: "é✓" }));
    let sent = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent >= total) return ctl.close();
          sent += piece.length;
          pulled += piece.length;
          ctl.enqueue(piece);
        },
      }, { highWaterMark: 0 }),
    );
  });
  return {
    url: `http://127.0.0.1:${s.addr.port}`,
    get pulled() {
      return pulled;
    },
    [Symbol.asyncDispose]: () => s.shutdown(),
  };
}

Deno.test("bounded body: a body without a length is abandoned past the limit, not read whole", async () => {
  await using srv = server(64 * 1024 * 1024);
  const res = await fetch(`${srv.url}/stream`);
  assert.equal(res.headers.get("content-length"), null);
  const body = await readBoundedBody(res, 100_000);
  assert.ok("oversized" in body);
  assert.ok(body.oversized > 100_000 && body.oversized < 200_000, String(body.oversized));
  assert.equal(body.prefix, "x".repeat(4096));
  // The server stopped being read long before its 64 MiB (pull-based, so at most a few pieces ahead).
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(srv.pulled < 4 * 1024 * 1024, `server produced ${srv.pulled} bytes`);
});

Deno.test("bounded body: a declared length over the limit is refused unread; within it, read whole", async () => {
  await using srv = server(300_000);
  const over = await readBoundedBody(await fetch(`${srv.url}/declared`), 100_000);
  assert.deepEqual(over, { oversized: 300_000, prefix: "" });
  const within = await readBoundedBody(await fetch(`${srv.url}/declared`), 300_000);
  assert.deepEqual(within, { text: "y".repeat(300_000) });
  const small = await readBoundedBody(await fetch(`${srv.url}/small`), 100);
  assert.deepEqual(small, { text: '{"ok":"é✓"}' });
  // Without a length: 19 pieces of 16 KiB (311,296 bytes) fit in 400,000.
  const streamed = await readBoundedBody(await fetch(`${srv.url}/stream`), 400_000);
  assert.ok("text" in streamed);
  assert.equal(streamed.text, "x".repeat(19 * 16 * 1024));
});
