/**
 * The Layer 0 rule engine: compiles {@link Rule}s once, then finds their matches in a string with
 * spans in the original string (matching happens on the normalised view of
 * `./normalize.ts`; a match maps back to the exact original characters that produced it).
 *
 * Cost control: a rule whose keywords are absent from the lower-cased view never runs its
 * patterns; all keywords of all rules are looked for in one pass; the normalised view and the
 * decoded blobs are only built when a rule needs them.
 *
 * @example
 * ```ts
 * import { compileRules, scanText } from "./engine.ts";
 * import { validateRule } from "./schema.ts";
 * const rule = validateRule({
 *   id: "demo", title: "Demo", family: "demo", severity: "low", action: "neutralize",
 *   message: "demo", match: { keywords: ["evil"], patterns: ["evil\\w{0,10}"] },
 * }, "inline");
 * const hits = scanText("an еvil plan", "result.text", compileRules([rule]));
 * hits[0].start; // 3 (the Cyrillic е is folded to e for matching)
 * ```
 *
 * @module
 */
import type { FieldKind } from "../types.ts";
import type { Rule } from "./schema.ts";
import { RuleError } from "./schema.ts";
import {
  decodedViews,
  type DecodeOptions,
  hasExtraViews,
  MIN_BLOB,
  normalizeForMatching,
  type TextView,
} from "./normalize.ts";

/** A validator: `true` when the matched text really is what the rule looks for. */
export type MatchValidator = (matchText: string) => boolean;

/** A rule ready to run. */
export interface CompiledRule {
  /** The rule as validated. */
  readonly rule: Rule;
  /** Keyword indexes into {@link CompiledRules.keywords}; empty = always run. */
  readonly keywordIds: readonly number[];
  /** Its patterns, compiled with the rule's flags (`g`, `i` unless case-sensitive, `u`, `d`). */
  readonly regexes: readonly RegExp[];
  /** The named validator of `match.validate`, resolved. */
  readonly validator?: MatchValidator;
  /** Whether the rule also runs on decoded blobs. */
  readonly onDecoded: boolean;
  /** `match.require` (any must match) / `match.forbid` (none may match), compiled (not global). */
  readonly require?: readonly RegExp[];
  /** `match.forbid`, compiled. */
  readonly forbid?: readonly RegExp[];
  /** `match.context` (0 when absent). */
  readonly context: number;
  /** Field kinds, or undefined for every kind. */
  readonly kinds?: ReadonlySet<FieldKind>;
}

/** A compiled rule set. */
export interface CompiledRules {
  /** The rules, in the order given. */
  readonly rules: readonly CompiledRule[];
  /** Every distinct keyword of every rule. */
  readonly keywords: readonly string[];
  /** Finds every keyword in one pass over a string (case-insensitive for ASCII letters). */
  readonly matcher: KeywordMatcher;
  /** Limits for decoding base64/hex blobs. */
  readonly decodeOptions: DecodeOptions;
}

/** Options of {@link compileRules}. */
export interface CompileOptions {
  /** Named validators (`match.validate`); an unknown name is an error. */
  readonly validators?: Readonly<Record<string, MatchValidator>>;
  /** Limits for decoding base64/hex blobs. */
  readonly decode?: DecodeOptions;
}

/** One match of one rule, in the original string's offsets. */
export interface RuleHit {
  /** The rule that matched. */
  readonly rule: Rule;
  /** Start of the half-open span in the original string. */
  readonly start: number;
  /** End of the span (exclusive). */
  readonly end: number;
  /** The original text of the span. */
  readonly text: string;
  /** The matched text in the view (folded / decoded); equals {@link text} on the raw view. */
  readonly matched: string;
  /** Set when the match is inside a decoded blob. */
  readonly encoding?: "base64" | "hex";
}

/** Upper bound on matches per rule per string: a hostile string cannot make the findings explode. */
export const MAX_HITS_PER_RULE = 8192;

