/**
 * Synchronous SHA-256 in pure JavaScript (no `node:crypto`, no WebCrypto), so that audit hashes
 * and `[REDACTED:<type>:<hash8>]` markers can be computed inside synchronous, pure detectors on
 * every runtime (Deno, Node, browsers).
 *
 * @example
 * ```ts
 * import { hash8, sha256Hex } from "./hash.ts";
 * sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * hash8("abc"); // "ba7816bf"
 * ```
 *
 * @module
 */

const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

const ENCODER = new TextEncoder();

// Work buffers, reused: hashing is synchronous and never re-entered, and allocating a typed array
// costs microseconds (its memory lives outside the JS heap), more than hashing a short token.
// Inputs longer than SCRATCH_MAX get a buffer of their own, so none of them stays allocated.
const SCRATCH_MAX = 64 * 1024;
let scratch = new Uint8Array(1024);
const W = new Uint32Array(64);

/** A buffer of at least `n` bytes: the shared scratch when `n` is small. */
function workBuffer(n: number): Uint8Array {
  if (n > SCRATCH_MAX) return new Uint8Array(n);
  if (scratch.length < n) {
    scratch = new Uint8Array(Math.min(SCRATCH_MAX, 1 << (32 - Math.clz32(n))));
  }
  return scratch;
}

/** SHA-256 of the first `len` bytes of `buf`, which has room for the padding (pads in place). */
function digest(buf: Uint8Array, len: number): string {
  // Message + 0x80 + zero padding + 64-bit big-endian length, to a multiple of 64 bytes.
  const total = ((len + 9 + 63) >>> 6) << 6;
  buf.fill(0, len, total);
  buf[len] = 0x80;
  const bitHi = Math.floor(len / 0x20000000); // (len * 8) / 2^32
  const bitLo = (len * 8) >>> 0;
  for (let i = 0; i < 4; i++) {
    buf[total - 8 + i] = (bitHi >>> (24 - 8 * i)) & 0xff;
    buf[total - 4 + i] = (bitLo >>> (24 - 8 * i)) & 0xff;
  }

  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  const w = W;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0, o = off; i < 16; i++, o += 4) {
      w[i] = (buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  return hex8(h0) + hex8(h1) + hex8(h2) + hex8(h3) + hex8(h4) + hex8(h5) + hex8(h6) + hex8(h7);
}

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

/**
 * SHA-256 of raw bytes, as lower-case hex.
 *
 * @example
 * ```ts
 * sha256HexBytes(new Uint8Array()); // "e3b0c442…b855"
 * ```
 */
export function sha256HexBytes(data: Uint8Array): string {
  const buf = workBuffer(data.length + 72);
  buf.set(data);
  return digest(buf, data.length);
}

/**
 * SHA-256 of a string's UTF-8 encoding, as 64 lower-case hex digits.
 *
 * @example
 * ```ts
 * sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 */
export function sha256Hex(text: string): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
  const buf = workBuffer(text.length * 3 + 72);
  const { written } = ENCODER.encodeInto(text, buf);
  return digest(buf, written);
}

/**
 * The first 8 hex digits of {@link sha256Hex}: the short, stable fingerprint used in
 * `[REDACTED:<type>:<hash8>]` markers and excerpts.
 *
 * @example
 * ```ts
 * hash8("abc"); // "ba7816bf"
 * ```
 */
export function hash8(text: string): string {
  return sha256Hex(text).slice(0, 8);
}
