/**
 * A normalised view of a string for rule matching, with an offset map back to the original so
 * that a match on the view changes exactly the original span it came from.
 *
 * The view folds what attackers use to dodge patterns: NFKD compatibility forms (fullwidth,
 * mathematical letters, ligatures) with diacritics dropped, Cyrillic/Greek/Armenian homoglyphs to
 * Latin, invisible characters removed (zero-width, word joiner, soft hyphen, variation selectors,
 * tag characters, bidi controls), HTML entities, percent-encoding and `\u`/`\x` escapes decoded. Base64 and hex blobs
 * that decode to text are offered as extra views ({@link decodedViews}); a match inside one maps to
 * the whole blob.
 *
 * The view is only for matching: the original keeps every character (emoji ZWJ sequences, ZWNJ in
 * Persian) unless a rule asks to change that exact span. Pure ASCII text without `&`, `%` or `\`
 * is its own view (the hot path costs one scan).
 *
 * @example
 * ```ts
 * import { normalizeForMatching } from "./normalize.ts";
 * const v = normalizeForMatching("ig\u200Bnоre"); // ZWSP, Cyrillic о
 * v.text; // "ignore"
 * v.toOriginal(0, 6); // [0, 7]
 * ```
 *
 * @module
 */

/** A text to match on, and how its offsets map back to the original string. */
export interface TextView {
  /** The text patterns run on. */
  readonly text: string;
  /** True when {@link text} is the original string itself. */
  readonly identity: boolean;
  /** Set on views decoded from a blob: the blob's encoding. */
  readonly encoding?: "base64" | "hex";
  /**
   * `false` when the text certainly has no run of 24 or more base64 characters (computed for free
   * on the fast path), so {@link decodedViews} can skip its scan.
   */
  readonly blobRun?: boolean;
  /** Map a half-open span of {@link text} to the half-open span of the original it came from. */
  toOriginal(start: number, end: number): [number, number];
}

/** Limits for blob decoding, so that hostile input cannot make the view explode. */
export interface DecodeOptions {
  /** Shortest base64 run considered (default 24 characters). */
  readonly minBase64?: number;
  /** Shortest hex run considered (default 32 digits). */
  readonly minHex?: number;
  /** How many blobs per text at most (default 64). */
  readonly maxBlobs?: number;
  /** Total decoded characters per text at most (default 1 MiB). */
  readonly maxDecoded?: number;
  /** Nesting depth for blobs inside decoded blobs (default 2). */
  readonly depth?: number;
}

// Code points removed from the view: invisible format characters and selectors.
function isInvisible(cp: number): boolean {
  if (cp < 0xad) return false;
  return cp === 0xad || cp === 0x34f || cp === 0x61c || cp === 0x115f || cp === 0x1160 ||
    cp === 0x17b4 || cp === 0x17b5 || (cp >= 0x180b && cp <= 0x180f) ||
    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206f) || cp === 0x3164 ||
    (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0xfeff || cp === 0xffa0 ||
    (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0x1bca0 && cp <= 0x1bca3) ||
    (cp >= 0x1d173 && cp <= 0x1d17a) || (cp >= 0xe0000 && cp <= 0xe007f) ||
    (cp >= 0xe0100 && cp <= 0xe01ef);
}

// Ranges where NFKD or homoglyph folding can change a character; everything else (CJK, Arabic,
// Indic…) passes through untouched, which keeps multilingual text fast.
function mayFold(cp: number): boolean {
  return (cp >= 0x80 && cp <= 0x58f) || (cp >= 0x13a0 && cp <= 0x13ff) ||
    (cp >= 0x1d00 && cp <= 0x1eff) || (cp >= 0x2000 && cp <= 0x2bff) || cp === 0x3000 ||
    (cp >= 0xa640 && cp <= 0xa7ff) || (cp >= 0xfb00 && cp <= 0xfb4f) ||
    (cp >= 0xfe50 && cp <= 0xfe6f) || (cp >= 0xff00 && cp <= 0xffef) ||
    (cp >= 0x1d400 && cp <= 0x1d7ff) || (cp >= 0x1f100 && cp <= 0x1f1ff);
}

