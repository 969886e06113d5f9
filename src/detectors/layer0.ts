/**
 * Layer 0 (SMAC-L3 preprocessing): runs every rule on every text field the model will see and
 * turns the matches into {@link Finding}s with exact spans, so the pipeline can neutralise a hidden
 * instruction, strip terminal escapes or redact a secret without touching anything else.
 *
 * @example
 * ```ts
 * import { createLayer0Detector } from "./layer0.ts";
 * import { BUILTIN_RULES } from "../../rules/builtin.gen.ts";
 * const l0 = createLayer0Detector(BUILTIN_RULES);
 * // l0.scan(field, ctx, env, []) → Finding[]
 * ```
 *
 * @module
 */
import { hash8 } from "../hash.ts";
import type { TextDetector } from "../pipeline/detector.ts";
import { type CompileOptions, compileRules, type RuleHit, scanText } from "../rules/engine.ts";
import type { Rule, RuleDecoder } from "../rules/schema.ts";
import { validators } from "../rules/validators.ts";
import type { Finding, TextField } from "../types.ts";

/** Longest decoded payload shown in a finding's details. */
const MAX_DETAIL = 400;

/** The visible marker a neutralised span becomes, unless the rule sets `replacement`. */
export function markerFor(rule: Rule): string {
  return rule.replacement ??
    `[mcp-watchdog removed: ${rule.marker ?? "hidden instruction"} (${rule.id})]`;
}

/** What replaces a hit's span, by the rule's action (undefined for alert and block). */
export function replacementFor(rule: Rule, original: string): string | undefined {
  if (rule.action === "neutralize") return markerFor(rule);
  if (rule.action === "redact") {
    return `[REDACTED:${rule.match.redact_type ?? "secret"}:${hash8(original)}]`;
  }
  return undefined;
}

/** Decode Unicode tag characters (U+E0020–E007E map to ASCII) in `s`. */
export function decodeTags(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xe0020 && cp <= 0xe007e) out += String.fromCharCode(cp - 0xe0000);
  }
  return out;
}

/**
 * Decode a run of variation selectors to the bytes they smuggle (VS1–16 = 0–15, VS17–256 =
 * 16–255), as UTF-8 text when it is valid, else as hex.
 */
export function decodeVariationSelectors(s: string): string {
  const bytes: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xfe00 && cp <= 0xfe0f) bytes.push(cp - 0xfe00);
    else if (cp >= 0xe0100 && cp <= 0xe01ef) bytes.push(cp - 0xe0100 + 16);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/** `U+XXXX` for each distinct code point outside printable ASCII, in order of appearance. */
export function codepointList(s: string): string[] {
  const seen = new Set<string>();
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x20 && cp < 0x7f) continue;
    seen.add("U+" + cp.toString(16).toUpperCase().padStart(4, "0"));
    if (seen.size >= 16) break;
  }
  return [...seen];
}

function clip(s: string): string {
  return s.length > MAX_DETAIL ? s.slice(0, MAX_DETAIL) + "…" : s;
}

function decodeDetail(decoder: RuleDecoder, text: string): Record<string, unknown> {
  switch (decoder) {
    case "tags":
      return { decoded: clip(decodeTags(text)) };
    case "variation-selectors":
      return { decoded: clip(decodeVariationSelectors(text)) };
    case "codepoints":
      return { codepoints: codepointList(text) };
  }
}

/** Facts for the alert: decoded payloads, the folded form that matched. Never a secret. */
function detailsOf(hit: RuleHit): Record<string, unknown> | undefined {
  const rule = hit.rule;
  if (rule.action === "redact") return hit.encoding ? { encoding: hit.encoding } : undefined;
  const d: Record<string, unknown> = rule.decode ? decodeDetail(rule.decode, hit.text) : {};
  if (hit.encoding) {
    d.encoding = hit.encoding;
    d.decoded ??= clip(hit.matched);
  } else if (hit.matched !== hit.text && rule.match.view === "normalized") {
    d.normalized = clip(hit.matched);
  }
  return Object.keys(d).length ? d : undefined;
}

/** Findings for the hits of one field. */
export function findingsOf(field: TextField, hits: readonly RuleHit[]): Finding[] {
  return hits.map((hit): Finding => {
    const rule = hit.rule;
    const replacement = replacementFor(rule, hit.text);
    const details = detailsOf(hit);
    return {
      layer: rule.layer,
      rule: rule.id,
      severity: rule.severity,
      action: rule.action,
      message: rule.message,
      path: field.path,
      ...(field.tool !== undefined ? { tool: field.tool } : {}),
      span: [hit.start, hit.end],
      ...(replacement !== undefined ? { replacement } : {}),
      evidence: hit.text,
      ...(details ? { details } : {}),
    };
  });
}

/**
 * The Layer 0 text detector over `rules` (the built-in rules plus any `--rules` directories).
 * Rules are compiled once here; `scan` is pure and respects each rule's `applies_to`.
 */
export function createLayer0Detector(
  rules: readonly Rule[],
  options: CompileOptions = {},
): TextDetector {
  const compiled = compileRules(rules, { validators, ...options });
  return {
    name: "layer0",
    scan(field) {
      const hits = scanText(field.text, field.kind, compiled);
      return hits.length ? findingsOf(field, hits) : [];
    },
  };
}
