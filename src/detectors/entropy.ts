/**
 * Layer 2 entropy and steganography analysis: finds base64, base64url, base32, hex,
 * percent-encoded and ROT13 payloads hidden in ordinary-looking text, decodes them, and rescans
 * what they say: with Layer 0 (through a callback, so this module knows nothing of the rules engine) and
 * with the instruction-likeness scorer. An encoded instruction in a tool result or description is
 * neutralised (high); an encoded shell command or beacon is reported (medium, a likely C2
 * payload); whitespace steganography (trailing runs of mixed tabs and spaces) is reported.
 *
 * Legitimate high-entropy data stays quiet, by construction rather than by allow-list: a token
 * only matters when it *decodes to readable text that says something*. Hashes, commit SHAs,
 * integrity strings (`sha512-…`), UUIDs, random IDs, cursors of binary state, images and audio
 * (data URIs with a binary media type are skipped outright) decode to bytes, not prose; cursors
 * that are base64 JSON decode to harmless JSON; spans that an earlier layer already redacted or
 * neutralised are skipped.
 *
 * Hot path: one linear regex pass finds candidate tokens (≥ 20 characters of the encoding
 * alphabets); Shannon entropy and character classes are computed only for those; a decode is
 * attempted only when the alphabet and statistics fit.
 *
 * @example
 * ```ts
 * import { findEncodedPayloads } from "./entropy.ts";
 * const [p] = findEncodedPayloads('{"note":"aWdub3JlIHByZXZpb3VzIGluc3RydWN0aW9ucw=="}');
 * p.encoding; // "base64"
 * p.decoded; // "ignore previous instructions"
 * ```
 *
 * @module
 */
import type { DetectorEnv, TextDetector } from "../pipeline/detector.ts";
import type { FieldKind, Finding, MessageContext, TextField } from "../types.ts";
import { instructionContext, scoreInstruction } from "./instruction.ts";

/** An encoding this module recognises. */
export type Encoding = "base64" | "base64url" | "base32" | "hex" | "percent" | "rot13";

/** A decoded payload found in a text. */
export interface EncodedPayload {
  /** Span [start, end) of the encoded token in the scanned text. */
  readonly start: number;
  /** End (exclusive) of the encoded token. */
  readonly end: number;
  /** How it was encoded. */
  readonly encoding: Encoding;
  /** The decoded text (only payloads that decode to readable text are returned). */
  readonly decoded: string;
  /** Shannon entropy of the encoded token, bits per character. */
  readonly entropy: number;
}

/** Character-class statistics of a token. */
export interface CharClassStats {
  /** Characters in the token. */
  readonly length: number;
  /** ASCII upper-case letters. */
  readonly upper: number;
  /** ASCII lower-case letters. */
  readonly lower: number;
  /** ASCII digits. */
  readonly digit: number;
  /** Everything else. */
  readonly other: number;
}

const MIN_TOKEN = 20;
const MAX_TOKEN = 64 * 1024;
const MAX_DECODED_SCAN = 16 * 1024;
const MAX_DEPTH = 2;

// Candidate runs are found over lookup tables: the union of the base64/base64url/base32/hex
// alphabets, and the percent-encoding alphabet (what encodeURIComponent leaves alone, plus %).
const B64_RUN = alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-");
const PCT_RUN = alphabet(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~!*'()+-%",
);

/** An alphabet as a lookup table, and as a sticky pattern for long runs. */
interface Alphabet {
  readonly table: Uint8Array;
  /** `[…]*` over the same characters (one character class: linear). */
  readonly run: RegExp;
}

function alphabet(chars: string): Alphabet {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  const cls = [...chars].map((c) => /[\w]/.test(c) ? c : `\\${c}`).join("");
  return { table: t, run: new RegExp(`[${cls}]*`, "y") };
}

/** A run longer than this is finished by the pattern (a character loop costs ~3 ns each). */
const LOOP_LIMIT = 64;

/**
 * [start, end) of every maximal run of `table` characters at least MIN_TOKEN long, in order.
 *
 * Skip sampling instead of a loop over every character: any run of MIN_TOKEN characters covers
 * one of the positions sampled MIN_TOKEN apart, so only sampled positions inside the alphabet are
 * expanded to their run. Ordinary prose costs about one character test per word, not per
 * character (a regex restarting at every position is slower still).
 */