// Homoglyphs that NFKD leaves alone: Cyrillic, Greek, Armenian, Cherokee, Latin look-alikes.
const CONFUSABLES: Readonly<Record<string, string>> = Object.freeze({
  // Cyrillic
  "а": "a",
  "в": "b",
  "е": "e",
  "ё": "e",
  "к": "k",
  "м": "m",
  "н": "h",
  "о": "o",
  "р": "p",
  "с": "c",
  "т": "t",
  "у": "y",
  "х": "x",
  "ѕ": "s",
  "і": "i",
  "ї": "i",
  "ј": "j",
  "ԁ": "d",
  "һ": "h",
  "ԛ": "q",
  "ԝ": "w",
  "ӏ": "l",
  "ɡ": "g",
  "ь": "b",
  "п": "n",
  "г": "r",
  "ц": "u",
  "А": "A",
  "В": "B",
  "Е": "E",
  "К": "K",
  "М": "M",
  "Н": "H",
  "О": "O",
  "Р": "P",
  "С": "C",
  "Т": "T",
  "У": "Y",
  "Х": "X",
  "І": "I",
  "Ј": "J",
  "Ѕ": "S",
  "Ԁ": "D",
  "Һ": "H",
  "Ԛ": "Q",
  "Ԝ": "W",
  "Ӏ": "I",
  // Greek
  "α": "a",
  "β": "b",
  "γ": "y",
  "ε": "e",
  "η": "n",
  "ι": "i",
  "κ": "k",
  "ν": "v",
  "ο": "o",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "χ": "x",
  "ω": "w",
  "ς": "s",
  "Α": "A",
  "Β": "B",
  "Ε": "E",
  "Ζ": "Z",
  "Η": "H",
  "Ι": "I",
  "Κ": "K",
  "Μ": "M",
  "Ν": "N",
  "Ο": "O",
  "Ρ": "P",
  "Τ": "T",
  "Υ": "Y",
  "Χ": "X",
  // Armenian
  "օ": "o",
  "ս": "u",
  "հ": "h",
  "ո": "n",
  "ց": "g",
  "զ": "q",
  "Օ": "O",
  "Ս": "U",
  // Latin look-alikes and small capitals
  "ı": "i",
  "ȷ": "j",
  "ɑ": "a",
  "ɩ": "i",
  "ɪ": "i",
  "ʀ": "r",
  "ʏ": "y",
  "ᴀ": "a",
  "ᴄ": "c",
  "ᴅ": "d",
  "ᴇ": "e",
  "ᴊ": "j",
  "ᴋ": "k",
  "ᴍ": "m",
  "ᴏ": "o",
  "ᴘ": "p",
  "ᴛ": "t",
  "ᴜ": "u",
  "ᴠ": "v",
  "ᴡ": "w",
  "ᴢ": "z",
  "ʜ": "h",
  "ɴ": "n",
  "ʟ": "l",
  "ꜱ": "s",
  "ɢ": "g",
  "ᏼ": "b",
  // Punctuation that stands in for ASCII delimiters
  "‹": "<",
  "›": ">",
  "〈": "<",
  "〉": ">",
  "⟨": "<",
  "⟩": ">",
  "‐": "-",
  "‑": "-",
  "‒": "-",
  "–": "-",
  "—": "-",
  "‘": "'",
  "’": "'",
  "“": '"',
  "”": '"',
  "∕": "/",
  "⁄": "/",
});

// 1 for the Greek/Cyrillic/Armenian code points that have a Latin look-alike (read-only table).
const CONFUSABLE_LOW: Uint8Array = (() => {
  const t = new Uint8Array(0x590);
  for (const k of Object.keys(CONFUSABLES)) {
    const c = k.charCodeAt(0);
    if (k.length === 1 && c < 0x590) t[c] = 1;
  }
  return t;
})();

/** Fold one code point (already known to be in a foldable range) to its matching form. */
function foldCodePoint(ch: string): string {
  const direct = CONFUSABLES[ch];
  if (direct !== undefined) return direct;
  const d = ch.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  if (d === ch) return ch;
  let out = "";
  for (const c of d) out += CONFUSABLES[c] ?? c;
  return out;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = Object.freeze({
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
  nbsp: " ",
  sol: "/",
  bsol: "\\",
  lsqb: "[",
  rsqb: "]",
  lbrack: "[",
  rbrack: "]",
  lpar: "(",
  rpar: ")",
  excl: "!",
  quest: "?",
  colon: ":",
  semi: ";",
  equals: "=",
  num: "#",
  period: ".",
  comma: ",",
  lowbar: "_",
  hyphen: "-",
  dash: "-",
  commat: "@",
  percnt: "%",
  dollar: "$",
  ast: "*",
  plus: "+",
  verbar: "|",
  vert: "|",
  grave: "`",
  lcub: "{",
  rcub: "}",
  lbrace: "{",
  rbrace: "}",
  zwsp: "\u200b",
  zwj: "\u200d",
  zwnj: "\u200c",
  shy: "\u00ad",
  lrm: "\u200e",
  rlm: "\u200f",
  NewLine: "\n",
  Tab: "\t",
  lsquo: "'",
  rsquo: "'",
  ldquo: '"',
  rdquo: '"',
  laquo: "<",
  raquo: ">",
  lsaquo: "<",
  rsaquo: ">",
});

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
}

function pctByte(text: string, at: number): number {
  if (text.charCodeAt(at) !== 0x25) return -1;
  const h = hexVal(text.charCodeAt(at + 1));
  const l = hexVal(text.charCodeAt(at + 2));
  return h < 0 || l < 0 ? -1 : (h << 4) | l;
}

/** Decode one percent-encoded UTF-8 character at `at`: [code point, length] or undefined. */
function decodePercent(text: string, at: number): [number, number] | undefined {
  const b0 = pctByte(text, at);
  if (b0 < 0) return undefined;
  if (b0 < 0x80) return [b0, 3];
  const n = b0 >= 0xf0 && b0 < 0xf5
    ? 4
    : b0 >= 0xe0 && b0 < 0xf0
    ? 3
    : b0 >= 0xc2 && b0 < 0xe0
    ? 2
    : 0;
  if (n === 0) return undefined;
  let cp = b0 & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const b = pctByte(text, at + 3 * k);
    if (b < 0x80 || b > 0xbf) return undefined;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return [cp, 3 * n];
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Decode one HTML entity at `at` (`&#60;`, `&#x3c`, `&lt;`): [code point, length] or undefined. */
function decodeEntity(text: string, at: number): [number, number] | undefined {
  let i = at + 1;
  let cp = -1;
  if (text.charCodeAt(i) === 0x23) {
    i++;
    const hex = (text.charCodeAt(i) | 0x20) === 0x78;
    if (hex) i++;
    const from = i;
    let v = 0;
    while (i - from < (hex ? 6 : 7)) {
      const c = text.charCodeAt(i);
      const d = hex ? hexVal(c) : c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
      if (d < 0) break;
      v = v * (hex ? 16 : 10) + d;
      i++;
    }
    if (i === from) return undefined;
    cp = v;
    if (text.charCodeAt(i) === 0x3b) i++;
  } else {
    const from = i;
    while (i - from < 10 && isAlnum(text.charCodeAt(i))) i++;
    if (i - from < 2 || text.charCodeAt(i) !== 0x3b) return undefined;
    const name = text.slice(from, i);
    const named = NAMED_ENTITIES[name] ?? NAMED_ENTITIES[name.toLowerCase()];
    if (named === undefined) return undefined;
    cp = named.codePointAt(0)!;
    i++;
  }
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return [cp, i - at];
}

function isLatinLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0xc0 && c <= 0x24f);
}

