/**
 * `mcp-watchdog scan [--config FILE] [--client NAME] [--format text|json|sarif] [--timeout MS]`:
 * find the MCP client configs on this machine (or read the given one), start each stdio server
 * briefly with a real MCP client, list its tools, prompts, resources and resource templates, and
 * run them through the same inspection pipeline the proxy uses (every static detector, and the
 * pins the proxy recorded). Prints a report grouped by server, JSON, or SARIF 2.1.0.
 *
 * Scanning never changes anything: pins are read from the state directory but what the scan
 * would pin stays in memory. Servers are started with the original command (a wrapped server is
 * unwrapped for the scan, so that its raw definitions are inspected).
 *
 * Exit code (worst finding at or above `--fail-on`, default `low`): 0 none, 3 low, 4 medium,
 * 5 high, 6 critical; 1 when a given config cannot be read or parsed; 2 for a usage error.
 * A server that fails to start is reported and does not change the exit code.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ResultSchema } from "@modelcontextprotocol/sdk/types.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { openSqliteStateStore, resolveStateDir, STATE_DB_FILE } from "../adapters/state_dir.ts";
import type { AuditRecord } from "../audit.ts";
import {
  CLIENT_NAMES,
  type ClientId,
  ConfigParseError,
  findConfigs,
  maskSecrets,
  originalCommand,
  parseClientConfig,
  parseClientId,
  secretArgs,
  type ServerEntry,
} from "../clients.ts";
import { DEFAULT_CONFIG, type WatchdogConfig } from "../config.ts";
import { buildDetectors } from "../detectors/registry.ts";
import type { JsonRpcMessage } from "../pipeline/detector.ts";
import { Inspector } from "../pipeline/inspector.ts";
import { serverIdentity } from "../proxy/setup.ts";
import { MemoryStore } from "../store/memory_store.ts";
import type { StateStore, StoreRecord } from "../store/store.ts";
import { SEVERITIES, type Severity, severityRank } from "../types.ts";
import { VERSION } from "../version.ts";
import { BUILTIN_RULES } from "../../rules/builtin.gen.ts";
import {
  describeWhere,
  paint,
  sanitize,
  SEVERITY_STYLE,
  STYLE,
  useColor,
} from "../alert_format.ts";
import { toSarif } from "../sarif.ts";
import { EXIT_USAGE, hostInfo, readIfFile, tildify } from "./wrap.ts";
import type { CliIo } from "./io.ts";

/** Exit code for a severity (the worst finding). */
export const SEVERITY_EXIT: Readonly<Record<Severity, number>> = {
  low: 3,
  medium: 4,
  high: 5,
  critical: 6,
};
/** Exit code when a config given with `--config` cannot be read or parsed. */
export const EXIT_ERROR = 1;

const USAGE = `usage: mcp-watchdog scan [--config FILE] [--client NAME] [--format text|json|sarif]
                         [--timeout MS] [--fail-on low|medium|high|critical] [--state-dir DIR] [--deep] [--quiet]
exit code: 0 no findings, 3 low, 4 medium, 5 high, 6 critical (worst finding), 1 config error, 2 usage
`;

/** The raw JSON-RPC responses a server gave to the listing requests, in order. */
export interface CapturedResponse {
  readonly method: string;
  readonly message: JsonRpcMessage;
}

/** What starting and listing one server gave. */
export interface ServerProbe {
  readonly status: "ok" | "failed" | "timeout";
  readonly error?: string;
  readonly durationMs: number;
  readonly serverInfo?: { readonly name?: string; readonly version?: string };
  readonly counts: { tools: number; prompts: number; resources: number; resourceTemplates: number };
  readonly responses: readonly CapturedResponse[];
}

/** Options of {@link probeServer}. */
export interface ProbeOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd?: string;
  readonly timeoutMs: number;
  /** Also read resources and fetch argument-less prompts (`--deep`). */
  readonly deep?: boolean;
}

const MAX_PAGES = 50;
/** With `--deep`, at most this many resources are read and prompts fetched per server. */
const DEEP_MAX = 25;