// Class of the characters that end the plain-ASCII fast path (classes are below 128).
const NOT_PLAIN = 255;
// Texts at least this long are scanned as bytes; the matcher keeps a buffer of SCRATCH bytes.
const BYTES_FROM = 256;
const SCRATCH = 1 << 16;
// Chunks at least this long are scanned in two interleaved lanes.
const LANES_FROM = 4096;
const UTF8_ENCODER = new TextEncoder();
// Any character that is not plain ASCII, or is `&`, `%` or `\`.
// deno-lint-ignore no-control-regex
const NOT_PLAIN_RE = /[^\x00-\x24\x27-\x5b\x5d-\x7f]/;

/** Which keywords occur in a text: a bitset by keyword id (read it with {@link hasKeyword}). */
export type KeywordHits = number[];

/** Whether keyword `id` is among `hits`. */
export function hasKeyword(hits: KeywordHits, id: number): boolean {
  return (hits[id >>> 5] & (1 << (id & 31))) !== 0;
}

/**
 * A multi-keyword matcher (Aho–Corasick, with a dense transition table for ASCII): one pass over a
 * string tells which keywords occur in it, at a cost independent of the number of keywords. ASCII
 * letters are matched case-insensitively, other characters through `toLowerCase`, so the text
 * needs no lower-cased copy.
 */
export class KeywordMatcher {
  readonly #ascii: Int32Array; // state + class of an ASCII char → next state (premultiplied)
  readonly #cls: Uint8Array; // ASCII char → class (0 = in no keyword; upper case = lower case)
  readonly #plainCls: Uint8Array; // byte → class, NOT_PLAIN for non-ASCII and & % \
  readonly #byteCls: Uint8Array; // byte → class, 0 for the bytes of non-ASCII characters
  readonly #relevantRe: RegExp | undefined; // finds a non-ASCII unit that occurs in a keyword
  readonly #scratch = new Uint8Array(SCRATCH); // reused (scanning is synchronous)
  readonly #k: number; // number of classes: state index × #k = premultiplied state
  readonly #quiet: number; // premultiplied states >= this have output
  readonly #other: Map<number, number>[]; // per state: non-ASCII char → next state (goto only)
  readonly #fail: Int32Array;
  readonly #out: number[][]; // keyword ids ending at each state (with the fail chain folded in)
  readonly #count: number;
  readonly #overlap: number; // longest keyword length - 1: how far back a lane must start
  readonly #nonAscii: boolean; // whether any keyword has a non-ASCII character
  readonly #relevant: Uint8Array; // non-ASCII UTF-16 units (and their upper-case forms) in keywords
  readonly #lowerOf: Uint16Array; // upper-case form → the keyword's lower-case unit (0 = itself)

