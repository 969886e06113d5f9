/**
 * The audit record (SMAC-4): one JSON line per finding and per notable event. Records carry a
 * hash of the offending content and a short excerpt with anything secret-looking masked, never the
 * content itself.
 *
 * @example
 * ```ts
 * import { safeExcerpt } from "./audit.ts";
 * safeExcerpt("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here"); // "token ghp_…[36] here"
 * ```
 *
 * @module
 */
import { sha256Hex } from "./hash.ts";
import type { Direction, Finding, JsonRpcId, Layer, Outcome, Severity } from "./types.ts";

/** One line of the audit log. */
export interface AuditRecord {
  /** ISO 8601 UTC. */
  readonly ts: string;
  /** The server's display name. */
  readonly server: string;
  /** Which way the message travelled. */
  readonly direction: Direction;
  /** The JSON-RPC method (for a response, the method of its request). */
  readonly method: string;
  /** The JSON-RPC id, when the message has one. */
  readonly id?: JsonRpcId;
  /** JSON Pointer to the field, e.g. `/result/tools/3/description`. */
  readonly path: string;
  /** The tool, prompt or resource concerned, when known. */
  readonly tool?: string;
  /** The detection layer. */
  readonly layer: Layer;
  /** Stable rule id. */
  readonly rule: string;
  /** How bad it is. */
  readonly severity: Severity;
  /** What was done about it. */
  readonly action: Outcome;
  /** SHA-256 (hex) of the offending content. */
  readonly sha256: string;
  /** Short, secret-masked excerpt. */
  readonly excerpt: string;
  /** What it is and why it matters, for people. */
  readonly message: string;
  /** Rule-specific, already-safe facts (decoded text, cues, a diff, an occurrence count). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Where audit records go (a file, stderr, a test array). */
export interface AuditSink {
  /** Record one finding. */
  write(record: AuditRecord): void;
}

const EXCERPT_MAX = 160;
// Long runs of token characters (keys, hashes, base64) are masked: keep a short prefix and the length.
const TOKENISH = /[A-Za-z0-9_\-+/=.]{20,}/g;
// Control characters (ANSI, bidi, zero-width, tags) are shown as escapes, never replayed on a terminal.
const CONTROL =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|\udb40[\udc00-\udc7f]/g;

/** A short excerpt of `text` that is safe to log: token-like runs masked, controls escaped. */
export function safeExcerpt(text: string, max: number = EXCERPT_MAX): string {
  const head = text.length > max * 2 ? text.slice(0, max * 2) : text;
  const masked = head
    .replace(
      TOKENISH,
      (t) =>
        /[0-9]/.test(t) || /[A-Z].*[a-z]|[a-z].*[A-Z]/.test(t)
          ? `${t.slice(0, 4)}…[${t.length}]`
          : t,
    )
    .replace(CONTROL, (c) => {
      const cp = c.codePointAt(0)!;
      return `\\u{${cp.toString(16)}}`;
    })
    .replace(/\s+/g, " ");
  return masked.length > max ? masked.slice(0, max - 1) + "…" : masked;
}

/** Context of the message a finding came from. */
export interface RecordContext {
  /** The server's display name. */
  readonly server: string;
  /** Which way the message travelled. */
  readonly direction: Direction;
  /** The JSON-RPC method (of the request, for a response). */
  readonly method: string;
  /** The JSON-RPC id, when there is one. */
  readonly id?: JsonRpcId;
  /** The time to record (default: now). */
  readonly now?: Date;
}

/** Build the audit record of a finding and what was done about it. */
export function auditRecord(f: Finding, outcome: Outcome, c: RecordContext): AuditRecord {
  const excerpt = f.action === "redact" && f.replacement ? f.replacement : safeExcerpt(f.evidence);
  return {
    ts: (c.now ?? new Date()).toISOString(),
    server: c.server,
    direction: c.direction,
    method: c.method,
    ...(c.id !== undefined ? { id: c.id } : {}),
    path: f.path,
    ...(f.tool !== undefined ? { tool: f.tool } : {}),
    layer: f.layer,
    rule: f.rule,
    severity: f.severity,
    action: outcome,
    sha256: sha256Hex(f.evidence),
    excerpt,
    message: f.message,
    ...(f.details ? { details: f.details } : {}),
  };
}
