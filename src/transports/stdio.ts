/**
 * Newline-delimited JSON-RPC over a byte stream: reads lines, routes each through the session,
 * and writes what to forward. Unchanged messages are written as their original bytes (a chunk
 * with nothing changed is written as the very chunk), with backpressure: the next chunk is not
 * read before the previous writes are accepted.
 *
 * Byte streams (what Deno gives for stdin and a child's stdout) are read into one reused buffer
 * (a "bring your own buffer" reader): a default reader allocates and zeroes a fresh 64 KiB chunk
 * for every read, which on small messages costs more than everything else the pump does.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { type Frame, LineFramer } from "../proxy/framing.ts";
import type { Routed } from "../proxy/session.ts";

const NL = new Uint8Array([10]);

/**
 * An ordered byte sink shared by the two pumps (one writer per stream). Writes happen in the order
 * `write` is called, also when the caller does not wait for one before calling the next.
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

/** What a pump needs. */
export interface PumpOptions {
  readonly source: ReadableStream<Uint8Array>;
  /** Where forwarded messages go. */
  readonly forward: ByteSink;
  /** Where replies to the sender go. */
  readonly reply: ByteSink;
  readonly maxMessageBytes: number;
  handle(text: string): Routed | Promise<Routed>;
  oversized(prefix: string, bytes: number): Routed;
}

const encoder = new TextEncoder();
const READ_BUFFER_BYTES = 64 * 1024;

/** Reads chunks from `source` (see the module note); each chunk is valid until the next `read()`. */
function chunkReader(source: ReadableStream<Uint8Array>): {
  read(): Promise<Uint8Array | null>;
  release(): void;
} {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = source.getReader({ mode: "byob" });
  } catch { /* not a byte stream: fall back to the default reader */ }
  if (byob) {
    const reader = byob;
    let buffer = new ArrayBuffer(READ_BUFFER_BYTES);
    return {
      async read() {
        const { value, done } = await reader.read(new Uint8Array(buffer));
        if (done || !value) return null;
        buffer = value.buffer as ArrayBuffer; // the read transferred it: take it back
        return value;
      },
      release: () => reader.releaseLock(),
    };
  }
  const reader = source.getReader();
  return {
    async read() {
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    release: () => reader.releaseLock(),
  };
}

/** Up to this many bytes, parts are joined into one write; larger ones are written as they are. */
const JOIN_BYTES = 64 * 1024;

/**
 * Write `parts` in order: small ones joined (one write), large ones without copying them. The
 * writes are all issued before the first is awaited, so that the other pump (which writes replies
 * to the same sink) cannot slip a message in between a line and its newline.
 */
async function writeParts(sink: ByteSink, parts: Uint8Array[]): Promise<void> {
  let n = 0;
  for (const p of parts) n += p.length;
  if (n <= JOIN_BYTES) return sink.write(concatBytes(parts));
  await Promise.all(parts.map((p) => sink.write(p)));
}

/** Pump one direction until the source ends. Resolves when everything read has been written. */
export async function pumpLines(o: PumpOptions): Promise<void> {
  const framer = new LineFramer(o.maxMessageBytes);
  const decoder = new TextDecoder();
  const reader = chunkReader(o.source);

  const route = async (frames: Frame[], chunk: Uint8Array | null, whole: boolean) => {
    const fwd: Uint8Array[] = [];
    const replies: Uint8Array[] = [];
    let untouched = whole;
    for (const f of frames) {
      let r: Routed | Promise<Routed>;
      if (f.type === "oversized") {
        r = o.oversized(decoder.decode(f.prefix), f.bytes);
        untouched = false;
      } else {
        r = o.handle(decoder.decode(f.bytes));
      }
      if (r instanceof Promise) r = await r;
      if (r.forward === "original" && f.type === "line") fwd.push(f.bytes, NL);
      else {
        untouched = false;
        if (typeof r.forward === "string") fwd.push(encoder.encode(r.forward + "\n"));
      }
      for (const s of r.replies) replies.push(encoder.encode(s + "\n"));
    }
    if (replies.length) await writeParts(o.reply, replies);
    if (untouched && chunk) await o.forward.write(chunk);
    else if (fwd.length) await writeParts(o.forward, fwd);
  };

  try {
    while (true) {
      const value = await reader.read();
      if (value === null) break;
      const hadPartial = framer.pending;
      const frames = framer.push(value);
      if (frames.length === 0) continue;
      const last = frames[frames.length - 1];
      // The whole chunk is complete lines: if none changes, forward the chunk itself.
      const whole = !hadPartial && last.type === "line" && last.end === value.length &&
        frames.every((f) => f.type === "line" && f.end !== -1);
      await route(frames, value, whole);
    }
    const rest = framer.end();
    if (rest.length) await route(rest, null, false);
  } finally {
    reader.release();
  }
}