  /** Build the automaton for `keywords` (lower-case strings, ids are their indexes). */
  constructor(keywords: readonly string[]) {
    this.#count = keywords.length;
    this.#overlap = Math.max(0, ...keywords.map((k) => k.length - 1));
    this.#nonAscii = keywords.some((k) => [...k].some((c) => c.charCodeAt(0) > 0x7f));
    this.#relevant = new Uint8Array(0x10000);
    this.#lowerOf = new Uint16Array(this.#nonAscii ? 0x10000 : 0);
    for (const k of this.#nonAscii ? keywords : []) {
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        if (c < 128) continue;
        this.#relevant[c] = 1;
        const up = String.fromCharCode(c).toUpperCase();
        if (up.length === 1 && up.charCodeAt(0) !== c) {
          this.#relevant[up.charCodeAt(0)] = 1;
          this.#lowerOf[up.charCodeAt(0)] = c;
        }
      }
    }
    const gotoAscii: number[][] = [[]];
    const gotoOther: Map<number, number>[] = [new Map()];
    const out: number[][] = [[]];
    keywords.forEach((k, id) => {
      let st = 0;
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        let next = c < 128 ? gotoAscii[st][c] : gotoOther[st].get(c);
        if (next === undefined) {
          next = out.length;
          gotoAscii.push([]);
          gotoOther.push(new Map());
          out.push([]);
          if (c < 128) gotoAscii[st][c] = next;
          else gotoOther[st].set(c, next);
        }
        st = next;
      }
      out[st].push(id);
    });
    const n = out.length;
    const fail = new Int32Array(n);
    const ascii = new Int32Array(n * 128);
    // Breadth-first: complete the ASCII table (a DFA) and the fail links.
    const queue: number[] = [0];
    for (let q = 0; q < queue.length; q++) {
      const st = queue[q];
      if (st !== 0) out[st].push(...out[fail[st]]);
      for (let c = 0; c < 128; c++) {
        const next = gotoAscii[st][c];
        if (next !== undefined) {
          fail[next] = st === 0 ? 0 : ascii[fail[st] * 128 + c];
          ascii[st * 128 + c] = next;
          queue.push(next);
        } else {
          ascii[st * 128 + c] = st === 0 ? 0 : ascii[fail[st] * 128 + c];
        }
      }
      for (const [c, next] of gotoOther[st]) {
        let f = fail[st];
        while (st !== 0 && f !== 0 && !gotoOther[f].has(c)) f = fail[f];
        fail[next] = st === 0 ? 0 : gotoOther[f].get(c) ?? 0;
        queue.push(next);
      }
    }
    // Compress the table to the character classes that keywords use (a small table stays in
    // cache); upper-case ASCII letters share the class of their lower-case forms.
    const cls = new Uint8Array(128);
    let k = 1;
    for (let c = 0; c < 128; c++) {
      if (c >= 0x41 && c <= 0x5a) continue;
      if (keywords.some((w) => w.includes(String.fromCharCode(c)))) cls[c] = k++;
    }
    for (let c = 0x41; c <= 0x5a; c++) cls[c] = cls[c + 32];
    // Renumber the states so that those with output come last (one comparison per character
    // tells whether keywords end here), and store them premultiplied by the class count (no
    // multiplication per character). The root stays 0.
    const order: number[] = [0];
    for (let st = 1; st < n; st++) if (!out[st].length) order.push(st);
    const quiet = out[0].length ? 0 : order.length;
    for (let st = 1; st < n; st++) if (out[st].length) order.push(st);
    const id = new Int32Array(n);
    order.forEach((st, i) => (id[st] = i * k));
    const table = new Int32Array(n * k);
    for (let st = 0; st < n; st++) {
      const row = id[st];
      for (let c = 0; c < 128; c++) {
        if (c >= 0x41 && c <= 0x5a) continue;
        if (cls[c]) table[row + cls[c]] = id[ascii[st * 128 + c]];
      }
      // Class 0: a character in no keyword sends every state back to the root.
    }
    // The fast path's classes for every byte: NOT_PLAIN for non-ASCII bytes and `&`, `%`, `\`.
    const plainCls = new Uint8Array(256).fill(NOT_PLAIN);
    for (let c = 0; c < 128; c++) plainCls[c] = cls[c];
    plainCls[0x25] = plainCls[0x26] = plainCls[0x5c] = NOT_PLAIN;
    this.#ascii = table;
    this.#cls = cls;
    this.#plainCls = plainCls;
    this.#byteCls = new Uint8Array(256); // bytes of non-ASCII characters: class 0
    this.#byteCls.set(cls);
    const units: string[] = [];
    for (let c = 128; c < 0x10000; c++) {
      if (this.#relevant[c]) units.push("\\u" + c.toString(16).padStart(4, "0"));
    }
    this.#relevantRe = units.length ? new RegExp(`[${units.join("")}]`) : undefined;
    this.#quiet = quiet * k;
    this.#other = order.map((st) => new Map([...gotoOther[st]].map(([c, x]) => [c, id[x]])));
    this.#fail = Int32Array.from(order, (st) => id[fail[st]]);
    this.#out = order.map((st) => out[st]);
    this.#k = k;
  }

  /** The keywords that occur (see {@link hasKeyword}); `null` when none does (the common case). */
  find(text: string): KeywordHits | null {
    if (this.#count === 0) return null;
    if (
      text.length >= BYTES_FROM && mostlyAscii(text) && !this.#relevantRe?.test(text)
    ) return this.#findBytes(text, false)!;
    const ascii = this.#ascii;
    const cls = this.#cls;
    const quiet = this.#quiet;
    const relevant = this.#relevant;
    const lowerOf = this.#lowerOf;
    const n = text.length;
    let present: KeywordHits | null = null;
    let st = 0;
    let left = this.#count;
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i);
      if (c < 128) {
        st = ascii[st + cls[c]];
      } else if (!relevant[c]) {
        st = 0;
      } else {
        c = lowerOf[c] || c;
        st = this.#step(st, c);
      }
      if (st >= quiet) {
        present ??= this.#hits();
        left = this.#mark(st, present, left);
        if (left === 0) return present;
      }
    }
    return present;
  }

  /**
   * {@link find} for pure ASCII text without `&`, `%` or `\` (text that is its own normalised
   * view); `undefined` as soon as the text turns out not to be such text.
   */
  findPlain(text: string): KeywordHits | null | undefined {
    if (this.#count === 0) return NOT_PLAIN_RE.test(text) ? undefined : null;
    if (text.length < BYTES_FROM) return this.#findPlainUnits(text);
    return this.#findBytes(text, true);
  }

  /**
   * Long text as UTF-8 bytes: encoded in chunks (a flat scratch buffer) by one native call each,
   * then read as bytes in two interleaved lanes (the second half starts at the root `overlap`
   * characters early, so it is in the right state where the first half ends): the lanes' table
   * lookups do not depend on each other, so the processor overlaps them.
   *
   * `plain`: `undefined` at the first character that is not ASCII or is `&`, `%`, `\`. Else the
   * text must have no non-ASCII character that occurs in a keyword: every byte of a non-ASCII
   * character sends the automaton back to the root, as the character itself would; chunks that
   * are mostly non-ASCII are read as UTF-16 units instead.
   */
  #findBytes(text: string, plain: boolean): KeywordHits | null | undefined {
    const buf = this.#scratch;
    const ascii = this.#ascii;
    const cls = plain ? this.#plainCls : this.#byteCls;
    const quiet = this.#quiet;
    const n = text.length;
    const step = plain ? SCRATCH : SCRATCH >> 2; // a UTF-16 unit is at most 3 bytes
    let present: KeywordHits | null = null;
    let st = 0;
    let left = this.#count;
    for (let off = 0; off < n; off += step) {
      const part = off === 0 && n <= step ? text : text.slice(off, off + step);
      const { read, written } = UTF8_ENCODER.encodeInto(part, buf);
      if (plain && (read !== part.length || written !== part.length)) return undefined;
      const len = written;
      if (!plain && len > part.length + (part.length >> 3)) {
        // Mostly non-ASCII: the units are fewer than the bytes.
        const units = this.#cls;
        for (let i = 0; i < part.length; i++) {
          const c = part.charCodeAt(i);
          st = c < 128 ? ascii[st + units[c]] : 0;
          if (st >= quiet) left = this.#mark(st, present ??= this.#hits(), left);
        }
        continue;
      }
      let i = 0;
      if (len >= LANES_FROM && this.#overlap < len >> 2) {
        const half = len >> 1;
        let j = half - this.#overlap;
        let sb = 0;
        for (; i < half; i++, j++) {
          const xa = cls[buf[i]];
          const xb = cls[buf[j]];
          if (xa === NOT_PLAIN || xb === NOT_PLAIN) return undefined;
          st = ascii[st + xa];
          sb = ascii[sb + xb];
          if (st >= quiet) left = this.#mark(st, present ??= this.#hits(), left);
          if (sb >= quiet) left = this.#mark(sb, present ??= this.#hits(), left);
        }
        i = j;
        st = sb;
      }
      for (; i < len; i++) {
        const x = cls[buf[i]];
        if (x === NOT_PLAIN) return undefined;
        st = ascii[st + x];
        if (st >= quiet) left = this.#mark(st, present ??= this.#hits(), left);
      }
    }
    return present;
  }

  #findPlainUnits(text: string): KeywordHits | null | undefined {
    const ascii = this.#ascii;
    const cls = this.#plainCls;
    const quiet = this.#quiet;
    let present: KeywordHits | null = null;
    let st = 0;
    let left = this.#count;
    const n = text.length;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      const x = c < 128 ? cls[c] : NOT_PLAIN;
      if (x === NOT_PLAIN) return undefined;
      st = ascii[st + x];
      if (st >= quiet) {
        present ??= this.#hits();
        left = this.#mark(st, present, left);
        if (left === 0) break;
      }
    }
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128 || cls[c] === NOT_PLAIN) return undefined;
    }
    return present;
  }

  #mark(st: number, present: KeywordHits, left: number): number {
    for (const id of this.#out[st / this.#k]) {
      const bit = 1 << (id & 31);
      if ((present[id >>> 5] & bit) === 0) {
        present[id >>> 5] |= bit;
        left--;
      }
    }
    return left;
  }

  // A plain array, not a typed one: allocating a typed array costs microseconds (its buffer lives
  // outside the JS heap), more than scanning a short text.
  #hits(): KeywordHits {
    const n = (this.#count + 31) >>> 5;
    const hits: KeywordHits = [];
    for (let i = 0; i < n; i++) hits.push(0);
    return hits;
  }

  #step(st: number, c: number): number {
    for (;;) {
      const next = this.#other[st / this.#k].get(c);
      if (next !== undefined) return next;
      if (st === 0) return 0;
      st = this.#fail[st / this.#k];
    }
  }
}