/**
 * Start one stdio server with the SDK client, list everything it offers and capture the raw
 * responses; always stops the server. Never throws.
 */
export async function probeServer(o: ProbeOptions): Promise<ServerProbe> {
  const started = Date.now();
  const responses: CapturedResponse[] = [];
  const counts = { tools: 0, prompts: 0, resources: 0, resourceTemplates: 0 };
  const pending = new Map<string | number, string>();
  const transport = new StdioClientTransport({
    command: o.command,
    args: [...o.args],
    env: o.env,
    ...(o.cwd ? { cwd: o.cwd } : {}),
    stderr: "pipe",
  });
  let stderrTail = "";
  transport.stderr?.on("data", (chunk: Uint8Array | string) => {
    stderrTail = (stderrTail + String(chunk)).slice(-2000);
  });
  // See every raw message: requests we send (id → method) and the responses to them.
  const send = transport.send.bind(transport);
  transport.send = (msg: JSONRPCMessage, opts?: Parameters<typeof send>[1]) => {
    if ("method" in msg && "id" in msg) pending.set(msg.id, msg.method);
    return send(msg, opts);
  };
  let handler: ((m: JSONRPCMessage, extra?: unknown) => void) | undefined;
  const capture = (m: JSONRPCMessage, extra?: unknown) => {
    if (!("method" in m) && "id" in m && m.id !== undefined && pending.has(m.id) && "result" in m) {
      responses.push({
        method: pending.get(m.id)!,
        message: structuredClone(m) as unknown as JsonRpcMessage,
      });
    }
    handler?.(m, extra);
  };
  Object.defineProperty(transport, "onmessage", {
    configurable: true,
    get: () => (handler ? capture : undefined),
    set: (fn) => {
      handler = fn;
    },
  });
  const client = new Client({ name: "mcp-watchdog-scan", version: VERSION }, { capabilities: {} });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), o.timeoutMs);
  });
  const listed: Record<string, unknown[]> = {};
  const list = async (method: string, key: keyof typeof counts, field: string) => {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await client.request(
        { method, params: cursor ? { cursor } : {} } as never,
        ResultSchema,
      ) as Record<string, unknown>;
      const items = r[field];
      if (Array.isArray(items)) {
        counts[key] += items.length;
        (listed[field] ??= []).push(...items);
      }
      cursor = typeof r.nextCursor === "string" && r.nextCursor ? r.nextCursor : undefined;
      if (!cursor) break;
    }
  };
  // --deep: what the model would read besides definitions, by requests that the protocol
  // defines as reads (resources/read; prompts/get of prompts without required arguments).
  // Tools are never called.
  const readContents = async () => {
    const resources = (listed.resources ?? []).slice(0, DEEP_MAX) as { uri?: unknown }[];
    for (const r of resources) {
      if (typeof r.uri !== "string") continue;
      await client.request(
        { method: "resources/read", params: { uri: r.uri } } as never,
        ResultSchema,
      )
        .catch(() => {});
    }
    const prompts = (listed.prompts ?? []).slice(0, DEEP_MAX) as {
      name?: unknown;
      arguments?: { required?: boolean }[];
    }[];
    for (const p of prompts) {
      if (typeof p.name !== "string" || (p.arguments ?? []).some((a) => a?.required)) continue;
      await client.request(
        { method: "prompts/get", params: { name: p.name } } as never,
        ResultSchema,
      )
        .catch(() => {});
    }
  };
  const work = (async () => {
    await client.connect(transport);
    const caps = client.getServerCapabilities() ?? {};
    if (caps.tools) await list("tools/list", "tools", "tools");
    if (caps.prompts) await list("prompts/list", "prompts", "prompts");
    if (caps.resources) {
      await list("resources/list", "resources", "resources");
      await list("resources/templates/list", "resourceTemplates", "resourceTemplates").catch(
        () => {},
      );
    }
    if (o.deep) await readContents();
    return "done" as const;
  })();
  let status: ServerProbe["status"] = "ok";
  let error: string | undefined;
  try {
    if (await Promise.race([work, timeout]) === "timeout") {
      status = "timeout";
      error = `no complete answer within ${o.timeoutMs} ms`;
    }
  } catch (e) {
    status = "failed";
    error = e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
    work.catch(() => {}); // a late failure after the timeout is already reported
    await client.close().catch(() => {});
    await transport.close().catch(() => {});
  }
  const info = client.getServerVersion();
  const tail = stderrTail.trim().split("\n").slice(-3).join(" | ");
  return {
    status,
    ...(error !== undefined
      ? { error: tail && status !== "ok" ? `${error} (stderr: ${tail})` : error }
      : {}),
    durationMs: Date.now() - started,
    ...(info ? { serverInfo: { name: info.name, version: info.version } } : {}),
    counts,
    responses,
  };
}

