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

const key = (id: JsonRpcId): string => typeof id === "string" ? `s:${id}` : `n:${String(id)}`;

/** Outstanding requests sent in one direction. */
export class RequestTracker {
  #pending = new Map<string, PendingRequest & { id: JsonRpcId }>();
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
    if (this.#pending.size >= this.maxEntries) this.sweep(now);
    if (this.#pending.size >= this.maxEntries) {
      // Still full: drop the oldest (insertion order) rather than grow without bound.
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.set(key(id), { id, method, tool, since: now });
  }

  /** The request a response answers; forgets it. */
  resolve(id: JsonRpcId): PendingRequest | undefined {
    const k = key(id);
    const p = this.#pending.get(k);
    if (p) this.#pending.delete(k);
    return p;
  }

  /** Forget a cancelled request. */
  cancel(id: JsonRpcId): void {
    this.#pending.delete(key(id));
  }

  /** Drop entries older than the timeout. */
  sweep(now: number): void {
    for (const [k, p] of this.#pending) {
      if (now - p.since > this.timeoutMs) this.#pending.delete(k);
    }
  }

  /** Outstanding requests, oldest first. */
  outstanding(): (PendingRequest & { id: JsonRpcId })[] {
    return [...this.#pending.values()];
  }

  /** How many requests are outstanding. */
  get size(): number {
    return this.#pending.size;
  }
}
