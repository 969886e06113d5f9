/**
 * Bounded newline-delimited framing for JSON-RPC over stdio. Lines are handed out as slices of
 * the original bytes (CR before LF kept, so unchanged messages are forwarded byte for byte); a
 * line longer than the limit is discarded up to its newline and reported with its first bytes, so
 * that a hostile or broken peer can never make the proxy buffer without bound.
 *
 * @example
 * ```ts
 * import { LineFramer } from "./framing.ts";
 * const f = new LineFramer(1024);
 * const frames = f.push(new TextEncoder().encode('{"a":1}\n{"b"'));
 * // frames: [{ type: "line", bytes: <{"a":1}>, end: 8 }]; '{"b"' waits for its newline
 * ```
 *
 * @module
 */

/** A complete line (without its LF; a CR before it is kept, JSON.parse ignores it), or a discarded oversized line. */
export type Frame =
  | {
    readonly type: "line";
    readonly bytes:
      Uint8Array; /** Offset just past the LF in the chunk; -1 if the line spanned chunks. */
    readonly end: number;
  }
  | { readonly type: "oversized"; readonly prefix: Uint8Array; readonly bytes: number };

const LF = 10;
const PREFIX_BYTES = 4096;

/** Splits a byte stream into lines, bounded by `maxBytes` per line. */
export class LineFramer {
  readonly maxBytes: number;
  #parts: Uint8Array[] = [];
  #partLen = 0;
  /** While discarding an oversized line: its first bytes and its size so far. */
  #skip: { prefix: Uint8Array; bytes: number } | null = null;

  constructor(maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  /** Whether a partial line is buffered. */
  get pending(): boolean {
    return this.#partLen > 0 || this.#skip !== null;
  }

  /** Feed a chunk; returns the frames it completes. */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const stop = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, stop);
      if (this.#skip) {
        this.#skip.bytes += piece.length;
      } else if (this.#partLen + piece.length > this.maxBytes) {
        const head = this.#concat(piece);
        this.#skip = { prefix: head.slice(0, PREFIX_BYTES), bytes: head.length };
        this.#parts = [];
        this.#partLen = 0;
      } else if (nl !== -1) {
        if (this.#partLen === 0) out.push({ type: "line", bytes: piece, end: nl + 1 });
        else {
          out.push({ type: "line", bytes: this.#concat(piece), end: -1 });
          this.#parts = [];
          this.#partLen = 0;
        }
      } else if (piece.length) {
        // Copy: the caller may reuse the chunk buffer.
        this.#parts.push(piece.slice());
        this.#partLen += piece.length;
      }
      if (nl === -1) break;
      if (this.#skip) {
        out.push({ type: "oversized", prefix: this.#skip.prefix, bytes: this.#skip.bytes });
        this.#skip = null;
      }
      start = nl + 1;
    }
    return out;
  }

  /** End of stream: a final line without LF is still a line. */
  end(): Frame[] {
    if (this.#skip) {
      const s = this.#skip;
      this.#skip = null;
      return [{ type: "oversized", prefix: s.prefix, bytes: s.bytes }];
    }
    if (this.#partLen === 0) return [];
    const bytes = this.#concat(new Uint8Array());
    this.#parts = [];
    this.#partLen = 0;
    return [{ type: "line", bytes, end: -1 }];
  }

  #concat(last: Uint8Array): Uint8Array {
    if (this.#partLen === 0) return last;
    const all = new Uint8Array(this.#partLen + last.length);
    let o = 0;
    for (const p of this.#parts) {
      all.set(p, o);
      o += p.length;
    }
    all.set(last, o);
    return all;
  }
}