/**
 * A store that reads the proxy's state but keeps every write in memory, so that a scan sees the
 * pins without changing them. A namespace is copied on first use.
 */
class ReadThroughStore implements StateStore {
  readonly #base: StateStore;
  readonly #mem = new MemoryStore();
  readonly #copied = new Set<string>();
  constructor(base: StateStore) {
    this.#base = base;
  }
  #ns(ns: string): MemoryStore {
    if (!this.#copied.has(ns)) {
      this.#copied.add(ns);
      for (const r of this.#base.list(ns)) this.#mem.put(ns, r.key, r.value, r.ts);
    }
    return this.#mem;
  }
  get<T = unknown>(ns: string, key: string): StoreRecord<T> | undefined {
    return this.#ns(ns).get<T>(ns, key);
  }
  getMany<T = unknown>(ns: string, keys: readonly string[]): StoreRecord<T>[] {
    return this.#ns(ns).getMany<T>(ns, keys);
  }
  put(ns: string, key: string, value: unknown, ts?: number): void {
    this.#ns(ns).put(ns, key, value, ts);
  }
  putMany(ns: string, entries: readonly { key: string; value: unknown }[], ts?: number): void {
    this.#ns(ns).putMany(ns, entries, ts);
  }
  list<T = unknown>(ns: string, prefix?: string): StoreRecord<T>[] {
    return this.#ns(ns).list<T>(ns, prefix);
  }
  delete(ns: string, prefix?: string): number {
    return this.#ns(ns).delete(ns, prefix);
  }
  deleteKey(ns: string, key: string): boolean {
    return this.#ns(ns).deleteKey(ns, key);
  }
  evict(ns: string, olderThan: number, maxRecords: number): number {
    return this.#ns(ns).evict(ns, olderThan, maxRecords);
  }
  namespaces(prefix?: string): string[] {
    return [...new Set([...this.#base.namespaces(prefix), ...this.#mem.namespaces(prefix)])].sort();
  }
  close(): void {
    this.#mem.close();
    this.#base.close();
  }
}

/**
 * Run the proxy's pipeline over the captured responses of one server: every finding, with what
 * the proxy would have done (outcome in enforce mode). Servers inspected with the same `session`
 * are seen as offered together (cross-server checks such as shadowing).
 */
export async function inspectResponses(
  responses: readonly CapturedResponse[],
  config: WatchdogConfig,
  store: StateStore,
  host: { homeDir?: string; env?: (name: string) => string | undefined } = {},
  session = "scan",
): Promise<AuditRecord[]> {
  const inspector = new Inspector(buildDetectors(config, host), {
    server: serverIdentity(config),
    session,
    store,
    config,
    now: () => Date.now(),
  });
  const records: AuditRecord[] = [];
  for (const r of responses) {
    const msg = structuredClone(r.message);
    const id = msg.id as string | number | null | undefined;
    const result = await inspector.inspect(msg, {
      server: config.serverName,
      direction: "server_to_client",
      method: r.method,
      ...(id !== undefined ? { id } : {}),
    });
    records.push(...result.records);
  }
  return records;
}

/** One server in the report. */
export interface ServerReport {
  readonly name: string;
  readonly client: ClientId;
  readonly config: string;
  readonly line: number;
  readonly project?: string;
  readonly transport: "stdio" | "remote";
  /** The command line, secrets masked. */
  readonly command: string;
  readonly wrapped: boolean;
  readonly status: "ok" | "failed" | "timeout" | "skipped";
  readonly error?: string;
  readonly durationMs?: number;
  readonly serverInfo?: { readonly name?: string; readonly version?: string };
  readonly counts?: ServerProbe["counts"];
  readonly findings: readonly AuditRecord[];
}

/** The whole scan. */
export interface ScanReport {
  readonly tool: "mcp-watchdog";
  readonly version: string;
  readonly scannedAt: string;
  readonly configs: readonly {
    client: ClientId;
    path: string;
    scope: string;
    servers: number;
    error?: string;
  }[];
  readonly servers: readonly ServerReport[];
  readonly summary: {
    readonly servers: number;
    readonly scanned: number;
    readonly failed: number;
    readonly skipped: number;
    readonly findings: Readonly<Record<Severity, number>>;
    readonly worst: Severity | null;
  };
}

function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

/** Expand `${VAR}`, `${VAR:-default}` and `$VAR` from the environment (as Claude Code and Gemini do). */
export function expandEnv(s: string, env: (name: string) => string | undefined): string {
  return s.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]{0,127})(?::-([^}]{0,1024}))?\}|\$([A-Za-z_][A-Za-z0-9_]{0,127})/g,
    (m, a: string | undefined, dflt: string | undefined, b: string | undefined) => {
      const v = env((a ?? b)!);
      return v !== undefined && v !== "" ? v : dflt ?? (a ? "" : m);
    },
  );
}

