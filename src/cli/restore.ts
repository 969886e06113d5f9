/**
 * `mcp-watchdog restore [--list] [--all] [--dry-run] [PATH...]`: put MCP client configuration
 * files back to the snapshot taken when mcp-watchdog started (see `src/adapters/fs_monitor.ts`).
 *
 * - no argument or `--list`: every snapshotted file and whether it changed since;
 * - `PATH...`: restore those files; `--all`: restore every changed one;
 * - `--dry-run`: show the diff, change nothing;
 * - `--accept PATH...`: take the current content as the new snapshot (a change the user made).
 *
 * The current content is kept next to the snapshot (`replaced-<ms>.bak`) before it is replaced,
 * so a restore can itself be undone by hand.
 *
 * @example
 * ```ts
 * import { runRestore } from "./restore.ts";
 * const code = await runRestore(["--list"], {
 *   stdout: (s) => console.log(s.trimEnd()),
 *   stderr: (s) => console.error(s.trimEnd()),
 *   stateDir: "/home/u/.mcp-watchdog",
 * });
 * ```
 *
 * @module
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  configDiff,
  listVersions,
  readTainted,
  snapshotConfigs,
  snapshotDir,
} from "../adapters/fs_monitor.ts";
import { sha256HexBytes } from "../hash.ts";

/** What `runRestore` writes to. */
export interface RestoreIo {
  /** Writes text to standard output (the text carries its own newlines). */
  stdout(text: string): void;
  /** Writes text to standard error. */
  stderr(text: string): void;
  /** The state directory (`--state-dir` in `args` overrides it). */
  stateDir: string;
}

const USAGE = `usage: mcp-watchdog restore [--state-dir DIR] [--list]
       mcp-watchdog restore [--state-dir DIR] [--dry-run] (--all | PATH...)
       mcp-watchdog restore [--state-dir DIR] --accept PATH...
Puts MCP client configuration files back to the snapshot taken when mcp-watchdog started.
--accept takes a file's current content as its new snapshot (a change you made yourself).
`;

interface Entry {
  readonly path: string;
  readonly dir: string;
  readonly snapshot?: string;
  readonly snapshotTs?: number;
  readonly status: "unchanged" | "changed" | "missing" | "no snapshot";
}

