/**
 * `deno task bench`: speed and memory of mcp-watchdog side by side with the direct connection and
 * a trivial pass-through that parses nothing, in the same run, reported as ratios to the
 * pass-through. Also the scanning throughput of the detectors on clean text and on text dense with
 * near-misses, the pin-check cost, and (when present) the HTTP figures.
 *
 * usage: deno task bench [--calls 2000] [--big 10] [--json] [--no-http]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { buildDetectors } from "../src/detectors/registry.ts";
import { Inspector } from "../src/pipeline/inspector.ts";
import { ProxySession } from "../src/proxy/session.ts";
import { MemoryStore } from "../src/store/memory_store.ts";
import { SqliteStore } from "../src/adapters/sqlite_store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    calls: { type: "string", default: "2000" },
    big: { type: "string", default: "10" },
    json: { type: "boolean" },
    "no-http": { type: "boolean" },
  },
});
const CALLS = Number(values.calls), BIG = Number(values.big), MB = 1_000_000;
const root = fileURLToPath(new URL("../", import.meta.url));
const deno = Deno.execPath();
const echo = [deno, "run", "-A", `${root}tests/fixtures/echo_server.ts`];
const state = await Deno.makeTempDir({ prefix: "mcp-watchdog-bench-" });

interface Figures {
  p50: number;
  p99: number;
  bigMs: number;
  rssMb?: number;
}

/** Peak resident memory of the process in the middle (Linux), in MB. */
function peakRssMb(pid: number | null): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

/** A raw NDJSON client (no SDK validation in the way), so that what is timed is the middle. */
async function measure(command: string[]): Promise<Figures> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  const enc = new TextEncoder(), dec = new TextDecoder();
  let buf = "";
  let id = 0;
  const call = async (method: string, params: unknown) => {
    const my = ++id;
    await writer.write(
      enc.encode(JSON.stringify({ jsonrpc: "2.0", id: my, method, params }) + "\n"),
    );
    while (true) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith(`{"jsonrpc":"2.0","id":${my},`)) return line.length;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`${command.join(" ")} ended early`);
      buf += dec.decode(value, { stream: true });
    }
  };
  await call("initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "bench", version: "1" },
  });
  await writer.write(enc.encode('{"jsonrpc":"2.0","method":"notifications/initialized"}\n'));
  await call("tools/list", {});
  const small = {
    name: "echo",
    arguments: { text: "Hello from the benchmark: list the files under src/ and summarise them." },
  };
  for (let i = 0; i < 200; i++) await call("tools/call", small);
  const lat: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await call("tools/call", small);
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  await call("tools/call", { name: "echo", arguments: { bytes: MB } });
  const t0 = performance.now();
  for (let i = 0; i < BIG; i++) {
    await call("tools/call", { name: "echo", arguments: { bytes: MB } });
  }
  const bigMs = (performance.now() - t0) / BIG;
  const rssMb = peakRssMb(child.pid);
  await writer.close();
  reader.releaseLock();
  await child.stdout.cancel();
  await child.status;
  return { p50: q(lat, 0.5), p99: q(lat, 0.99), bigMs, rssMb };
}

const setups: [string, string[]][] = [
  ["direct", echo],
  ["pass-through", [deno, "run", "-A", `${root}tests/fixtures/pass_through.ts`, "--", ...echo]],
  ["mcp-watchdog", [
    deno,
    "run",
    "-A",
    `${root}cli.ts`,
    "--quiet",
    "--state-dir",
    state,
    "--",
    ...echo,
  ]],
];
const results: Record<string, Figures> = {};
// Interleave two rounds so that drift on a shared machine hits every setup alike; keep the best.
for (let round = 0; round < 2; round++) {
  for (const [name, cmd] of setups) {
    const f = await measure(cmd);
    const prev = results[name];
    results[name] = prev
      ? {
        p50: Math.min(prev.p50, f.p50),
        p99: Math.min(prev.p99, f.p99),
        bigMs: Math.min(prev.bigMs, f.bigMs),
        rssMb: Math.max(prev.rssMb ?? 0, f.rssMb ?? 0),
      }
      : f;
  }
}