/** `mcp-watchdog scan`. Returns the exit code. */
export async function runScan(argv: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        client: { type: "string" },
        format: { type: "string" },
        timeout: { type: "string" },
        "fail-on": { type: "string" },
        deep: { type: "boolean" },
        "state-dir": { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.stderr(`mcp-watchdog scan: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const format = (values.format as string | undefined) ?? "text";
  if (!["text", "json", "sarif"].includes(format)) {
    io.stderr(`mcp-watchdog scan: --format must be text, json or sarif\n${USAGE}`);
    return EXIT_USAGE;
  }
  const timeoutMs = values.timeout === undefined ? 30_000 : Number(values.timeout);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    io.stderr(`mcp-watchdog scan: --timeout must be a positive number of milliseconds\n`);
    return EXIT_USAGE;
  }
  const failOn = (values["fail-on"] as string | undefined) ?? "low";
  if (!(SEVERITIES as readonly string[]).includes(failOn)) {
    io.stderr(`mcp-watchdog scan: --fail-on must be one of ${SEVERITIES.join(", ")}\n`);
    return EXIT_USAGE;
  }
  let client: ClientId | undefined;
  if (typeof values.client === "string") {
    client = parseClientId(values.client);
    if (!client) {
      io.stderr(`mcp-watchdog scan: unknown client '${values.client}'\n${USAGE}`);
      return EXIT_USAGE;
    }
  }
  const quiet = values.quiet === true;
  const progress = (s: string) => {
    if (!quiet) io.stderr(s);
  };
  const rt = io.runtime;
  const config = typeof values.config === "string"
    ? (values.config.startsWith("/") || /^[A-Za-z]:[\\/]/.test(values.config)
      ? values.config
      : `${io.cwd}/${values.config}`)
    : undefined;
  const found = findConfigs(hostInfo(io), (p) => readIfFile(rt, p), {
    ...(config ? { config } : {}),
    ...(client ? { client } : {}),
  });
  if (config && found.length === 0) {
    io.stderr(`mcp-watchdog scan: cannot read ${config}\n`);
    return EXIT_ERROR;
  }

  // Pins: read the proxy's state when it exists, never write it.
  const stateDir = resolveStateDir({
    flag: values["state-dir"] as string | undefined,
    env: io.env,
    home: io.home,
  });
  let store: StateStore = new MemoryStore();
  if (rt.statSync(`${stateDir}/${STATE_DB_FILE}`)?.isFile) {
    try {
      store = new ReadThroughStore(openSqliteStateStore(stateDir));
    } catch (e) {
      progress(
        `mcp-watchdog scan: pins not checked (${e instanceof Error ? e.message : String(e)})\n`,
      );
    }
  }

  const configs: {
    client: ClientId;
    path: string;
    scope: string;
    servers: number;
    error?: string;
  }[] = [];
  const entries: { entry: ServerEntry; secrets: string[] }[] = [];
  let configError = false;
  for (const f of found) {
    try {
      const parsed = parseClientConfig(f.text, f.location);
      configs.push({
        client: f.location.client,
        path: f.location.path,
        scope: f.location.scope,
        servers: parsed.servers.length,
      });
      for (const entry of parsed.servers) {
        entries.push({ entry, secrets: [...parsed.secrets, ...secretArgs(entry.args)] });
      }
    } catch (e) {
      const error = e instanceof ConfigParseError ? e.message : String(e);
      configs.push({
        client: f.location.client,
        path: f.location.path,
        scope: f.location.scope,
        servers: 0,
        error,
      });
      progress(`mcp-watchdog scan: cannot parse ${tildify(f.location.path, io.home)}: ${error}\n`);
      if (config) configError = true;
    }
  }

  const fullEnv = rt.envObject();
  const toScan = entries.filter(({ entry }) => entry.transport === "stdio" && !entry.disabled);
  if (toScan.length) {
    progress(
      `mcp-watchdog scan: starting ${toScan.length} server(s) from ${configs.length} config(s)…\n`,
    );
  }
  // The same command line in several configs is started once.
  const probes = new Map<string, Promise<ServerProbe>>();
  let done = 0;
  const probeOf = (entry: ServerEntry): Promise<ServerProbe> => {
    const orig = originalCommand(entry);
    const expand = (s: string) => expandEnv(s, (n) => entry.env[n] ?? fullEnv[n]);
    const env = {
      ...fullEnv,
      ...Object.fromEntries(Object.entries(entry.env).map(([k, v]) => [k, expand(v)])),
    };
    const command = expand(orig.command ?? "");
    const args = orig.args.map(expand);
    const dir = entry.configPath.replace(/[\\/][^\\/]*$/, "");
    // Project servers run in their project (Claude Code `projects[<dir>]`, `.mcp.json` & co).
    const projectDir = entry.project ?? (entry.scope === "project" ? io.cwd : undefined);
    const cwd = entry.cwd === undefined
      ? (projectDir && rt.statSync(projectDir)?.isDirectory ? projectDir : undefined)
      : /^([\\/]|[A-Za-z]:)/.test(entry.cwd)
      ? entry.cwd
      : `${dir}/${entry.cwd}`;
    const key = JSON.stringify([command, args, entry.env, cwd]);
    let p = probes.get(key);
    if (!p) {
      p = limit(() =>
        probeServer({
          command,
          args,
          env,
          ...(cwd ? { cwd } : {}),
          timeoutMs,
          deep: values.deep === true,
        })
      ).then(
        (r) => {
          done++;
          progress(
            `  [${done}/${probes.size}] ${sanitize(entry.name)}: ${
              r.status === "ok"
                ? `${r.counts.tools} tools, ${r.counts.prompts} prompts, ${
                  r.counts.resources + r.counts.resourceTemplates
                } resources`
                : r.status
            } (${(r.durationMs / 1000).toFixed(1)} s)\n`,
          );
          return r;
        },
      );
      probes.set(key, p);
    }
    return p;
  };
  const limit = concurrency(4);
  const reports: ServerReport[] = [];
  try {
    const results = await Promise.all(entries.map(async ({ entry, secrets }) => {
      const orig = originalCommand(entry);
      const shown = entry.transport === "remote"
        ? maskSecrets(entry.url ?? "", secrets)
        : maskSecrets([orig.command ?? "", ...orig.args].map(quoteArg).join(" "), secrets);
      const base = {
        name: entry.name,
        client: entry.client,
        config: entry.configPath,
        line: entry.line,
        ...(entry.project !== undefined ? { project: entry.project } : {}),
        transport: entry.transport,
        command: shown.length > 160 ? shown.slice(0, 159) + "…" : shown,
        wrapped: orig !== entry,
      };
      if (entry.transport !== "stdio" || entry.disabled) {
        return {
          ...base,
          status: "skipped" as const,
          error: entry.disabled ? "disabled in the config" : "remote server (not started by scan)",
          findings: [],
        };
      }
      const probe = await probeOf(entry);
      const cfg: WatchdogConfig = {
        ...DEFAULT_CONFIG,
        mode: "enforce",
        serverName: entry.name,
        serverCommand: [orig.command ?? "", ...orig.args],
      };
      // Servers of one config (one client, one project) are seen together by the model.
      const session = `scan:${entry.configPath}#${entry.project ?? ""}`;
      const findings = await inspectResponses(probe.responses, cfg, store, {
        homeDir: io.home,
        env: io.env,
      }, session);
      return {
        ...base,
        status: probe.status,
        ...(probe.error !== undefined ? { error: maskSecrets(probe.error, secrets) } : {}),
        durationMs: probe.durationMs,
        ...(probe.serverInfo ? { serverInfo: probe.serverInfo } : {}),
        counts: probe.counts,
        findings: findings.map((f) => ({ ...f, excerpt: maskSecrets(f.excerpt, secrets) })),
      };
    }));
    reports.push(...results);
  } finally {
    store.close();
  }

  const counts: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const r of reports) for (const f of r.findings) counts[f.severity]++;
  const worst = SEVERITIES.find((s) => counts[s] > 0) ?? null;
  const report: ScanReport = {
    tool: "mcp-watchdog",
    version: VERSION,
    scannedAt: new Date().toISOString(),
    configs,
    servers: reports,
    summary: {
      servers: reports.length,
      scanned: reports.filter((r) => r.status === "ok").length,
      failed: reports.filter((r) => r.status === "failed" || r.status === "timeout").length,
      skipped: reports.filter((r) => r.status === "skipped").length,
      findings: counts,
      worst,
    },
  };

  if (format === "json") io.stdout(JSON.stringify(report, null, 2) + "\n");
  else if (format === "sarif") io.stdout(JSON.stringify(sarifOf(report, io.cwd), null, 2) + "\n");
  else {io.stdout(
      renderText(report, { color: useColor(io.stdoutIsTerminal ?? false, io.env), home: io.home }),
    );}

  if (configError) return EXIT_ERROR;
  const threshold = severityRank(failOn as Severity);
  const worstAbove = SEVERITIES.find((s) => counts[s] > 0 && severityRank(s) >= threshold);
  return worstAbove ? SEVERITY_EXIT[worstAbove] : 0;
}

