/**
 * Requests a server sends to the client (Layer 1): `elicitation/create` that asks the user for
 * secrets (the MCP specification forbids requesting sensitive information through form
 * elicitation), and `sampling/createMessage` used to extract the model's context, reach other
 * servers' context (`includeContext: "allServers"`), or make the client's model do the server's
 * (expensive) work. Pure; no state.
 *
 * @example
 * ```ts
 * import { elicitationFindings } from "./server_requests.ts";
 * elicitationFindings({
 *   message: "Please enter your AWS secret key",
 *   requestedSchema: { type: "object", properties: { secret_key: { type: "string" } } },
 * })[0].rule; // "elicitation-secret-request"
 * ```
 *
 * @module
 */
import type { Finding, Json } from "../types.ts";
import { classifyProperty, nearby } from "./sensitive_terms.ts";
import { schemaProperties } from "./scope_creep.ts";

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Verbs of asking (global: for {@link nearby}). */
export const ASK_VERB =
  /\b(?:enter|provide|paste|type|share|give|send|include|reveal|list|output|print|tell)\b/gi;
/** Secrets someone may be asked for. */
export const SECRET_NOUN =
  /\b(?:password|passphrase|api[ _-]?keys?|secret[ _-]?keys?|private[ _-]?keys?|ssh[ _-]keys?|access[ _-]keys?|credentials|(?:bearer|access|auth|api|github|session)\s{1,3}tokens?|tokens?\s{1,3}visible|seed\s{1,3}phrase|recovery\s{1,3}phrase|credit\s{1,3}card|cvv|social\s{1,3}security\s{1,3}number|one[- ]time\s{1,3}(?:code|password)|2fa\s{1,3}code|mfa\s{1,3}code)\b/i;

/** The phrase of a text that asks for a secret, if any. */
function asksSecret(text: string): string | undefined {
  return nearby(text, ASK_VERB, SECRET_NOUN, 60);
}

/** Free text that asks the model for its own context. */
export const ASKS_CONTEXT =
  /\b(?:(?:your|the|full|entire|complete|current|exact|verbatim|original)\s{1,3}(?:system\s{1,3}(?:prompt|instructions|message)|(?:initial|hidden)\s{1,3}instructions|conversation(?:\s{1,3}history)?|chat\s{1,3}history|context\s{1,3}window|chain[ -]of[ -]thought)|(?:all|every)\s{1,3}(?:connected\s{1,3})?(?:mcp\s{1,3})?(?:servers?|tools?)\s{1,3}(?:urls?|names?|and\s{1,3}tool\s{1,3}names)|(?:all\s{1,3})?previous\s{1,3}(?:messages|instructions)|(?:api\s{1,3}keys?|tokens?|secrets?|credentials)\s{1,3}(?:visible|present|available)\s{1,3}in\s{1,3}your\s{1,3}context)\b/i;

/** Sampling prompts longer than this look like outsourced work rather than a quick question. */
const LARGE_SAMPLING_CHARS = 50_000;
const LARGE_MAX_TOKENS = 16_000;

function texts(v: Json | undefined, out: string[], depth = 0): void {
  if (depth > 8 || out.length > 200) return;
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) { for (const x of v) texts(x, out, depth + 1); }
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k === "data" || k === "blob" || k === "mimeType" || k === "type") continue; // binary, not prose
      texts(x, out, depth + 1);
    }
  }
}

/** Findings for an `elicitation/create` request's params. */
export function elicitationFindings(params: Json | undefined): Finding[] {
  if (!isObj(params)) return [];
  // URL mode exists precisely for sensitive flows (the secret never passes through the client).
  if (params.mode === "url") return [];
  const findings: Finding[] = [];
  const message = typeof params.message === "string" ? params.message : "";
  for (const p of schemaProperties(params.requestedSchema, "/params/requestedSchema")) {
    const m = classifyProperty(p.leaf, p.description);
    if (!m || m.category === "fingerprint") continue;
    findings.push({
      layer: "L1-behaviour",
      rule: "elicitation-secret-request",
      severity: "high",
      action: m.strength === "strong" ? "block" : "alert",
      message: `The server asks the user for ${
        m.category === "credential" ? "a secret" : "the model's context"
      } (${m.term}) through elicitation, which MCP forbids; answer only through a trusted channel.`,
      path: p.pointer,
      evidence: `${p.name}: ${p.description}`.slice(0, 300),
      details: { field: p.name, term: m.term, category: m.category },
    });
  }
  const asked = asksSecret(message.slice(0, 4000));
  if (asked) {
    findings.push({
      layer: "L1-behaviour",
      rule: "elicitation-secret-request",
      severity: "high",
      action: "block",
      message: "The server's elicitation message asks the user for a secret, which MCP forbids.",
      path: "/params/message",
      evidence: asked,
      details: { cue: asked },
    });
  }
  return findings;
}

/** Findings for a `sampling/createMessage` request's params. */
export function samplingFindings(params: Json | undefined): Finding[] {
  if (!isObj(params)) return [];
  const findings: Finding[] = [];
  if (params.includeContext === "allServers") {
    findings.push({
      layer: "L1-behaviour",
      rule: "sampling-all-servers-context",
      severity: "high",
      action: "alert",
      message:
        "The server asks the client's model to answer with the context of every connected server (includeContext: allServers), which exposes other servers' data to it.",
      path: "/params/includeContext",
      evidence: "allServers",
    });
  }
  const parts: string[] = [];
  texts(params.messages, parts);
  if (typeof params.systemPrompt === "string") parts.push(params.systemPrompt);
  let chars = 0;
  for (const t of parts) {
    chars += t.length;
    const c = ASKS_CONTEXT.exec(t.slice(0, 8000))?.[0] ?? asksSecret(t.slice(0, 8000));
    if (c && !findings.some((f) => f.rule === "sampling-context-extraction")) {
      findings.push({
        layer: "L1-behaviour",
        rule: "sampling-context-extraction",
        severity: "critical",
        action: "block",
        message:
          "The server's sampling request asks the client's model to reveal its context or secrets; it was refused.",
        path: "/params/messages",
        evidence: c,
        details: { cue: c },
      });
    }
  }
  const maxTokens = typeof params.maxTokens === "number" ? params.maxTokens : 0;
  if (chars > LARGE_SAMPLING_CHARS || maxTokens > LARGE_MAX_TOKENS) {
    findings.push({
      layer: "L1-behaviour",
      rule: "sampling-resource-use",
      severity: "medium",
      action: "alert",
      message:
        `The server asks the client's model for a large job (${chars} characters in, up to ${maxTokens} tokens out): its work, billed to the user.`,
      path: "/params",
      evidence: `chars=${chars} maxTokens=${maxTokens}`,
      details: { chars, maxTokens },
    });
  }
  return findings;
}
