/**
 * The inspection pipeline: one parsed JSON-RPC message in, what to forward out. It runs the message
 * detectors, then the text detectors on every field the model will see, then (optionally, under a
 * latency budget) the async classifier; applies the actions unless in monitor mode; and returns the
 * audit records. The same object serves every transport.
 *
 * @example
 * ```ts
 * import { Inspector } from "./inspector.ts";
 * import { MemoryStore } from "../store/memory_store.ts";
 * import { DEFAULT_CONFIG } from "../config.ts";
 * const inspector = new Inspector({ message: [], text: [] }, {
 *   server: { name: "demo", key: "demo" },
 *   session: "s",
 *   store: new MemoryStore(),
 *   config: DEFAULT_CONFIG,
 *   now: () => Date.now(),
 * });
 * const r = inspector.inspect(
 *   { jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "hi" }] } },
 *   { server: "demo", direction: "server_to_client", method: "tools/call", id: 1 },
 * );
 * ```
 *
 * @module
 */
import { type AuditRecord, auditRecord } from "../audit.ts";
import type { Finding, Json, MessageContext, Outcome, TextField } from "../types.ts";
import type {
  AsyncTextDetector,
  DetectorEnv,
  JsonRpcMessage,
  MessageDetector,
  TextDetector,
} from "./detector.ts";
import { extractFields } from "./fields.ts";
import { applyEdits, type TextEdit } from "../text_edits.ts";
import { removeAll, setAt } from "./pointer.ts";

/** The detectors of a pipeline, in the order they run. */
export interface Detectors {
  /** Layers 1, 3 and 4, on whole messages. */
  readonly message: readonly MessageDetector[];
  /** Layers 0 and 2, on each field the model sees. */
  readonly text: readonly TextDetector[];
  /** The optional semantic classifier. */
  readonly async?: AsyncTextDetector;
  /** Why a configured detector is not running (e.g. `--semantic` without an API key). */
  readonly warnings?: readonly string[];
}

/** A message refusal: the sender of a request gets this JSON-RPC error. */
export interface Block {
  /** JSON-RPC error code. */
  readonly code: number;
  /** JSON-RPC error message. */
  readonly message: string;
  /** JSON-RPC error data. */
  readonly data?: Json;
}

/** What the pipeline decided for one message. */
export interface InspectResult {
  /** True when `message` differs from what arrived (it must be re-serialised). */
  readonly changed: boolean;
  /** The message to forward (the same object, edited in place when `changed`). */
  readonly message: JsonRpcMessage;
  /** Set when the whole message is refused. */
  readonly block?: Block;
  /** One record per finding, with what was done. */
  readonly records: readonly AuditRecord[];
}

/** Context for one message; `tool` is the tool a `tools/call` response answers. */
export interface InspectContext extends MessageContext {
  /** The tool a `tools/call` response answers, when known. */
  readonly tool?: string;
}

const DEFAULT_BLOCK_CODE = -32001;
const NO_RECORDS: readonly AuditRecord[] = Object.freeze([]);

function anyFound(perField: readonly { found: readonly Finding[] }[]): boolean {
  for (const p of perField) if (p.found.length) return true;
  return false;
}
const ABORT_GRACE_MS = 50;

function marker(f: Finding): string {
  return f.replacement ?? `[mcp-watchdog removed: ${f.rule}]`;
}

/**
 * One record per rule, field and outcome: a log full of ANSI colour codes is one alert with a
 * count, not thousands (the first occurrence is the one shown).
 */