// Detector throughput in-process, all layers on.
function scanThroughput(text: string): number {
  const det = buildDetectors(DEFAULT_CONFIG, {});
  const inspector = new Inspector(det, {
    server: { name: "bench", key: "bench" },
    session: "bench",
    store: new MemoryStore(),
    config: DEFAULT_CONFIG,
    now: () => Date.now(),
  });
  const session = new ProxySession(inspector, { audit: { write() {} }, event() {} });
  const req =
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}';
  const resp = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    result: { content: [{ type: "text", text }] },
  });
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1500 || n < 3) {
    session.handle("client_to_server", req);
    session.handle("server_to_client", resp);
    n++;
  }
  return (n * resp.length) / 1e6 / ((performance.now() - t0) / 1000);
}
const words =
  "the quick brown fox jumps over a lazy dog while reading files and listing open issues".split(
    " ",
  );
let clean = "";
for (let k = 0; clean.length < MB; k++) clean += words[k % words.length] + (k % 17 ? " " : ".\n");
const nearMiss = [
  "IMPORTANT: paths must be absolute.",
  "Load .env variables from .env.example first.",
  "[USER] alice logged in",
  "this.addEventListener('click', fn);",
  "sha512-3q2+7w== integrity",
  "commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
  "<!-- build: 1234 -->",
  "ignore the cache and retry",
  "\x1b[32m✓ test passed\x1b[0m",
  "see [docs](https://example.com/docs?page=2)",
].join("\n");
let dense = "";
while (dense.length < MB) dense += nearMiss + "\n";

/** Cost of each detector alone, in microseconds, on one message (request + response) of `text`. */
function perDetector(text: string, rounds: number): Record<string, number> {
  const det = buildDetectors(DEFAULT_CONFIG, {});
  const env = {
    server: { name: "bench", key: "bench-per" },
    session: "bench",
    store: new MemoryStore(),
    config: DEFAULT_CONFIG,
    now: () => Date.now(),
  };
  const req = {
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "echo", arguments: { text: text.slice(0, 200) } },
  };
  const resp = { jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text }] } };
  const field = { path: "/result/content/0/text", text, kind: "result.text" as const };
  const out: Record<string, number> = {};
  for (const d of det.message) {
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      d.inspect(req, {
        server: "bench",
        direction: "client_to_server",
        method: "tools/call",
        id: 1,
      }, env);
      d.inspect(resp, {
        server: "bench",
        direction: "server_to_client",
        method: "tools/call",
        id: 1,
      }, env);
    }
    out[d.name] = (performance.now() - t0) / rounds * 1000;
  }
  for (const d of det.text) {
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      d.scan(
        field,
        { server: "bench", direction: "server_to_client", method: "tools/call" },
        env,
        [],
      );
    }
    out[d.name] = (performance.now() - t0) / rounds * 1000;
  }
  return out;
}