function read(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function entries(stateDir: string): Entry[] {
  const root = `${stateDir}/snapshots`;
  let dirs: string[];
  try {
    dirs = readdirSync(root);
  } catch {
    return [];
  }
  const out: Entry[] = [];
  for (const d of dirs.sort()) {
    const dir = `${root}/${d}`;
    let path: string;
    try {
      path = String(JSON.parse(readFileSync(`${dir}/meta.json`, "utf8")).path);
    } catch {
      continue;
    }
    out.push(entryFor(path, dir));
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

function entryFor(path: string, dir: string): Entry {
  const v = listVersions(dir)[0];
  if (!v) return { path, dir, status: "no snapshot" };
  const cur = read(path);
  const snap = read(v.file);
  const status = !cur
    ? "missing"
    : snap && sha256HexBytes(cur) === sha256HexBytes(snap)
    ? "unchanged"
    : "changed";
  return { path, dir, snapshot: v.file, snapshotTs: v.ts, status };
}

const dec = new TextDecoder();

/** Run `mcp-watchdog restore`; returns the exit code (0 done, 1 nothing or failed, 2 usage). */
export async function runRestore(args: readonly string[], io: RestoreIo): Promise<number> {
  await Promise.resolve();
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        "state-dir": { type: "string" },
        list: { type: "boolean" },
        all: { type: "boolean" },
        "dry-run": { type: "boolean" },
        accept: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    io.stderr(`mcp-watchdog restore: ${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout(USAGE);
    return 0;
  }
  const stateDir = resolve(v["state-dir"] ?? io.stateDir);
  const all = entries(stateDir);
  const paths = parsed.positionals.map((p) => resolve(p));

  if (v.accept) {
    if (paths.length === 0) {
      io.stderr(`mcp-watchdog restore: --accept needs the files to accept\n${USAGE}`);
      return 2;
    }
    let code = 0;
    for (const p of paths) {
      const dir = snapshotDir(stateDir, p);
      const cur = read(p);
      if (!cur) {
        io.stderr(`mcp-watchdog restore: cannot read ${p}\n`);
        code = 1;
        continue;
      }
      // Untaint the current content, then snapshot it as the newest version.
      const sha = sha256HexBytes(cur);
      const tainted = readTainted(dir).filter((x) => x !== sha);
      if (existsSync(dir)) {
        writeFileSync(`${dir}/tainted.json`, JSON.stringify(tainted), { mode: 0o600 });
      }
      const [r] = snapshotConfigs(stateDir, [p]);
      io.stdout(`${r.state === "unchanged" ? "already the snapshot" : "accepted"}: ${p}\n`);
    }
    return code;
  }

  if (v.list || (!v.all && paths.length === 0)) {
    if (all.length === 0) {
      io.stdout(`no snapshots in ${stateDir}/snapshots\n`);
      return 0;
    }
    for (const e of all) {
      const when = e.snapshotTs ? new Date(e.snapshotTs).toISOString() : "-";
      io.stdout(`${e.status.padEnd(11)} ${e.path}  (snapshot ${when})\n`);
    }
    const changed = all.filter((e) => e.status === "changed" || e.status === "missing").length;
    if (changed > 0) {
      io.stdout(`${changed} file(s) differ from their snapshot: mcp-watchdog restore --all\n`);
    }
    return 0;
  }

  const targets: Entry[] = [];
  if (v.all) targets.push(...all.filter((e) => e.status === "changed" || e.status === "missing"));
  for (const p of paths) {
    const e = all.find((x) => x.path === p) ?? entryFor(p, snapshotDir(stateDir, p));
    if (!e.snapshot) {
      io.stderr(`mcp-watchdog restore: no snapshot of ${p} in ${stateDir}\n`);
      return 1;
    }
    if (!targets.some((t) => t.path === e.path)) targets.push(e);
  }
  if (targets.length === 0) {
    io.stdout("nothing to restore: every snapshotted file matches its snapshot\n");
    return 0;
  }
  let failed = false;
  for (const t of targets) {
    const snap = read(t.snapshot!);
    if (!snap) {
      io.stderr(`mcp-watchdog restore: cannot read the snapshot of ${t.path}\n`);
      failed = true;
      continue;
    }
    const cur = read(t.path);
    if (cur && sha256HexBytes(cur) === sha256HexBytes(snap)) {
      io.stdout(`unchanged ${t.path}\n`);
      continue;
    }
    const diff = configDiff(cur ? dec.decode(cur) : undefined, dec.decode(snap));
    io.stdout(
      `${v["dry-run"] ? "would restore" : "restoring"} ${t.path} (snapshot ${
        new Date(t.snapshotTs!).toISOString()
      }):\n`,
    );
    for (const l of diff) io.stdout(`    ${l}\n`);
    if (v["dry-run"]) continue;
    try {
      if (cur) writeFileSync(`${t.dir}/replaced-${Date.now()}.bak`, cur, { mode: 0o600 });
      if (!existsSync(dirname(t.path))) mkdirSync(dirname(t.path), { recursive: true });
      // Write beside, then rename: the client never reads a half-written config.
      const tmp = `${t.path}.mcp-watchdog-restore`;
      const mode = cur ? statSync(t.path).mode & 0o777 : 0o600;
      writeFileSync(tmp, snap, { mode });
      renameSync(tmp, t.path);
      io.stdout(`restored ${t.path}\n`);
    } catch (e) {
      io.stderr(
        `mcp-watchdog restore: cannot restore ${t.path}: ${e instanceof Error ? e.message : e}\n`,
      );
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
