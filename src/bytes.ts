/**
 * Byte-array helpers shared by the transports.
 *
 * @module
 */

/**
 * `parts` joined into one array. A single part is returned as it is, unless `copy` is set (for
 * parts that are views into a buffer about to be reused).
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * const all = concatBytes([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * console.assert(all.length === 3);
 * ```
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  copy = false,
): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && !copy && parts[0].buffer instanceof ArrayBuffer) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