// Whether the start of a text is mostly ASCII (then reading it as UTF-8 bytes pays off).
function mostlyAscii(text: string): boolean {
  let other = 0;
  for (let i = 0; i < BYTES_FROM; i++) if (text.charCodeAt(i) >= 128) other++;
  return other <= BYTES_FROM >> 3;
}

/** Compile rules for {@link scanText}. Throws a `RuleError` for an unknown validator. */
export function compileRules(rules: readonly Rule[], options: CompileOptions = {}): CompiledRules {
  const keywords: string[] = [];
  const kwIndex = new Map<string, number>();
  const compiled = rules.map((rule): CompiledRule => {
    const m = rule.match;
    const flags = "g" + (m.case_sensitive ? "" : "i") + (m.unicode ? "u" : "");
    const regexes = m.patterns.map((p) =>
      new RegExp(p, p.includes("(?<span>") ? flags + "d" : flags)
    );
    let validator: MatchValidator | undefined;
    if (m.validate !== undefined) {
      validator = options.validators?.[m.validate];
      if (!validator) {
        throw new RuleError(
          `${
            rule.source ?? "rule"
          }: rule "${rule.id}": match.validate: unknown validator "${m.validate}"`,
        );
      }
    }
    const keywordIds = (m.keywords ?? []).map((k) => {
      let id = kwIndex.get(k);
      if (id === undefined) {
        kwIndex.set(k, id = keywords.length);
        keywords.push(k);
      }
      return id;
    });
    const testFlags = (m.case_sensitive ? "" : "i") + (m.unicode ? "u" : "");
    return {
      rule,
      keywordIds,
      regexes,
      ...(m.require ? { require: m.require.map((p) => new RegExp(p, testFlags)) } : {}),
      ...(m.forbid ? { forbid: m.forbid.map((p) => new RegExp(p, testFlags)) } : {}),
      context: m.context ?? 0,
      ...(validator ? { validator } : {}),
      onDecoded: m.view === "normalized" && m.decoded !== false,
      ...(rule.applies_to ? { kinds: new Set(rule.applies_to) } : {}),
    };
  });
  return {
    rules: compiled,
    keywords,
    matcher: new KeywordMatcher(keywords),
    decodeOptions: options.decode ?? {},
  };
}

