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
import { type DecodeOptions, decodedViews, normalizeForMatching, type TextView } from "./normalize.ts";

/** A validator: `true` when the matched text really is what the rule looks for. */
export type MatchValidator = (matchText: string) => boolean;

/** A rule ready to run. */
export interface CompiledRule {
  readonly rule: Rule;
  /** Keyword indexes into {@link CompiledRules.keywords}; empty = always run. */
  readonly keywordIds: readonly number[];
  readonly regexes: readonly RegExp[];
  readonly validator?: MatchValidator;
  /** Whether the rule also runs on decoded blobs. */
  readonly onDecoded: boolean;
  /** Field kinds, or undefined for every kind. */
  readonly kinds?: ReadonlySet<FieldKind>;
}

/** A compiled rule set. */
export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  /** Every distinct keyword of every rule. */
  readonly keywords: readonly string[];
  /** One alternation of every keyword, for a single prefilter pass. */
  readonly keywordRe?: RegExp;
  /** Keywords contained in another keyword: the alternation can hide them, so they are checked directly. */
  readonly innerKeywords: ReadonlySet<number>;
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
  readonly rule: Rule;
  /** Half-open span in the original string. */
  readonly start: number;
  readonly end: number;
  /** The original text of the span. */
  readonly text: string;
  /** The matched text in the view (folded / decoded); equals {@link text} on the raw view. */
  readonly matched: string;
  /** Set when the match is inside a decoded blob. */
  readonly encoding?: "base64" | "hex";
}