function runs(text: string, alpha: Alphabet): Array<[number, number]> {
  const table = alpha.table;
  const out: Array<[number, number]> = [];
  const n = text.length;
  let i = MIN_TOKEN - 1;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c >= 128 || table[c] !== 1) {
      i += MIN_TOKEN;
      continue;
    }
    // Expand around the sample; the previous run ended at a character outside the alphabet, so
    // this cannot reach back into it.
    let e = i + 1;
    const stop = Math.min(n, i + LOOP_LIMIT);
    while (e < stop && (c = text.charCodeAt(e)) < 128 && table[c] === 1) e++;
    if (e === stop && e < n && (c = text.charCodeAt(e)) < 128 && table[c] === 1) {
      alpha.run.lastIndex = e;
      alpha.run.test(text);
      e = alpha.run.lastIndex;
    }
    // Long enough only if text[e - MIN_TOKEN] is in it (most words fail this one test).
    const k = e - MIN_TOKEN;
    if (k >= 0 && (k >= i || ((c = text.charCodeAt(k)) < 128 && table[c] === 1))) {
      let s = i;
      while (s > 0 && (c = text.charCodeAt(s - 1)) < 128 && table[c] === 1) s--;
      if (e - s >= MIN_TOKEN) out.push([s, e]);
    }
    // text[e] is outside the alphabet: the next run starts at e + 1 or later.
    i = e + MIN_TOKEN;
  }
  return out;
}
// Trailing whitespace runs (whitespace steganography, e.g. SNOW): bounded, linear.
const TRAILING_WS = /[ \t]{8,128}$/gm;
const DATA_URI_BEFORE = /^data:([a-z]{1,20}\/[a-z0-9.+-]{1,80})?((?:;[a-z0-9=.-]{1,40}){0,4}),$/i;
const INTEGRITY = /^sha(?:1|224|256|384|512)-/i;
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const HEX = /^(?:0x)?[0-9a-fA-F]+$/;
const BASE32 = /^[A-Z2-7]+=*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const PERCENT_TRIPLET = /%[0-9A-Fa-f]{2}/;
const UPPER_OR_DIGIT = /[A-Z0-9]/;

// What a command-and-control payload looks like once decoded: shell, interpreters, fetch-and-run,
// reverse shells, raw IP:port endpoints, beacon vocabulary.
const C2_CUES =
  /\b(?:curl|wget|bash|sh\s+-c|powershell|pwsh|cmd(?:\.exe)?\s+\/c|nc\s+-[a-z]{1,4}|ncat|netcat|python3?\s+-c|perl\s+-e|chmod\s+\+x|\/bin\/(?:ba)?sh|mkfifo|base64\s+-d|invoke-expression|iex|certutil|rundll32|beacon|exfil\w{0,8}|reverse\s+shell)\b|\b\d{1,3}(?:\.\d{1,3}){3}:\d{2,5}\b/i;

/**
 * Shannon entropy of `s`, in bits per character (0 for an empty string).
 *
 * @example
 * ```ts
 * shannonEntropy("aaaa"); // 0
 * shannonEntropy("abcd"); // 2
 * ```
 */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Counts of upper-case letters, lower-case letters, digits and other characters (ASCII).
 *
 * @example
 * ```ts
 * charClassStats("aB3-"); // { length: 4, upper: 1, lower: 1, digit: 1, other: 1 }
 * ```
 */
export function charClassStats(s: string): CharClassStats {
  let upper = 0, lower = 0, digit = 0, other = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
    else if (c >= 48 && c <= 57) digit++;
    else other++;
  }
  return { length: s.length, upper, lower, digit, other };
}

const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX: Int16Array = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < B64_ALPHABET.length; i++) t[B64_ALPHABET.charCodeAt(i)] = i;
  t["-".charCodeAt(0)] = 62;
  t["_".charCodeAt(0)] = 63;
  return t;
})();

function decodeBase64Bytes(s: string): Uint8Array | undefined {
  const body = s.replace(/=+$/, "");
  if (body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor(body.length * 3 / 4));
  let acc = 0, bits = 0, o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c] : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

function decodeBase32Bytes(s: string): Uint8Array | undefined {
  const body = s.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor(body.length * 5 / 8));
  let acc = 0, bits = 0, o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    const v = c >= 65 && c <= 90 ? c - 65 : c >= 50 && c <= 55 ? c - 24 : -1;
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