/** What a rule set needs for one field kind, worked out once per kind. */
interface KindPlan {
  /** The rules that apply to the kind, in order. */
  readonly rules: readonly CompiledRule[];
  /** Some of them also run on decoded blobs. */
  readonly decoded: boolean;
  /** Some of them match the raw text, not the normalised view. */
  readonly raw: boolean;
  /** Indexes (into `rules`) of the rules without keywords (they run on every string). */
  readonly alwaysIdx: readonly number[];
  /** By keyword id: indexes of the rules that list the keyword (a text names few keywords, so
   * the rules to run are found from its keywords, not by asking every rule). */
  readonly byKeyword: readonly (readonly number[] | undefined)[];
}

/** Indexes of the plan's rules that `present` asks for (plus those without keywords), in order. */
function wanted(plan: KindPlan, present: KeywordHits | null): readonly number[] {
  if (present === null) return plan.alwaysIdx;
  const out = plan.alwaysIdx.slice();
  for (let wi = 0; wi < present.length; wi++) {
    let w = present[wi];
    while (w !== 0) {
      const low = w & -w;
      w ^= low;
      const rules = plan.byKeyword[(wi << 5) + 31 - Math.clz32(low)];
      if (rules) { for (const r of rules) out.push(r); }
    }
  }
  if (out.length < 2) return out;
  out.sort((a, b) => a - b);
  let n = 1;
  for (let i = 1; i < out.length; i++) if (out[i] !== out[n - 1]) out[n++] = out[i];
  out.length = n;
  return out;
}

