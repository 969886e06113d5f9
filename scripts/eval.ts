/**
 * `deno task eval [corpus.jsonl]`: replays a labelled corpus through the real proxy
 * (`deno run -A cli.ts --audit-log <tmp> -- <replay server>`) and scores what reached the client:
 * recall on malicious items per attack class and per kind (an item counts when the proxy changed,
 * withheld or refused it, or logged a finding about it), and for benign items the share that was
 * modified or blocked (corrupted: the worst outcome) and the share that raised any alert (noise).
 *
 * The corpus format is described in `../shared/corpus/README.md`; items are served by
 * `tests/fixtures/replay_server.ts` where their `kind` says they travel.
 *
 * usage: deno task eval [CORPUS.jsonl] [--json] [--verbose] [--mode enforce|monitor]
 *                       [--direct] [-- EXTRA PROXY OPTIONS...]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { LineFramer } from "../src/proxy/framing.ts";
import { type CorpusItem, parseCorpus } from "../tests/fixtures/replay_server.ts";

/** Absolute path of the project root. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));
/** The default corpus, relative to the project root (as the corpus README asks). */
export const DEFAULT_CORPUS = "../shared/corpus/dev.jsonl";

/** What the proxy did to one item, as seen by the client and the audit log. */
export interface ItemVerdict {
  /** `blocked`: refused, withheld or timed out; `modified`: content differs; null: untouched. */
  readonly acted: "blocked" | "modified" | null;
  /** Whether the audit log holds a finding about the item. */
  readonly alerted: boolean;
  /** Rules that fired on the item (from the audit log). */
  readonly rules: readonly string[];
}

/** One line of the score table. */
export interface Row {
  n: number;
  /** Items modified or blocked. */
  acted: number;
  /** Items acted on or alerted. */
  flagged: number;
}

/** The outcome of an evaluation. */
export interface EvalReport {
  /** `malicious`, `benign`, `malicious/<class>`, `malicious/<kind>`, `benign/<kind>`. */
  readonly rows: Record<string, Row>;
  /** Recall on malicious items (flagged), in percent. */
  readonly recall: number;
  /** Benign items modified or blocked, in percent. */
  readonly benignActed: number;
  /** Benign items acted on or alerted, in percent. */
  readonly benignFlagged: number;
  /** Ids of malicious items nothing happened to. */
  readonly missed: readonly string[];
  /** Ids of benign items that were modified or blocked, with the rules. */
  readonly benignActedOn: readonly { id: string; rules: readonly string[] }[];
  /** Ids of benign items that only raised an alert, with the rules. */
  readonly benignAlerted: readonly { id: string; rules: readonly string[] }[];
  /** Per rule: how many malicious and benign items it fired on. */
  readonly perRule: Record<string, { malicious: number; benign: number }>;
}

const pct = (a: number, n: number): number => (n ? Math.round((1000 * a) / n) / 10 : 0);

/**
 * Score verdicts against the labels.
 *
 * @example
 * ```ts
 * const r = score([{ id: "a", kind: "prompt", label: "benign", text: "hi" }], [{ acted: null, alerted: false, rules: [] }]);
 * r.benignActed; // 0
 * ```
 */
export function score(items: readonly CorpusItem[], verdicts: readonly ItemVerdict[]): EvalReport {
  const rows: Record<string, Row> = {};
  const bump = (k: string, acted: boolean, flagged: boolean) => {
    const r = rows[k] ??= { n: 0, acted: 0, flagged: 0 };
    r.n++;
    if (acted) r.acted++;
    if (flagged) r.flagged++;
  };
  const missed: string[] = [];
  const benignActedOn: { id: string; rules: readonly string[] }[] = [];
  const benignAlerted: { id: string; rules: readonly string[] }[] = [];
  const perRule: Record<string, { malicious: number; benign: number }> = {};
  items.forEach((it, i) => {
    const v = verdicts[i] ?? { acted: "blocked", alerted: false, rules: [] };
    const acted = v.acted !== null;
    const flagged = acted || v.alerted;
    bump(it.label, acted, flagged);
    bump(`${it.label}/${it.kind}`, acted, flagged);
    if (it.label === "malicious") {
      bump(`malicious/${it.attack_class ?? "unknown"}`, acted, flagged);
      if (!flagged) missed.push(it.id);
    } else if (acted) benignActedOn.push({ id: it.id, rules: v.rules });
    else if (flagged) benignAlerted.push({ id: it.id, rules: v.rules });
    for (const rule of new Set(v.rules)) {
      const c = perRule[rule] ??= { malicious: 0, benign: 0 };
      c[it.label === "malicious" ? "malicious" : "benign"]++;
    }
  });
  const m = rows.malicious ?? { n: 0, acted: 0, flagged: 0 };
  const b = rows.benign ?? { n: 0, acted: 0, flagged: 0 };
  return {
    rows,
    recall: pct(m.flagged, m.n),
    benignActed: pct(b.acted, b.n),
    benignFlagged: pct(b.flagged, b.n),
    missed,
    benignActedOn,
    benignAlerted,
    perRule,
  };
}