function concurrency(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** The SARIF log of a scan report. */
export function sarifOf(report: ScanReport, baseDir?: string): ReturnType<typeof toSarif> {
  return toSarif(
    report.servers.flatMap((s) =>
      s.findings.map((record) => ({
        record,
        artifact: s.config,
        line: s.line,
        client: CLIENT_NAMES[s.client],
      }))
    ),
    [
      ...report.configs.filter((c) => c.error).map((c) => ({
        level: "error" as const,
        message: `cannot parse ${c.path}: ${c.error}`,
        artifact: c.path,
      })),
      ...report.servers.filter((s) => s.status === "failed" || s.status === "timeout").map((s) => ({
        level: "warning" as const,
        message: `server "${s.name}" could not be scanned: ${s.error ?? s.status}`,
        artifact: s.config,
        line: s.line,
      })),
    ],
    {
      version: report.version,
      ...(baseDir ? { baseDir } : {}),
      rules: BUILTIN_RULES.map((r) => ({
        id: r.id,
        title: r.title,
        message: r.message,
        severity: r.severity,
        references: r.references ?? [],
        family: r.family,
        layer: r.layer,
      })),
    },
  );
}

const OUTCOME_WOULD: Readonly<Record<string, string>> = {
  blocked: "proxy would block",
  stripped: "proxy would neutralise",
  redacted: "proxy would redact",
  alerted: "proxy would alert",
};

/** The human-readable report. */
export function renderText(report: ScanReport, o: { color: boolean; home: string }): string {
  const c = o.color;
  const out: string[] = [];
  if (report.servers.length === 0) {
    out.push(
      report.configs.length === 0
        ? "No MCP client config found. Give one with --config FILE."
        : "No MCP servers in the configs found.",
    );
  }
  const byConfig = new Map<string, ServerReport[]>();
  for (const s of report.servers) byConfig.set(s.config, [...(byConfig.get(s.config) ?? []), s]);
  for (const cfg of report.configs) {
    if (cfg.error) {
      out.push(`${paint(STYLE.bold, CLIENT_NAMES[cfg.client], c)}  ${tildify(cfg.path, o.home)}`);
      out.push(`  ${paint(STYLE.red, "cannot parse", c)}: ${sanitize(cfg.error)}`, "");
      continue;
    }
    const servers = byConfig.get(cfg.path) ?? [];
    if (servers.length === 0) continue;
    out.push(
      `${paint(STYLE.bold, CLIENT_NAMES[cfg.client], c)}  ${
        paint(STYLE.dim, tildify(cfg.path, o.home), c)
      }`,
    );
    for (const s of servers) {
      const what = s.status === "ok"
        ? paint(
          STYLE.dim,
          `${s.counts!.tools} tools, ${s.counts!.prompts} prompts, ${
            s.counts!.resources + s.counts!.resourceTemplates
          } resources`,
          c,
        )
        : s.status === "skipped"
        ? paint(STYLE.dim, `skipped: ${s.error}`, c)
        : paint(
          STYLE.red,
          `${s.status === "timeout" ? "timed out" : "failed to start"}: ${sanitize(s.error ?? "")}`,
          c,
        );
      const name = `${sanitize(s.name)}${
        s.project !== undefined ? ` (project ${sanitize(s.project)})` : ""
      }`;
      const mark = s.status === "ok"
        ? (s.findings.length ? paint(STYLE.red, "!", c) : paint(STYLE.green, "✓", c))
        : s.status === "skipped"
        ? "-"
        : paint(STYLE.red, "✗", c);
      out.push(
        `  ${mark} ${paint(STYLE.bold, name, c)}${
          s.wrapped ? paint(STYLE.green, " [wrapped]", c) : ""
        }  ${paint(STYLE.dim, sanitize(s.command), c)}`,
      );
      out.push(`      ${what}`);
      const sorted = [...s.findings].sort((a, b) =>
        severityRank(b.severity) - severityRank(a.severity) || a.path.localeCompare(b.path)
      );
      for (const f of sorted) {
        const sev = paint(SEVERITY_STYLE[f.severity], f.severity.toUpperCase().padEnd(8), c);
        out.push(
          `      ${sev} ${f.rule}  ${describeWhere(f)}  ${
            paint(STYLE.dim, `(${OUTCOME_WOULD[f.action] ?? f.action})`, c)
          }`,
        );
        out.push(`               ${sanitize(f.message)}`);
        if (f.excerpt) {
          out.push(`               ${paint(STYLE.dim, `excerpt: ${sanitize(f.excerpt)}`, c)}`);
        }
      }
    }
    out.push("");
  }
  const sm = report.summary;
  const sevs = SEVERITIES.map((s) =>
    paint(
      sm.findings[s] ? SEVERITY_STYLE[s] : "",
      `${sm.findings[s]} ${s}`,
      c && sm.findings[s] > 0,
    )
  )
    .join(", ");
  out.push(
    `${sm.servers} server(s): ${sm.scanned} scanned, ${sm.failed} failed, ${sm.skipped} skipped. Findings: ${sevs}.`,
  );
  if (sm.worst) out.push("Protect these servers with: mcp-watchdog wrap   (review findings first)");
  return out.join("\n") + "\n";
}
