/**
 * HTTP benchmark: round-trip latency (p50/p99 of `tools/call echo`) and a 1 MB response, directly
 * against a Streamable HTTP MCP server and through `mcp-watchdog serve --url`, printed as ratios.
 * Targets: p50 ≤ 1.5× and 1 MB ≤ 2× direct. Servers: server-everything (a real SDK server) for
 * the latency target, and the HTTP test fixture (answers in microseconds, so its ratio is the
 * harshest; it also serves the 1 MB result), each in its own process.
 *
 * usage: deno run -A scripts/bench_http.ts [--iterations N] [--block N] [--warmup N] [--big N] [--json]
 * (`scripts/bench.ts` calls {@link benchHttp}.)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createHttp1Fetch } from "../src/adapters/http1_fetch.ts";
import {
  freePort,
  type RunningProcess,
  startEverything,
  startListening,
  startServe,
} from "../tests/fixtures/flaky_http_server.ts";

/** Figures for one target. */
export interface HttpFigures {
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** Median time of a 1 MB tools/call response (NaN when not measured). */
  readonly big_ms: number;
}

/** The benchmark's result. */
export interface HttpBenchResult {
  /** The fixture server (answers in microseconds: the hardest ratio). */
  readonly direct: HttpFigures;
  readonly serve: HttpFigures;
  readonly p50_ratio: number;
  readonly p99_ratio: number;
  readonly big_ratio: number;
  /** A pass-through HTTP proxy that parses nothing, in front of the fixture: the cost of any hop. */
  readonly floor: HttpFigures;
  /** server-everything (a real SDK server under Deno), round trips of its echo tool. */
  readonly everything?: {
    readonly direct: HttpFigures;
    readonly serve: HttpFigures;
    /** The pass-through that parses nothing, in front of server-everything. */
    readonly floor: HttpFigures;
    readonly p50_ratio: number;
    readonly p99_ratio: number;
  };
  /** p50 within 1.5x (against server-everything when measured, else the fixture) and 1 MB within 2x. */
  readonly ok: boolean;
}

/** Calls per target before the next target's turn (see {@link sample}). */
const BLOCK = 250;

/** Untimed calls per target first (see {@link sample}). */
const WARMUP = 2000;

const FIXTURE = new URL("../tests/fixtures/flaky_http_server.ts", import.meta.url).pathname;
const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

async function startFixture(): Promise<RunningProcess> {
  const port = freePort();
  return await startListening(
    [Deno.execPath(), "run", "-A", FIXTURE, "--port", String(port)],
    port,
    /flaky MCP server on/,
  );
}

async function rpc(
  url: string,
  sid: string | null,
  body: unknown,
): Promise<{ sid: string | null; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      ...HEADERS,
      ...(sid ? { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" } : {}),
    },
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

/** One MCP session on a target, for timed tool calls. */
interface Target {
  readonly times: number[];
  readonly bigs: number[];
  call(name: string, args: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

async function openTarget(url: string): Promise<Target> {
  const init = await rpc(url, null, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "bench", version: "1" },
    },
  });
  const sid = init.sid;
  await rpc(url, sid, { jsonrpc: "2.0", method: "notifications/initialized" });
  let id = 1;
  return {
    times: [],
    bigs: [],
    call: async (name, args) =>
      (await rpc(url, sid, {
        jsonrpc: "2.0",
        id: id++,
        method: "tools/call",
        params: { name, arguments: args },
      })).text,
    close: async () => {
      const r = await fetch(url, { method: "DELETE", headers: { "mcp-session-id": sid ?? "" } });
      await r.body?.cancel();
    },
  };
}

/**
 * Time the targets in alternating blocks, so that load changes on the machine hit every target
 * alike (a shared CI box is rarely quiet). A block is a short session of {@link BLOCK} calls, as
 * the stdio benchmark runs each setup for a whole session: with blocks of 25 every switch left
 * the gateway's process cold (the other processes had run in between), and p50 measured how
 * fast a cold process warms up rather than what a hop costs (`serve` 1.8× direct with blocks of
 * 25, 1.4× with blocks of 250, in the same hour). `--block N` measures the other way.
 *
 * The first {@link WARMUP} calls of each target (whole blocks, alternating as well) are not timed:
 * a proxy that runs all day is measured, not one still being compiled. V8 in the gateway was still
 * optimising after the first thousand calls (404 functions optimised over calls 1–3000, 81 over
 * 3001–6000, 40 over 6001–9000), and the servers warm up as well.
 */
async function sample(
  o: { block: number; warmup: number },
  targets: readonly Target[],
  echo: Record<string, unknown>,
  iterations: number,
  bigRuns: number,
  bigBytes: number,
): Promise<HttpFigures[]> {
  const block = o.block;
  for (let done = -o.warmup; done < iterations; done += block) {
    for (const t of targets) {
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await t.call("echo", echo);
        if (done >= 0) t.times.push(performance.now() - t0);
      }
    }
  }
  if (bigRuns > 0) { for (const t of targets) await t.call("big", { bytes: bigBytes }); }
  for (let i = 0; i < bigRuns; i++) {
    for (const t of targets) {
      const t0 = performance.now();
      const text = await t.call("big", { bytes: bigBytes });
      t.bigs.push(performance.now() - t0);
      if (text.length < bigBytes) throw new Error("short 1 MB response");
    }
  }
  return targets.map((t) => {
    t.times.sort((a, b) => a - b);
    t.bigs.sort((a, b) => a - b);
    return {
      p50_ms: round(pct(t.times, 0.5)),
      p99_ms: round(pct(t.times, 0.99)),
      big_ms: t.bigs.length ? round(pct(t.bigs, 0.5)) : NaN,
    };
  });
}

