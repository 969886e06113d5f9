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

/**
 * A complete line (without its LF; a CR before it is kept, JSON.parse ignores it), or a discarded
 * oversized line. A line's `bytes` are valid until the next `push` or `end`: they may be a view of
 * the caller's chunk or of the framer's own buffer, which the next partial line reuses.
 */
export type Frame =
  | {
    readonly type: "line";
    readonly bytes: Uint8Array;
    /** Offset just past the LF in the chunk; -1 if the line spanned chunks. */
    readonly end: number;
  }
  | { readonly type: "oversized"; readonly prefix: Uint8Array; readonly bytes: number };

const LF = 10;
const PREFIX_BYTES = 4096;
/** The partial-line buffer is kept between messages up to this size (larger ones are let go). */
const KEEP_BYTES = 4 << 20;

/** Splits a byte stream into lines, bounded by `maxBytes` per line. */
export class LineFramer {
  readonly maxBytes: number;
  // The start of a line that spans chunks. One buffer, grown by doubling and reused for the next
  // long line: fresh memory for every chunk of a multi-megabyte message cost more than copying.
  #buf = new Uint8Array(0);
  #partLen = 0;
  // The buffer holds a line handed out by this push: a partial line after it needs other memory.
  #lent = false;
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

  /** Feed a chunk; returns the frames it completes (valid until the next `push` or `end`). */
  push(chunk: Uint8Array): Frame[] {
    this.#lent = false; // the frames of the previous push are done with
    const out: Frame[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const stop = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, stop);
      if (this.#skip) {
        this.#skip.bytes += piece.length;
      } else if (this.#partLen + piece.length > this.maxBytes) {
        const bytes = this.#partLen + piece.length;
        const head = this.#partLen > 0 ? this.#append(piece) : piece;
        this.#skip = { prefix: head.slice(0, PREFIX_BYTES), bytes };
        this.#reset();
      } else if (nl !== -1) {
        if (this.#partLen === 0) out.push({ type: "line", bytes: piece, end: nl + 1 });
        else {
          out.push({ type: "line", bytes: this.#append(piece), end: -1 });
          this.#reset();
          this.#lent = true;
        }
      } else if (piece.length) {
        // Copied: the caller may reuse the chunk's memory.
        this.#append(piece);
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
    const bytes = this.#buf.subarray(0, this.#partLen);
    this.#reset();
    this.#lent = true;
    return [{ type: "line", bytes, end: -1 }];
  }

  /** Add `piece` to the partial line; returns the partial line so far (a view of the buffer). */
  #append(piece: Uint8Array): Uint8Array {
    const need = this.#partLen + piece.length;
    if (this.#lent && this.#partLen === 0) {
      this.#buf = new Uint8Array(Math.max(need, 4096));
      this.#lent = false;
    } else if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.#buf.length, 4096));
      grown.set(this.#buf.subarray(0, this.#partLen));
      this.#buf = grown;
    }
    this.#buf.set(piece, this.#partLen);
    this.#partLen = need;
    return this.#buf.subarray(0, need);
  }

  /** Forget the partial line (its bytes stay valid until the buffer is written again). */
  #reset(): void {
    this.#partLen = 0;
    if (this.#buf.length > KEEP_BYTES) this.#buf = new Uint8Array(0);
  }
}
