/**
 * A short-lived cache in front of store reads on the hot path: a read is reused for `ttlMs`, so a
 * message costs a map look-up, and a change written by another process (another wrapper, `pins
 * approve`) is still seen within that time. Bounded: cleared when it reaches `max` entries.
 *
 * @example
 * ```ts
 * import { ReadCache } from "./read_cache.ts";
 * const cache = new ReadCache<number>(1000, 100);
 * cache.get("k", Date.now(), () => 42); // 42, read once
 * ```
 *
 * @module
 */

/** Reads remembered for a while, keyed by string. */
export class ReadCache<T> {
  readonly #entries = new Map<string, { at: number; value: T }>();
  readonly ttlMs: number;
  readonly max: number;

  /** Remember each read for `ttlMs` milliseconds, at most `max` of them. */
  constructor(ttlMs: number, max: number) {
    this.ttlMs = ttlMs;
    this.max = max;
  }

  /** The value for `key`: remembered when read less than `ttlMs` before `now`, else `read()`. */
  get(key: string, now: number, read: () => T): T {
    const hit = this.#entries.get(key);
    if (hit && now >= hit.at && now - hit.at < this.ttlMs) return hit.value;
    const value = read();
    if (this.#entries.size >= this.max) this.#entries.clear();
    this.#entries.set(key, { at: now, value });
    return value;
  }

  /** Forget every key that starts with `prefix` (all when empty): the next get reads afresh. */
  forget(prefix = ""): void {
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }
}