/** Pin check on the real shared store (SQLite in a temp dir), as the proxy runs it. */
function pinCost(): { listUs: number; callUs: number } {
  const store = new SqliteStore(`${state}/pins-bench.db`);
  const det = buildDetectors(DEFAULT_CONFIG, {});
  const inspector = new Inspector({ message: det.message, text: [] }, {
    server: { name: "bench", key: "bench-pins" },
    session: "bench",
    store,
    config: DEFAULT_CONFIG,
    now: () => Date.now(),
  });
  const session = new ProxySession(inspector, { audit: { write() {} }, event() {} });
  const tools = Array.from(
    { length: 30 },
    (_, i) => ({
      name: `tool_${i}`,
      description: `Does thing ${i} to the project files.`,
      inputSchema: {
        type: "object",
        properties: { path: { type: "string", description: "A path." } },
      },
    }),
  );
  const list = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools } });
  const N = 300;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    session.handle("client_to_server", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`);
    session.handle("server_to_client", list);
  }
  const listUs = (performance.now() - t0) / N * 1000;
  t0 = performance.now();
  for (let i = 0; i < N * 10; i++) {
    session.handle(
      "client_to_server",
      `{"jsonrpc":"2.0","id":${
        i + 2
      },"method":"tools/call","params":{"name":"tool_3","arguments":{"path":"src/a.ts"}}}`,
    );
  }
  const callUs = (performance.now() - t0) / (N * 10) * 1000;
  store.close();
  return { listUs, callUs };
}

const base = results["pass-through"], wd = results["mcp-watchdog"], direct = results["direct"];
const report = {
  calls: CALLS,
  stdio: results,
  ratios: {
    p50: wd.p50 / base.p50,
    p99: wd.p99 / base.p99,
    big: wd.bigMs / base.bigMs,
    p50VsDirect: wd.p50 / direct.p50,
  },
  scanMBps: { clean: scanThroughput(clean), nearMiss: scanThroughput(dense) },
  pins: pinCost(),
  perDetectorUs: {
    clean1MB: perDetector(clean, 3),
    nearMiss1MB: perDetector(dense.slice(0, MB), 3),
    small: perDetector(
      "Hello from the benchmark: list the files under src/ and summarise them.",
      2000,
    ),
  },
};
await Deno.remove(state, { recursive: true }).catch(() => {});

if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  const f = (x: number) => x.toFixed(3);
  console.log(
    `stdio round trip over ${CALLS} small tools/call, and per 1 MB text response (best of 2 interleaved rounds)`,
  );
  console.log(
    `  ${"setup".padEnd(14)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${
      "1 MB ms".padStart(9)
    } ${"peak RSS MB".padStart(12)}`,
  );
  for (const [name] of setups) {
    const r = results[name];
    console.log(
      `  ${name.padEnd(14)} ${f(r.p50).padStart(8)} ${f(r.p99).padStart(8)} ${
        r.bigMs.toFixed(2).padStart(9)
      } ${(r.rssMb?.toFixed(1) ?? "-").padStart(12)}`,
    );
  }
  console.log(
    `  ratios to the pass-through: p50 ${report.ratios.p50.toFixed(2)}x (target <= 1.3x), p99 ${
      report.ratios.p99.toFixed(2)
    }x, 1 MB ${report.ratios.big.toFixed(2)}x (target <= 2x)`,
  );
  console.log(
    `scan throughput, all layers on: clean text ${
      report.scanMBps.clean.toFixed(1)
    } MB/s, near-miss-dense text ${report.scanMBps.nearMiss.toFixed(1)} MB/s`,
  );
  console.log(
    `pin check: ${report.pins.listUs.toFixed(1)} us per tools/list of 30 tools, ${
      report.pins.callUs.toFixed(2)
    } us per tools/call`,
  );
  console.log("cost of each detector alone (microseconds per request + response):");
  console.log(
    `  ${"detector".padEnd(14)} ${"1 MB clean".padStart(11)} ${"1 MB near-miss".padStart(15)} ${
      "small".padStart(8)
    }`,
  );
  const p = report.perDetectorUs;
  for (const name of Object.keys(p.small)) {
    console.log(
      `  ${name.padEnd(14)} ${p.clean1MB[name].toFixed(0).padStart(11)} ${
        p.nearMiss1MB[name].toFixed(0).padStart(15)
      } ${p.small[name].toFixed(1).padStart(8)}`,
    );
  }
}

// HTTP figures (scripts/bench_http.ts), unless --no-http.
if (!values["no-http"]) {
  await Deno.stat(`${root}scripts/bench_http.ts`);
  const p = new Deno.Command(deno, {
    args: ["run", "-A", `${root}scripts/bench_http.ts`],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  await p.status;
}