/**
 * The end of the word around `at` (a Greek/Cyrillic/Armenian letter) and whether it should be
 * folded: when it also has Latin letters (`раypal`) or when all its letters are look-alikes
 * (`ѕеср`). Words are bounded to 64 characters each way.
 */
function scriptWord(text: string, at: number): [number, boolean] {
  let start = at;
  while (start > 0 && at - start < 64) {
    const c = text.charCodeAt(start - 1);
    if (!(isLatinLetter(c) || (c >= 0x300 && c <= 0x58f))) break;
    start--;
  }
  let end = at;
  let latin = false;
  let allConfusable = true;
  while (end < text.length && end - at < 64) {
    const c = text.charCodeAt(end);
    if (isLatinLetter(c)) latin = true;
    else if (c >= 0x370 && c <= 0x58f) {
      if (!CONFUSABLE_LOW[c]) allConfusable = false;
    } else if (!(c >= 0x300 && c < 0x370)) break;
    end++;
  }
  for (let k = start; k < at; k++) {
    const c = text.charCodeAt(k);
    if (isLatinLetter(c)) latin = true;
    else if (c >= 0x370 && !CONFUSABLE_LOW[c]) allConfusable = false;
  }
  return [Math.max(end, at + 1), latin || allConfusable];
}

/**
 * Decode one escape at `at` (`\u0069`, `\u{69}`, `\x69`): [code point, length] or undefined.
 * Only printable results count: `\n`-style control escapes and `\x00` stay as they are.
 */
function decodeBackslash(text: string, at: number): [number, number] | undefined {
  const kind = text.charCodeAt(at + 1);
  let i = at + 2;
  let digits = 0;
  let braced = false;
  if (kind === 0x78) digits = 2; // \xHH
  else if (kind === 0x75) {
    if (text.charCodeAt(i) === 0x7b) {
      braced = true;
      i++;
    } else digits = 4; // \uHHHH
  } else return undefined;
  let cp = 0;
  const from = i;
  while (braced ? i - from < 6 : i - from < digits) {
    const h = hexVal(text.charCodeAt(i));
    if (h < 0) break;
    cp = cp * 16 + h;
    i++;
  }
  if (braced) {
    if (i === from || text.charCodeAt(i) !== 0x7d) return undefined;
    i++;
  } else if (i - from !== digits) return undefined;
  if (cp < 0x20 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return [cp, i - at];
}

/** Whether a string needs no normalisation: pure ASCII without `&`, `%` or `\`. */
export function isPlainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || c === 0x26 || c === 0x25 || c === 0x5c) return false;
  }
  return true;
}

/** Shortest base64 run worth decoding by default. */
export const MIN_BLOB = 24;

// Any character that is not plain ASCII, or is `&`, `%` or `\`.
// deno-lint-ignore no-control-regex
const NOT_PLAIN = /[^\x00-\x24\x27-\x5b\x5d-\x7f]/;

/**
 * Whether {@link decodedViews} may find something in `text`: a run of at least `min` base64
 * characters, or a sign of character-level obfuscation that gets its own view (letters spaced out,
 * leetspeak words; see {@link obfuscationSigns}). Skips ahead: a character outside the alphabet
 * rules out every run through it, so English text is probed about once per word.
 */
export function hasExtraViews(text: string, min: number = MIN_BLOB): boolean {
  return nextBlobRun(text, 0, min) >= 0 || obfuscationSigns(text) !== 0;
}

/**
 * Start of the first run of at least `min` (>= 1) base64 characters that starts at or after
 * `from`, where `from` is 0 or follows a character outside the alphabet; -1 when there is none.
 */
function nextBlobRun(text: string, from: number, min: number): number {
  const n = text.length;
  let i = from + min - 1; // the last character of a run of `min` starting at `from`
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c >= 128 || !BLOB_CLASS[c]) {
      from = i + 1;
      i = from + min - 1;
      continue;
    }
    let j = i - 1;
    while (j >= from) {
      const d = text.charCodeAt(j);
      if (d >= 128 || !BLOB_CLASS[d]) break;
      j--;
    }
    // [j + 1, i] is all base64 and j + 1 starts a run (text[j] is outside it, or j + 1 = from).
    if (i - j >= min) return j + 1;
    from = j + 1;
    i = from + min - 1;
  }
  return -1;
}

function identityView(text: string, blobRun?: boolean): TextView {
  return {
    text,
    identity: true,
    ...(blobRun === false ? { blobRun } : {}),
    toOriginal: (s, e) => [s, e],
  };
}

