/** `SharedDeadline`: coarse deadlines on one interval timer that stops by itself. */
import assert from "node:assert/strict";
import { SharedDeadline } from "../src/transports/shared_deadline.ts";

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

Deno.test("shared deadline: passes between one and two periods after it was asked for", async () => {
  const d = new SharedDeadline(40);
  const t0 = performance.now();
  const hold = d.start();
  assert.equal(await hold.passed, null);
  const took = performance.now() - t0;
  hold.end();
  // Timers may fire a little late on a busy machine, never early.
  assert.ok(took >= 38, `passed after ${took.toFixed(1)} ms`);
  assert.ok(took < 80 + 250, `passed after ${took.toFixed(1)} ms`);
  d.stop();
});

Deno.test("shared deadline: waits started within one period share one promise, and end() counts once", () => {
  const d = new SharedDeadline(1000);
  const a = d.start();
  const b = d.start();
  assert.equal(a.passed, b.passed);
  assert.equal(d.waiting, 2);
  a.end();
  a.end();
  assert.equal(d.waiting, 1);
  b.end();
  assert.equal(d.waiting, 0);
  d.stop();
});

Deno.test("shared deadline: the timer stops by itself once nobody waits, and starts again when asked", async () => {
  const d = new SharedDeadline(10);
  for (let i = 0; i < 3; i++) {
    const hold = d.start();
    await delay(5);
    hold.end();
  }
  assert.ok(d.running);
  await delay(60);
  assert.equal(d.running, false, "stopped one period after the last wait ended");
  // And it starts again when asked.
  const hold = d.start();
  assert.ok(d.running);
  assert.equal(await hold.passed, null);
  hold.end();
  await delay(40);
  assert.equal(d.running, false);
});

Deno.test("shared deadline: a period that is not positive is refused", () => {
  assert.throws(() => new SharedDeadline(0), RangeError);
  assert.throws(() => new SharedDeadline(Number.NaN), RangeError);
});

Deno.test("shared deadline: a wait that outlives stop() does not count against later waits (regression)", async () => {
  const d = new SharedDeadline(10);
  const old = d.start();
  d.stop();
  const fresh = d.start();
  old.end(); // ended after stop(): must not take fresh's place
  assert.equal(d.waiting, 1);
  fresh.end();
  assert.equal(d.waiting, 0);
  await delay(40);
  assert.equal(d.running, false, "the timer stopped by itself");
});
