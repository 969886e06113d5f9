/**
 * `mcp-watchdog wrap` and `mcp-watchdog unwrap`: rewrite MCP client configs so that every stdio
 * server runs through mcp-watchdog, and back.
 *
 * A wrapped server keeps everything of its entry (env, cwd, unknown keys, comments) except that
 * `command` becomes `mcp-watchdog` and `args` becomes `["--name", <name>, "--", <original
 * command>, ...<original args>]`. The edits are minimal text edits (JSONC comments and TOML
 * layout survive), wrapping twice changes nothing, and unwrap puts the original command back
 * byte for byte. Before a file is changed, its previous content is saved next to it as
 * `<file>.mcp-watchdog-backup`; a diff (secrets masked) shows what changed.
 *
 * @example
 * ```ts ignore
 * import { runWrap } from "./wrap.ts";
 * await runWrap(["--client", "cursor", "--dry-run"], io);
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import {
  CLIENT_IDS,
  CLIENT_NAMES,
  type ClientId,
  ConfigParseError,
  DEFAULT_WATCHDOG,
  findConfigs,
  type FoundConfig,
  type HostInfo,
  maskSecrets,
  parseClientConfig,
  parseClientId,
  planUnwrap,
  planWrap,
  secretArgs,
  type ServerEntry,
  type WatchdogCommand,
  wrappedSeparator,
} from "../clients.ts";
import { applyEdits, type TextEdit } from "../jsonc.ts";
import { paint, STYLE, useColor } from "../alert_format.ts";
import type { Runtime } from "../adapters/runtime.ts";

import type { CliIo } from "./io.ts";

export type { CliIo } from "./io.ts";

/** Exit code for a command line that cannot be used. */
export const EXIT_USAGE = 2;

/** The host facts of the CLI's machine, for {@link findConfigs}. */
export function hostInfo(io: CliIo): HostInfo {
  const p = process.platform;
  return {
    home: io.home,
    cwd: io.cwd,
    platform: p === "darwin" ? "darwin" : p === "win32" ? "windows" : "linux",
    env: (n) => io.env(n),
  };
}

