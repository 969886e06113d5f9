/**
 * Read an HTTP body as text without holding more than a limit: a server or client that sends
 * gigabytes gets an "oversized" answer after `max` bytes, not the whole body in memory.
 *
 * @example
 * ```ts ignore
 * const body = await readBoundedBody(response, 4 * 1024 * 1024);
 * if ("oversized" in body) console.error(`too big: at least ${body.oversized} bytes`);
 * else console.log(body.text);
 * ```
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

/** The body, or how big it was (at least) and its first characters when over the limit. */
export type BoundedBody =
  | { readonly text: string }
  | { readonly oversized: number; readonly prefix: string };

/** How many characters of an oversized body are kept (for the report about it). */
const PREFIX_CHARS = 4096;

/**
 * The body of `r` as text, or a note that it is longer than `max` bytes. A declared length within
 * bounds is read in one go (the runtime's streaming path costs more); a declared length over it is
 * refused unread; anything else is read piece by piece and abandoned past `max`.
 */
export async function readBoundedBody(r: Request | Response, max: number): Promise<BoundedBody> {
  // `body` is not touched on the common path: in Deno, reading it turns a body held as bytes
  // into a stream, and `text()` then goes through that stream.
  const declared = r.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared)) {
    const n = Number(declared);
    if (n <= max) return { text: await r.text() };
    await r.body?.cancel().catch(() => {});
    return { oversized: n, prefix: "" };
  }
  if (!r.body) return { text: "" };
  const reader = r.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.length;
    parts.push(value);
    if (n > max) {
      await reader.cancel().catch(() => {});
      return { oversized: n, prefix: decode(parts).slice(0, PREFIX_CHARS) };
    }
  }
  return { text: decode(parts) };
}

function decode(parts: readonly Uint8Array[]): string {
  return new TextDecoder().decode(concatBytes(parts));
}