/** The report as a human-readable table; the last line is `recall=… benign_acted=… benign_flagged=…`. */
export function formatReport(r: EvalReport, verbose = false): string {
  const lines: string[] = [];
  const order = (k: string) => (k.startsWith("malicious") ? 0 : 1);
  const keys = Object.keys(r.rows).sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  lines.push(
    `${"group".padEnd(34)} ${"n".padStart(4)}  ${"acted".padStart(7)}  ${"flagged".padStart(7)}`,
  );
  for (const k of keys) {
    const row = r.rows[k];
    lines.push(
      `${k.padEnd(34)} ${String(row.n).padStart(4)}  ${
        pct(row.acted, row.n).toFixed(1).padStart(6)
      }%  ${pct(row.flagged, row.n).toFixed(1).padStart(6)}%`,
    );
  }
  lines.push("");
  lines.push("per rule (items fired on: malicious / benign):");
  for (
    const [rule, c] of Object.entries(r.perRule).sort((a, b) => b[1].malicious - a[1].malicious)
  ) {
    lines.push(`  ${rule.padEnd(40)} ${String(c.malicious).padStart(4)} / ${c.benign}`);
  }
  const list = (xs: readonly { id: string; rules: readonly string[] }[]) =>
    (verbose ? xs : xs.slice(0, 15)).map((x) => `${x.id}(${[...new Set(x.rules)].join(",")})`).join(
      " ",
    );
  lines.push("");
  lines.push(`missed malicious: ${(verbose ? r.missed : r.missed.slice(0, 15)).join(" ")}`);
  lines.push(`benign modified or blocked: ${list(r.benignActedOn)}`);
  lines.push(`benign alerted only: ${list(r.benignAlerted)}`);
  lines.push(
    `recall=${r.recall.toFixed(1)}% benign_acted=${r.benignActed.toFixed(1)}% benign_flagged=${
      r.benignFlagged.toFixed(1)
    }%`,
  );
  return lines.join("\n");
}

type Msg = Record<string, unknown>;

/** A minimal JSON-RPC client over a child process's stdio (answers server requests with `{}`). */
class StdioRpc {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending = new Map<number, (m: Msg | undefined) => void>();
  #nextId = 1;
  #enc = new TextEncoder();
  #reading: Promise<void>;
  stderr = "";
  #stderrDone: Promise<void>;

