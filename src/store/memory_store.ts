/**
 * An in-memory {@link StateStore}: for tests, for library users, and as the fallback when the
 * state database cannot be opened.
 *
 * @module
 */
import type { StateStore, StoreRecord } from "./store.ts";

/** A {@link StateStore} held in maps; lost when the process ends. */
export class MemoryStore implements StateStore {
  #data = new Map<string, Map<string, StoreRecord>>();

  #ns(ns: string): Map<string, StoreRecord> {
    let m = this.#data.get(ns);
    if (!m) this.#data.set(ns, m = new Map());
    return m;
  }

  get<T = unknown>(ns: string, key: string): StoreRecord<T> | undefined {
    return this.#data.get(ns)?.get(key) as StoreRecord<T> | undefined;
  }

  getMany<T = unknown>(ns: string, keys: readonly string[]): StoreRecord<T>[] {
    const m = this.#data.get(ns);
    if (!m) return [];
    const out: StoreRecord<T>[] = [];
    for (const k of keys) {
      const r = m.get(k);
      if (r) out.push(r as StoreRecord<T>);
    }
    return out;
  }

  put(ns: string, key: string, value: unknown, ts: number = Date.now()): void {
    const m = this.#ns(ns);
    m.delete(key); // re-insert so that map order is touch order (for LRU eviction)
    m.set(key, { key, value: structuredClone(value), ts });
  }

  putMany(ns: string, entries: readonly { key: string; value: unknown }[], ts?: number): void {
    for (const e of entries) this.put(ns, e.key, e.value, ts);
  }

  list<T = unknown>(ns: string, prefix = ""): StoreRecord<T>[] {
    const m = this.#data.get(ns);
    if (!m) return [];
    return [...m.values()].filter((r) => r.key.startsWith(prefix))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0) as StoreRecord<T>[];
  }

  delete(ns: string, prefix = ""): number {
    const m = this.#data.get(ns);
    if (!m) return 0;
    let n = 0;
    for (const k of [...m.keys()]) if (k.startsWith(prefix) && m.delete(k)) n++;
    return n;
  }

  deleteKey(ns: string, key: string): boolean {
    return this.#data.get(ns)?.delete(key) ?? false;
  }

  evict(ns: string, olderThan: number, maxRecords: number): number {
    const m = this.#data.get(ns);
    if (!m) return 0;
    let n = 0;
    for (const [k, r] of m) if (r.ts < olderThan && m.delete(k)) n++;
    if (m.size > maxRecords) {
      const byAge = [...m.values()].sort((a, b) => a.ts - b.ts);
      for (const r of byAge.slice(0, m.size - maxRecords)) if (m.delete(r.key)) n++;
    }
    return n;
  }

  namespaces(prefix = ""): string[] {
    return [...this.#data.keys()].filter((n) => n.startsWith(prefix) && this.#data.get(n)!.size > 0)
      .sort();
  }

  close(): void {
    this.#data.clear();
  }
}