/**
 * The normalised view of `text` (see the module doc). Offsets of the view map back to the original
 * through {@link TextView.toOriginal}: a view span covers every original character that produced
 * it, including invisible characters removed between them.
 *
 * The view is built from segments: runs copied unchanged (offsets shift by a constant) and
 * replaced characters (every view offset maps to the whole original character or escape), so
 * clean text costs one pass and a few slices.
 */
export function normalizeForMatching(text: string): TextView {
  if (!NOT_PLAIN.test(text)) return identityView(text, hasExtraViews(text));
  const pieces: string[] = [];
  // Segments: view offset vs[i], original span [os[i], oe[i]); copy[i] = 1 when the segment maps
  // offsets 1:1 (unchanged text, or characters folded to one character of the same length).
  const vs: number[] = [0];
  const os: number[] = [0];
  const oe: number[] = [0];
  const copy: number[] = [1];
  const cache = new Map<number, string>();
  let runFrom = 0; // original offset from which text is still to be copied into pieces
  const replace = (out: string, s: number, e: number) => {
    // Adjacent replacements extend the last piece instead of adding two more.
    if (s === runFrom && pieces.length) pieces[pieces.length - 1] += out;
    else pieces.push(text.slice(runFrom, s), out);
    runFrom = e;
    if (out.length === e - s) return; // same length: the 1:1 segment goes on
    const last = vs.length - 1;
    const v = vs[last] + (s - os[last]); // view offset of original offset s
    oe[last] = s;
    if (out.length) {
      vs.push(v);
      os.push(s);
      oe.push(e);
      copy.push(0);
    }
    vs.push(v + out.length);
    os.push(e);
    oe.push(e);
    copy.push(1);
  };
  // The folded form of a code point, or undefined when it stays as it is.
  const fold = (cp: number): string | undefined => {
    if (isInvisible(cp)) return "";
    if (!mayFold(cp)) return undefined;
    let f = cache.get(cp);
    if (f === undefined) cache.set(cp, f = foldCodePoint(String.fromCodePoint(cp)));
    return f.length === 1 && f.codePointAt(0) === cp ? undefined : f;
  };
  let changed = false;
  let wordEnd = -1;
  let wordFolds = false;
  let i = 0;
  const n = text.length;
  let plainRun = 0; // plain ASCII characters (not &, %, backslash) just passed
  let next: RegExp | undefined; // finds the next character that is not plain ASCII
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0x26 || c === 0x25 || c === 0x5c) {
        const d = c === 0x26
          ? decodeEntity(text, i)
          : c === 0x25
          ? decodePercent(text, i)
          : decodeBackslash(text, i);
        if (d) {
          const f = fold(d[0]);
          replace(f ?? String.fromCodePoint(d[0]), i, i + d[1]);
          changed = true;
          i += d[1];
          plainRun = 0;
          continue;
        }
        plainRun = 0;
      }
      i++;
      if (++plainRun >= 16) {
        // A long run of plain ASCII: let the regex engine find where it ends.
        next ??= /[&%\\\u0080-\uffff]/g;
        next.lastIndex = i;
        i = next.test(text) ? next.lastIndex - 1 : n;
        plainRun = 0;
      }
      continue;
    }
    plainRun = 0;
    const cp = c >= 0xd800 && c <= 0xdbff ? text.codePointAt(i)! : c;
    const len = cp > 0xffff ? 2 : 1;
    if (cp >= 0x370 && cp <= 0x58f) {
      // Greek, Cyrillic, Armenian: fold only words that mix in Latin letters or consist of
      // look-alikes only; real Russian or Greek words are left alone (fewer changes, faster).
      if (i >= wordEnd) [wordEnd, wordFolds] = scriptWord(text, i);
      if (!wordFolds) {
        i += len;
        continue;
      }
    }
    const f = fold(cp);
    if (f !== undefined) {
      replace(f, i, i + len);
      changed = true;
    }
    i += len;
  }
  if (!changed) return identityView(text);
  pieces.push(text.slice(runFrom));
  oe[oe.length - 1] = n;
  const view = pieces.join("");
  const segV = Int32Array.from(vs);
  const segS = Int32Array.from(os);
  const segE = Int32Array.from(oe);
  const segC = Uint8Array.from(copy);
  const nseg = segV.length;
  // Index of the segment that holds view offset v (0 <= v < view.length).
  const seg = (v: number): number => {
    let lo = 0;
    let hi = nseg - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segV[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return {
    text: view,
    identity: false,
    toOriginal(s: number, e: number): [number, number] {
      if (view.length === 0) return [0, 0];
      s = Math.min(Math.max(s, 0), view.length - 1);
      e = Math.min(Math.max(e, s + 1), view.length);
      const a = seg(s);
      const start = segC[a] ? segS[a] + (s - segV[a]) : segS[a];
      const b = seg(e - 1);
      const end = segC[b] ? segS[b] + (e - 1 - segV[b]) + 1 : segE[b];
      return [start, Math.max(start, end)];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Character-level obfuscation views: letters spaced out ("I G N O R E", "i.g.n.o.r.e") and
// leetspeak ("1gn0r3 4ll pr3v10u5"). Each is offered as an extra view (see decodedViews) only when a
// cheap probe finds a sign of it; every view character maps back to the exact original characters.

/** {@link obfuscationSigns}: a run of at least 4 single letters with one separator between them. */
export const SIGN_SPACED = 1;
/** {@link obfuscationSigns}: at least 2 words that mix letters with leet digits (`1gn0r3 4ll`). */
export const SIGN_LEET = 2;

// Separators between spaced-out letters. A run uses one of them throughout.
function isSpacer(c: number): boolean {
  return c === 0x20 || c === 0x2e || c === 0x2d || c === 0x5f || c === 0x2a;
}

function isAsciiLetter(c: number): boolean {
  const l = (c | 0x20) - 0x61;
  return l >= 0 && l < 26;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x0b;
}

/**
 * Whether position `p` holds one unit of a spaced run with separator `sep`: one visible character
 * (a letter when the separator is punctuation) standing alone between separators or boundaries.
 */
function isUnit(t: string, p: number, sep: number): boolean {
  if (p < 0 || p >= t.length) return false;
  const c = t.charCodeAt(p);
  if (sep === 0x20) {
    if (isSpace(c) || c === 0xa0) return false;
    const b = p > 0 ? t.charCodeAt(p - 1) : 0x20;
    const a = p + 1 < t.length ? t.charCodeAt(p + 1) : 0x20;
    // Not part of a longer word: the characters on both sides are spaces (or the text ends).
    return (isSpace(b) || b === 0xa0) && (isSpace(a) || a === 0xa0) &&
      (c < 0xd800 || c > 0xdfff);
  }
  if (!isAsciiLetter(c)) return false;
  return !(p > 0 && isAlnum(t.charCodeAt(p - 1))) &&
    !(p + 1 < t.length && isAlnum(t.charCodeAt(p + 1)));
}

/** Letters in the spaced run through unit `p` with separator `sep`, counting at most `cap`. */
function spacedLetters(t: string, p: number, sep: number, cap: number): number {
  let letters = isAsciiLetter(t.charCodeAt(p)) ? 1 : 0;
  // Bounded walk (16 units each way): a long run of symbols costs no more than a short one.
  for (
    let q = p;
    letters < cap && q - p < 32 && t.charCodeAt(q + 1) === sep && isUnit(t, q + 2, sep);
    q += 2
  ) if (isAsciiLetter(t.charCodeAt(q + 2))) letters++;
  for (
    let q = p;
    letters < cap && p - q < 32 && t.charCodeAt(q - 1) === sep && isUnit(t, q - 2, sep);
    q -= 2
  ) if (isAsciiLetter(t.charCodeAt(q - 2))) letters++;
  return letters;
}

// Whether a spaced run of at least 4 letters passes through position i (or i ± 1).
function spacedAround(t: string, i: number): boolean {
  for (let p = i - 1; p <= i + 1; p++) {
    if (p < 0 || p >= t.length) continue;
    const c = t.charCodeAt(p);
    if (!isAsciiLetter(c)) continue;
    const a = t.charCodeAt(p + 1);
    if (isSpacer(a) && isUnit(t, p, a) && spacedLetters(t, p, a, 4) >= 4) return true;
    const b = t.charCodeAt(p - 1);
    if (b !== a && isSpacer(b) && isUnit(t, p, b) && spacedLetters(t, p, b, 4) >= 4) return true;
  }
  return false;
}

const LEET_MAP: Readonly<Record<string, string>> = Object.freeze({
  "0": "o",
  "1": "i",
  "3": "e",
  "4": "a",
  "5": "s",
  "7": "t",
});

// Two-letter words that a leet word of one letter and one digit may stand for.
const LEET_SHORT: ReadonlySet<string> = new Set(
  "of to it is in on or at as an so no do me we us if my up".split(" "),
);

/**
 * Whether t[s, e) (a maximal run of ASCII letters and digits) reads as a leetspeak word: it mixes
 * at least two letters with digits that stand for letters (0 1 3 4 5 7) and no other digit, is at
 * most 24 characters, and is not a hex string of 6 or more (hashes, colours, ids) nor a name with a
 * version number (`sha1`, `ipv4`, `gpt4`).
 */
function isLeetToken(t: string, s: number, e: number): boolean {
  const len = e - s;
  if (len < 2 || len > 24) return false;
  let letters = 0;
  let digits = 0;
  let hex = true;
  let leadLetters = 0;
  let lettersAfterDigit = false;
  for (let k = s; k < e; k++) {
    const c = t.charCodeAt(k);
    if (c >= 0x30 && c <= 0x39) {
      if (c === 0x32 || c === 0x36 || c === 0x38 || c === 0x39) return false;
      digits++;
    } else {
      letters++;
      if (digits === 0) leadLetters++;
      else lettersAfterDigit = true;
      const l = c | 0x20;
      if (l > 0x66) hex = false;
    }
  }
  if (digits === 0) return false;
  // One letter among digits is a unit, a date or a move (`4k`, `01T10`, `e4`), not a word; except
  // two-letter function words (`t0`, `0f`, `1t`).
  if (letters < 2) {
    return len === 2 &&
      LEET_SHORT.has((t[s] + t[s + 1]).toLowerCase().replace(/[013457]/, (d) => LEET_MAP[d]));
  }
  if (hex && len >= 6) return false; // hashes, colours, ids
  if (!lettersAfterDigit && leadLetters >= 3) return false; // sha1, ipv4, gpt4, web3
  return true;
}

/**
 * {@link isLeetToken}, and the word is not a piece of a base64 blob (no `+`, `/` or `=` right
 * before or after it: images and keys split into short letter-digit pieces there).
 */
function leetAt(t: string, s: number, e: number): boolean {
  const b = s > 0 ? t.charCodeAt(s - 1) : 0x20;
  const a = e < t.length ? t.charCodeAt(e) : 0x20;
  if (b === 0x2b || b === 0x2f || b === 0x3d || a === 0x2b || a === 0x2f || a === 0x3d) {
    return false;
  }
  return isLeetToken(t, s, e);
}

// A letter next to a digit that may stand for a letter; runs of letters and digits (sticky).
const LEET_ADJ = /[A-Za-z][013457]|[013457][A-Za-z]/g;
const ALNUM_RUN = /[A-Za-z0-9]*/y;

/**
 * Whether at least two distinct leetspeak words occur. Text without any of the digits 0 1 3 4 5 7
 * is ruled out by a few native searches; otherwise a native regex finds letter/digit neighbours
 * and each run of letters and digits is judged once.
 */
function hasLeet(t: string): boolean {
  if (
    t.indexOf("0") < 0 && t.indexOf("1") < 0 && t.indexOf("3") < 0 && t.indexOf("4") < 0 &&
    t.indexOf("5") < 0 && t.indexOf("7") < 0
  ) return false;
  let found = 0;
  LEET_ADJ.lastIndex = 0;
  for (let m = LEET_ADJ.exec(t); m; m = LEET_ADJ.exec(t)) {
    const p = m.index;
    let s = p;
    while (s > 0 && p - s < 25 && isAlnum(t.charCodeAt(s - 1))) s--;
    ALNUM_RUN.lastIndex = p;
    ALNUM_RUN.test(t);
    const e = ALNUM_RUN.lastIndex;
    if (!(s > 0 && isAlnum(t.charCodeAt(s - 1))) && leetAt(t, s, e) && ++found >= 2) {
      return true;
    }
    LEET_ADJ.lastIndex = e;
  }
  return false;
}

/**
 * Signs of character-level obfuscation in `text` ({@link SIGN_SPACED}, {@link SIGN_LEET} bits), found
 * cheaply: spaced letters by probing every sixth character (a run of 4 spaced letters is 7 long),
 * leetspeak from the positions of digits. 0 for ordinary prose.
 */
export function obfuscationSigns(text: string): number {
  let signs = 0;
  const n = text.length;
  for (let i = 3; i < n; i += 6) {
    // A run of 4 spaced letters is 7 characters long, so one probe lands on it. Straight-line
    // reads, no inner loop: inside a word (two letters) or on other characters the probe moves on;
    // only a lone letter next to a separator with another lone letter two places away (rare in
    // prose, where lone letters are "a" and "I") is looked at closer.
    const c = text.charCodeAt(i);
    let p: number;
    if (isAsciiLetter(c)) {
      const a = text.charCodeAt(i + 1);
      if (isAsciiLetter(a) || isAlnum(a) || isAlnum(text.charCodeAt(i - 1))) continue;
      p = i;
    } else if (isSpacer(c)) {
      if (isAsciiLetter(text.charCodeAt(i + 1)) && !isAlnum(text.charCodeAt(i + 2))) p = i + 1;
      else if (isAsciiLetter(text.charCodeAt(i - 1)) && !isAlnum(text.charCodeAt(i - 2))) {
        p = i - 1;
      } else continue;
    } else continue;
    if (spacedAround(text, p)) {
      signs |= SIGN_SPACED;
      break;
    }
  }
  if (hasLeet(text)) signs |= SIGN_LEET;
  return signs;
}

/** A view of `base` with some of its characters deleted; offsets map back through `base`. */
function withDeletions(base: TextView, keep: string[], segV: number[], segB: number[]): TextView {
  const text = keep.join("");
  const vs = Int32Array.from(segV);
  const bs = Int32Array.from(segB);
  const toBase = (v: number): number => {
    let lo = 0;
    let hi = vs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (vs[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    return bs[lo] + (v - vs[lo]);
  };
  return {
    text,
    identity: false,
    toOriginal(s: number, e: number): [number, number] {
      if (text.length === 0) return base.toOriginal(0, 0);
      s = Math.min(Math.max(s, 0), text.length - 1);
      e = Math.min(Math.max(e, s + 1), text.length);
      return base.toOriginal(toBase(s), toBase(e - 1) + 1);
    },
  };
}

/**
 * The view of `base` with spaced-out letters joined: `I G N O R E   A L L` reads
 * `IGNORE   ALL`, `r e a d   ~ / . s s h` reads `read   ~/.ssh`, `i.g.n.o.r.e` reads `ignore`. A
 * run of single characters separated by single spaces is joined when it has at least 4 letters or
 * sits next to (2 to 8 spaces from) such a run; runs of single letters separated by `.` `-` `_` `*`
 * are joined from 3 letters on. Undefined when nothing is joined.
 */
export function spacedLettersView(base: TextView): TextView | undefined {
  const t = base.text;
  const n = t.length;
  // Runs: [first unit, last unit, separator, letters].
  const runs: [number, number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    const sep = t.charCodeAt(i + 1);
    if (!isSpacer(sep) || !isUnit(t, i, sep) || !isUnit(t, i + 2, sep)) continue;
    // i starts a run unless the unit before it is part of the same run (already consumed).
    let last = i;
    let letters = isAsciiLetter(t.charCodeAt(i)) ? 1 : 0;
    while (t.charCodeAt(last + 1) === sep && isUnit(t, last + 2, sep)) {
      last += 2;
      if (isAsciiLetter(t.charCodeAt(last))) letters++;
    }
    runs.push([i, last, sep, letters]);
    i = last;
  }
  if (runs.length === 0) return undefined;
  const join = new Uint8Array(runs.length);
  for (let r = 0; r < runs.length; r++) {
    const [, , sep, letters] = runs[r];
    join[r] = (sep === 0x20 ? letters >= 4 : letters >= 3) ? 1 : 0;
  }
  // Space-separated neighbours of a joined run (short words: "A L L", "t o") are joined too.
  const gapOk = (a: number, b: number): boolean => {
    const from = runs[a][1] + 1;
    const to = runs[b][0];
    if (runs[a][2] !== 0x20 || runs[b][2] !== 0x20 || to - from < 2 || to - from > 8) return false;
    for (let k = from; k < to; k++) if (t.charCodeAt(k) !== 0x20) return false;
    return true;
  };
  for (let r = 1; r < runs.length; r++) if (join[r - 1] && !join[r] && gapOk(r - 1, r)) join[r] = 1;
  for (let r = runs.length - 2; r >= 0; r--) {
    if (join[r + 1] && !join[r] && gapOk(r, r + 1)) join[r] = 1;
  }
  const keep: string[] = [];
  const segV: number[] = [0];
  const segB: number[] = [0];
  let from = 0; // base offset still to copy
  let v = 0; // view length so far
  let any = false;
  for (let r = 0; r < runs.length; r++) {
    if (!join[r]) continue;
    any = true;
    const [first, last] = runs[r];
    for (let u = first; u < last; u += 2) {
      // Keep base[from, u + 1), drop the separator at u + 1.
      keep.push(t.slice(from, u + 1));
      v += u + 1 - from;
      from = u + 2;
      segV.push(v);
      segB.push(from);
    }
  }
  if (!any) return undefined;
  keep.push(t.slice(from));
  return withDeletions(base, keep, segV, segB);
}

/**
 * The view of `base` with leetspeak words read as letters (`1gn0r3 4ll pr3v10u5` reads
 * `ignore all previous`): only runs of letters and digits that {@link isLeetToken} accepts change,
 * one character for one, so numbers, versions, hashes and ids stay as they are. Undefined when
 * nothing changes.
 */
export function leetView(base: TextView): TextView | undefined {
  const t = base.text;
  let out = "";
  let from = 0;
  const re = /[A-Za-z0-9]+/g;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const s = m.index;
    const e = s + m[0].length;
    if (!leetAt(t, s, e)) continue;
    out += t.slice(from, s) + m[0].replace(/[013457]/g, (d) => LEET_MAP[d]);
    from = e;
  }
  if (from === 0) return undefined;
  out += t.slice(from);
  return { text: out, identity: false, toOriginal: (s, e) => base.toOriginal(s, e) };
}

/** The obfuscation views of `base` for the signs found in its text. */
function obfuscationViews(base: TextView): TextView[] {
  const signs = obfuscationSigns(base.text);
  if (signs === 0) return [];
  const out: TextView[] = [];
  if (signs & SIGN_SPACED) {
    const v = spacedLettersView(base);
    if (v) out.push(v);
  }
  if (signs & SIGN_LEET) {
    const v = leetView(base);
    if (v) out.push(v);
  }
  return out;
}

// Character classes for blob runs: 1 = base64 (standard or URL alphabet), 2 = also a hex digit.
const BLOB_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-") {
    t[c.charCodeAt(0)] = 1;
  }
  for (const c of "0123456789abcdefABCDEF") t[c.charCodeAt(0)] = 2;
  return t;
})();

// The alphabets of BLOB_CLASS as sticky patterns (one character class each: linear).
const BASE64_RUN = /[A-Za-z0-9+\/_-]*/y;
const HEX_RUN = /[0-9a-fA-F]*/y;

/**
 * Runs of base64 characters at least `min` long (with `=` padding), skipping shorter runs; lazily,
 * so that a caller that stops after a few blobs does not look at the rest of the text. A run that
 * fills its line and goes on in following lines of the same length (MIME and PEM wrap base64 every
 * 60, 64 or 76 characters) is one blob: `joined` holds it without the line breaks.
 */
function* blobRuns(
  text: string,
  min: number,
): Generator<{ start: number; end: number; hexOnly: boolean; joined?: string }> {
  const n = text.length;
  const atLeast = Math.max(1, min);
  let start = nextBlobRun(text, 0, atLeast);
  while (start >= 0) {
    // Sticky regular expressions find a run's end natively: a character loop over a long blob
    // (an image, a megabyte of one letter) cost about 3 ns per character.
    BASE64_RUN.lastIndex = start;
    BASE64_RUN.test(text);
    let i = BASE64_RUN.lastIndex;
    HEX_RUN.lastIndex = start;
    HEX_RUN.test(text);
    let hexOnly = HEX_RUN.lastIndex === i;
    let end = i;
    while (end < n && end - i < 2 && text.charCodeAt(end) === 0x3d) end++;
    let joined: string | undefined;
    const width = i - start;
    if (end === i && width >= 16 && width % 4 === 0 && width <= 1024) {
      // Wrapped base64: next lines of exactly `width` characters, then a last one of at most that.
      const parts = [text.slice(start, i)];
      let at = i;
      for (;;) {
        const nl = text.charCodeAt(at) === 0x0d ? at + 1 : at;
        if (text.charCodeAt(nl) !== 0x0a) break;
        const ls = nl + 1;
        BASE64_RUN.lastIndex = ls;
        BASE64_RUN.test(text);
        const le = BASE64_RUN.lastIndex;
        let lp = le;
        while (lp < n && lp - le < 2 && text.charCodeAt(lp) === 0x3d) lp++;
        const after = text.charCodeAt(lp);
        // The line must hold only base64 (then a line break or the end of the text).
        if (le === ls || le - ls > width || !(lp === n || after === 0x0a || after === 0x0d)) break;
        parts.push(text.slice(ls, lp));
        HEX_RUN.lastIndex = ls;
        HEX_RUN.test(text);
        if (HEX_RUN.lastIndex !== le) hexOnly = false;
        at = lp;
        i = le;
        end = lp;
        if (le - ls < width || lp > le) break; // a short or padded line ends the blob
      }
      if (parts.length > 1) joined = parts.join("");
    }
    yield joined === undefined ? { start, end, hexOnly } : { start, end, hexOnly, joined };
    // text[i] is outside the alphabet (or i = n): the next run starts after it.
    start = nextBlobRun(text, i + 1, atLeast);
  }
}
// Not fatal: invalid UTF-8 becomes U+FFFD, which asReadableText rejects (no exception per blob).
const UTF8 = new TextDecoder("utf-8");

/** Decoded text when it looks like human-readable text (an instruction), else undefined. */
function asReadableText(bytes: Uint8Array): string | undefined {
  const s = UTF8.decode(bytes);
  if (s.length < 8) return undefined;
  let letters = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f || c === 0xfffd) {
      return undefined;
    }
    if (c === 0x20 || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c > 0x7f) letters++;
  }
  return letters / s.length >= 0.7 ? s : undefined;
}