/** server-everything direct vs through serve (echo round trips only). */
async function benchEverything(
  iterations: number,
  o: { block: number; warmup: number },
  state: string,
) {
  await using ev = await startEverything();
  await using gw = await startServe(["--state-dir", state, "--quiet", "--url", ev.url]);
  await using pass = await startPassThrough(ev.url);
  const targets = [
    await openTarget(ev.url),
    await openTarget(gw.url),
    await openTarget(pass.url),
  ];
  const [direct, serve, floor] = await sample(
    o,
    targets,
    { message: "hello" },
    iterations,
    0,
    0,
  );
  for (const t of targets) await t.close();
  return {
    direct,
    serve,
    floor,
    p50_ratio: round(serve.p50_ms / direct.p50_ms),
    p99_ratio: round(serve.p99_ms / direct.p99_ms),
  };
}

/** Run the HTTP benchmark (fixture server, then direct and through `serve`). */
export async function benchHttp(
  o: {
    iterations?: number;
    block?: number;
    warmup?: number;
    bigRuns?: number;
    bigBytes?: number;
    everything?: boolean;
  } = {},
): Promise<HttpBenchResult> {
  const iterations = o.iterations ?? 1000;
  const timing = { block: o.block ?? BLOCK, warmup: o.warmup ?? WARMUP };
  const bigRuns = o.bigRuns ?? 15;
  const bigBytes = o.bigBytes ?? 1_000_000;
  await using server = await startFixture();
  const state = await Deno.makeTempDir({ prefix: "mcp-watchdog-bench-" });
  try {
    await using gw = await startServe(["--state-dir", state, "--quiet", "--url", server.url]);
    await using pass = await startPassThrough(server.url);
    const targets = [
      await openTarget(server.url),
      await openTarget(gw.url),
      await openTarget(pass.url),
    ];
    const [direct, serve, floor] = await sample(
      timing,
      targets,
      { text: "hello" },
      iterations,
      bigRuns,
      bigBytes,
    );
    for (const t of targets) await t.close();
    const p50_ratio = round(serve.p50_ms / direct.p50_ms);
    const p99_ratio = round(serve.p99_ms / direct.p99_ms);
    const big_ratio = round(serve.big_ms / direct.big_ms);
    const everything = o.everything === false
      ? undefined
      : await benchEverything(iterations, timing, state);
    const p50ok = (everything?.p50_ratio ?? p50_ratio) <= 1.5;
    return {
      direct,
      serve,
      floor,
      p50_ratio,
      p99_ratio,
      big_ratio,
      ...(everything ? { everything } : {}),
      ok: p50ok && big_ratio <= 2,
    };
  } finally {
    await Deno.remove(state, { recursive: true }).catch(() => {});
  }
}

