/**
 * Shared vocabulary of mcp-watchdog: severities, actions, findings and the description of a text
 * field that the model will see. Every layer speaks these types; nothing here does I/O.
 *
 * @module
 */

/** How bad a finding is. Ordered: critical > high > medium > low. */
export type Severity = "critical" | "high" | "medium" | "low";

/** Severities from worst to least, for sorting and thresholds. */
export const SEVERITIES: readonly Severity[] = ["critical", "high", "medium", "low"];

/** Numeric rank of a severity (critical = 4 … low = 1), for comparisons. */
export function severityRank(s: Severity): number {
  return 4 - SEVERITIES.indexOf(s);
}

/** Which way a JSON-RPC message travels through the proxy. */
export type Direction = "client_to_server" | "server_to_client";

/** Detection layers, as named in the README and the audit log. */
export type Layer =
  | "L0-preprocess"
  | "L1-behaviour"
  | "L2-entropy"
  | "L2-instruction"
  | "L2-semantic"
  | "L3-flow"
  | "L4-scope"
  | "proxy";

/**
 * What a rule asks for when it matches.
 * - `neutralize`: replace the offending span with a short visible marker.
 * - `redact`: replace the span with `[REDACTED:<type>:<hash8>]`.
 * - `block`: refuse the whole message (a request gets a JSON-RPC error) or withhold the item.
 * - `alert`: log only.
 */
export type RuleAction = "neutralize" | "redact" | "block" | "alert";

/** What the proxy actually did about a finding (the audit log's `action`). */
export type Outcome = "blocked" | "stripped" | "redacted" | "alerted";

/**
 * Where a text field travels and who will read it. Detectors use it to judge context
 * (a secret in a tool result is redacted; an instruction in a tool description is poison).
 */
export type FieldKind =
  | "tool.name"
  | "tool.title"
  | "tool.description"
  | "tool.schema" // any string inside inputSchema / outputSchema (descriptions, titles, enums, defaults…)
  | "tool.annotation"
  | "prompt.meta" // prompt name/title/description/argument descriptions in prompts/list
  | "prompt.message" // prompts/get messages
  | "resource.meta" // resource and template name/title/description/uri in */list
  | "resource.text" // resources/read text contents (and decoded textual blobs)
  | "server.instructions"
  | "result.text" // tools/call and tasks/result content text, structuredContent strings, embedded resources
  | "sampling.message" // server→client sampling/createMessage messages and systemPrompt
  | "elicitation.message" // server→client elicitation/create message and requestedSchema strings
  | "log.message" // notifications/message data
  | "error.message" // JSON-RPC error messages and data
  | "completion.value" // completion/complete values
  | "argument" // client→server tools/call arguments (what the model sends out)
  | "other";

/** One string inside a JSON-RPC message that a detector should look at. */
export interface TextField {
  /** JSON Pointer (RFC 6901) to the string inside the message, e.g. `/result/tools/3/description`. */
  readonly path: string;
  /** The string as it is in the message. */
  readonly text: string;
  /** Where it travels. */
  readonly kind: FieldKind;
  /** The tool (or prompt / resource name) the field belongs to, when known. */
  readonly tool?: string;
  /**
   * Set when the message holds the text base64-encoded (a resource `blob` with a textual media
   * type): `text` is the decoded UTF-8, and a change is written back re-encoded.
   */
  readonly encoding?: "base64";
}

/** Context for inspecting one message. */
export interface MessageContext {
  /** The server's display name (`--name` or derived from its command). */
  readonly server: string;
  /** Which way the message travels. */
  readonly direction: Direction;
  /** The JSON-RPC method; for responses, the method of the request they answer. */
  readonly method: string;
  /** The JSON-RPC id, when the message has one. */
  readonly id?: string | number | null;
}

/**
 * A finding produced by a detector. Text findings carry the span they concern so that the
 * pipeline can change exactly that span and nothing else.
 */
export interface Finding {
  /** The detection layer that found it. */
  readonly layer: Layer;
  /** Stable rule id, e.g. `smac5-important-block`. */
  readonly rule: string;
  /** How bad it is. */
  readonly severity: Severity;
  /** What the rule asks for. The pipeline decides the outcome (monitor mode only alerts). */
  readonly action: RuleAction;
  /** One sentence for people: what it is and why it matters. */
  readonly message: string;
  /** JSON Pointer to the field. */
  readonly path: string;
  /** Tool / prompt / resource name, when known. */
  readonly tool?: string;
  /** Half-open span [start, end) in the original field text, for neutralize and redact. */
  readonly span?: readonly [number, number];
  /** The text to put in place of the span; defaults to the rule's marker. */
  readonly replacement?: string;
  /** The offending content (raw). The audit log stores only its hash and a redacted excerpt. */
  readonly evidence: string;
  /** Extra, already-safe facts for the alert (decoded smuggled text, cues, a diff…). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The JSON-RPC id type. */
export type JsonRpcId = string | number | null;

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
