// Bad input and lifecycle: the proxy never crashes, never loses a message, propagates exit codes
// and never leaves an orphaned server.
import assert from "node:assert/strict";
import { ECHO_SERVER, INIT_LINE, jsonLines, PROXY, run, tempDir, toolCallLine } from "./helpers.ts";

const ECHO = ECHO_SERVER;
const init = INIT_LINE;
const call = toolCallLine;

async function proxy(
  input: string,
  extra: string[] = [],
  server = ECHO,
  env: Record<string, string> = {},
) {
  await using state = await tempDir();
  return await run([...PROXY, "--state-dir", state.path, ...extra, "--", ...server], input, env);
}

Deno.test("exit code of the server is the proxy's exit code", async () => {
  const r = await proxy(init + "\n", [], ECHO, { EXIT_CODE: "3" });
  assert.equal(r.code, 3);
  assert.equal(jsonLines(r.stdout)[0].id, 1);
});

Deno.test("a server binary that does not exist: one clear line, exit 127", async () => {
  const r = await proxy("", [], ["/nonexistent/mcp-server-binary"]);
  assert.equal(r.code, 127);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /cannot start '\/nonexistent\/mcp-server-binary': command not found/);
});

Deno.test("unknown option and missing '--' are usage errors with exit code 2", async () => {
  const a = await run([...PROXY, "--bogus", "--", "true"]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /Unknown option '--bogus'/);
  const b = await run([...PROXY, "node", "server.js"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /put '--' before the server command/);
  const c = await run([...PROXY, "--mode", "loud", "--", "true"]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--mode must be one of enforce, monitor, got 'loud'/);
});

Deno.test("garbage lines get a parse error and do not stop the proxy", async () => {
  const r = await proxy(`not json\n${init}\n{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n`);
  const msgs = jsonLines(r.stdout);
  assert.deepEqual(msgs[0], {
    jsonrpc: "2.0",
    id: null,
    error: {
      code: -32700,
      message: msgs[0].error && (msgs[0].error as { message: string }).message,
    },
  });
  assert.match((msgs[0].error as { message: string }).message, /^Parse error/);
  assert.equal(msgs[1].id, 1);
  assert.equal(msgs[2].id, 2);
  assert.match(r.stderr, /unparseable \(client_to_server\): invalid JSON/);
});

Deno.test("an oversized request is refused with a JSON-RPC error naming the limit; later messages pass", async () => {
  const big = call(7, "echo", { text: "x".repeat(5000) });
  const r = await proxy(`${init}\n${big}\n${call(8, "echo", { text: "after" })}\n`, [
    "--max-message-bytes",
    "2000",
  ]);
  const msgs = jsonLines(r.stdout);
  const refused = msgs.find((m) => m.id === 7) as { error: { code: number; message: string } };
  assert.equal(refused.error.code, -32600);
  assert.match(refused.error.message, /exceeds --max-message-bytes 2000/);
  assert.match(JSON.stringify(msgs.find((m) => m.id === 8)), /after/);
});

Deno.test("an oversized response becomes an error for its id instead of a hang", async () => {
  const r = await proxy(
    `${init}\n${call(3, "echo", { bytes: 50000 })}\n${call(4, "echo", { text: "ok" })}\n`,
    ["--max-message-bytes", "20000"],
  );
  const msgs = jsonLines(r.stdout);
  assert.match(JSON.stringify(msgs.find((m) => m.id === 3)), /exceeds --max-message-bytes 20000/);
  assert.match(JSON.stringify(msgs.find((m) => m.id === 4)), /"ok"/);
});

Deno.test("a batch is handled element by element", async () => {
  const batch = `[${call(10, "echo", { text: "a" })},${call(11, "echo", { text: "b" })}]`;
  const r = await proxy(`${init}\n${batch}\n`);
  const msgs = jsonLines(r.stdout);
  assert.equal(msgs.length, 3, "the echo server answers each element");
  assert.deepEqual(msgs.slice(1).map((m) => m.id).sort(), [10, 11]);
});

Deno.test("CRLF framing is accepted and forwarded byte for byte", async () => {
  const r = await proxy(`${init}\r\n${call(2, "echo", { text: "crlf" })}\r\n`);
  assert.equal(jsonLines(r.stdout).length, 2);
});

Deno.test("a server that crashes mid-call: the pending request gets an error and its exit code propagates", async () => {
  const r = await proxy(`${init}\n${call(9, "crash")}\n`);
  assert.equal(r.code, 5);
  const err = jsonLines(r.stdout).find((m) => m.id === 9) as { error: { message: string } };
  assert.match(err.error.message, /MCP server exited \(code 5\) before answering/);
});

Deno.test("a client that closes stdin right after a request still gets the whole answer", async () => {
  const r = await proxy(`${call(5, "echo", { bytes: 1_000_000 })}\n`);
  const [m] = jsonLines(r.stdout) as { result: { content: { text: string }[] } }[];
  assert.equal(m.result.content[0].text.length, 1_000_000);
  assert.equal(r.code, 0);
});

Deno.test("the server's stderr goes to our stderr, never to stdout", async () => {
  const r = await proxy(`${init}\n${call(2, "stderr")}\n`);
  assert.match(r.stderr, /a line on the server's stderr/);
  assert.ok(!r.stdout.includes("a line on the server's stderr"));
});

Deno.test("a server that ignores EOF is terminated after the grace period (no orphan)", async () => {
  const sleeper = [Deno.execPath(), "eval", "setInterval(() => {}, 1000)"];
  const t0 = Date.now();
  const r = await proxy("", [], sleeper);
  // SIGTERM after the shutdown grace: 128 + 15.
  assert.equal(r.code, 143);
  assert.ok(Date.now() - t0 < 30_000);
});

Deno.test("a slow reader: every answer arrives, in order, with no deadlock (backpressure)", async () => {
  await using state = await tempDir();
  const p = new Deno.Command(PROXY[0], {
    args: [...PROXY.slice(1), "--quiet", "--state-dir", state.path, "--", ...ECHO],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = p.stdin.getWriter();
  const N = 120;
  // Write everything up front (12 MB of answers pending) while nobody reads stdout.
  const writing = (async () => {
    await w.write(new TextEncoder().encode(init + "\n"));
    for (let i = 0; i < N; i++) {
      await w.write(new TextEncoder().encode(call(100 + i, "echo", { bytes: 100_000 }) + "\n"));
    }
    await w.close();
  })();
  await new Promise((r) => setTimeout(r, 500));
  const ids: number[] = [];
  let buf = "";
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      ids.push(JSON.parse(buf.slice(0, i)).id);
      buf = buf.slice(i + 1);
    }
    await new Promise((r) => setTimeout(r, 1)); // a slow reader
  }
  await writing;
  assert.equal((await p.status).code, 0);
  assert.deepEqual(ids, [1, ...Array.from({ length: N }, (_, k) => 100 + k)]);
});