function base64Bytes(run: string): Uint8Array | undefined {
  let b = run.replace(/=+$/, "");
  const url = b.includes("-") || b.includes("_");
  if (url && (b.includes("+") || b.includes("/"))) return undefined;
  if (url) b = b.replaceAll("-", "+").replaceAll("_", "/");
  if (b.length % 4 === 1) return undefined;
  b += "===".slice(0, (4 - (b.length % 4)) % 4);
  try {
    const bin = atob(b);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function hexBytes(run: string): Uint8Array {
  const n = run.length >> 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = parseInt(run.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Views of the base64 and hex blobs in `view` that decode to readable text (binary such as
 * images, integrity hashes or commit SHAs decodes to non-text and is skipped). Each decoded view
 * is itself normalised, and every offset in it maps to the whole blob's span in the original.
 */
export function decodedViews(view: TextView, options: DecodeOptions = {}): TextView[] {
  const minB64 = options.minBase64 ?? 24;
  const minHex = options.minHex ?? 32;
  const maxBlobs = options.maxBlobs ?? 64;
  let budget = options.maxDecoded ?? 1 << 20;
  const depth = options.depth ?? 2;
  if (depth <= 0) return [];
  if (view.blobRun === false && minB64 >= MIN_BLOB && minHex >= MIN_BLOB) return [];
  const text = view.text;
  const out: TextView[] = [];
  const add = (
    s: number,
    e: number,
    decoded: string,
    encoding: "base64" | "hex",
  ) => {
    const [os, oe] = view.toOriginal(s, e);
    budget -= decoded.length;
    const inner = normalizeForMatching(decoded);
    const mapped: TextView = {
      text: inner.text,
      identity: false,
      encoding,
      toOriginal: () => [os, oe],
    };
    out.push(mapped);
    if (depth > 1) {
      for (const v of decodedViews(inner, { ...options, depth: depth - 1, maxDecoded: budget })) {
        out.push({ text: v.text, identity: false, encoding, toOriginal: () => [os, oe] });
      }
    }
  };
  let blobs = 0;
  for (const r of blobRuns(text, Math.min(minB64, minHex))) {
    if (blobs >= maxBlobs || budget <= 0) break;
    const run = r.joined ?? text.slice(r.start, r.end);
    if (r.hexOnly) {
      // A hex-only run is decoded as hex (commit SHAs and digests decode to binary: skipped).
      const even = run.length % 2 ? run.slice(0, -1) : run;
      if (even.length < minHex) continue;
      blobs++;
      const head = hexBytes(even.length > 512 ? even.slice(0, 512) : even);
      if (!asReadableTextPrefix(head)) continue;
      const decoded = asReadableText(even.length > 512 ? hexBytes(even) : head);
      if (decoded) add(r.start, r.joined ? r.end : r.start + even.length, decoded, "hex");
      continue;
    }
    if (run.length < minB64) continue;
    blobs++;
    // Check a prefix first: binary blobs (images, hashes) are rejected without decoding them whole.
    const head = base64Bytes(run.length > 344 ? run.slice(0, 344) : run);
    if (!head || !asReadableTextPrefix(head)) continue;
    const bytes = run.length > 344 ? base64Bytes(run) : head;
    const decoded = bytes && asReadableText(bytes);
    if (decoded) add(r.start, r.end, decoded, "base64");
  }
  for (const v of obfuscationViews(view)) out.push(v);
  return out;
}

// A prefix cut may split a UTF-8 sequence: drop up to 3 trailing bytes before judging.
function asReadableTextPrefix(bytes: Uint8Array): boolean {
  for (let cut = 0; cut < 4 && cut < bytes.length; cut++) {
    if (asReadableText(bytes.subarray(0, bytes.length - cut)) !== undefined) return true;
  }
  return false;
}

/** The normalised view of `text` followed by the views of blobs decoded from it. */
export function viewsOf(text: string, options: DecodeOptions = {}): TextView[] {
  const main = normalizeForMatching(text);
  return [main, ...decodedViews(main, options)];
}