// Per compiled rule set: the plan of each field kind (built on first use; a set is immutable).
const PLANS = Symbol("plans");
type Planned = CompiledRules & { [PLANS]?: Map<FieldKind | undefined, KindPlan> };

function planFor(set: CompiledRules, kind: FieldKind | undefined): KindPlan {
  const planned = set as Planned;
  let plans = planned[PLANS];
  if (plans === undefined) {
    plans = new Map();
    // Not enumerable: the compiled set looks the same to everyone else.
    if (Object.isExtensible(set)) Object.defineProperty(set, PLANS, { value: plans });
  }
  let plan = plans.get(kind);
  if (plan === undefined) {
    const rules = set.rules.filter((cr) => kind === undefined || !cr.kinds || cr.kinds.has(kind));
    const byKeyword: number[][] = [];
    const alwaysIdx: number[] = [];
    rules.forEach((cr, i) => {
      if (cr.keywordIds.length === 0) alwaysIdx.push(i);
      for (const id of cr.keywordIds) (byKeyword[id] ??= []).push(i);
    });
    plan = {
      rules,
      decoded: rules.some((cr) => cr.onDecoded),
      raw: rules.some((cr) => cr.rule.match.view === "raw"),
      alwaysIdx,
      byKeyword,
    };
    plans.set(kind, plan);
  }
  return plan;
}

function runRule(
  cr: CompiledRule,
  view: TextView,
  original: string,
  out: RuleHit[],
): void {
  let count = 0;
  const text = view.text;
  const encoding = view.encoding;
  // The compiled regexes are reused (scanning is synchronous and never re-entered), so only their
  // lastIndex is reset.
  for (const re of cr.regexes) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const len = m[0].length;
      if (len === 0) {
        re.lastIndex++;
        continue;
      }
      let s = m.index;
      let e = s + len;
      const g = m.indices?.groups?.span;
      if (g) [s, e] = g;
      if (e <= s) continue;
      if (cr.require || cr.forbid) {
        const from = Math.max(0, m.index - cr.context);
        const around = text.slice(from, m.index + len + cr.context);
        if (cr.require && !anyTest(cr.require, around)) continue;
        if (cr.forbid && anyTest(cr.forbid, around)) continue;
      }
      const matched = text.slice(s, e);
      if (cr.validator && !cr.validator(matched)) continue;
      let os = s;
      let oe = e;
      if (!view.identity || encoding) [os, oe] = view.toOriginal(s, e);
      const hitText = original.slice(os, oe);
      out.push(
        encoding
          ? { rule: cr.rule, start: os, end: oe, text: hitText, matched, encoding }
          : { rule: cr.rule, start: os, end: oe, text: hitText, matched },
      );
      if (++count >= MAX_HITS_PER_RULE) return;
    }
  }
}