function decodeHexBytes(s: string): Uint8Array | undefined {
  const body = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (body.length % 2) return undefined;
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i++) {
    const v = parseInt(body.substr(i * 2, 2), 16);
    if (Number.isNaN(v)) return undefined;
    out[i] = v;
  }
  return out;
}

// Non-fatal: a replacement character marks invalid UTF-8 (exceptions would be slow on the hot path).
const UTF8 = new TextDecoder("utf-8");

/**
 * The bytes as readable text, or undefined: valid UTF-8, almost no control characters, mostly
 * letters and spaces (what an instruction or a command looks like; hashes and images fail).
 */
export function asReadableText(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8) return undefined;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if ((b < 32 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f) return undefined;
  }
  const text = UTF8.decode(bytes);
  let control = 0, letters = 0, spaces = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) spaces++;
    else if (c < 32 && c !== 9 && c !== 10 && c !== 13) control++;
    else if (c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0xfffd) control++;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c >= 0xc0) letters++;
  }
  if (control > 0) return undefined;
  if (letters < text.length * 0.3) return undefined;
  // Prose or a command has separators; one long "word" is an identifier, not a message.
  if (spaces === 0 && !/[\n\t/:;,{}"]/.test(text)) return undefined;
  return text;
}

/**
 * Cheap structural test before decoding: in base64 of ASCII text the first character of every
 * 4-character group encodes a byte's top six bits, which are below 32 (A–Z, a–f). Identifiers
 * like `HTMLElementTagNameMap` fail at once. One exception allows for non-ASCII UTF-8.
 */
function looksLikeBase64OfText(token: string): boolean {
  let bad = 0;
  const n = Math.min(token.length, 256);
  for (let i = 0; i < n; i += 4) {
    const c = token.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c] : -1;
    if (v < 0 || v >= 32) {
      if (++bad > 1 + (n >> 5)) return false;
    }
  }
  return true;
}

/** Decoded bytes that are themselves one encoded token (a payload encoded twice). */
function asInnerToken(bytes: Uint8Array): string | undefined {
  if (bytes.length < MIN_TOKEN) return undefined;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 128 || B64_RUN.table[c] !== 1) return undefined;
  }
  return String.fromCharCode(...bytes.subarray(0, MAX_DECODED_SCAN));
}

interface Decoded {
  readonly encoding: Encoding;
  readonly decoded: string;
  /** The decoded text is another encoded token, to be decoded again. */
  readonly layered?: boolean;
}

function readable(encoding: Encoding, b: Uint8Array | undefined): Decoded | undefined {
  if (!b) return undefined;
  const t = asReadableText(b);
  if (t) return { encoding, decoded: t };
  const inner = asInnerToken(b);
  return inner ? { encoding, decoded: inner, layered: true } : undefined;
}

function decodeToken(token: string, percent: boolean): Decoded | undefined {
  const st = charClassStats(token);
  // Hex: long enough for a sentence fragment, letters and digits both present.
  if (token.length >= MIN_TOKEN && HEX.test(token) && st.digit > 0) {
    return readable("hex", decodeHexBytes(token)); // hashes, SHAs: nothing else to try
  }
  if (token.length >= 24 && st.lower === 0 && BASE32.test(token)) {
    const d = readable("base32", decodeBase32Bytes(token));
    if (d) return d;
  }
  // base64 of text has both cases; identifiers in slug-case or SCREAMING_CASE do not decode.
  if (st.upper > 0 && st.lower > 0 && looksLikeBase64OfText(token)) {
    const url = !BASE64.test(token) && BASE64URL.test(token);
    if (url || BASE64.test(token)) {
      const d = readable(url ? "base64url" : "base64", decodeBase64Bytes(token));
      if (d) return d;
    }
  }
  if (percent && token.includes("%")) {
    let n = 0;
    for (const _ of token.matchAll(/%[0-9A-Fa-f]{2}/g)) if (++n >= 4) break;
    if (n >= 4) {
      try {
        const t = decodeURIComponent(token);
        if (/[a-z]{3}/i.test(t)) return { encoding: "percent", decoded: t };
      } catch { /* not percent-encoding */ }
    }
  }
  return undefined;
}