/** Read a file's text, or undefined when it is missing or not a file. */
export function readIfFile(rt: Runtime, path: string): string | undefined {
  const st = rt.statSync(path);
  if (!st?.isFile) return undefined;
  try {
    return rt.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Shorten a path under the home directory to `~/…` for display. */
export function tildify(path: string, home: string): string {
  return home && path.startsWith(home + "/") ? "~" + path.slice(home.length) : path;
}

const USAGE =
  `usage: mcp-watchdog wrap   [--client NAME] [--config FILE] [--server NAME]... [--command CMD] [--dry-run] [-- PROXY-OPTIONS...]
       mcp-watchdog unwrap [--client NAME] [--config FILE] [--server NAME]... [--dry-run]
clients: ${CLIENT_IDS.join(", ")}
`;

interface Plan {
  readonly found: FoundConfig;
  readonly servers: readonly ServerEntry[];
  readonly secrets: readonly string[];
  readonly edits: TextEdit[];
  readonly notes: string[];
  readonly changed: string[];
  /** The entries that the edits rewrite. */
  readonly touched: Set<string>;
  readonly watchdog: WatchdogCommand;
}

/** `mcp-watchdog wrap`. Returns the exit code (0 done or nothing to do, 1 a file failed, 2 usage). */
export function runWrap(args: string[], io: CliIo): Promise<number> {
  return rewrite("wrap", args, io);
}

/** `mcp-watchdog unwrap`. Returns the exit code. */
export function runUnwrap(args: string[], io: CliIo): Promise<number> {
  return rewrite("unwrap", args, io);
}

async function rewrite(mode: "wrap" | "unwrap", argv: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  // `wrap [options] -- <proxy options>`: options for the proxy on every wrapped server.
  const dd = argv.indexOf("--");
  const extra = mode === "wrap" && dd >= 0 ? argv.slice(dd + 1) : [];
  if (extra.includes("--")) {
    io.stderr(`mcp-watchdog ${mode}: proxy options after '--' cannot contain '--'\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    ({ values } = parseArgs({
      args: dd >= 0 ? argv.slice(0, dd) : argv,
      options: {
        client: { type: "string" },
        config: { type: "string" },
        server: { type: "string", multiple: true },
        command: { type: "string" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.stderr(`mcp-watchdog ${mode}: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  let client: ClientId | undefined;
  if (typeof values.client === "string") {
    client = parseClientId(values.client);
    if (!client) {
      io.stderr(`mcp-watchdog ${mode}: unknown client '${values.client}'\n${USAGE}`);
      return EXIT_USAGE;
    }
  }
  const base: WatchdogCommand = typeof values.command === "string"
    ? (() => {
      const words = values.command.trim().split(/\s+/);
      return { command: words[0], args: words.slice(1) };
    })()
    : DEFAULT_WATCHDOG;
  const watchdog: WatchdogCommand = { command: base.command, args: [...base.args, ...extra] };
  const only = new Set((values.server as string[] | undefined) ?? []);
  const dry = values["dry-run"] === true;
  const color = useColor(io.stdoutIsTerminal ?? false, io.env);
  const rt = io.runtime;
  const config = typeof values.config === "string"
    ? (values.config.startsWith("/") ? values.config : `${io.cwd}/${values.config}`)
    : undefined;

  const found = findConfigs(hostInfo(io), (p) => readIfFile(rt, p), {
    ...(config ? { config } : {}),
    ...(client ? { client } : {}),
  });
  if (found.length === 0) {
    io.stderr(
      config
        ? `mcp-watchdog ${mode}: cannot read ${config}\n`
        : `mcp-watchdog ${mode}: no MCP client config found${
          client ? ` for ${CLIENT_NAMES[client]}` : ""
        }\n`,
    );
    return config ? 1 : 0;
  }

  let failed = false;
  let total = 0;
  for (const f of found) {
    const where = `${tildify(f.location.path, io.home)} (${CLIENT_NAMES[f.location.client]})`;
    let plan: Plan;
    try {
      plan = makePlan(mode, f, only, watchdog);
    } catch (e) {
      failed = true;
      io.stderr(
        `${where}: cannot parse: ${
          e instanceof ConfigParseError ? e.message : String(e)
        }; left unchanged\n`,
      );
      continue;
    }
    if (plan.servers.length === 0) continue;
    for (const n of plan.notes) io.stdout(`${where}: ${n}\n`);
    if (plan.edits.length === 0) {
      io.stdout(`${where}: nothing to ${mode}\n`);
      continue;
    }
    let next = applyEdits(f.text, plan.edits);
    let shown = plan.edits;
    const backupPath = `${f.location.path}.mcp-watchdog-backup`;
    if (mode === "unwrap" && only.size === 0) {
      // When the file is exactly what wrapping the backup gives, the backup is the original:
      // restore it byte for byte (covers an `args: []` that wrap filled in).
      const original = readIfFile(rt, backupPath);
      if (original !== undefined && original !== next && rewrapMatches(original, f, watchdog)) {
        next = original;
        shown = [wholeChange(f.text, original)];
      }
    }
    const problem = verify(mode, f, next, plan);
    if (problem) {
      failed = true;
      io.stderr(`${where}: refusing to write: ${problem}\n`);
      continue;
    }
    io.stdout(renderDiff(f.location.path, f.text, shown, plan.secrets, color));
    total += plan.changed.length;
    if (dry) {
      io.stdout(`${where}: would ${mode} ${plan.changed.join(", ")} (dry run, nothing written)\n`);
      continue;
    }
    const backup = backupPath;
    try {
      // The file may have changed since we read it (clients rewrite their configs): re-check.
      if (rt.readTextFileSync(f.location.path) !== f.text) {
        throw new Error("the file changed while we worked; run again");
      }
      rt.copyFileSync(f.location.path, backup);
      // Written in place so that the file keeps its mode, owner and links.
      await rt.writeTextFile(f.location.path, next);
    } catch (e) {
      failed = true;
      io.stderr(`${where}: cannot write: ${e instanceof Error ? e.message : String(e)}\n`);
      continue;
    }
    io.stdout(
      `${where}: ${mode === "wrap" ? "wrapped" : "unwrapped"} ${plan.changed.join(", ")} ` +
        `(backup: ${tildify(backup, io.home)})\n`,
    );
  }
  if (total > 0 && mode === "wrap" && !onPath(io, watchdog.command)) {
    io.stderr(
      `mcp-watchdog wrap: warning: '${watchdog.command}' is not on your PATH, so the client cannot start it; ` +
        `install it (npm install -g @bountyy/mcp-watchdog) or pass --command with its full path\n`,
    );
  }
  if (total > 0 && !dry) {
    io.stdout(
      mode === "wrap"
        ? `Restart the client(s) to apply. Undo with: mcp-watchdog unwrap${
          client ? ` --client ${client}` : ""
        }\n`
        : `Restart the client(s) to apply.\n`,
    );
  }
  return failed ? 1 : 0;
}

/** Whether a command resolves: a path that exists, or a name found in one of the PATH directories. */
function onPath(io: CliIo, command: string): boolean {
  if (/[\\/]/.test(command)) return io.runtime.statSync(command) !== null;
  const windows = process.platform === "win32";
  const exts = windows ? (io.env("PATHEXT") ?? ".EXE;.CMD;.BAT").split(";").concat("") : [""];
  for (const dir of (io.env("PATH") ?? "").split(windows ? ";" : ":").filter(Boolean)) {
    for (const ext of exts) if (io.runtime.statSync(`${dir}/${command}${ext}`)?.isFile) return true;
  }
  return false;
}

const entryKey = (s: ServerEntry) => `${s.project ?? ""}\u0000${s.name}`;

function makePlan(
  mode: "wrap" | "unwrap",
  f: FoundConfig,
  only: Set<string>,
  watchdog: WatchdogCommand,
): Plan {
  const parsed = parseClientConfig(f.text, f.location);
  const servers = parsed.servers.filter((s) => only.size === 0 || only.has(s.name));
  const edits: TextEdit[] = [];
  const notes: string[] = [];
  const changed: string[] = [];
  const touched = new Set<string>();
  const secrets = [...parsed.secrets];
  for (const s of servers) {
    secrets.push(...secretArgs(s.args));
    const label = s.project !== undefined ? `${s.name} (project ${s.project})` : s.name;
    if (s.transport !== "stdio") {
      if (mode === "wrap") {
        notes.push(`${label}: skipped (remote server; guard it with 'mcp-watchdog serve --url')`);
      }
      continue;
    }
    const wrapped = wrappedSeparator(s.command ?? "", s.args, watchdog) >= 0;
    if (mode === "wrap" && wrapped) continue;
    if (mode === "unwrap" && !wrapped) continue;
    if (!s.spans) {
      notes.push(`${label}: skipped (command or args are not plain strings)`);
      continue;
    }
    const e = mode === "wrap" ? planWrap(s, watchdog) : planUnwrap(s, f.text, watchdog);
    if (e.length) {
      edits.push(...e);
      changed.push(label);
      touched.add(entryKey(s));
    }
  }
  return { found: f, servers, secrets, edits, notes, changed, touched, watchdog };
}

/** Whether wrapping `original` (with the watchdog command the file uses) gives the current file. */
function rewrapMatches(original: string, f: FoundConfig, known: WatchdogCommand): boolean {
  try {
    const current = parseClientConfig(f.text, f.location).servers;
    const w = current.find((s) => wrappedSeparator(s.command ?? "", s.args, known) >= 0);
    if (!w || w.command === undefined) return false;
    const nameAt = w.args.indexOf("--name");
    const watchdog = { command: w.command, args: w.args.slice(0, nameAt < 0 ? 0 : nameAt) };
    const edits = parseClientConfig(original, f.location).servers.flatMap((s) =>
      planWrap(s, watchdog)
    );
    return applyEdits(original, edits) === f.text;
  } catch {
    return false;
  }
}

/** One edit that turns `a` into `b` (common prefix and suffix kept). */
function wholeChange(a: string, b: string): TextEdit {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let q = 0;
  while (q < a.length - p && q < b.length - p && a[a.length - 1 - q] === b[b.length - 1 - q]) q++;
  return { start: p, end: a.length - q, text: b.slice(p, b.length - q) };
}

/** Re-read the new text: it must parse, and every server must be the same apart from wrapping. */
function verify(
  mode: "wrap" | "unwrap",
  f: FoundConfig,
  next: string,
  plan: Plan,
): string | undefined {
  let after: ServerEntry[];
  try {
    after = parseClientConfig(next, f.location).servers;
  } catch (e) {
    return `the result would not parse (${e instanceof Error ? e.message : String(e)})`;
  }
  const before = parseClientConfig(f.text, f.location).servers;
  if (after.length !== before.length) return "the server list would change";
  const unwrapOf = (s: ServerEntry) => {
    const sep = wrappedSeparator(s.command ?? "", s.args, plan.watchdog);
    return JSON.stringify(sep < 0 ? [s.command, s.args] : [s.args[sep + 1], s.args.slice(sep + 2)]);
  };
  for (let i = 0; i < before.length; i++) {
    const a = before[i], b = after[i];
    if (
      a.name !== b.name || JSON.stringify(a.env) !== JSON.stringify(b.env) ||
      unwrapOf(a) !== unwrapOf(b)
    ) {
      return `server '${a.name}' would change beyond its command`;
    }
    const isWrapped = wrappedSeparator(b.command ?? "", b.args, plan.watchdog) >= 0;
    const wasWrapped = wrappedSeparator(a.command ?? "", a.args, plan.watchdog) >= 0;
    const expected = plan.touched.has(entryKey(a)) ? mode === "wrap" : wasWrapped;
    if (isWrapped !== expected) return `server '${a.name}' would not be ${mode}ped`;
  }
  return undefined;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function lineIndex(starts: readonly number[], offset: number): number {
  let lo = 0, hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A unified diff of `edits` applied to `text`, built from the edits themselves (so it stays
 * cheap on big files such as `~/.claude.json`), with every secret masked.
 */
export function renderDiff(
  path: string,
  text: string,
  edits: readonly TextEdit[],
  secrets: readonly string[],
  color = false,
  context = 2,
): string {
  if (edits.length === 0) return "";
  const starts = lineStarts(text);
  const lines = text.split("\n");
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  // Group edits by the lines they touch.
  const groups: { first: number; last: number; edits: TextEdit[] }[] = [];
  for (const e of sorted) {
    const first = lineIndex(starts, e.start);
    const last = lineIndex(starts, e.end);
    const g = groups[groups.length - 1];
    if (g && first <= g.last + 2 * context + 1) {
      g.last = Math.max(g.last, last);
      g.edits.push(e);
    } else groups.push({ first, last, edits: [e] });
  }
  const mask = (s: string) => maskSecrets(s.replace(/\r$/, ""), secrets);
  const out: string[] = [
    paint(STYLE.bold, `--- ${path}`, color),
    paint(STYLE.bold, `+++ ${path}`, color),
  ];
  let delta = 0;
  for (const g of groups) {
    const segStart = starts[g.first];
    const segEnd = g.last + 1 < starts.length ? starts[g.last + 1] - 1 : text.length;
    const oldLines = lines.slice(g.first, g.last + 1);
    const newSeg = applyEdits(
      text.slice(segStart, segEnd),
      g.edits.map((e) => ({ start: e.start - segStart, end: e.end - segStart, text: e.text })),
    );
    const newLines = newSeg.split("\n");
    const ctxFrom = Math.max(0, g.first - context);
    const ctxTo = Math.min(lines.length - 1, g.last + context);
    const before = lines.slice(ctxFrom, g.first);
    const after = lines.slice(g.last + 1, ctxTo + 1);
    const oldCount = before.length + oldLines.length + after.length;
    const newCount = before.length + newLines.length + after.length;
    out.push(
      paint(
        STYLE.cyan,
        `@@ -${ctxFrom + 1},${oldCount} +${ctxFrom + 1 + delta},${newCount} @@`,
        color,
      ),
    );
    for (const l of before) out.push(` ${mask(l)}`);
    for (const [op, l] of lineDiff(oldLines, newLines)) {
      out.push(
        op === " "
          ? ` ${mask(l)}`
          : paint(op === "-" ? STYLE.red : STYLE.green, `${op}${mask(l)}`, color),
      );
    }
    for (const l of after) out.push(` ${mask(l)}`);
    delta += newLines.length - oldLines.length;
  }
  return out.join("\n") + "\n";
}

/** A line diff of two short line lists (LCS; falls back to all-removed/all-added when long). */
function lineDiff(a: readonly string[], b: readonly string[]): [" " | "-" | "+", string][] {
  if (a.length * b.length > 250_000) {
    return [
      ...a.map((l) => ["-", l] as [" " | "-" | "+", string]),
      ...b.map((l) => ["+", l] as [" " | "-" | "+", string]),
    ];
  }
  const n = a.length, m = b.length;
  const L: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    }
  }
  const out: [" " | "-" | "+", string][] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push([" ", a[i++]]);
      j++;
    } else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) out.push(["+", b[j++]]);
    else out.push(["-", a[i++]]);
  }
  // Show removals before additions within a run, as diff(1) does.
  for (let k = 0; k < out.length;) {
    let e = k;
    while (e < out.length && out[e][0] !== " ") e++;
    const run = out.slice(k, e);
    out.splice(
      k,
      run.length,
      ...run.filter((x) => x[0] === "-"),
      ...run.filter((x) => x[0] === "+"),
    );
    k = e + 1;
  }
  return out;
}
