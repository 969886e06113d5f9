/**
 * The Node runtime adapter (`src/adapters/node.ts`), compiled by the npm build and run under a real
 * Node (24 when available): spawn errors are synchronous with shell exit codes, stdio round trips,
 * exit statuses and signals, files, watching, and our own stdin→stdout relay flushing 1 MB before
 * exit. Skips with a message when no Node ≥ 22 can be found.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildNpm, findNode } from "../scripts/build_npm.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { node, reason } = findNode(22);
const ignore = node === null;
if (ignore) console.warn(`node_adapter_test skipped: ${reason}`);

let built: { dir: string; adapter: string } | undefined;
function build(): { dir: string; adapter: string } {
  if (built) return built;
  const dir = Deno.makeTempDirSync({ prefix: "mcpw-node-adapter-" });
  buildNpm({
    root: ROOT,
    outDir: path.join(dir, "pkg"),
    entries: ["src/adapters/node.ts"],
    packageFiles: false,
    log: () => {},
  });
  built = { dir, adapter: pathToFileURL(path.join(dir, "pkg/src/adapters/node.js")).href };
  return built;
}

/** Runs an ES module body under Node with `rt` (the adapter) in scope; returns its JSON result. */
async function runNode(
  body: string,
  opts: { stdin?: Uint8Array; args?: string[] } = {},
): Promise<{ code: number; stdout: Uint8Array; stderr: string; json: unknown }> {
  const { dir, adapter } = build();
  const file = path.join(dir, `t${crypto.randomUUID()}.mjs`);
  Deno.writeTextFileSync(
    file,
    `import { nodeRuntime as rt } from ${JSON.stringify(adapter)};
import { SpawnError } from ${JSON.stringify(adapter.replace(/node\.js$/, "runtime.js"))};
const result = (v) => process.stderr.write("RESULT " + JSON.stringify(v) + "\\n");
${body}
`,
  );
  const child = new Deno.Command(node!, {
    args: [file, ...(opts.args ?? [])],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Write while the output is read: a relay blocks when nobody drains its stdout.
  const feed = (async () => {
    const w = child.stdin.getWriter();
    try {
      if (opts.stdin) await w.write(opts.stdin);
      await w.close();
    } catch { /* the child exited early: its status says why */ }
  })();
  const out = await child.output();
  await feed;
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stderr.split("\n").find((l) => l.startsWith("RESULT "));
  return {
    code: out.code,
    stdout: out.stdout,
    stderr,
    json: line ? JSON.parse(line.slice(7)) : undefined,
  };
}

Deno.test({
  name: "node adapter: spawn failures throw SpawnError synchronously (127 / 126)",
  ignore,
  async fn() {
    const r = await runNode(`
import { writeFileSync, chmodSync } from "node:fs";
const f = ${JSON.stringify(path.join(Deno.makeTempDirSync(), "not-exec.sh"))};
writeFileSync(f, "#!/bin/sh\\necho hi\\n"); chmodSync(f, 0o644);
const out = {};
for (const [k, cmd] of [["missing", "mcpw-no-such-command-xyz"], ["missingPath", "./nope/nothing"], ["notExec", f]]) {
  let e;
  try { rt.spawn(cmd, []); } catch (err) { e = err; }
  out[k] = { isSpawnError: e instanceof SpawnError, code: e?.exitCode, msg: e?.message };
}
// Nothing asynchronous may crash the process afterwards (Node's late 'error' events).
await new Promise((r) => setTimeout(r, 50));
result(out);
`);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as Record<string, { isSpawnError: boolean; code: number; msg: string }>;
    assert.deepEqual(
      [j.missing.isSpawnError, j.missing.code, j.missingPath.code, j.notExec.code],
      [true, 127, 127, 126],
    );
    assert.match(j.missing.msg, /mcpw-no-such-command-xyz.*not found/);
  },
});

Deno.test({
  name: "node adapter: child stdio round trip, exit codes, env merge, signals",
  ignore,
  async fn() {
    const r = await runNode(`
const node = process.execPath;
const out = {};
// Round trip through a child's stdin/stdout, with piped stderr and an added env variable.
{
  const c = rt.spawn(node, ["-e", "process.stdin.pipe(process.stdout); process.stderr.write(process.env.MCPW_X + ':' + (process.env.PATH ? 'path' : 'nopath'))"], { env: { MCPW_X: "x1" }, stderr: "piped" });
  const w = c.stdin.getWriter();
  await w.write(new TextEncoder().encode("héllo\\n"));
  await w.close();
  out.echo = await new Response(c.stdout).text();
  out.err = await new Response(c.stderr).text();
  out.status = await c.status;
  out.pidOk = Number.isInteger(c.pid) && c.pid > 0;
}
{
  const c = rt.spawn(node, ["-e", "process.exit(7)"], { stderr: "null" });
  out.seven = await c.status;
}
{
  const c = rt.spawn(node, ["-e", "console.log('ready'); setInterval(() => {}, 1000)"]);
  const reader = c.stdout.getReader(); await reader.read(); reader.releaseLock();
  c.kill("SIGTERM");
  out.killed = await c.status;
  c.kill("SIGTERM"); // a second kill after exit is harmless
}
{
  const c = rt.spawn("sh", ["-c", "pwd"], { cwd: "/" });
  out.cwd = (await new Response(c.stdout).text()).trim();
  await c.status;
}
result(out);
`);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as Record<string, unknown>;
    assert.equal(j.echo, "héllo\n");
    assert.equal(j.err, "x1:path");
    assert.deepEqual(j.status, { code: 0, signal: null });
    assert.equal(j.pidOk, true);
    assert.deepEqual(j.seven, { code: 7, signal: null });
    assert.deepEqual(j.killed, { code: 143, signal: "SIGTERM" });
    assert.equal(j.cwd, "/");
  },
});

Deno.test({
  name: "node adapter: our stdin → stdout relays 1 MB and everything is flushed before exit",
  ignore,
  async fn() {
    const mb = new Uint8Array(1 << 20);
    for (let i = 0; i < mb.length; i++) mb[i] = 97 + (i % 26);
    mb[mb.length - 1] = 10;
    const r = await runNode(
      `
await rt.stdin.pipeTo(rt.stdout);
rt.writeStderr("done " + rt.args.join(",") + "\\n");
rt.exit(3);
`,
      { stdin: mb, args: ["a", "--b"] },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout.length, mb.length);
    assert.deepEqual(r.stdout, mb);
    assert.match(r.stderr, /done a,--b/);
  },
});

Deno.test({
  name: "node adapter: signal handlers fire and can be removed",
  ignore,
  async fn() {
    const r = await runNode(`
let got = 0;
const off = rt.onSignal("SIGHUP", () => { got++; });
process.kill(process.pid, "SIGHUP");
await new Promise((r) => setTimeout(r, 100));
off();
const keep = rt.onSignal("SIGINT", () => { got += 10; });
process.kill(process.pid, "SIGINT");
await new Promise((r) => setTimeout(r, 100));
keep();
result({ got, listeners: process.listenerCount("SIGHUP") + process.listenerCount("SIGINT") });
`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { got: 11, listeners: 0 });
  },
});

Deno.test({
  name: "node adapter: files, directories, symlinks and watching",
  ignore,
  async fn() {
    const tmp = Deno.makeTempDirSync({ prefix: "mcpw-node-fs-" });
    try {
      const r = await runNode(`
import { symlinkSync, statSync } from "node:fs";
const d = ${JSON.stringify(tmp)};
const out = {};
rt.mkdirSync(d + "/a/b", { recursive: true });
await rt.mkdir(d + "/c", { recursive: true });
await rt.writeTextFile(d + "/a/secret", "s1", { mode: 0o600 });
out.mode = (statSync(d + "/a/secret").mode & 0o777).toString(8);
rt.appendTextFileSync(d + "/a/log", "one\\n");
rt.appendTextFileSync(d + "/a/log", "two\\n");
out.log = rt.readTextFileSync(d + "/a/log");
out.secret = await rt.readTextFile(d + "/a/secret");
symlinkSync(d + "/a/log", d + "/link");
symlinkSync(d + "/nowhere", d + "/dangling");
out.statFile = rt.statSync(d + "/a/log");
out.statDir = rt.statSync(d + "/a");
out.statLink = rt.statSync(d + "/link");
out.statDangling = rt.statSync(d + "/dangling");
out.statMissing = rt.statSync(d + "/missing");
out.real = rt.realPathSync(d + "/link") === rt.realPathSync(d + "/a/log");
out.dir = rt.readDirSync(d + "/a").map((e) => e.name + ":" + e.isFile + ":" + e.isDirectory).sort();
rt.copyFileSync(d + "/a/log", d + "/copy");
rt.renameSync(d + "/copy", d + "/moved");
out.moved = rt.readTextFileSync(d + "/moved");
rt.removeSync(d + "/c");
out.cGone = rt.statSync(d + "/c") === null;
let missingThrows = false;
try { rt.realPathSync(d + "/missing"); } catch { missingThrows = true; }
out.missingThrows = missingThrows;
// Watching: a new file in a subdirectory is reported with its absolute path.
const events = [];
const stop = rt.watchFs([d], (e) => events.push(e));
await new Promise((r) => setTimeout(r, 100));
await rt.writeTextFile(d + "/a/b/new.json", "{}");
for (let i = 0; i < 50 && !events.some((e) => e.paths.includes(d + "/a/b/new.json")); i++) {
  await new Promise((r) => setTimeout(r, 20));
}
stop();
out.watched = events.some((e) => e.paths.includes(d + "/a/b/new.json") && (e.kind === "create" || e.kind === "modify"));
out.home = typeof rt.homeDir() === "string" && rt.cwd() === process.cwd();
out.env = rt.env("PATH") === process.env.PATH && rt.envObject().PATH === process.env.PATH;
out.self = rt.selfCommand();
out.name = rt.name;
out.ids = rt.pid === process.pid && rt.ppid === process.ppid;
result(out);
`);
      assert.equal(r.code, 0, r.stderr);
      const j = r.json as Record<string, unknown>;
      assert.equal(j.mode, "600");
      assert.equal(j.log, "one\ntwo\n");
      assert.equal(j.secret, "s1");
      assert.deepEqual(j.statFile, { isFile: true, isDirectory: false, isSymlink: false });
      assert.deepEqual(j.statDir, { isFile: false, isDirectory: true, isSymlink: false });
      assert.deepEqual(j.statLink, { isFile: true, isDirectory: false, isSymlink: true });
      assert.deepEqual(j.statDangling, { isFile: false, isDirectory: false, isSymlink: true });
      assert.equal(j.statMissing, null);
      assert.equal(j.real, true);
      assert.deepEqual(j.dir, ["b:false:true", "log:true:false", "secret:true:false"]);
      assert.equal(j.moved, "one\ntwo\n");
      assert.equal(j.cGone, true);
      assert.equal(j.missingThrows, true);
      assert.equal(j.watched, true);
      assert.equal(j.home, true);
      assert.equal(j.env, true);
      assert.equal(j.name, "node");
      assert.equal(j.ids, true);
      const self = j.self as { command: string; args: string[] };
      assert.match(self.command, /node$/);
      assert.match(self.args.at(-1)!, /\.mjs$/);
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "node adapter: listenHttp serves web Requests/Responses, streams SSE, answers errors 500",
  ignore,
  async fn() {
    const r = await runNode(`
import { listenHttp } from ${JSON.stringify("__ADAPTER__")};
const errors = [];
let aborted = false;
const l = await listenHttp({ hostname: "127.0.0.1", port: 0, onError: (e) => errors.push(String(e)) }, async (req) => {
  const url = new URL(req.url);
  if (url.pathname === "/boom") throw new Error("boom");
  if (url.pathname === "/sse") {
    req.signal.addEventListener("abort", () => { aborted = true; });
    let n = 0;
    return new Response(new ReadableStream({
      async pull(c) {
        if (n < 2) c.enqueue(new TextEncoder().encode("data: " + n++ + "\\n\\n"));
        else await new Promise((r) => setTimeout(r, 60000)); // stays open, like an SSE stream
      },
    }), { headers: { "content-type": "text/event-stream" } });
  }
  const body = await req.text();
  return new Response(JSON.stringify({ method: req.method, path: url.pathname + url.search, body,
    h: req.headers.get("x-test") }), { status: 201, headers: { "content-type": "application/json", "x-out": "1" } });
});
const base = "http://127.0.0.1:" + l.port;
const post = await fetch(base + "/mcp?a=1", { method: "POST", headers: { "x-test": "yes" }, body: "héllo" });
const out = { hostname: l.hostname, portOk: l.port > 0, status: post.status, xout: post.headers.get("x-out"), json: await post.json() };
const boom = await fetch(base + "/boom");
out.boom = { status: boom.status, body: await boom.json(), errors };
const ac = new AbortController();
const sse = await fetch(base + "/sse", { signal: ac.signal });
const reader = sse.body.getReader();
let text = "";
while (!text.includes("data: 1")) text += new TextDecoder().decode((await reader.read()).value);
out.sse = { type: sse.headers.get("content-type"), text };
ac.abort();
await new Promise((r) => setTimeout(r, 100));
out.aborted = aborted;
const sse2 = await fetch(base + "/sse");
await sse2.body.getReader().read();
await l.close(); // ends the open stream instead of waiting for it
await l.finished;
result(out);
process.exit(0);
`.replace("__ADAPTER__", build().adapter));
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as Record<string, unknown>;
    assert.equal(j.hostname, "127.0.0.1");
    assert.equal(j.portOk, true);
    assert.equal(j.status, 201);
    assert.equal(j.xout, "1");
    assert.deepEqual(j.json, { method: "POST", path: "/mcp?a=1", body: "héllo", h: "yes" });
    assert.deepEqual(j.boom, {
      status: 500,
      body: { jsonrpc: "2.0", id: null, error: { code: -32603, message: "Internal error" } },
      errors: ["Error: boom"],
    });
    assert.deepEqual(j.sse, { type: "text/event-stream", text: "data: 0\n\ndata: 1\n\n" });
    assert.equal(j.aborted, true);
  },
});

globalThis.addEventListener("unload", () => {
  if (built) {
    try {
      Deno.removeSync(built.dir, { recursive: true });
    } catch { /* already gone */ }
  }
});
