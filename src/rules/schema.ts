/**
 * The Layer 0 rule format: what a rule file (`rules/*.yaml`, or a user's `--rules <dir>`) holds,
 * and {@link validateRule}, which turns a parsed YAML/JSON object into a {@link Rule} or throws an
 * error that names the file, the field and why.
 *
 * @example
 * ```ts
 * import { validateRule } from "./schema.ts";
 * const rule = validateRule({
 *   id: "demo-rule", title: "Demo", layer: "L0-preprocess", family: "demo",
 *   severity: "low", action: "alert", message: "A demo.",
 *   match: { patterns: ["demo"] },
 * }, "inline");
 * rule.match.view; // "normalized"
 * ```
 *
 * @module
 */
import type { FieldKind, Layer, RuleAction, Severity } from "../types.ts";

/** Which text a rule's patterns run on. */
export type RuleView = "normalized" | "raw";

/**
 * A decoder whose output goes into a finding's `details`, for hidden payloads that a person cannot
 * see: `tags` decodes Unicode tag characters (U+E0020–E007E) to ASCII; `variation-selectors`
 * decodes a run of variation selectors to the bytes they smuggle; `codepoints` lists the code
 * points of the match (for invisible and control characters).
 */
export type RuleDecoder = "tags" | "variation-selectors" | "codepoints";

/** The matching part of a rule. */
export interface RuleMatch {
  /** `normalized` (default): the folded, decoded view; `raw`: the original text. */
  readonly view: RuleView;
  /**
   * Cheap prefilter: the rule only runs when one of these (lower-case) strings occurs in the
   * lower-cased view. Omit to always run.
   */
  readonly keywords?: readonly string[];
  /**
   * JS RegExp sources, compiled with flags `gi` (+ `u` when {@link unicode}). A named group
   * `(?<span>…)` narrows the finding to that group (the rest is context).
   */
  readonly patterns: readonly string[];
  /** Compile with the `u` flag (needed for `\u{…}` escapes and astral ranges). */
  readonly unicode?: boolean;
  /** Case-sensitive matching (drops the `i` flag). */
  readonly case_sensitive?: boolean;
  /** Optional named validator (see `src/rules/validators.ts`); a match it rejects is dropped. */
  readonly validate?: string;
  /** For `action: redact`: the type shown in `[REDACTED:<type>:<hash8>]`. */
  readonly redact_type?: string;
  /** Whether the rule also runs on base64/hex blobs decoded from the text (default true for the normalized view). */
  readonly decoded?: boolean;
  /**
   * Patterns of which at least one must also match the matched text (plus {@link context}
   * characters on each side); YAML takes one string or a list. Lets a pattern match a structure
   * in one linear pass (a whole comment, a whole URL) and leave "does it contain a cue" to a
   * separate scan, instead of a lookahead that rescans the structure from every position (which
   * is polynomial).
   */
  readonly require?: readonly string[];
  /** Patterns none of which may match the matched text (plus {@link context}). */
  readonly forbid?: readonly string[];
  /** Characters of context on each side for {@link require} and {@link forbid} (default 0, at most 1000). */
  readonly context?: number;
}

/** One positive test case. */
export interface RuleTestMatch {
  /** Text the rule must match. */
  readonly input: string;
  /** The text after the rule's action, when given. */
  readonly output?: string;
  /** The field kind to test under (default: the first of `applies_to`, else `result.text`). */
  readonly kind?: FieldKind;
}

/** A rule's built-in test cases, run by `tests/rules_test.ts`. */
export interface RuleTests {
  /** Inputs that must match (with the expected output when given). */
  readonly match: readonly RuleTestMatch[];
  /** Inputs that must not match. */
  readonly no_match: readonly string[];
}

