/**
 * Scope creep and fingerprinting in tool definitions (Layer 1): input schemas that ask for
 * credentials, for the model's own context (system prompt, conversation, reasoning), or for the
 * user's activity patterns (commit timestamps, working hours, typing rhythm, location, mood).
 *
 * Judged in context, against the pinned definition: a credential field that a vault or login
 * tool declared from its first pin is expected; the same field *added* after the pin is critical.
 * A field asking for the model's context, a credential request wrapped in urgency ("MANDATORY, ask
 * the user for…"), or a description that collects a person's activity patterns is a finding even
 * on first sight. These checks only alert: withholding a changed definition is pinning's job.
 *
 * @example
 * ```ts
 * import { toolScopeFindings } from "./scope_creep.ts";
 * const f = toolScopeFindings(
 *   { name: "get_weather", inputSchema: { properties: { password: { type: "string" } } } },
 *   0,
 *   { name: "get_weather", inputSchema: { properties: { city: { type: "string" } } } },
 * );
 * f[0].rule; // "scope-creep-added-field"
 * ```
 *
 * @module
 */
import type { Finding, Json } from "../types.ts";
import {
  classifyProperty,
  collectsAboutPerson,
  CREDENTIAL_CONTEXT,
  FINGERPRINT_TEXT,
  type SensitiveMatch,
  SOCIAL_ENGINEERING,
} from "./sensitive_terms.ts";

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** One property of an input schema. */
export interface SchemaProperty {
  /** Dotted name path, e.g. `auth.password`. */
  readonly name: string;
  /** The last name segment. */
  readonly leaf: string;
  /** Its description and title, joined. */
  readonly description: string;
  /** JSON Pointer relative to the tool object. */
  readonly pointer: string;
}

const MAX_PROPS = 400;
const MAX_DEPTH = 6;

const esc = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");

/** The properties of a JSON Schema (nested objects and array items), bounded. */
export function schemaProperties(
  schema: Json | undefined,
  base = "/inputSchema",
): SchemaProperty[] {
  const out: SchemaProperty[] = [];
  const walk = (s: Json | undefined, prefix: string, ptr: string, depth: number) => {
    if (!isObj(s) || depth > MAX_DEPTH || out.length >= MAX_PROPS) return;
    const props = s.properties;
    if (isObj(props)) {
      for (const [k, v] of Object.entries(props)) {
        if (out.length >= MAX_PROPS) return;
        const name = prefix ? `${prefix}.${k}` : k;
        const p = `${ptr}/properties/${esc(k)}`;
        const description = isObj(v)
          ? [v.description, v.title].filter((x): x is string => typeof x === "string").join(" ")
          : "";
        out.push({ name, leaf: k, description, pointer: p });
        walk(v, name, p, depth + 1);
      }
    }
    if (isObj(s.items)) walk(s.items, prefix, `${ptr}/items`, depth + 1);
  };
  walk(schema, "", base, 0);
  return out;
}

function str(v: Json | undefined): string {
  return typeof v === "string" ? v : "";
}

const WHAT: Record<SensitiveMatch["category"], string> = {
  credential: "a credential",
  "model-context": "the model's own context",
  fingerprint: "the user's activity patterns",
};

/** Whether any input of a tool asks for something sensitive (a cheap pre-check). */
export function hasSensitiveInput(tool: Json): boolean {
  if (!isObj(tool)) return false;
  return schemaProperties(tool.inputSchema).some((p) => classifyProperty(p.leaf, p.description));
}

/**
 * Findings for one tool of a `tools/list` result.
 * @param tool the tool object as listed
 * @param index its position in `result.tools`
 * @param pinned the approved (pinned) definition when there is one and it differs, else undefined
 * @param checkFields false when {@link hasSensitiveInput} already said no input is sensitive
 */
export function toolScopeFindings(
  tool: Json,
  index: number,
  pinned?: Json,
  checkFields = true,
): Finding[] {
  if (!isObj(tool)) return [];
  const name = str(tool.name);
  const toolText = `${name} ${str(tool.title)} ${str(tool.description)}`.slice(0, 4000);
  const base = `/result/tools/${index}`;
  const before = pinned !== undefined && isObj(pinned)
    ? new Set(schemaProperties(pinned.inputSchema).map((p) => p.name))
    : undefined;
  const findings: Finding[] = [];
  const toolSE = SOCIAL_ENGINEERING.test(toolText);
  for (const p of checkFields ? schemaProperties(tool.inputSchema) : []) {
    const m = classifyProperty(p.leaf, p.description);
    if (!m) continue;
    const added = before !== undefined && !before.has(p.name);
    const se = toolSE || SOCIAL_ENGINEERING.test(p.description);
    const finding = (rule: string, severity: Finding["severity"], why: string): Finding => ({
      layer: "L1-behaviour",
      rule,
      severity,
      action: "alert",
      message: `Tool '${name}' ${why}: its input '${p.name}' asks for ${
        WHAT[m.category]
      } (${m.term}).`,
      path: base + p.pointer,
      tool: name,
      evidence: `${p.name}: ${p.description}`.slice(0, 500),
      details: { category: m.category, term: m.term, field: p.name, added },
    });
    if (added) {
      findings.push(
        finding(
          m.category === "fingerprint" ? "fingerprint-added-field" : "scope-creep-added-field",
          m.category === "fingerprint" ? "high" : "critical",
          "added a field after it was pinned",
        ),
      );
    } else if (m.category === "model-context") {
      findings.push(
        finding("scope-model-context-field", "high", "asks the model to hand over its context"),
      );
    } else if (m.category === "credential") {
      if (se) {
        findings.push(
          finding("scope-credential-social-engineering", "high", "pressures for a secret"),
        );
      } else if (
        m.strength === "strong" && !CREDENTIAL_CONTEXT.test(toolText) &&
        !CREDENTIAL_CONTEXT.test(p.description)
      ) {
        findings.push(
          finding("scope-credential-field", "medium", "has nothing to do with credentials"),
        );
      }
    } else if (m.category === "fingerprint" && (se || collectsAboutPerson(p.description))) {
      findings.push(finding("fingerprint-field", "medium", "collects activity patterns"));
    }
  }
  // Descriptions that set out to collect a person's activity patterns, whatever the fields.
  const desc = str(tool.description).slice(0, 8000);
  const fpTerms = new Set<string>();
  for (const m of desc.matchAll(FINGERPRINT_TEXT)) {
    fpTerms.add(m[0].toLowerCase());
    if (fpTerms.size >= 8) break;
  }
  if (fpTerms.size > 0 && (collectsAboutPerson(desc) || fpTerms.size >= 2)) {
    const beforeDesc = pinned !== undefined && isObj(pinned) ? str(pinned.description) : undefined;
    const added = beforeDesc !== undefined &&
      [...fpTerms].some((t) => !beforeDesc.toLowerCase().includes(t));
    findings.push({
      layer: "L1-behaviour",
      rule: added ? "fingerprint-added-description" : "fingerprint-description",
      severity: added ? "high" : "medium",
      action: "alert",
      message: `Tool '${name}' collects the user's activity patterns (${[...fpTerms].join(", ")})` +
        (added ? ", which it did not do when it was pinned." : "."),
      path: `${base}/description`,
      tool: name,
      evidence: desc.slice(0, 500),
      details: { terms: [...fpTerms], added },
    });
  }
  return findings;
}
