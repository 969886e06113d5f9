/**
 * Request/response correlation: which method (and tool) each response answers, so that every
 * response is inspected according to the request that produced it, not guessed from its shape.
 * Entries are forgotten on response, on `notifications/cancelled` and after a timeout, and the
 * table is capped, so memory stays bounded whatever the peers do.
 *
 * @module
 */
import type { JsonRpcId } from "../types.ts";

/** What is remembered of an outstanding request. */
export interface PendingRequest {
  /** The request's method. */
  readonly method: string;
  /** The tool, for `tools/call`. */
  readonly tool?: string;
  /** When it was sent (ms since the epoch). */
  readonly since: number;
}

/** An outstanding request with its id. */
export interface TrackedRequest extends PendingRequest {
  /** The request's JSON-RPC id. */
  readonly id: JsonRpcId;
}
type Entry = TrackedRequest;

/** Outstanding requests sent in one direction. */
export class RequestTracker {
  // Numeric and other ids in separate maps, keyed by the id itself: the id `1` and the id `"1"`
  // stay distinct without building a key string per message.
  #byNumber = new Map<number, Entry>();
  #byOther = new Map<string | null, Entry>();
  /** How long an unanswered request is remembered. */
  readonly timeoutMs: number;
  /** The most requests remembered at once. */
  readonly maxEntries: number;

  /** A tracker forgetting requests after `timeoutMs`, holding at most `maxEntries`. */
  constructor(timeoutMs = 30 * 60_000, maxEntries = 10_000) {
    this.timeoutMs = timeoutMs;
    this.maxEntries = maxEntries;
  }

  /** Remember a request. Old entries are swept when the table is full. */
  track(id: JsonRpcId, method: string, tool: string | undefined, now: number): void {
    if (this.size >= this.maxEntries) this.sweep(now);
    if (this.size >= this.maxEntries) {
      // Still full: drop the oldest rather than grow without bound.
      const a = this.#byNumber.values().next().value;
      const b = this.#byOther.values().next().value;
      const oldest = a && (!b || a.since <= b.since) ? a : b;
      if (oldest) this.cancel(oldest.id);
    }
    const entry: Entry = { id, method, tool, since: now };
    if (typeof id === "number") this.#byNumber.set(id, entry);
    else this.#byOther.set(id, entry);
  }

  /** The request a response answers; forgets it. */
  resolve(id: JsonRpcId): PendingRequest | undefined {
    if (typeof id === "number") {
      const p = this.#byNumber.get(id);
      if (p) this.#byNumber.delete(id);
      return p;
    }
    const p = this.#byOther.get(id);
    if (p) this.#byOther.delete(id);
    return p;
  }

  /** Whether a request with this id is still unanswered. */
  has(id: JsonRpcId): boolean {
    return typeof id === "number" ? this.#byNumber.has(id) : this.#byOther.has(id);
  }

  /** Forget a cancelled request. */
  cancel(id: JsonRpcId): void {
    if (typeof id === "number") this.#byNumber.delete(id);
    else this.#byOther.delete(id);
  }

  /** Drop entries older than the timeout. */
  sweep(now: number): void {
    for (const [k, p] of this.#byNumber) {
      if (now - p.since > this.timeoutMs) this.#byNumber.delete(k);
    }
    for (const [k, p] of this.#byOther) if (now - p.since > this.timeoutMs) this.#byOther.delete(k);
  }

  /** Outstanding requests, oldest first. */
  outstanding(): TrackedRequest[] {
    return [...this.#byNumber.values(), ...this.#byOther.values()].sort((a, b) =>
      a.since - b.since
    );
  }

  /** How many requests are outstanding. */
  get size(): number {
    return this.#byNumber.size + this.#byOther.size;
  }
}