  constructor(command: readonly string[]) {
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = this.#read();
    this.#stderrDone = (async () => {
      const dec = new TextDecoder();
      for await (const c of child.stderr) {
        if (this.stderr.length < 100_000) this.stderr += dec.decode(c, { stream: true });
      }
    })();
  }

  async #read(): Promise<void> {
    const framer = new LineFramer(256 * 1024 * 1024);
    const dec = new TextDecoder();
    for await (const chunk of this.#child.stdout) {
      for (const f of framer.push(chunk)) {
        if (f.type !== "line") continue;
        let m: Msg;
        try {
          m = JSON.parse(dec.decode(f.bytes));
        } catch {
          continue;
        }
        const id = m.id as number | undefined;
        if (
          id !== undefined && (m.result !== undefined || m.error !== undefined) &&
          this.#pending.has(id)
        ) {
          this.#pending.get(id)!(m);
          this.#pending.delete(id);
        } else if (id !== undefined && typeof m.method === "string") {
          await this.send({ jsonrpc: "2.0", id, result: {} }).catch(() => {});
        }
      }
    }
    for (const resolve of this.#pending.values()) resolve(undefined);
    this.#pending.clear();
  }

  send(m: Msg): Promise<void> {
    return this.#writer.write(this.#enc.encode(JSON.stringify(m) + "\n"));
  }

  /** Send a request; resolves with the response, or undefined on timeout or when the peer exits. */
  async call(method: string, params: Msg, timeoutMs = 30_000): Promise<{ id: number; msg?: Msg }> {
    const id = this.#nextId++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<Msg | undefined>((resolve) => {
      this.#pending.set(id, resolve);
      timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
    });
    await this.send({ jsonrpc: "2.0", id, method, params });
    const msg = await answer;
    clearTimeout(timer);
    return msg ? { id, msg } : { id };
  }

  /** Close stdin, wait for the child (killing it after a grace period) and for the readers. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 3000);
    await this.#child.status;
    clearTimeout(killer);
    await this.#reading.catch(() => {});
    await this.#stderrDone.catch(() => {});
  }
}

const canon = (v: unknown): string => JSON.stringify(v);

/** Options of {@link runEval}. */
export interface EvalOptions {
  /** Path of the corpus (JSONL). */
  readonly corpus: string;
  /** `enforce` (default) or `monitor`. */
  readonly mode?: "enforce" | "monitor";
  /** Extra proxy options, before the `--`. */
  readonly proxyArgs?: readonly string[];
  /** Run the replay server without the proxy (a baseline: everything passes). */
  readonly direct?: boolean;
  /** Per-request timeout. */
  readonly timeoutMs?: number;
}

/**
 * Replay `corpus` through the real proxy and score it. Spawns `deno run -A cli.ts --audit-log
 * <tmp> -- deno run -A tests/fixtures/replay_server.ts <corpus>`; cleans up the temp dir.
 */
export async function runEval(o: EvalOptions): Promise<EvalReport> {
  const items = parseCorpus(await Deno.readTextFile(o.corpus));
  const tmp = await Deno.makeTempDir({ prefix: "mcp-watchdog-eval-" });
  const audit = `${tmp}/audit.jsonl`;
  const deno = Deno.execPath();
  const server = [deno, "run", "--allow-read", `${ROOT}tests/fixtures/replay_server.ts`, o.corpus];
  const command = o.direct ? server : [
    deno,
    "run",
    "-A",
    `${ROOT}cli.ts`,
    "--audit-log",
    audit,
    // A fresh state: pins from an earlier run (or another corpus) must not withhold tools here.
    "--state-dir",
    `${tmp}/state`,
    ...(o.mode ? ["--mode", o.mode] : []),
    ...(o.proxyArgs ?? []),
    "--",
    ...server,
  ];
  const rpc = new StdioRpc(command);
  const t = o.timeoutMs ?? 30_000;
  const acted: ("blocked" | "modified" | null)[] = new Array(items.length).fill(null);
  const byRequest = new Map<number, number>();
  const listPos = new Map<number, number>();
  try {
    const init = await rpc.call("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "mcp-watchdog-eval", version: "1" },
    }, 120_000);
    if (!init.msg?.result) {
      throw new Error(
        `initialize failed: ${JSON.stringify(init.msg ?? "no answer").slice(0, 300)}\n${
          rpc.stderr.slice(-2000)
        }`,
      );
    }
    await rpc.send({ jsonrpc: "2.0", method: "notifications/initialized" });

    const list = await rpc.call("tools/list", {}, t);
    const tools = ((list.msg?.result as Msg | undefined)?.tools ?? []) as Msg[];
    const got = new Map(tools.map((tool, k) => [String(tool.name), { tool, k }]));
    items.forEach((it, i) => {
      if (it.kind !== "tool_description") return;
      const g = got.get(`t${i}`);
      if (g) listPos.set(g.k, i);
      if (!list.msg?.result || !g) {
        acted[i] = "blocked";
        return;
      }
      if (it.meta?.format === "tool_json") {
        let orig: Msg | null = null;
        try {
          orig = JSON.parse(it.text);
        } catch { /* served as a description */ }
        if (orig) {
          const { name: _a, ...rest } = g.tool;
          const { name: _b, ...origRest } = orig;
          if (canon(rest) !== canon(origRest)) acted[i] = "modified";
          return;
        }
      }
      if (g.tool.description !== it.text) acted[i] = "modified";
    });

    for (const [i, it] of items.entries()) {
      if (it.kind === "tool_description") continue;
      let r: { id: number; msg?: Msg };
      let text: string | undefined;
      let orig = it.text;
      if (it.kind === "tool_result") {
        r = await rpc.call("tools/call", { name: "item", arguments: { i } }, t);
        const res = r.msg?.result as Msg | undefined;
        const content = res?.content as Msg[] | undefined;
        if (it.meta?.format === "content_json") {
          text = content ? canon(content[0]) : undefined;
          try {
            orig = canon(JSON.parse(it.text));
          } catch { /* served as text */ }
        } else text = content?.map((c) => String(c.text ?? "")).join("");
        if (res?.isError) text = undefined;
      } else if (it.kind === "resource") {
        r = await rpc.call("resources/read", { uri: `corpus://${i}` }, t);
        const contents = (r.msg?.result as Msg | undefined)?.contents as Msg[] | undefined;
        text = contents?.map((c) => String(c.text ?? "")).join("");
      } else {
        r = await rpc.call("prompts/get", { name: `p${i}` }, t);
        const messages = (r.msg?.result as Msg | undefined)?.messages as Msg[] | undefined;
        text = messages?.map((m) => String((m.content as Msg | undefined)?.text ?? "")).join("");
      }
      byRequest.set(r.id, i);
      acted[i] = !r.msg || r.msg.error || text === undefined
        ? "blocked"
        : text !== orig
        ? "modified"
        : null;
    }
  } finally {
    await rpc.close();
  }

  const rules: string[][] = items.map(() => []);
  let auditText = "";
  try {
    auditText = await Deno.readTextFile(audit);
  } catch { /* no finding at all, or --direct */ }
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  for (const line of auditText.split("\n")) {
    if (!line.trim()) continue;
    let rec: Msg;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof rec.rule !== "string") continue;
    let i: number | undefined;
    const tool = typeof rec.tool === "string" ? /^t(\d+)$/.exec(rec.tool) : null;
    const pos = typeof rec.path === "string"
      ? /^\/result\/tools\/(\d+)(?:\/|$)/.exec(rec.path)
      : null;
    if (rec.method === "tools/list" && tool) i = Number(tool[1]);
    else if (rec.method === "tools/list" && pos) i = listPos.get(Number(pos[1]));
    else if (typeof rec.id === "number" || typeof rec.id === "string") {
      i = byRequest.get(Number(rec.id));
    }
    if (i !== undefined && rules[i]) rules[i].push(rec.rule);
  }
  return score(
    items,
    items.map((_, i) => ({ acted: acted[i], alerted: rules[i].length > 0, rules: rules[i] })),
  );
}