/** Sub-tokens worth decoding inside a candidate run (query strings carry `key=value`). */
function pieces(run: string, at: number): Array<[string, number]> {
  if (INTEGRITY.test(run) || UUID_LIKE.test(run)) return [];
  const eq = run.search(/=[^=]/);
  if (eq < 0) return [[run, at]];
  const out: Array<[string, number]> = [];
  for (const m of run.matchAll(/[^=&]+={0,2}/g)) {
    if (m[0].length >= MIN_TOKEN) out.push([m[0], at + m.index]);
  }
  return out;
}

/** Whether the binary media type of a data URI ending right before `at` says "not text". */
function inBinaryDataUri(text: string, at: number): boolean {
  if (at < 6 || text.charCodeAt(at - 1) !== 44) return false; // a data URI's payload follows ","
  const before = text.slice(Math.max(0, at - 160), at);
  const k = before.lastIndexOf("data:");
  if (k < 0) return false;
  const m = DATA_URI_BEFORE.exec(before.slice(k));
  if (!m) return false;
  const type = (m[1] ?? "text/plain").toLowerCase();
  return !(type.startsWith("text/") || type.includes("json") || type.includes("xml") ||
    type.includes("javascript"));
}

/**
 * Every encoded payload in `text` that decodes to readable text (recursively, two levels deep),
 * skipping spans in `skip` and binary data URIs.
 */
export function findEncodedPayloads(
  text: string,
  skip: ReadonlyArray<readonly [number, number]> = [],
): EncodedPayload[] {
  const out: EncodedPayload[] = [];
  collect(text, 0, skip, 0, out);
  for (const p of rot13Lines(text)) {
    if (!skip.some(([a, b]) => p.start < b && p.end > a)) out.push(p);
  }
  return out.sort((a, b) => a.start - b.start);
}

// ROT13 of frequent English words ("the", "and", "you", "to", "of", "is", "your", "ignore",
// "previous", "instructions", "send", "user"): English prose in ROT13 is full of them, English
// prose in clear almost never contains them.
const ROT13_HINTS = [" gur ", " naq ", " lbh ", " gb ", " bs "];
// Any one of the hints, in one pass (five `includes` cost five passes over clean text).
const ROT13_ANY_HINT = / (?:gur|naq|lbh|gb|bs) /;
const ROT13_WORDS =
  /\b(?:gur|naq|lbh|lbhe|gb|bs|vf|vg|sbe|jvgu|guvf|nyy|vtaber|cerivbhf|vafgehpgvbaf|fraq|hfre|nffvfgnag)\b/gi;
const MAX_ROT13_LINE = 4096;

/** Decode ROT13 (letters only). */
export function rot13(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) out += String.fromCharCode(((c - 65 + 13) % 26) + 65);
    else if (c >= 97 && c <= 122) out += String.fromCharCode(((c - 97 + 13) % 26) + 97);
    else out += s[i];
  }
  return out;
}

/** Lines that read as English once ROT13-decoded (only looked for when two hints are present). */
function rot13Lines(text: string): EncodedPayload[] {
  if (!ROT13_ANY_HINT.test(text)) return [];
  let hints = 0;
  for (const h of ROT13_HINTS) if (text.includes(h)) hints++;
  if (hints < 2) return [];
  const out: EncodedPayload[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, Math.min(end, start + MAX_ROT13_LINE));
    const words = line.split(/\s+/).length;
    let n = 0;
    for (const _ of line.matchAll(ROT13_WORDS)) n++;
    if (n >= 3 && n >= words * 0.15) {
      const lead = line.length - line.trimStart().length;
      const body = line.trim();
      out.push({
        start: start + lead,
        end: start + lead + body.length,
        encoding: "rot13",
        decoded: rot13(body),
        entropy: shannonEntropy(body),
      });
    }
    start = end + 1;
  }
  return out;
}

