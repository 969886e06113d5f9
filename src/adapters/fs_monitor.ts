/**
 * Layer 4, after the fact: watches the file system while a server runs (through the runtime's
 * watcher, injected), reports writes to
 * sensitive locations and outside the declared scope (attributed to the tool call in flight), and
 * protects the MCP client configuration files: they are snapshotted to the state directory at
 * start, a change is reported with a (secret-masked) diff, and `mcp-watchdog restore` puts the
 * snapshot back.
 *
 * Snapshot layout: `<stateDir>/snapshots/<sha256(path)[0:16]>/` holds `meta.json`
 * (`{path}`), versions `v-<ms>-<sha8>.snap` (the file's bytes, mode 0600) and `tainted.json` (the
 * hashes of contents seen changing during a session, never taken as a new baseline).
 *
 * @example
 * ```ts ignore
 * import { FsMonitor, CallTracker } from "./fs_monitor.ts";
 * const calls = new CallTracker();
 * const monitor = new FsMonitor({
 *   server: "fs", home: "/home/u", cwd: "/home/u/proj", stateDir: "/home/u/.mcp-watchdog",
 *   roots: () => ["/home/u/proj"], inFlight: () => calls.inFlight(), report: (f) => console.error(f.message),
 *   watch: (paths, recursive, onEvent) => runtimeWatch(paths, recursive, onEvent),
 * });
 * monitor.start();
 * // … calls.start(id, "write_file") / calls.end(id) from the proxy …
 * monitor.stop();
 * ```
 *
 * @module
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { definitionDiff } from "../detectors/definition_diff.ts";
import { safeExcerpt } from "../audit.ts";
import { sha256Hex, sha256HexBytes } from "../hash.ts";
import { isWithin, normalizePosix } from "../paths.ts";
import { inDeclaredScope, mcpClientConfigFiles, sensitiveLocation } from "../scope.ts";
import type { WatchdogConfig } from "../config.ts";
import {
  declaredScope,
  scopeHostFrom,
  type ScopeHostParts,
  staticScopeRoots,
} from "../detectors/scope.ts";
import type { ServerIdentity } from "../pipeline/detector.ts";
import type { StateStore } from "../store/store.ts";
import type { Finding } from "../types.ts";

/** A tool call the proxy forwarded and has not answered yet (or answered very recently). */
export interface InFlightCall {
  /** JSON-RPC id of the call. */
  readonly id: string | number | null;
  /** Tool name. */
  readonly tool: string;
  /** When the request was forwarded (ms since epoch). */
  readonly since: number;
  /** When its response came back, for calls that just ended. */
  readonly endedAt?: number;
}

/** Never remember more calls in flight than this (a client with that many is already odd). */
const MAX_CALLS = 4096;
/** How many ended calls are remembered for late file events (the newest win attribution). */
const MAX_ENDED = 64;

type Call = { -readonly [K in keyof InFlightCall]: InFlightCall[K] };

/**
 * Tracks the tool calls in flight for attribution. File events arrive a little after the write,
 * often after the response: the most recent ended calls are kept for `graceMs`. Runs on every
 * call, so it stays small: in-flight calls in a map, ended ones in a short ring (a large table
 * of ended calls measurably slowed every round trip through the garbage collector).
 */
export class CallTracker {
  #active = new Map<string | number | null, Call>();
  #ended: Call[] = [];
  #next = 0; // where the next ended call goes in the ring
  /** How long an ended call still gets attributed writes (ms). */
  readonly graceMs: number;
  readonly #now: () => number;

  /** Keep ended calls for `graceMs`; `now` is the clock. */
  constructor(graceMs = 1500, now: () => number = Date.now) {
    this.graceMs = graceMs;
    this.#now = now;
  }

  /** A `tools/call` request was forwarded. */
  start(id: string | number | null, tool: string): void {
    if (this.#active.size >= MAX_CALLS) {
      const oldest = this.#active.keys().next().value;
      if (oldest !== undefined) this.#active.delete(oldest);
    }
    this.#active.set(id, { id, tool, since: this.#now(), endedAt: undefined });
  }