/** Resolve the corpus argument: as given (relative to the cwd), else relative to the project root. */
export function resolveCorpus(arg: string | undefined): string | undefined {
  const candidates = arg ? [arg, `${ROOT}${arg}`] : [DEFAULT_CORPUS, `${ROOT}${DEFAULT_CORPUS}`];
  for (const c of candidates) {
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch { /* try the next */ }
  }
  return undefined;
}

if (import.meta.main) {
  const dd = Deno.args.indexOf("--");
  const own = dd === -1 ? Deno.args : Deno.args.slice(0, dd);
  const proxyArgs = dd === -1 ? [] : Deno.args.slice(dd + 1);
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      mode: { type: "string" },
      direct: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task eval [CORPUS.jsonl] [--json] [--verbose] [--mode enforce|monitor] [--direct] [-- PROXY OPTIONS]",
    );
    Deno.exit(0);
  }
  const corpus = resolveCorpus(positionals[0]);
  if (!corpus) {
    console.error(
      `eval: corpus not found: ${
        positionals[0] ?? DEFAULT_CORPUS
      } (relative to the current directory or the project root).\n` +
        "Pass a labelled JSONL corpus: deno task eval path/to/corpus.jsonl (format: ../shared/corpus/README.md).",
    );
    Deno.exit(2);
  }
  if (values.mode !== undefined && values.mode !== "enforce" && values.mode !== "monitor") {
    console.error(`eval: --mode must be enforce or monitor, got ${values.mode}`);
    Deno.exit(2);
  }
  const report = await runEval({
    corpus,
    ...(values.mode ? { mode: values.mode as "enforce" | "monitor" } : {}),
    ...(values.direct ? { direct: true } : {}),
    proxyArgs,
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report, values.verbose));
}
