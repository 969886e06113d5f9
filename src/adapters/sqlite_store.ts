/**
 * The {@link StateStore} on SQLite through `node:sqlite` (Deno 2.9+, Node 22.5+): one database
 * file under the state directory, shared safely by every mcp-watchdog process on the machine
 * (WAL journal, busy timeout, short transactions).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { StateStore, StoreRecord } from "../store/store.ts";

/** Thrown when the state database cannot be opened or is not a database. */
export class StateStoreError extends Error {
  /** The error's name. */
  override name = "StateStoreError";
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_ns_ts ON kv (ns, ts);
`;

/** A short human reason for an SQLite open failure. */
function explain(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/not a database|malformed/i.test(msg)) return `${msg} (the file is corrupt or not SQLite)`;
  if (/locked|busy/i.test(msg)) return `${msg} (another process holds it locked)`;
  if (/readonly|read-only|permission|unable to open/i.test(msg)) {
    return `${msg} (check the file's permissions)`;
  }
  return msg;
}

/** A {@link StateStore} in one SQLite file. */
export class SqliteStore implements StateStore {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync;
  #get: StatementSync;
  #getMany: StatementSync;
  #put: StatementSync;
  #list: StatementSync;
  #del: StatementSync;
  #delKey: StatementSync;
  #evictAge: StatementSync;
  #count: StatementSync;
  #evictLru: StatementSync;
  #nss: StatementSync;

  /**
   * Open (and create when missing) the database at `path`.
   * @throws {StateStoreError} when the file is not a database, is locked past the busy timeout, or
   * cannot be created.
   */
  constructor(path: string, busyTimeoutMs = 5000) {
    this.path = path;
    let db: DatabaseSync | undefined;
    try {
      this.#db = db = new DatabaseSync(path);
      this.#db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))};`);
      this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
      this.#db.exec(SCHEMA);
      // Prove that we can write now, so that a locked or read-only file fails here, clearly,
      // rather than on the first pin.
      this.#db.exec("BEGIN IMMEDIATE; COMMIT;");
      this.#get = this.#db.prepare("SELECT key, value, ts FROM kv WHERE ns = ? AND key = ?");
      this.#getMany = this.#db.prepare(
        "SELECT key, value, ts FROM kv WHERE ns = ? AND key IN (SELECT value FROM json_each(?))",
      );
      this.#put = this.#db.prepare(
        "INSERT INTO kv (ns, key, value, ts) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, ts = excluded.ts",
      );
      this.#list = this.#db.prepare(
        "SELECT key, value, ts FROM kv WHERE ns = ? AND substr(key, 1, length(?)) = ? ORDER BY key",
      );
      this.#del = this.#db.prepare("DELETE FROM kv WHERE ns = ? AND substr(key, 1, length(?)) = ?");
      this.#delKey = this.#db.prepare("DELETE FROM kv WHERE ns = ? AND key = ?");
      this.#evictAge = this.#db.prepare("DELETE FROM kv WHERE ns = ? AND ts < ?");
      this.#count = this.#db.prepare("SELECT count(*) AS n FROM kv WHERE ns = ?");
      this.#evictLru = this.#db.prepare(
        "DELETE FROM kv WHERE ns = ? AND key IN (SELECT key FROM kv WHERE ns = ? ORDER BY ts LIMIT ?)",
      );
      this.#nss = this.#db.prepare(
        "SELECT DISTINCT ns FROM kv WHERE substr(ns, 1, length(?)) = ? ORDER BY ns",
      );
    } catch (e) {
      try {
        db?.close();
      } catch { /* not open */ }
      throw new StateStoreError(`cannot open the state database ${path}: ${explain(e)}`);
    }
  }

  #row<T>(r: Record<string, unknown> | undefined): StoreRecord<T> | undefined {
    if (!r) return undefined;
    return { key: String(r.key), value: JSON.parse(String(r.value)) as T, ts: Number(r.ts) };
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const v = fn();
      this.#db.exec("COMMIT");
      return v;
    } catch (e) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* the transaction may already be gone */ }
      throw e;
    }
  }

  get<T = unknown>(ns: string, key: string): StoreRecord<T> | undefined {
    return this.#row<T>(this.#get.get(ns, key) as Record<string, unknown> | undefined);
  }

  getMany<T = unknown>(ns: string, keys: readonly string[]): StoreRecord<T>[] {
    if (keys.length === 0) return [];
    if (keys.length === 1) {
      const r = this.get<T>(ns, keys[0]);
      return r ? [r] : [];
    }
    // One statement for the lot: each call into SQLite costs more than the lookup itself.
    const rows = this.#getMany.all(ns, JSON.stringify(keys)) as Record<string, unknown>[];
    const byKey = new Map(rows.map((r) => [String(r.key), r]));
    const out: StoreRecord<T>[] = [];
    for (const k of keys) {
      const r = this.#row<T>(byKey.get(k));
      if (r) out.push(r);
    }
    return out;
  }

  put(ns: string, key: string, value: unknown, ts: number = Date.now()): void {
    this.#put.run(ns, key, JSON.stringify(value), ts);
  }

  putMany(ns: string, entries: readonly { key: string; value: unknown }[], ts?: number): void {
    if (entries.length === 0) return;
    const t = ts ?? Date.now();
    this.#tx(() => {
      for (const e of entries) this.#put.run(ns, e.key, JSON.stringify(e.value), t);
    });
  }

  list<T = unknown>(ns: string, prefix = ""): StoreRecord<T>[] {
    return (this.#list.all(ns, prefix, prefix) as Record<string, unknown>[]).map((r) =>
      this.#row<T>(r)!
    );
  }

  delete(ns: string, prefix = ""): number {
    return Number(this.#del.run(ns, prefix, prefix).changes);
  }

  deleteKey(ns: string, key: string): boolean {
    return Number(this.#delKey.run(ns, key).changes) > 0;
  }

  evict(ns: string, olderThan: number, maxRecords: number): number {
    return this.#tx(() => {
      let n = Number(this.#evictAge.run(ns, olderThan).changes);
      const count = Number((this.#count.get(ns) as { n: number }).n);
      if (count > maxRecords) n += Number(this.#evictLru.run(ns, ns, count - maxRecords).changes);
      return n;
    });
  }

  namespaces(prefix = ""): string[] {
    return (this.#nss.all(prefix, prefix) as { ns: string }[]).map((r) => r.ns);
  }

  close(): void {
    try {
      this.#db.close();
    } catch { /* already closed */ }
  }
}