/**
 * The floor: a pass-through HTTP proxy that parses nothing (passes bodies on as bytes, maps no
 * sessions) on the same HTTP stack as `serve` (`Deno.serve` in, the HTTP/1.1 client out).
 * Whatever a proxy hop costs on this machine, this pays too. Bodies are read whole: every answer
 * in this benchmark ends, and a request body passed on as a stream would send the HTTP/1.1 client
 * to the runtime's `fetch` (the floor measured 1.1× `serve` that way).
 */
function servePassThrough(upstream: string, port: number): void {
  const fetch = createHttp1Fetch();
  Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => console.error("pass-through ready") },
    async (req) => {
      const h = new Headers();
      for (
        const k of [
          "content-type",
          "accept",
          "mcp-session-id",
          "mcp-protocol-version",
          "last-event-id",
        ]
      ) {
        const v = req.headers.get(k);
        if (v !== null) h.set(k, v);
      }
      const body = req.method === "POST" ? new Uint8Array(await req.arrayBuffer()) : undefined;
      const res = await fetch(upstream, { method: req.method, headers: h, body });
      const out = new Response(
        res.status === 202 || res.status === 204 ? null : await res.arrayBuffer(),
        { status: res.status },
      );
      for (const k of ["content-type", "mcp-session-id"]) {
        const v = res.headers.get(k);
        if (v !== null) out.headers.set(k, v);
      }
      return out;
    },
  );
}

async function startPassThrough(upstream: string): Promise<RunningProcess> {
  const port = freePort();
  const self = new URL(import.meta.url).pathname;
  return await startListening(
    [Deno.execPath(), "run", "-A", self, "--pass-through", upstream, "--port", String(port)],
    port,
    /pass-through ready/,
  );
}

if (import.meta.main && Deno.args.includes("--pass-through")) {
  const i = Deno.args.indexOf("--pass-through");
  servePassThrough(Deno.args[i + 1], Number(Deno.args[Deno.args.indexOf("--port") + 1]));
} else if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      iterations: { type: "string" },
      big: { type: "string" },
      json: { type: "boolean" },
      "no-everything": { type: "boolean" },
      block: { type: "string" },
      warmup: { type: "string" },
    },
  });
  const r = await benchHttp({
    iterations: values.iterations ? Number(values.iterations) : undefined,
    block: values.block ? Number(values.block) : undefined,
    warmup: values.warmup ? Number(values.warmup) : undefined,
    bigBytes: values.big ? Number(values.big) : undefined,
    everything: !values["no-everything"],
  });
  if (values.json) console.log(JSON.stringify(r));
  else {
    if (r.everything) {
      const e = r.everything;
      console.log(
        `HTTP round trip p50 (server-everything): direct ${e.direct.p50_ms} ms, through serve ${e.serve.p50_ms} ms = ${e.p50_ratio}x (target <= 1.5x)`,
      );
      console.log(
        `HTTP round trip p99 (server-everything): direct ${e.direct.p99_ms} ms, through serve ${e.serve.p99_ms} ms = ${e.p99_ratio}x`,
      );
      console.log(
        `Pass-through floor (server-everything):  p50 ${e.floor.p50_ms} ms = ${
          round(e.floor.p50_ms / e.direct.p50_ms)
        }x direct (serve/floor: p50 ${round(e.serve.p50_ms / e.floor.p50_ms)}x)`,
      );
    }
    console.log(
      `HTTP round trip p50 (fixture):           direct ${r.direct.p50_ms} ms, through serve ${r.serve.p50_ms} ms = ${r.p50_ratio}x`,
    );
    console.log(
      `HTTP round trip p99 (fixture):           direct ${r.direct.p99_ms} ms, through serve ${r.serve.p99_ms} ms = ${r.p99_ratio}x`,
    );
    console.log(
      `Pass-through floor (fixture):            p50 ${r.floor.p50_ms} ms, p99 ${r.floor.p99_ms} ms, 1 MB ${r.floor.big_ms} ms (serve/floor: p50 ${
        round(r.serve.p50_ms / r.floor.p50_ms)
      }x, 1 MB ${round(r.serve.big_ms / r.floor.big_ms)}x)`,
    );
    console.log(
      `1 MB response (fixture):                 direct ${r.direct.big_ms} ms, through serve ${r.serve.big_ms} ms = ${r.big_ratio}x (target <= 2x)`,
    );
    console.log(r.ok ? "HTTP bench: within targets" : "HTTP bench: OUT OF TARGET");
  }
  Deno.exit(r.ok ? 0 : 1);
}