/** One Layer 0 rule. See docs/ARCHITECTURE.md "Rules schema". */
export interface Rule {
  /** Stable, kebab-case, unique. */
  readonly id: string;
  /** Short name for people. */
  readonly title: string;
  /** The layer findings are reported under (`L0-preprocess`). */
  readonly layer: Layer;
  /** The README groups rules by family. */
  readonly family: string;
  /** How bad a match is. */
  readonly severity: Severity;
  /** What a match asks for: neutralize, redact, alert or block. */
  readonly action: RuleAction;
  /** What it is, why it matters, what the user should do. */
  readonly message: string;
  /** Where to read more. */
  readonly references: readonly string[];
  /** Known legitimate texts that may match. */
  readonly falsepositives: readonly string[];
  /** Field kinds the rule looks at; undefined = every field. */
  readonly applies_to?: readonly FieldKind[];
  /** How the rule matches. */
  readonly match: RuleMatch;
  /**
   * What a neutralised span becomes. Omit for the marker
   * `[mcp-watchdog removed: <marker> (<id>)]`; `""` removes the span (ANSI, invisible characters).
   */
  readonly replacement?: string;
  /** The `<what>` of the default marker (default: `hidden instruction`). */
  readonly marker?: string;
  /** Decoder whose result is shown in the finding's details. */
  readonly decode?: RuleDecoder;
  /** Built-in test cases (not bundled). */
  readonly tests?: RuleTests;
  /** Where the rule came from (file path or `builtin`), for error messages. */
  readonly source?: string;
}

/** Every field kind, for validating `applies_to`. */
export const FIELD_KINDS: readonly FieldKind[] = [
  "tool.name",
  "tool.title",
  "tool.description",
  "tool.schema",
  "tool.annotation",
  "prompt.meta",
  "prompt.message",
  "resource.meta",
  "resource.text",
  "server.instructions",
  "result.text",
  "sampling.message",
  "elicitation.message",
  "log.message",
  "error.message",
  "completion.value",
  "argument",
  "other",
];

const LAYERS: readonly Layer[] = [
  "L0-preprocess",
  "L1-behaviour",
  "L2-entropy",
  "L2-semantic",
  "L3-flow",
  "L4-scope",
  "proxy",
];
const SEVERITIES: readonly Severity[] = ["critical", "high", "medium", "low"];
const ACTIONS: readonly RuleAction[] = ["neutralize", "redact", "alert", "block"];
const VIEWS: readonly RuleView[] = ["normalized", "raw"];
const DECODERS: readonly RuleDecoder[] = ["tags", "variation-selectors", "codepoints"];
const TOP_KEYS = new Set([
  "id",
  "title",
  "layer",
  "family",
  "severity",
  "action",
  "message",
  "references",
  "falsepositives",
  "applies_to",
  "match",
  "replacement",
  "marker",
  "decode",
  "tests",
]);
const MATCH_KEYS = new Set([
  "view",
  "keywords",
  "patterns",
  "unicode",
  "case_sensitive",
  "validate",
  "redact_type",
  "decoded",
  "require",
  "forbid",
  "context",
]);
const ID_RE = /^[a-z0-9]+(?:-[a-z0-9]+){0,20}$/;