function groupFindings(
  findings: readonly { f: Finding; outcome: Outcome }[],
): { f: Finding; outcome: Outcome; count: number }[] {
  const groups = new Map<string, { f: Finding; outcome: Outcome; count: number }>();
  for (const { f, outcome } of findings) {
    const key = `${f.rule}\u0000${f.path}\u0000${outcome}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { f, outcome, count: 1 });
  }
  return [...groups.values()];
}

/** The value to store for a field's new text: re-encoded when the message holds it in base64. */
function encodeAs(field: TextField, text: string): string {
  if (field.encoding !== "base64") return text;
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** What applying text findings to one string gives. */
export interface AppliedText {
  /** The string with neutralised and redacted spans replaced (unchanged in monitor mode). */
  readonly text: string;
  /** What was done about each finding, in the same order. */
  readonly outcomes: readonly Outcome[];
  /** The first finding that asks to refuse the whole message, if any (enforce mode only). */
  readonly block?: Finding;
}

/**
 * Apply text findings to the string they were found in: spans of `neutralize` findings become their
 * marker, `redact` findings their redaction; `alert` changes nothing; in monitor mode (`enforce`
 * false) nothing changes and every outcome is `alerted`.
 */
export function applyFindings(
  text: string,
  found: readonly Finding[],
  enforce: boolean,
): AppliedText {
  const edits: TextEdit[] = [];
  let block: Finding | undefined;
  const outcomes = found.map((f): Outcome => {
    if (!enforce) return "alerted";
    if (f.action === "block") {
      block ??= f;
      return "blocked";
    }
    if (f.span && (f.action === "neutralize" || f.action === "redact")) {
      const redact = f.action === "redact";
      edits.push({
        start: f.span[0],
        end: f.span[1],
        replacement: redact ? f.replacement ?? "[REDACTED]" : marker(f),
      });
      return redact ? "redacted" : "stripped";
    }
    return "alerted";
  });
  return { text: block ? text : applyEdits(text, edits), outcomes, block };
}

/** The inspection pipeline for one server connection. */
export class Inspector {
  /** The detectors, in pipeline order. */
  readonly detectors: Detectors;
  /** What every detector gets besides the message. */
  readonly env: DetectorEnv;

  /** A pipeline running `detectors` with `env`. */
  constructor(detectors: Detectors, env: DetectorEnv) {
    this.detectors = detectors;
    this.env = env;
  }

  /**
   * Inspect one message (not a batch). Returns synchronously unless the async classifier wants
   * a field; then the promise settles within the configured latency budget.
   */
  inspect(msg: JsonRpcMessage, ctx: InspectContext): InspectResult | Promise<InspectResult> {
    const env = this.env;
    const enforce = env.config.mode === "enforce";
    const findings: { f: Finding; outcome: Outcome }[] = [];
    let block: Block | undefined;
    const removals: string[] = [];

    for (const d of this.detectors.message) {
      const v = d.inspect(msg, ctx, env);
      if (!v) continue;
      const blocking = enforce && v.block !== undefined;
      const removing = enforce && (v.remove?.length ?? 0) > 0;
      for (const f of v.findings) {
        const acted = (blocking || removing) && f.action === "block";
        findings.push({ f, outcome: acted ? "blocked" : "alerted" });
      }
      if (blocking && !block) block = v.block;
      if (removing) removals.push(...v.remove!);
    }

    const fields = block ? [] : extractFields(msg, ctx.method, ctx.direction, ctx.tool);
    const perField: { field: TextField; found: Finding[] }[] = [];
    for (const field of fields) {
      let found: Finding[] = [];
      for (const d of this.detectors.text) {
        const fs = d.scan(field, ctx, env, found);
        if (fs.length) found = found.concat(fs);
      }
      perField.push({ field, found });
    }

    const finish = (): InspectResult => {
      // The common case, clean traffic: nothing to apply, nothing to record, nothing allocated.
      if (findings.length === 0 && !block && removals.length === 0 && !anyFound(perField)) {
        return { changed: false, message: msg, records: NO_RECORDS };
      }
      let changed = false;
      for (const { field, found } of perField) {
        if (found.length === 0) continue;
        const applied = applyFindings(field.text, found, enforce);
        found.forEach((f, i) => findings.push({ f, outcome: applied.outcomes[i] }));
        if (applied.block) {
          block ??= {
            code: DEFAULT_BLOCK_CODE,
            message:
              `mcp-watchdog blocked this message: ${applied.block.message} (${applied.block.rule})`,
          };
        } else if (
          applied.text !== field.text && setAt(msg, field.path, encodeAs(field, applied.text))
        ) {
          changed = true;
        }
      }
      if (removals.length && !block) {
        removeAll(msg, removals);
        changed = true;
      }
      const now = new Date(env.now());
      const records = groupFindings(findings).map(({ f, outcome, count }) =>
        auditRecord(
          count > 1 ? { ...f, details: { ...f.details, occurrences: count } } : f,
          block && outcome !== "alerted" ? "blocked" : outcome,
          {
            server: env.server.name,
            direction: ctx.direction,
            method: ctx.method,
            id: ctx.id,
            now,
          },
        )
      );
      return { changed: changed && !block, message: msg, block, records };
    };

    const slow = this.detectors.async;
    if (!slow || env.config.semantic === "off" || perField.length === 0) return finish();
    const wanted = perField.filter(({ field, found }) => slow.wants(field, ctx, found));
    if (wanted.length === 0) return finish();
    return this.#withBudget(slow, wanted, ctx).then(finish);
  }

  async #withBudget(
    slow: AsyncTextDetector,
    wanted: { field: TextField; found: Finding[] }[],
    ctx: InspectContext,
  ): Promise<void> {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const budget = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        ac.abort();
        resolve("timeout");
      }, this.env.config.semanticTimeoutMs);
    });
    // On timeout the detector is aborted and gets a short grace to report its failure policy
    // (fail-open alert or fail-closed finding); the message is never held much past the budget.
    const all = Promise.all(wanted.map(async (w) => {
      try {
        w.found.push(...await slow.scan(w.field, ctx, this.env, w.found, ac.signal));
      } catch { /* the detector owns its failure policy; never break the message */ }
    }));
    try {
      if (await Promise.race([budget, all.then(() => "done" as const)]) === "timeout") {
        let grace: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([all, new Promise((r) => grace = setTimeout(r, ABORT_GRACE_MS))]);
        clearTimeout(grace);
      }
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }
}