/** Upper bound on matches per rule per string: a hostile string cannot make the findings explode. */
export const MAX_HITS_PER_RULE = 256;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compile rules for {@link scanText}. Throws a `RuleError` for an unknown validator. */
export function compileRules(rules: readonly Rule[], options: CompileOptions = {}): CompiledRules {
  const keywords: string[] = [];
  const kwIndex = new Map<string, number>();
  const compiled = rules.map((rule): CompiledRule => {
    const m = rule.match;
    const flags = "g" + (m.case_sensitive ? "" : "i") + (m.unicode ? "u" : "");
    const regexes = m.patterns.map((p) => new RegExp(p, p.includes("(?<span>") ? flags + "d" : flags));
    let validator: MatchValidator | undefined;
    if (m.validate !== undefined) {
      validator = options.validators?.[m.validate];
      if (!validator) {
        throw new RuleError(
          `${rule.source ?? "rule"}: rule "${rule.id}": match.validate: unknown validator "${m.validate}"`,
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
    return {
      rule,
      keywordIds,
      regexes,
      ...(validator ? { validator } : {}),
      onDecoded: m.view === "normalized" && m.decoded !== false,
      ...(rule.applies_to ? { kinds: new Set(rule.applies_to) } : {}),
    };
  });
  // Longest first so that a keyword that is a prefix of another does not hide it.
  const sorted = [...keywords].sort((a, b) => b.length - a.length);
  const innerKeywords = new Set<number>();
  keywords.forEach((k, i) => {
    if (keywords.some((o) => o !== k && o.includes(k))) innerKeywords.add(i);
  });
  return {
    rules: compiled,
    keywords,
    innerKeywords,
    ...(keywords.length ? { keywordRe: new RegExp(sorted.map(escapeRe).join("|"), "g") } : {}),
    decodeOptions: options.decode ?? {},
  };
}

/** Which keywords occur in `lower` (one regex pass; a keyword inside another is checked directly). */
function presentKeywords(lower: string, set: CompiledRules): Uint8Array {
  const present = new Uint8Array(set.keywords.length);
  if (!set.keywordRe) return present;
  const re = new RegExp(set.keywordRe.source, "g");
  const found = new Set<string>();
  for (let m = re.exec(lower); m; m = re.exec(lower)) {
    found.add(m[0]);
    if (found.size === set.keywords.length) break;
  }
  set.keywords.forEach((k, i) => {
    // A keyword contained in a longer one that matched at the same place is missed by the
    // alternation; includes() settles those few.
    if (found.has(k) || (set.innerKeywords.has(i) && lower.includes(k))) present[i] = 1;
  });
  return present;
}

function wants(cr: CompiledRule, kind: FieldKind | undefined, present: Uint8Array): boolean {
  if (kind !== undefined && cr.kinds && !cr.kinds.has(kind)) return false;
  if (cr.keywordIds.length === 0) return true;
  for (const id of cr.keywordIds) if (present[id]) return true;
  return false;
}

function runRule(
  cr: CompiledRule,
  view: TextView,
  original: string,
  out: RuleHit[],
): void {
  let count = 0;
  for (const re0 of cr.regexes) {
    const re = new RegExp(re0.source, re0.flags);
    for (let m = re.exec(view.text); m; m = re.exec(view.text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      let s = m.index;
      let e = s + m[0].length;
      const g = m.indices?.groups?.span;
      if (g) [s, e] = g;
      if (e <= s) continue;
      const matched = view.text.slice(s, e);
      if (cr.validator && !cr.validator(matched)) continue;
      const [os, oe] = view.toOriginal(s, e);
      out.push({
        rule: cr.rule,
        start: os,
        end: oe,
        text: original.slice(os, oe),
        matched,
        ...(view.encoding ? { encoding: view.encoding } : {}),
      });
      if (++count >= MAX_HITS_PER_RULE) return;
    }
  }
}

/**
 * Every match of the rules that apply to `kind` (undefined = ignore `applies_to`), with spans in
 * `text`. Hits of one rule that overlap are merged into one; hits of different rules may overlap
 * (see {@link applyEdits}). Sorted by start, then widest first.
 */
export function scanText(
  text: string,
  kind: FieldKind | undefined,
  set: CompiledRules,
): RuleHit[] {
  if (text.length === 0 || set.rules.length === 0) return [];
  const hits: RuleHit[] = [];
  let rawPresent: Uint8Array | undefined;
  let main: TextView | undefined;
  let mainPresent: Uint8Array | undefined;
  let decoded: { view: TextView; present: Uint8Array }[] | undefined;
  for (const cr of set.rules) {
    if (kind !== undefined && cr.kinds && !cr.kinds.has(kind)) continue;
    if (cr.rule.match.view === "raw") {
      rawPresent ??= presentKeywords(text.toLowerCase(), set);
      if (wants(cr, kind, rawPresent)) runRule(cr, { text, identity: true, toOriginal: (s, e) => [s, e] }, text, hits);
      continue;
    }
    if (!main) {
      main = normalizeForMatching(text);
      mainPresent = main.identity && rawPresent ? rawPresent : presentKeywords(main.text.toLowerCase(), set);
    }
    if (wants(cr, kind, mainPresent!)) runRule(cr, main, text, hits);
    if (cr.onDecoded) {
      decoded ??= decodedViews(main, set.decodeOptions).map((view) => ({
        view,
        present: presentKeywords(view.text.toLowerCase(), set),
      }));
      for (const d of decoded) if (wants(cr, kind, d.present)) runRule(cr, d.view, text, hits);
    }
  }
  return mergeSameRule(hits, text);
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

/** One change to a string: replace [start, end) by `replacement`. */
export interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly replacement: string;
}

/**
 * Apply edits to `text`. Overlapping edits are merged: the union of their spans is replaced by the
 * replacement of the widest one (the first on a tie), so nothing of either span survives.
 *
 * @example
 * ```ts
 * applyEdits("a<b>c", [{ start: 1, end: 4, replacement: "" }]); // "ac"
 * ```
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  if (edits.length === 0) return text;
  const sorted = [...edits].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: { start: number; end: number; replacement: string; width: number }[] = [];
  for (const e of sorted) {
    const last = merged[merged.length - 1];
    if (last && e.start < last.end) {
      if (e.end - e.start > last.width) {
        last.replacement = e.replacement;
        last.width = e.end - e.start;
      }
      last.end = Math.max(last.end, e.end);
      continue;
    }
    merged.push({ start: e.start, end: e.end, replacement: e.replacement, width: e.end - e.start });
  }
  let out = "";
  let at = 0;
  for (const m of merged) {
    out += text.slice(at, m.start) + m.replacement;
    at = m.end;
  }
  return out + text.slice(at);
}
