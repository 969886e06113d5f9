import assert from "node:assert/strict";
import { LineFramer } from "../src/proxy/framing.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("framing: lines split across chunks are joined; complete lines keep their chunk offsets", () => {
  const f = new LineFramer(100);
  const a = f.push(enc('{"a":1}\n{"b"'));
  assert.equal(a.length, 1);
  assert.equal(a[0].type === "line" && dec(a[0].bytes), '{"a":1}');
  assert.equal(a[0].type === "line" && a[0].end, 8);
  const b = f.push(enc(":2}\n"));
  assert.equal(b[0].type === "line" && dec(b[0].bytes), '{"b":2}');
  assert.equal(b[0].type === "line" && b[0].end, -1);
  assert.equal(f.pending, false);
});

Deno.test("framing: CR before LF is kept in the bytes (forwarded as is)", () => {
  const f = new LineFramer(100);
  const [l] = f.push(enc("{}\r\n"));
  assert.equal(l.type === "line" && dec(l.bytes), "{}\r");
});

Deno.test("framing: an oversized line is discarded up to its newline and reported once", () => {
  const f = new LineFramer(10);
  const frames = [
    ...f.push(enc('{"id":7,"x":"')),
    ...f.push(enc("y".repeat(50))),
    ...f.push(enc('"}\n{}\n')),
  ];
  assert.equal(frames.length, 2);
  assert.equal(frames[0].type, "oversized");
  assert.ok(frames[0].type === "oversized" && frames[0].bytes > 50);
  assert.ok(frames[0].type === "oversized" && dec(frames[0].prefix).startsWith('{"id":7'));
  assert.equal(frames[1].type === "line" && dec(frames[1].bytes), "{}");
});

Deno.test("framing: a last line without newline is delivered at end of stream", () => {
  const f = new LineFramer(100);
  assert.equal(f.push(enc("{}")).length, 0);
  const [l] = f.end();
  assert.equal(l.type === "line" && dec(l.bytes), "{}");
  assert.deepEqual(f.end(), []);
});

Deno.test("framing: bounded memory while discarding a huge line", () => {
  const f = new LineFramer(1000);
  for (let i = 0; i < 100; i++) f.push(new Uint8Array(100_000).fill(120));
  const [o] = f.push(enc("\n"));
  assert.ok(o.type === "oversized" && o.bytes === 10_000_000 && o.prefix.length <= 4096);
});

Deno.test("framing: rejects a non-positive limit with a clear error", () => {
  assert.throws(() => new LineFramer(0), /maxBytes must be positive, got 0/);
});

Deno.test("framing: a line handed out from the framer's buffer is not overwritten by a partial line in the same chunk (regression)", () => {
  const f = new LineFramer(1 << 20);
  assert.deepEqual(f.push(enc('{"first":"' + "a".repeat(100))), []);
  // Completes the first line (from the framer's buffer) and starts another partial line.
  const frames = f.push(enc('"}\n{"second":"' + "b".repeat(50)));
  assert.equal(frames.length, 1);
  assert.equal(
    frames[0].type === "line" && dec(frames[0].bytes),
    '{"first":"' + "a".repeat(100) + '"}',
  );
  const last = f.push(enc('"}\n'));
  assert.equal(
    last[0].type === "line" && dec(last[0].bytes),
    '{"second":"' + "b".repeat(50) + '"}',
  );
  // The buffer is reused for later long lines, across many messages.
  for (let i = 0; i < 50; i++) {
    const body = `{"n":${i},"x":"${"c".repeat(i * 31)}"}`;
    assert.deepEqual(f.push(enc(body.slice(0, 7))), []);
    const [l] = f.push(enc(body.slice(7) + "\n"));
    assert.equal(l.type === "line" && dec(l.bytes), body);
  }
  assert.equal(f.pending, false);
});
