import assert from "node:assert/strict";
import { RequestTracker } from "../src/proxy/correlation.ts";

Deno.test('RequestTracker: a response resolves its request once; ids 1 and "1" are different requests', () => {
  const t = new RequestTracker();
  t.track(1, "tools/call", "echo", 0);
  t.track("1", "resources/read", undefined, 1);
  t.track(null, "ping", undefined, 2);
  assert.equal(t.size, 3);
  assert.equal(t.resolve("1")?.method, "resources/read");
  assert.deepEqual(t.resolve(1), { id: 1, method: "tools/call", tool: "echo", since: 0 });
  assert.equal(t.resolve(1), undefined, "a second response to the same id answers nothing");
  assert.equal(t.resolve(null)?.method, "ping");
  assert.equal(t.size, 0);
});

Deno.test("RequestTracker: cancel and timeout forget; a full table drops the oldest, whatever its id type", () => {
  const t = new RequestTracker(100, 3);
  t.track("a", "m1", undefined, 0);
  t.track(2, "m2", undefined, 10);
  t.track(3, "m3", undefined, 20);
  t.cancel(2);
  assert.equal(t.size, 2);
  t.track(4, "m4", undefined, 30);
  t.track(5, "m5", undefined, 40); // full, none timed out: the oldest ("a", a string id) goes
  assert.deepEqual(t.outstanding().map((p) => p.id), [3, 4, 5]);
  t.track("b", "m6", undefined, 125); // 3 (since 20) has timed out and is swept first
  assert.deepEqual(t.outstanding().map((p) => p.id), [4, 5, "b"]);
  t.sweep(1000);
  assert.equal(t.size, 0);
});
