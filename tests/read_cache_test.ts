import assert from "node:assert/strict";
import { ReadCache } from "../src/store/read_cache.ts";

Deno.test("ReadCache: a read is reused within the TTL, read again after it and after forget", () => {
  const c = new ReadCache<number>(1000, 10);
  let reads = 0;
  const read = () => ++reads;
  assert.equal(c.get("a", 0, read), 1);
  assert.equal(c.get("a", 999, read), 1);
  assert.equal(c.get("a", 1000, read), 2, "expired after the TTL");
  c.forget("a");
  assert.equal(c.get("a", 1001, read), 3, "forgotten keys are read afresh");
  assert.equal(c.get("a", 500, read), 4, "a clock that went back does not serve a stale read");
});

Deno.test("ReadCache: bounded, forget by prefix", () => {
  const c = new ReadCache<string>(60_000, 3);
  for (const k of ["x1", "x2", "y1"]) c.get(k, 0, () => k);
  let read = false;
  c.get("z", 0, () => (read = true, "z")); // full: cleared, then z stored
  assert.ok(read);
  c.get("x1", 0, () => "again");
  c.forget("x");
  assert.equal(c.get("x1", 0, () => "fresh"), "fresh");
  assert.equal(c.get("z", 0, () => "not read"), "z");
});