function collect(
  text: string,
  offset: number,
  skip: ReadonlyArray<readonly [number, number]>,
  depth: number,
  out: EncodedPayload[],
): void {
  // A run joined across line breaks: `run` has no newlines, [start, end) spans them.
  let pending: { start: number; end: number; run: string } | undefined;
  const consider = (start: number, run: string, percent = false, end = start + run.length) => {
    if (run.length > MAX_TOKEN) return;
    // Without an upper-case letter or a digit no piece decodes (hex needs a digit, base32 an
    // A–Z/2–7 character, base64 both cases): lower-case words, paths and rulers stop here.
    if (!percent && !UPPER_OR_DIGIT.test(run)) return;
    const absStart = offset + start, absEnd = offset + end;
    if (skip.some(([a, b]) => absStart < b && absEnd > a)) return;
    if (inBinaryDataUri(text, start)) return;
    const joined = end !== start + run.length;
    for (const [tok, at] of pieces(run, start)) {
      const d = decodeToken(tok, percent);
      if (!d) continue;
      const entropy = shannonEntropy(tok);
      const s = offset + at;
      // Offsets inside a joined run do not map back (newlines were dropped): use the whole span.
      const e = joined ? absEnd : s + tok.length;
      if (!d.layered) {
        out.push({
          start: joined ? offset + start : s,
          end: e,
          encoding: d.encoding,
          decoded: d.decoded,
          entropy,
        });
      }
      if (depth + 1 < MAX_DEPTH) {
        const inner: EncodedPayload[] = [];
        collect(d.decoded.slice(0, MAX_DECODED_SCAN), 0, [], depth + 1, inner);
        for (const p of inner) {
          out.push({
            start: joined ? offset + start : s,
            end: e,
            encoding: p.encoding,
            decoded: p.decoded,
            entropy,
          });
        }
      }
    }
  };
  if (text.indexOf("%") >= 0 && PERCENT_TRIPLET.test(text)) {
    // Percent-encoding has its own alphabet (dots, tildes): a separate pass, only when needed.
    for (const [a, b] of runs(text, PCT_RUN)) {
      const run = text.slice(a, b);
      if (PERCENT_TRIPLET.test(run)) consider(a, run, true);
    }
  }
  for (const [a, b] of runs(text, B64_RUN)) {
    const run = text.slice(a, b);
    // MIME-style wrapped base64: lines of 60–76 characters (multiple of 4) continue a payload.
    if (pending && a === pending.end + 1 && text.charCodeAt(a - 1) === 10) {
      pending = { start: pending.start, end: b, run: pending.run + run };
    } else {
      if (pending) consider(pending.start, pending.run, false, pending.end);
      pending = { start: a, end: b, run };
    }
    let wrapped = run.length >= 60 && run.length <= 76 && run.length % 4 === 0 &&
      text.charCodeAt(b) === 10;
    if (wrapped) {
      // The last line of a wrapped payload is often shorter than a candidate: take it here.
      let j = b + 1;
      while (j < text.length && j - b <= MIN_TOKEN) {
        const c = text.charCodeAt(j);
        if (c >= 128 || B64_RUN.table[c] !== 1) break;
        j++;
      }
      if (j - b - 1 > 0 && j - b - 1 < MIN_TOKEN) {
        pending = { start: pending.start, end: j, run: pending.run + text.slice(b + 1, j) };
        wrapped = false;
      }
    }
    if (!wrapped) {
      consider(pending.start, pending.run, false, pending.end);
      // A joined payload that fails may still hold a good last line: try it alone too.
      if (pending.start !== a && run.length >= MIN_TOKEN) consider(a, run);
      pending = undefined;
    }
  }
  if (pending) consider(pending.start, pending.run, false, pending.end);
}

/** Options of {@link createEntropyDetector}. */
export interface EntropyDetectorOptions {
  /**
   * Layer 0, to rescan decoded payloads (pass the Layer 0 text detector). Its findings on the
   * decoded text make the payload a hidden instruction; their spans are ignored.
   */
  readonly rescan?: Pick<TextDetector, "scan">;
}

const METADATA_OR_CONTENT = (kind: FieldKind): boolean =>
  instructionContext(kind) !== undefined || kind === "argument" || kind === "other";

function excerpt(decoded: string, hits: readonly Finding[]): string {
  // Never copy what Layer 0 redacts (secrets) into the details in clear.
  let safe = decoded;
  const spans = hits.filter((h) => h.action === "redact" && h.span).sort((a, b) =>
    b.span![0] - a.span![0]
  );
  for (const h of spans) {
    safe = safe.slice(0, h.span![0]) + (h.replacement ?? "[REDACTED]") + safe.slice(h.span![1]);
  }
  return safe.length > 300 ? safe.slice(0, 300) + "…" : safe;
}

