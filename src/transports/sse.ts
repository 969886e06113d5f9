/**
 * Server-Sent Events, both ways: an incremental parser (text chunks in, events out) that stays
 * linear on megabyte-long `data:` lines, and an encoder that keeps a JSON-RPC message intact
 * (each line of the text becomes one `data:` line, so the receiver rebuilds it exactly).
 *
 * @example
 * ```ts
 * import { encodeEvent, SseParser } from "./sse.ts";
 * const p = new SseParser();
 * p.push(encodeEvent('{"jsonrpc":"2.0","method":"x"}', "1")); // [{ id: "1", event: "message", data: … }]
 * ```
 *
 * @module
 */

/** One dispatched event. `id` is the last event id seen on the stream (per the SSE spec). */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
  /** Reconnection delay the server asked for with `retry:` (ms), when this event carried one. */
  readonly retry?: number;
  /** Set (to its size in characters) when the event's data exceeded the limit: `data` is then its first 4096 characters. */
  readonly oversized?: number;
}

/** Incremental SSE parser (WHATWG `text/event-stream` rules). */
export class SseParser {
  readonly maxChars: number;
  #parts: string[] = [];
  #partLen = 0;
  #dataLen = 0;
  #over = 0;
  #skipLine = false;
  #overHead = "";
  #data: string[] = [];
  #hasData = false;
  #event = "";
  #id: string | undefined;
  #idSet = false;
  #retry: number | undefined;
  #skipLf = false;
  /** Called for every `retry:` field. */
  onRetry?: (ms: number) => void;
  /** Called when an `id:` field changes the last event id (even without data). */
  onId?: (id: string) => void;

  /** `maxChars` bounds one event's data (and one line): beyond it the event is reported as oversized. */
  constructor(maxChars = Infinity) {
    this.maxChars = maxChars;
  }

  /** Feed decoded text; returns the events completed by it. */
  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    const n = chunk.length;
    if (this.#skipLf && n > 0) {
      this.#skipLf = false;
      if (chunk.charCodeAt(0) === 10) start = 1;
    }
    let lf = n > 0 ? -2 : -1;
    let cr = n > 0 ? -2 : -1;
    while (start < n) {
      // Find the next line end (\n, \r or \r\n) in this chunk only: long lines stay linear.
      // Native searches; each position is searched for once per chunk.
      if (lf !== -1 && lf < start) lf = chunk.indexOf("\n", start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf("\r", start);
      const i = lf === -1 ? (cr === -1 ? n : cr) : cr === -1 ? lf : Math.min(lf, cr);
      const c = i < n ? chunk.charCodeAt(i) : 0;
      if (i === n) {
        const rest = start === 0 ? chunk : chunk.slice(start);
        if (this.#skipLine) this.#over += rest.length;
        else if (this.#partLen + rest.length + this.#dataLen > this.maxChars) {
          this.#overflow(rest);
          this.#skipLine = true;
        } else {
          this.#parts.push(rest);
          this.#partLen += rest.length;
        }
        break;
      }
      let line = chunk.slice(start, i);
      if (this.#skipLine) {
        // The end of an oversized line: only its length counts.
        this.#over += line.length;
        this.#skipLine = false;
        this.#hasData = true;
      } else {
        if (this.#parts.length) {
          this.#parts.push(line);
          line = this.#parts.join("");
          this.#parts = [];
          this.#partLen = 0;
        }
        if (line.length + this.#dataLen > this.maxChars) {
          this.#overflow(line);
          this.#hasData = true;
        } else this.#line(line, out);
      }
      start = i + 1;
      if (c === 13) {
        if (start < n) {
          if (chunk.charCodeAt(start) === 10) start++;
        } else this.#skipLf = true;
      }
    }
    return out;
  }

  /** End of stream: a partial event without its blank line is discarded (SSE rules). */
  end(): void {
    this.#parts = [];
    this.#partLen = 0;
    this.#dataLen = 0;
    this.#over = 0;
    this.#skipLine = false;
    this.#data = [];
    this.#hasData = false;
    this.#event = "";
  }

  #overflow(head: string): void {
    // Keep the event's first characters (where a JSON-RPC id usually is) for the report.
    let start = this.#data.join("\n");
    for (const p of this.#parts) {
      if (start.length >= 4096) break;
      start += p.slice(0, 4096);
    }
    this.#overHead = (start + head.slice(0, 4096)).slice(0, 4096);
    this.#over += this.#partLen + head.length + this.#dataLen;
    this.#data = [];
    this.#parts = [];
    this.#partLen = 0;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      // Events without data are dispatched too when they carry an id or retry (a relay passes them on).
      if (this.#hasData || this.#idSet || this.#retry !== undefined || this.#over) {
        const ev: SseEvent = {
          event: this.#event || "message",
          data: this.#over
            ? this.#overHead
            : this.#data.length === 1
            ? this.#data[0]
            : this.#data.join("\n"),
          ...(this.#idSet && this.#id !== undefined ? { id: this.#id } : {}),
          ...(this.#retry !== undefined ? { retry: this.#retry } : {}),
          ...(this.#over ? { oversized: this.#over } : {}),
        };
        out.push(ev);
      }
      this.#over = 0;
      this.#overHead = "";
      this.#dataLen = 0;
      this.#data = [];
      this.#hasData = false;
      this.#event = "";
      this.#idSet = false;
      this.#retry = undefined;
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment
    const colon = line.indexOf(":");
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = "";
    } else {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case "data":
        if (this.#over) {
          this.#hasData = true;
          break;
        }
        this.#data.push(value);
        this.#dataLen += value.length + 1;
        this.#hasData = true;
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\0")) {
          this.#id = value;
          this.#idSet = true;
          this.onId?.(value);
        }
        break;
      case "retry":
        if (/^\d{1,10}$/.test(value)) {
          this.#retry = Number(value);
          this.onRetry?.(this.#retry);
        }
        break;
    }
  }
}

const NEWLINES = /\r\n|\r|\n/g;

/** One SSE event carrying `data` (any line breaks in it become separate `data:` lines). */
export function encodeEvent(data: string, id?: string, event?: string): string {
  let head = "";
  if (id !== undefined) head += `id: ${id}\n`;
  if (event !== undefined && event !== "message") head += `event: ${event}\n`;
  const body = data.indexOf("\n") === -1 && data.indexOf("\r") === -1
    ? data
    : data.replace(NEWLINES, "\ndata: ");
  return `${head}data: ${body}\n\n`;
}

/** Read a byte stream of SSE as events; `onEvent` may be async (back-pressure is kept). */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (e: SseEvent) => void | Promise<void>,
  parser: SseParser = new SseParser(),
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const e of parser.push(decoder.decode(value, { stream: true }))) {
        const r = onEvent(e);
        if (r instanceof Promise) await r;
      }
    }
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    parser.end();
  }
}