  /** Its response (or error) came back. */
  end(id: string | number | null): void {
    const c = this.#active.get(id);
    if (!c) return;
    this.#active.delete(id);
    c.endedAt = this.#now();
    if (this.#ended.length < MAX_ENDED) this.#ended.push(c);
    else this.#ended[this.#next] = c;
    this.#next = (this.#next + 1) % MAX_ENDED;
  }

  /** How many calls are remembered (in flight or recently ended). */
  get size(): number {
    return this.#active.size + this.#ended.length;
  }

  /** Calls in flight or ended within the grace period, oldest first. */
  inFlight(): InFlightCall[] {
    const now = this.#now();
    const recent = this.#ended.filter((c) => now - c.endedAt! <= this.graceMs);
    return [...recent, ...this.#active.values()].sort((a, b) => a.since - b.since);
  }
}

/** A file-system event as the monitor needs it. */
export interface WatchEvent {
  /** `create`, `modify`, `remove`, `rename`, `access`, `any` or `other`. */
  readonly kind: string;
  /** Absolute paths concerned. */
  readonly paths: readonly string[];
}

/**
 * Start watching `paths` (recursively or not) and call `onEvent` with absolute paths; returns a
 * function that stops (on Deno, its `watchFs(paths, { recursive })`).
 */
export type Watch = (
  paths: readonly string[],
  recursive: boolean,
  onEvent: (e: WatchEvent) => void,
) => () => void;

/** Options of {@link FsMonitor}. */
export interface FsMonitorOptions {
  /** Server display name, for findings. */
  readonly server: string;
  /** The user's home directory. */
  readonly home: string;
  /** The server's working directory (its project config files are protected too). */
  readonly cwd: string;
  /** State directory (snapshots live there; events inside it are ours and ignored). */
  readonly stateDir: string;
  /** The server's declared scope now (allow paths, command-line roots, client roots). */
  readonly roots: () => readonly string[];
  /** Calls in flight, for attribution (see {@link CallTracker}). */
  readonly inFlight: () => readonly InFlightCall[];
  /** Where findings go (the audit sink and stderr). */
  readonly report: (f: Finding) => void;
  /**
   * The runtime's watcher (`watchFs` on Deno, `fs.watch` on Node), injected so that this
   * module runs on both: it must honour `recursive` (a recursive watch of the home is too costly)
   * and report absolute paths.
   */
  readonly watch: Watch;
  /** Config files to protect; defaults to `mcpClientConfigFiles(home, cwd)` (`src/scope.ts`). */
  readonly configFiles?: readonly string[];
  /** Clock (ms). */
  readonly now?: () => number;
}

/** What {@link snapshotConfigs} did for one file. */
export interface SnapshotResult {
  /** The config file. */
  readonly path: string;
  /** A new version saved, same as the newest, seen changing during a session (not saved), or no file. */
  readonly state: "saved" | "unchanged" | "tainted" | "absent";
}

const MAX_VERSIONS = 10;
/** Small folders under the home watched recursively (credentials, client configurations). */
const HOME_DEEP = [
  ".ssh",
  ".aws",
  ".gnupg",
  ".claude",
  ".cursor",
  ".codex",
  ".gemini",
  ".codeium/windsurf",
  ".config/Claude",
  ".config/Code/User",
  ".config/fish",
  "Library/Application Support/Claude",
  "Library/Application Support/Code/User",
];
/** Small client-configuration folders of a project, watched recursively. */
const PROJECT_DEEP = [".vscode", ".cursor", ".claude"];
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** The same path is reported at most once in this many ms (one write makes several events). */
const REPORT_COOLDOWN_MS = 2000;

/** The snapshot folder of a config file. */
export function snapshotDir(stateDir: string, path: string): string {
  return `${stateDir}/snapshots/${sha256Hex(path).slice(0, 16)}`;
}

/** One stored version of a config file. */
export interface SnapshotVersion {
  /** The snapshot file. */
  readonly file: string;
  /** When it was taken (ms since epoch). */
  readonly ts: number;
  /** First 8 hex digits of its SHA-256. */
  readonly sha8: string;
}

/** The versions of a snapshot folder, newest first. */
export function listVersions(dir: string): SnapshotVersion[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: SnapshotVersion[] = [];
  for (const n of names) {
    const m = /^v-(\d+)-([0-9a-f]{8})\.snap$/.exec(n);
    if (m) out.push({ file: `${dir}/${n}`, ts: Number(m[1]), sha8: m[2] });
  }
  return out.sort((a, b) => b.ts - a.ts || (a.file < b.file ? 1 : -1));
}

/** Hashes of contents seen changing during a session (never a new baseline). */
export function readTainted(dir: string): string[] {
  try {
    const v = JSON.parse(readFileSync(`${dir}/tainted.json`, "utf8"));
    return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function readBytes(path: string): Uint8Array | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return undefined;
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Snapshot the existing MCP client config files into `<stateDir>/snapshots/`, as a new version
 * when the content changed since the newest one, unless that content was seen appearing during
 * a session (tainted: an attacker's edit must not become the baseline).
 */
export function snapshotConfigs(
  stateDir: string,
  files: readonly string[],
  now = Date.now(),
): SnapshotResult[] {
  const out: SnapshotResult[] = [];
  for (const path of files) {
    const bytes = readBytes(path);
    if (!bytes) {
      out.push({ path, state: "absent" });
      continue;
    }
    const sha = sha256HexBytes(bytes);
    const dir = snapshotDir(stateDir, path);
    const newest = listVersions(dir)[0];
    if (
      newest && newest.sha8 === sha.slice(0, 8) && sha256HexBytes(readFileSync(newest.file)) === sha
    ) {
      out.push({ path, state: "unchanged" });
      continue;
    }
    if (readTainted(dir).includes(sha)) {
      out.push({ path, state: "tainted" });
      continue;
    }
    privateDir(dir);
    writeFileSync(`${dir}/meta.json`, JSON.stringify({ path }), { mode: 0o600 });
    const file = `${dir}/v-${now}-${sha.slice(0, 8)}.snap`;
    writeFileSync(file, bytes, { mode: 0o600 });
    chmodSync(file, 0o600);
    for (const old of listVersions(dir).slice(MAX_VERSIONS)) rmSync(old.file, { force: true });
    out.push({ path, state: "saved" });
  }
  return out;
}

const SECRET_KEY = /(?:key|token|secret|passw|auth|credential|cookie)/i;

/** Parse as JSON when it is JSON, else keep the text (TOML, JSONC…) for a line diff. */
function asDiffable(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A short diff between two versions of a config file, safe to log: values under secret-looking
 * keys are masked and token-like runs shortened.
 *
 * @example
 * ```ts
 * configDiff('{"mcpServers":{}}', '{"mcpServers":{"x":{"command":"curl"}}}');
 * // ["- mcpServers: {}", "+ mcpServers.x.command: \"curl\""]
 * ```
 */
export function configDiff(before: string | undefined, after: string | undefined): string[] {
  const lines = definitionDiff(
    before === undefined ? undefined : asDiffable(before),
    after === undefined ? "(file removed)" : asDiffable(after),
  );
  return lines.map((l) => {
    const colon = l.indexOf(": ");
    if (colon < 0) return safeExcerpt(l, 240);
    // The key path stays readable; the value is masked (secret keys) or excerpted safely.
    // deno-lint-ignore no-control-regex
    const key = l.slice(0, colon).replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
    if (SECRET_KEY.test(key)) return `${key}: [masked]`;
    return `${key}: ${safeExcerpt(l.slice(colon + 2), 200)}`;
  });
}

/** Watches the file system for one proxied server. */
export class FsMonitor {
  readonly #o: FsMonitorOptions;
  readonly #configs: Set<string>;
  #stops: (() => void)[] = [];
  #lastReport = new Map<string, number>();
  #reportedSha = new Map<string, string>();
  readonly #now: () => number;

  /** A monitor; nothing is watched before {@link FsMonitor.start}. */
  constructor(options: FsMonitorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#configs = new Set(
      (options.configFiles ?? mcpClientConfigFiles(options.home, options.cwd))
        .filter((p) => p.startsWith("/")).map(normalizePosix),
    );
  }

  /** The config files protected. */
  get configFiles(): string[] {
    return [...this.#configs];
  }

  /**
   * What to watch, kept cheap at start-up (a recursive watch of a big project walks every folder,
   * `node_modules` included): the home and each root and working directory not recursively, the
   * small credential and client-configuration folders recursively, and a root's `.git` and
   * `.git/hooks` folders. Missing paths and paths a recursive watch covers are dropped.
   */
  watchPlan(exists: (p: string) => boolean = existsSync): { path: string; recursive: boolean }[] {
    const home = normalizePosix(this.#o.home);
    const plan: { path: string; recursive: boolean }[] = [{ path: home, recursive: false }];
    for (const d of HOME_DEEP) plan.push({ path: `${home}/${d}`, recursive: true });
    for (const c of this.#configs) {
      plan.push({ path: c.slice(0, c.lastIndexOf("/")) || "/", recursive: false });
    }
    for (const r of [...this.#o.roots(), normalizePosix(this.#o.cwd)]) {
      plan.push({ path: r, recursive: false });
      plan.push({ path: `${r}/.git`, recursive: false }, {
        path: `${r}/.git/hooks`,
        recursive: false,
      });
      for (const d of PROJECT_DEEP) plan.push({ path: `${r}/${d}`, recursive: true });
    }
    const seen = new Map<string, boolean>();
    for (const p of plan) {
      if (!exists(p.path)) continue;
      seen.set(p.path, (seen.get(p.path) ?? false) || p.recursive);
    }
    const entries = [...seen];
    const rec = entries.filter(([, r]) => r).map(([p]) => p);
    return entries.filter(([p]) => !rec.some((q) => q !== p && isWithin(p, q)))
      .map(([path, recursive]) => ({ path, recursive }));
  }

  /** Snapshot the config files and start watching. */
  start(): SnapshotResult[] {
    const snaps = snapshotConfigs(this.#o.stateDir, [...this.#configs], this.#now());
    const watch = this.#o.watch;
    const plan = this.watchPlan();
    for (const recursive of [true, false]) {
      const paths = plan.filter((p) => p.recursive === recursive).map((p) => p.path);
      if (paths.length === 0) continue;
      try {
        this.#stops.push(watch(paths, recursive, (e) => this.handle(e)));
      } catch { /* a watch that cannot start leaves the pre-flight checks in place */ }
    }
    return snaps;
  }

  /** Stop watching. */
  stop(): void {
    for (const s of this.#stops) s();
    this.#stops = [];
  }

  /** Handle one event (public for tests and for other watchers). */
  handle(e: WatchEvent): void {
    if (e.kind === "access" || e.kind === "other") return;
    const state = normalizePosix(this.#o.stateDir);
    for (const raw of e.paths) {
      const path = normalizePosix(raw);
      if (isWithin(path, state)) continue;
      if (this.#configs.has(path)) this.#configChanged(path);
      else this.#write(path, e.kind);
    }
  }

  #attribution(): { call?: InFlightCall; all: readonly InFlightCall[] } {
    const all = this.#o.inFlight();
    return { call: all[all.length - 1], all };
  }

  #cooling(path: string): boolean {
    const now = this.#now();
    const last = this.#lastReport.get(path);
    if (last !== undefined && now - last < REPORT_COOLDOWN_MS) return true;
    this.#lastReport.set(path, now);
    if (this.#lastReport.size > 1000) this.#lastReport.clear();
    return false;
  }

  #write(path: string, kind: string): void {
    const hit = sensitiveLocation(path, this.#o.home);
    const roots = this.#o.roots();
    const outside = !hit && roots.length > 0 && !inDeclaredScope(path, roots);
    if (!hit && !outside) return;
    const { call, all } = this.#attribution();
    if (!call && !hit) return; // an unattributed write outside the scope is someone else's
    if (this.#cooling(path)) return;
    const who = call
      ? `during ${this.#o.server}'s ${call.tool} call`
      : "with no tool call in flight";
    this.#o.report({
      layer: "L4-scope",
      rule: hit ? "l4-fs-sensitive-write" : "l4-fs-write-outside-scope",
      severity: hit ? (call ? "critical" : "medium") : "high",
      action: "alert",
      message: hit
        ? `${kind} of ${hit.what} seen ${who}: ${path}`
        : `${kind} outside the declared scope seen ${who}: ${path}`,
      path: "",
      tool: call?.tool,
      evidence: path,
      details: {
        file: path,
        kind,
        server: this.#o.server,
        calls: all.map((c) => ({ id: c.id, tool: c.tool })),
      },
    });
  }

  #configChanged(path: string): void {
    const dir = snapshotDir(this.#o.stateDir, path);
    const newest = listVersions(dir)[0];
    const bytes = readBytes(path);
    const sha = bytes ? sha256HexBytes(bytes) : "absent";
    const before = newest ? readFileSync(newest.file) : undefined;
    if (before && bytes && sha256HexBytes(before) === sha) return; // touched, not changed
    if (!before && !bytes) return;
    if (this.#reportedSha.get(path) === sha) return;
    this.#reportedSha.set(path, sha);
    if (bytes) {
      privateDir(dir);
      const tainted = readTainted(dir);
      if (!tainted.includes(sha)) {
        writeFileSync(`${dir}/tainted.json`, JSON.stringify([...tainted, sha].slice(-50)), {
          mode: 0o600,
        });
        if (!existsSync(`${dir}/meta.json`)) {
          writeFileSync(`${dir}/meta.json`, JSON.stringify({ path }), { mode: 0o600 });
        }
      }
    }
    const dec = new TextDecoder();
    const diff = configDiff(
      before ? dec.decode(before) : undefined,
      bytes ? dec.decode(bytes) : undefined,
    );
    const { call, all } = this.#attribution();
    const who = call
      ? `during ${this.#o.server}'s ${call.tool} call`
      : "with no tool call in flight";
    this.#o.report({
      layer: "L4-scope",
      rule: "l4-mcp-config-changed",
      severity: call ? "critical" : "high",
      action: "alert",
      message: `MCP client configuration ${path} changed ${who}; ` +
        (newest
          ? `undo with: mcp-watchdog restore --state-dir ${this.#o.stateDir} ${path}`
          : "it did not exist at start"),
      path: "",
      tool: call?.tool,
      evidence: path,
      details: {
        file: path,
        diff,
        server: this.#o.server,
        calls: all.map((c) => ({ id: c.id, tool: c.tool })),
      },
    });
  }
}

/** Inputs of {@link startSessionMonitor}: what the proxy set-up already has. */
export interface SessionMonitorOptions {
  /** The proxy's configuration (allow paths, server command). */
  readonly config: WatchdogConfig;
  /** Host facts (the same the detectors get): home, working directory, realPath, isDirectory. */
  readonly host: ScopeHostParts & { readonly homeDir: string; readonly cwd: string };
  /** The state store (client roots learned by the scope detector). */
  readonly store: StateStore;
  /** The client session. */
  readonly session: string;
  /** The guarded server. */
  readonly server: ServerIdentity;
  /** The resolved state directory (snapshots go under it). */
  readonly stateDir: string;
  /** Where findings go: turn them into audit records with outcome `alerted`. */
  readonly report: (f: Finding) => void;
  /** The runtime's watcher (see {@link FsMonitorOptions.watch}). */
  readonly watch: Watch;
}

/** A running session monitor. */
export interface SessionMonitor {
  /** Feed it: `calls.start(id, tool)` when a tools/call is forwarded, `calls.end(id)` on its answer. */
  readonly calls: CallTracker;
  /** The monitor itself. */
  readonly monitor: FsMonitor;
  /** What the start-up snapshot did per config file. */
  readonly snapshots: readonly SnapshotResult[];
  /** Stop watching. */
  stop(): void;
}

/**
 * Snapshot the MCP client configs and watch the file system for one proxied server, with the
 * same declared scope as the Layer 4 detector (allow paths, command-line roots, client roots).
 *
 * @example
 * ```ts ignore
 * const m = startSessionMonitor({ config, host, store, session, server, stateDir, report });
 * // in the session: m.calls.start(id, tool) / m.calls.end(id); on exit: m.stop()
 * ```
 */
export function startSessionMonitor(o: SessionMonitorOptions): SessionMonitor {
  const host = scopeHostFrom(o.host);
  const fixed = staticScopeRoots(o.config, host);
  const calls = new CallTracker();
  const monitor = new FsMonitor({
    server: o.server.name,
    home: o.host.homeDir,
    cwd: o.host.cwd,
    stateDir: o.stateDir,
    roots: () => declaredScope(fixed, o.store, o.session, o.server.key),
    configFiles: mcpClientConfigFiles(o.host.homeDir, o.host.cwd, host.env),
    inFlight: () => calls.inFlight(),
    report: o.report,
    watch: o.watch,
  });
  const snapshots = monitor.start();
  return { calls, monitor, snapshots, stop: () => monitor.stop() };
}