function trailingWhitespaceStego(text: string): Finding["span"] | undefined {
  if (!text.includes("\t")) return undefined;
  let mixed = 0, first = -1, last = -1;
  for (const m of text.matchAll(TRAILING_WS)) {
    if (m[0].includes("\t") && m[0].includes(" ")) {
      mixed++;
      if (first < 0) first = m.index;
      last = m.index + m[0].length;
    }
  }
  return mixed >= 3 ? [first, last] : undefined;
}

/**
 * The entropy/steganography {@link TextDetector} (layer `L2-entropy`). Rules:
 * `l2-encoded-instructions` (high, neutralize), `l2-encoded-command` (medium, alert),
 * `l2-whitespace-stego` (medium, alert).
 *
 * @example
 * ```ts
 * import { createLayer0Detector } from "./layer0.ts";
 * const det = createEntropyDetector({ rescan: createLayer0Detector(rules) });
 * ```
 */
export function createEntropyDetector(opts: EntropyDetectorOptions = {}): TextDetector {
  return {
    name: "entropy",
    scan(field: TextField, ctx: MessageContext, env: DetectorEnv, prior: readonly Finding[]) {
      if (field.text.length < MIN_TOKEN || !METADATA_OR_CONTENT(field.kind)) return [];
      const skip = prior.filter((p) => p.span && p.action !== "alert").map((p) => p.span!);
      const findings: Finding[] = [];
      const outbound = field.kind === "argument" || ctx.direction === "client_to_server";
      let lastEnd = -1;
      for (const p of findEncodedPayloads(field.text, skip)) {
        if (p.start < lastEnd) continue; // nested decode of a token already reported
        const decoded = p.decoded.slice(0, MAX_DECODED_SCAN);
        const hits = opts.rescan
          ? opts.rescan.scan({ ...field, text: decoded }, ctx, env, []).filter((h) =>
            h.severity !== "low"
          )
          : [];
        const instr = scoreInstruction(decoded, "content");
        const evidence = field.text.slice(p.start, p.end);
        const base = {
          path: field.path,
          ...(field.tool !== undefined ? { tool: field.tool } : {}),
          evidence,
        };
        if (hits.length > 0 || (instr.score >= 4 && instr.strong > 0)) {
          lastEnd = p.end;
          findings.push({
            ...base,
            layer: "L2-entropy",
            rule: "l2-encoded-instructions",
            severity: "high",
            action: outbound ? "alert" : "neutralize",
            message: `A ${p.encoding}-encoded payload decodes to instructions or content that ` +
              "Layer 0 flags; encoded text like this is how injections hide from reviewers.",
            span: [p.start, p.end],
            replacement:
              `[mcp-watchdog removed: ${p.encoding}-encoded instructions (l2-encoded-instructions)]`,
            details: {
              encoding: p.encoding,
              entropy: Math.round(p.entropy * 100) / 100,
              decoded: excerpt(decoded, hits),
              layer0: [...new Set(hits.map((h) => h.rule))],
              cues: instr.cues,
            },
          });
        } else if (C2_CUES.test(decoded)) {
          lastEnd = p.end;
          findings.push({
            ...base,
            layer: "L2-entropy",
            rule: "l2-encoded-command",
            severity: "medium",
            action: "alert",
            message: `A ${p.encoding}-encoded payload decodes to a command or network endpoint ` +
              "(possible steganographic command-and-control traffic).",
            span: [p.start, p.end],
            details: {
              encoding: p.encoding,
              entropy: Math.round(p.entropy * 100) / 100,
              decoded: excerpt(decoded, hits),
            },
          });
        }
      }
      const ws = trailingWhitespaceStego(field.text);
      if (ws) {
        findings.push({
          layer: "L2-entropy",
          rule: "l2-whitespace-stego",
          severity: "medium",
          action: "alert",
          message: "Lines end in runs of mixed tabs and spaces, the signature of whitespace " +
            "steganography (data hidden in trailing white space).",
          path: field.path,
          ...(field.tool !== undefined ? { tool: field.tool } : {}),
          span: ws,
          evidence: field.text.slice(ws[0], Math.min(ws[1], ws[0] + 200)),
        });
      }
      return findings;
    },
  };
}
