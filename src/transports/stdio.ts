/**
 * Newline-delimited JSON-RPC over a byte stream: reads lines, routes each through the session,
 * and writes what to forward. Unchanged messages are written as their original bytes (a chunk
 * with nothing changed is written as the very chunk), with backpressure: the next chunk is not
 * read before the previous writes are accepted.
 *
 * @module
 */
import { type Frame, LineFramer } from "../proxy/framing.ts";
import type { Routed } from "../proxy/session.ts";

const NL = new Uint8Array([10]);

/** An ordered byte sink shared by the two pumps (one writer per stream). */
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

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Pump one direction until the source ends. Resolves when everything read has been written. */
export async function pumpLines(o: PumpOptions): Promise<void> {
  const framer = new LineFramer(o.maxMessageBytes);
  const decoder = new TextDecoder();
  const reader = o.source.getReader();

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
    if (replies.length) await o.reply.write(concat(replies));
    if (untouched && chunk) await o.forward.write(chunk);
    else if (fwd.length) await o.forward.write(concat(fwd));
  };

  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
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
    reader.releaseLock();
  }
}
