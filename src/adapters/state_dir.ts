/**
 * Where mcp-watchdog keeps its state (pins, baselines, the cross-server tool registry) and how the
 * state database is opened. The directory is `--state-dir`, else `MCP_WATCHDOG_HOME`, else
 * `~/.mcp-watchdog/`; it is created private (0700) and holds `state.db` (SQLite, WAL), shared by
 * every mcp-watchdog process of the user.
 *
 * When the database cannot be used (corrupt, locked, unwritable), {@link openStateStore} says why
 * and hands back a {@link MemoryStore} so that the proxy still runs in the mode the user chose
 * (pins then only last for the process).
 *
 * @example
 * ```ts
 * import { openStateStore } from "./state_dir.ts";
 * const { store, warning } = openStateStore({ flag: undefined });
 * if (warning) console.error(warning);
 * store.close();
 * ```
 *
 * @module
 */
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { MemoryStore } from "../store/memory_store.ts";
import type { StateStore } from "../store/store.ts";
import { SqliteStore, StateStoreError } from "./sqlite_store.ts";

/** The environment variable that overrides the default state directory. */
export const STATE_DIR_ENV = "MCP_WATCHDOG_HOME";
/** The database file name inside the state directory. */
export const STATE_DB_FILE = "state.db";

/** Inputs of {@link resolveStateDir}. */
export interface StateDirOptions {
  /** `--state-dir`, when given. */
  readonly flag?: string | undefined;
  /** Environment lookup (defaults to the process environment). */
  readonly env?: (name: string) => string | undefined;
  /** Home directory (defaults to the user's). */
  readonly home?: string;
}

/**
 * The state directory, absolute: `--state-dir`, else `$MCP_WATCHDOG_HOME`, else `~/.mcp-watchdog`.
 *
 * @example
 * ```ts
 * resolveStateDir({ flag: "/tmp/wd" }); // "/tmp/wd"
 * resolveStateDir({ env: () => undefined, home: "/home/u" }); // "/home/u/.mcp-watchdog"
 * ```
 */
export function resolveStateDir(opts: StateDirOptions = {}): string {
  if (opts.flag) return resolve(opts.flag);
  const env = opts.env ?? ((n: string) => process.env[n]);
  const fromEnv = env(STATE_DIR_ENV);
  if (fromEnv) return resolve(fromEnv);
  return join(opts.home ?? homedir(), ".mcp-watchdog");
}

/**
 * Create the directory (and parents) when missing, private to the user (0700).
 * @throws {StateStoreError} when it cannot be created or is not a directory.
 */
export function ensureStateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    // An existing directory keeps its mode unless we own it; tighten it when we can.
    try {
      chmodSync(dir, 0o700);
    } catch { /* not ours (e.g. a shared mount): the database file is still ours */ }
  } catch (e) {
    throw new StateStoreError(
      `cannot create the state directory ${dir}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * Open the SQLite store at `<dir>/state.db`, creating the directory.
 * @throws {StateStoreError} with a clear message when the file is corrupt, locked or unwritable.
 */
export function openSqliteStateStore(dir: string, busyTimeoutMs = 5000): SqliteStore {
  ensureStateDir(dir);
  return new SqliteStore(join(dir, STATE_DB_FILE), busyTimeoutMs);
}

/** What {@link openStateStore} hands back. */
export interface OpenedStateStore {
  /** The store to use. */
  readonly store: StateStore;
  /** The state directory that was tried. */
  readonly dir: string;
  /** True when the store is the shared database, false for the in-memory fallback. */
  readonly persistent: boolean;
  /** Why the fallback was used, for stderr. */
  readonly warning?: string;
}

/**
 * Open the shared state store; never throws. On failure the store is a {@link MemoryStore} and
 * `warning` says what went wrong and what it means.
 */
export function openStateStore(
  opts: StateDirOptions & { readonly busyTimeoutMs?: number } = {},
): OpenedStateStore {
  const dir = resolveStateDir(opts);
  try {
    return { store: openSqliteStateStore(dir, opts.busyTimeoutMs), dir, persistent: true };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return {
      store: new MemoryStore(),
      dir,
      persistent: false,
      warning: `mcp-watchdog: warning: ${why}; using in-memory state for this process ` +
        `(pins and baselines will not persist; fix or move the file, or pass --state-dir)`,
    };
  }
}