function anyTest(res: readonly RegExp[], s: string): boolean {
  for (const r of res) if (r.test(s)) return true;
  return false;
}

/**
 * Every match of the rules that apply to `kind` (undefined = ignore `applies_to`), with spans in
 * `text`. Hits of one rule that overlap are merged into one; hits of different rules may overlap
 * (see {@link applyEdits}). Sorted by start, then widest first.
 *
 * Plain ASCII text (its own normalised view) costs one pass of the keyword automaton; when no
 * keyword occurs and no base64/hex run is long enough to decode, nothing else runs or is
 * allocated.
 */
export function scanText(
  text: string,
  kind: FieldKind | undefined,
  set: CompiledRules,
): RuleHit[] {
  if (text.length === 0 || set.rules.length === 0) return [];
  const plan = planFor(set, kind);
  if (plan.rules.length === 0) return [];
  let main: TextView;
  let mainPresent: KeywordHits | null;
  const plainPresent = set.matcher.findPlain(text);
  if (plainPresent !== undefined) {
    // Pure ASCII without & % \: the text is its own view (as normalizeForMatching would say).
    const blob = plan.decoded ? hasExtraViews(text) : true;
    if (
      plainPresent === null && plan.alwaysIdx.length === 0 &&
      !(plan.decoded && (blob || smallBlobs(set)))
    ) {
      return [];
    }
    main = blob ? plainView(text) : plainView(text, false);
    mainPresent = plainPresent;
  } else {
    main = normalizeForMatching(text);
    mainPresent = set.matcher.find(main.text);
  }
  const hits: RuleHit[] = [];
  const rules = plan.rules;
  if (main.identity) {
    // The text is its own normalised view: one keyword pass serves the raw-view rules too.
    for (const i of wanted(plan, mainPresent)) runRule(rules[i], main, text, hits);
  } else {
    for (const i of wanted(plan, mainPresent)) {
      if (rules[i].rule.match.view !== "raw") runRule(rules[i], main, text, hits);
    }
    if (plan.raw) {
      const raw = plainView(text);
      for (const i of wanted(plan, set.matcher.find(text))) {
        if (rules[i].rule.match.view === "raw") runRule(rules[i], raw, text, hits);
      }
    }
  }
  if (plan.decoded) {
    for (const view of decodedViews(main, set.decodeOptions)) {
      for (const i of wanted(plan, set.matcher.find(view.text))) {
        const cr = rules[i];
        if (cr.onDecoded && cr.rule.match.view !== "raw") runRule(cr, view, text, hits);
      }
    }
  }
  return mergeSameRule(hits, text);
}

function identityOffsets(s: number, e: number): [number, number] {
  return [s, e];
}

function plainView(text: string, blobRun?: boolean): TextView {
  return blobRun === false
    ? { text, identity: true, blobRun, toOriginal: identityOffsets }
    : { text, identity: true, toOriginal: identityOffsets };
}

// Whether decoding options allow blobs shorter than the fast path's base64-run check.
function smallBlobs(set: CompiledRules): boolean {
  const o = set.decodeOptions;
  return (o.minBase64 ?? MIN_BLOB) < MIN_BLOB || (o.minHex ?? 32) < MIN_BLOB;
}

function mergeSameRule(hits: RuleHit[], text: string): RuleHit[] {
  if (hits.length < 2) return hits;
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: RuleHit[] = [];
  const lastOf = new Map<string, number>();
  for (const h of hits) {
    const li = lastOf.get(h.rule.id);
    const last = li === undefined ? undefined : out[li];
    if (last && h.start < last.end) {
      if (h.end > last.end) {
        out[li!] = { ...last, end: h.end, text: text.slice(last.start, h.end) };
      }
      continue;
    }
    lastOf.set(h.rule.id, out.length);
    out.push(h);
  }
  return out;
}

export { applyEdits, type TextEdit } from "../text_edits.ts";
