/**
 * HTTP benchmark: round-trip latency (p50/p99 of `tools/call echo`) and a 1 MB response, directly
 * against a Streamable HTTP MCP server and through `mcp-watchdog serve --url`, printed as ratios.
 * Targets: p50 ≤ 1.5× and 1 MB ≤ 2× direct. The server is the HTTP test fixture in its own process.
 *
 * usage: deno run -A scripts/bench_http.ts [--iterations N] [--big N] [--json]
 * (`scripts/bench.ts` calls {@link benchHttp}.)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePort, type RunningProcess, startServe } from "../tests/fixtures/flaky_http_server.ts";

/** Figures for one target. */
export interface HttpFigures {
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** Median time of a 1 MB tools/call response. */
  readonly big_ms: number;
}

/** The benchmark's result. */
export interface HttpBenchResult {
  readonly direct: HttpFigures;
  readonly serve: HttpFigures;
  readonly p50_ratio: number;
  readonly p99_ratio: number;
  readonly big_ratio: number;
  readonly ok: boolean;
}

const FIXTURE = new URL("../tests/fixtures/flaky_http_server.ts", import.meta.url).pathname;
const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

async function startFixture(): Promise<RunningProcess & { url: string }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, "--port", String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("flaky MCP server on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`fixture exited: ${text}`);
    text += value;
  }
  void (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  };
  return { url: `http://127.0.0.1:${port}/mcp`, port, stderr: () => text, stop, [Symbol.asyncDispose]: stop };
}

async function rpc(url: string, sid: string | null, body: unknown): Promise<{ sid: string | null; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...HEADERS, ...(sid ? { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return { sid: res.headers.get("mcp-session-id") ?? sid, text };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const round = (x: number) => Math.round(x * 1000) / 1000;

async function measure(url: string, iterations: number, bigRuns: number, bigBytes: number): Promise<HttpFigures> {
  const init = await rpc(url, null, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
  });
  const sid = init.sid;
  await rpc(url, sid, { jsonrpc: "2.0", method: "notifications/initialized" });
  let id = 1;
  const call = (name: string, args: Record<string, unknown>) =>
    rpc(url, sid, { jsonrpc: "2.0", id: id++, method: "tools/call", params: { name, arguments: args } });
  for (let i = 0; i < 50; i++) await call("echo", { text: `warm ${i}` });
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await call("echo", { text: `hello ${i}` });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  await call("big", { bytes: bigBytes });
  const bigs: number[] = [];
  for (let i = 0; i < bigRuns; i++) {
    const t = performance.now();
    const r = await call("big", { bytes: bigBytes });
    bigs.push(performance.now() - t);
    if (r.text.length < bigBytes) throw new Error("short 1 MB response");
  }
  bigs.sort((a, b) => a - b);
  await fetch(url, { method: "DELETE", headers: { "mcp-session-id": sid ?? "" } }).then((r) => r.body?.cancel());
  return { p50_ms: round(pct(times, 0.5)), p99_ms: round(pct(times, 0.99)), big_ms: round(pct(bigs, 0.5)) };
}

/** Run the HTTP benchmark (fixture server, then direct and through `serve`). */
export async function benchHttp(o: { iterations?: number; bigRuns?: number; bigBytes?: number } = {}): Promise<HttpBenchResult> {
  const iterations = o.iterations ?? 500;
  const bigRuns = o.bigRuns ?? 15;
  const bigBytes = o.bigBytes ?? 1_000_000;
  await using server = await startFixture();
  const state = await Deno.makeTempDir({ prefix: "mcp-watchdog-bench-" });
  try {
    await using gw = await startServe(["--state-dir", state, "--quiet", "--url", server.url]);
    // Interleave to even out drift: direct, serve, direct, serve; keep the better of each.
    const d1 = await measure(server.url, iterations, bigRuns, bigBytes);
    const s1 = await measure(gw.url, iterations, bigRuns, bigBytes);
    const d2 = await measure(server.url, iterations, bigRuns, bigBytes);
    const s2 = await measure(gw.url, iterations, bigRuns, bigBytes);
    const best = (a: HttpFigures, b: HttpFigures): HttpFigures => ({
      p50_ms: Math.min(a.p50_ms, b.p50_ms),
      p99_ms: Math.min(a.p99_ms, b.p99_ms),
      big_ms: Math.min(a.big_ms, b.big_ms),
    });
    const direct = best(d1, d2);
    const serve = best(s1, s2);
    const p50_ratio = round(serve.p50_ms / direct.p50_ms);
    const p99_ratio = round(serve.p99_ms / direct.p99_ms);
    const big_ratio = round(serve.big_ms / direct.big_ms);
    return { direct, serve, p50_ratio, p99_ratio, big_ratio, ok: p50_ratio <= 1.5 && big_ratio <= 2 };
  } finally {
    await Deno.remove(state, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { iterations: { type: "string" }, big: { type: "string" }, json: { type: "boolean" } },
  });
  const r = await benchHttp({
    iterations: values.iterations ? Number(values.iterations) : undefined,
    bigBytes: values.big ? Number(values.big) : undefined,
  });
  if (values.json) console.log(JSON.stringify(r));
  else {
    console.log(`HTTP round trip p50: direct ${r.direct.p50_ms} ms, through serve ${r.serve.p50_ms} ms = ${r.p50_ratio}x (target <= 1.5x)`);
    console.log(`HTTP round trip p99: direct ${r.direct.p99_ms} ms, through serve ${r.serve.p99_ms} ms = ${r.p99_ratio}x`);
    console.log(`1 MB response:       direct ${r.direct.big_ms} ms, through serve ${r.serve.big_ms} ms = ${r.big_ratio}x (target <= 2x)`);
    console.log(r.ok ? "HTTP bench: within targets" : "HTTP bench: OUT OF TARGET");
  }
  Deno.exit(r.ok ? 0 : 1);
}