/** A rule file that does not follow the schema. The message names file, rule, field and reason. */
export class RuleError extends Error {
  /** Always `RuleError`. */
  override name = "RuleError";
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Check a parsed rule object and return it as a {@link Rule} with defaults filled in.
 * Throws a {@link RuleError} such as `rules/x.yaml: rule "foo": match.patterns[1]: invalid
 * regular expression: …`. Patterns are compiled here, so a rule that validates also compiles.
 */
export function validateRule(obj: unknown, source: string): Rule {
  const where = (field: string, id?: string) => `${source}: ${id ? `rule "${id}": ` : ""}${field}`;
  if (!isObj(obj)) throw new RuleError(`${source}: a rule must be a mapping (object)`);
  const rawId = obj.id;
  const id = typeof rawId === "string" ? rawId : undefined;
  const fail = (field: string, why: string): never => {
    throw new RuleError(`${where(field, id)}: ${why}`);
  };
  for (const k of Object.keys(obj)) {
    if (!TOP_KEYS.has(k)) fail(k, `unknown field (expected one of ${[...TOP_KEYS].join(", ")})`);
  }
  const str = (field: string, required: boolean): string | undefined => {
    const v = obj[field];
    if (v === undefined || v === null) {
      if (required) fail(field, "is required");
      return undefined;
    }
    if (typeof v !== "string") return fail(field, `must be a string, got ${typeof v}`);
    if (required && v.trim() === "") fail(field, "must not be empty");
    return v;
  };
  const oneOf = <T extends string>(field: string, allowed: readonly T[], dflt?: T): T => {
    const v = obj[field] ?? dflt;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      return fail(field, `must be one of ${allowed.join("|")}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  };
  const strList = (o: Obj, field: string, label: string): string[] | undefined => {
    const v = o[field];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return fail(label, "must be a list of strings");
    v.forEach((x, i) => {
      if (typeof x !== "string") fail(`${label}[${i}]`, "must be a string");
    });
    return v as string[];
  };

  if (!id) fail("id", "is required and must be a string");
  if (!ID_RE.test(id!)) {
    fail("id", `must be kebab-case ([a-z0-9] words joined by "-"), got "${id}"`);
  }
  const title = str("title", true)!;
  const layer = oneOf("layer", LAYERS, "L0-preprocess");
  const family = str("family", true)!;
  const severity = oneOf("severity", SEVERITIES);
  const action = oneOf("action", ACTIONS);
  const message = str("message", true)!.trim();
  const references = strList(obj, "references", "references") ?? [];
  const falsepositives = strList(obj, "falsepositives", "falsepositives") ?? [];
  const appliesTo = strList(obj, "applies_to", "applies_to");
  appliesTo?.forEach((k, i) => {
    if (!(FIELD_KINDS as readonly string[]).includes(k)) {
      fail(
        `applies_to[${i}]`,
        `unknown field kind "${k}" (expected one of ${FIELD_KINDS.join(", ")})`,
      );
    }
  });
  const replacement = str("replacement", false);
  const marker = str("marker", false);
  const decode = obj.decode === undefined ? undefined : oneOf("decode", DECODERS);

  const m = obj.match;
  if (!isObj(m)) return fail("match", "is required and must be a mapping");
  for (const k of Object.keys(m)) {
    if (!MATCH_KEYS.has(k)) {
      fail(`match.${k}`, `unknown field (expected one of ${[...MATCH_KEYS].join(", ")})`);
    }
  }
  const view = m.view ?? "normalized";
  if (typeof view !== "string" || !(VIEWS as readonly string[]).includes(view)) {
    fail("match.view", `must be normalized|raw, got ${JSON.stringify(view)}`);
  }
  const keywords = strList(m, "keywords", "match.keywords");
  keywords?.forEach((k, i) => {
    if (k === "") fail(`match.keywords[${i}]`, "must not be empty");
    if (k !== k.toLowerCase()) fail(`match.keywords[${i}]`, `must be lower-case ("${k}")`);
  });
  const patterns = strList(m, "patterns", "match.patterns");
  if (!patterns || patterns.length === 0) fail("match.patterns", "needs at least one pattern");
  const bool = (field: string): boolean | undefined => {
    const v = m[field];
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") fail(`match.${field}`, "must be true or false");
    return v as boolean;
  };
  const unicode = bool("unicode");
  const caseSensitive = bool("case_sensitive");
  const decoded = bool("decoded");
  patterns!.forEach((p, i) => {
    try {
      new RegExp(p, (caseSensitive ? "g" : "gi") + (unicode ? "u" : ""));
    } catch (e) {
      fail(`match.patterns[${i}]`, `invalid regular expression: ${(e as Error).message}`);
    }
  });
  const extra = (field: "require" | "forbid"): string[] | undefined => {
    const v = m[field];
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) return fail(`match.${field}`, "must not be an empty list");
    list.forEach((x, i) => {
      const label = Array.isArray(v) ? `match.${field}[${i}]` : `match.${field}`;
      if (typeof x !== "string" || x === "") fail(label, "must be a non-empty string");
      try {
        new RegExp(x, (caseSensitive ? "" : "i") + (unicode ? "u" : ""));
      } catch (e) {
        fail(label, `invalid regular expression: ${(e as Error).message}`);
      }
    });
    return list as string[];
  };
  const require = extra("require");
  const forbid = extra("forbid");
  const context = m.context;
  if (
    context !== undefined &&
    (typeof context !== "number" || !Number.isInteger(context) || context < 0 || context > 1000)
  ) {
    fail("match.context", "must be an integer from 0 to 1000");
  }
  const validate = m.validate;
  if (validate !== undefined && typeof validate !== "string") {
    fail("match.validate", "must be a string");
  }
  const redactType = m.redact_type;
  if (redactType !== undefined && typeof redactType !== "string") {
    fail("match.redact_type", "must be a string");
  }
  if (action === "redact" && !redactType) {
    fail("match.redact_type", "is required when action is redact");
  }

  let tests: RuleTests | undefined;
  if (obj.tests !== undefined) {
    const t = obj.tests;
    if (!isObj(t)) return fail("tests", "must be a mapping with match and no_match");
    for (const k of Object.keys(t)) {
      if (k !== "match" && k !== "no_match") {
        fail(`tests.${k}`, "unknown field (expected match, no_match)");
      }
    }
    const rawMatch = t.match ?? [];
    if (!Array.isArray(rawMatch)) return fail("tests.match", "must be a list");
    const match: RuleTestMatch[] = rawMatch.map((c, i) => {
      if (typeof c === "string") return { input: c };
      if (!isObj(c) || typeof c.input !== "string") {
        return fail(`tests.match[${i}]`, "must be a string or a mapping with a string `input`");
      }
      for (const k of Object.keys(c)) {
        if (!["input", "output", "kind"].includes(k)) {
          fail(`tests.match[${i}].${k}`, "unknown field");
        }
      }
      if (c.output !== undefined && typeof c.output !== "string") {
        fail(`tests.match[${i}].output`, "must be a string");
      }
      if (c.kind !== undefined && !(FIELD_KINDS as readonly unknown[]).includes(c.kind)) {
        fail(`tests.match[${i}].kind`, `unknown field kind ${JSON.stringify(c.kind)}`);
      }
      return {
        input: c.input,
        ...(c.output !== undefined ? { output: c.output as string } : {}),
        ...(c.kind !== undefined ? { kind: c.kind as FieldKind } : {}),
      };
    });
    const noMatch = strList(t, "no_match", "tests.no_match") ?? [];
    tests = { match, no_match: noMatch };
  }

  return {
    id: id!,
    title,
    layer,
    family,
    severity,
    action,
    message,
    references,
    falsepositives,
    ...(appliesTo ? { applies_to: appliesTo as FieldKind[] } : {}),
    match: {
      view: view as RuleView,
      ...(keywords ? { keywords } : {}),
      patterns: patterns!,
      ...(unicode !== undefined ? { unicode } : {}),
      ...(caseSensitive !== undefined ? { case_sensitive: caseSensitive } : {}),
      ...(validate !== undefined ? { validate: validate as string } : {}),
      ...(redactType !== undefined ? { redact_type: redactType as string } : {}),
      ...(decoded !== undefined ? { decoded } : {}),
      ...(require !== undefined ? { require } : {}),
      ...(forbid !== undefined ? { forbid } : {}),
      ...(context !== undefined ? { context: context as number } : {}),
    },
    ...(replacement !== undefined ? { replacement } : {}),
    ...(marker !== undefined ? { marker } : {}),
    ...(decode !== undefined ? { decode } : {}),
    ...(tests ? { tests } : {}),
    source,
  };
}

/** Validate a list of rules from several sources and reject duplicate ids. */
export function validateRuleSet(entries: readonly { obj: unknown; source: string }[]): Rule[] {
  const seen = new Map<string, string>();
  return entries.map(({ obj, source }) => {
    const r = validateRule(obj, source);
    const prev = seen.get(r.id);
    if (prev) {
      throw new RuleError(`${source}: rule "${r.id}": id: duplicate of the rule in ${prev}`);
    }
    seen.set(r.id, source);
    return r;
  });
}
