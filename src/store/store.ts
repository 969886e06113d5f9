/**
 * The state store that stateful detectors (pins, baselines, tool registry, flow tokens) use.
 * It is deliberately small: namespaced JSON records with a last-touched time, so that every
 * detector can keep what it needs without the store knowing any detector, and another engine
 * can back it later. Implementations: {@link MemoryStore} (tests, library use) and the SQLite
 * adapter in `src/adapters/sqlite_store.ts` (shared by every mcp-watchdog process on a machine).
 *
 * Nothing secret may be stored in clear: callers store hashes.
 *
 * @module
 */

/** One stored record. */
export interface StoreRecord<T = unknown> {
  /** The record's key within its namespace. */
  readonly key: string;
  /** The stored JSON value. */
  readonly value: T;
  /** Last write or touch, milliseconds since the epoch. */
  readonly ts: number;
}

/** Namespaced records shared by the detectors. All operations are synchronous. */
export interface StateStore {
  /** The record at (ns, key), or undefined. */
  get<T = unknown>(ns: string, key: string): StoreRecord<T> | undefined;
  /** Several keys of one namespace at once (missing keys are absent from the result). */
  getMany<T = unknown>(ns: string, keys: readonly string[]): StoreRecord<T>[];
  /** Insert or replace; `ts` defaults to now. */
  put(ns: string, key: string, value: unknown, ts?: number): void;
  /** Many puts in one transaction. */
  putMany(ns: string, entries: readonly { key: string; value: unknown }[], ts?: number): void;
  /** Every record of a namespace whose key starts with `prefix` (all when omitted), by key. */
  list<T = unknown>(ns: string, prefix?: string): StoreRecord<T>[];
  /** Delete records whose key starts with `prefix` (all of the namespace when omitted). Returns the count. */
  delete(ns: string, prefix?: string): number;
  /** Delete one exact key. Returns true when it existed. */
  deleteKey(ns: string, key: string): boolean;
  /**
   * Keep a namespace bounded: drop records older than `olderThan` (ms since epoch), then the
   * least recently touched beyond `maxRecords`. Returns how many were dropped.
   */
  evict(ns: string, olderThan: number, maxRecords: number): number;
  /** Namespaces that exist, optionally only those starting with `prefix`. */
  namespaces(prefix?: string): string[];
  /** Release resources. */
  close(): void;
}
