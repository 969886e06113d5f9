/**
 * Phase transitions and floods (Layer 1).
 *
 * A per-server baseline is learnt over the first {@link PhaseOptions.baselineCalls} tool calls:
 * per tool, the argument shapes, path roots, response sizes and structure (content types,
 * structured keys), and the density of instruction cues in results. It is persisted in the store
 * (`baseline:<serverKey>`) so that it survives restarts, and frozen once complete. After it, a
 * result that changes on two dimensions at once (e.g. a new structure *and* ten times the size),
 * or that suddenly carries instructions where the baseline had none, is a critical finding: the
 * server "switched on". Also counted, in memory: `notifications/*\/list_changed` floods (excess
 * notifications are dropped), tool-call bursts and sampling bursts.
 *
 * Per-message cost is a few map look-ups and one precompiled scan of a bounded sample of the
 * result text for instruction cues ({@link CUE_SAMPLE}); the baseline is written to the store in
 * batches (every {@link FLUSH_EVERY} calls while learning, never afterwards), not per message.
 *
 * @example
 * ```ts
 * import { PhaseTracker } from "./phase.ts";
 * const phase = new PhaseTracker({ baselineCalls: 20 });
 * // phase.onCall(...), phase.onResult(...), phase.onNotification(...) from a MessageDetector
 * ```
 *
 * @module
 */
import type { StateStore } from "../store/store.ts";
import type { Finding, Json } from "../types.ts";

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Tunables of {@link PhaseTracker}. */
export interface PhaseOptions {
  /** Calls observed before the baseline is frozen (default 20). */
  readonly baselineCalls?: number;
  /** `list_changed` notifications allowed per window before the excess is dropped (default 5). */
  readonly listChangedLimit?: number;
  /** Tool calls per window that count as a runaway loop (default 500: faster than any model). */
  readonly callBurstLimit?: number;
  /** Sampling requests per window that count as a burst (default 10). */
  readonly samplingBurstLimit?: number;
  /** Window of the rate limits, in ms (default 10 s). */
  readonly windowMs?: number;
}

/** Per-tool statistics of the baseline. */
export interface ToolStats {
  /** Results seen. */
  n: number;
  /** Largest result text, in characters. */
  maxChars: number;
  /** Total result text, in characters. */
  sumChars: number;
  /** Argument key sets seen (sorted, comma-joined), bounded. */
  shapes: string[];
  /** Content part types and structuredContent keys seen, bounded. */
  structure: string[];
}

/** The persisted baseline (value at `baseline:<serverKey>` / `v1`). */
export interface Baseline {
  /** Calls observed while learning. */
  calls: number;
  /** Frozen: learning is over. */
  complete: boolean;
  /** When learning started, ms since the epoch. */
  since: number;
  /** Per-tool statistics. */
  tools: Record<string, ToolStats>;
  /** Largest instruction-cue count in any one result. */
  maxCues: number;
  /** Path roots (first two segments) that arguments touched, bounded. */
  roots: string[];
}

const UNDER = 0;
const OVER = 1;
const CROSSED = 2;

/** The time from a number or a clock. */
function timeOf(clock: number | (() => number)): number {
  return typeof clock === "number" ? clock : clock();
}

/** Store namespace prefix of baselines. */
export const BASELINE_NS_PREFIX = "baseline:";
const BASELINE_KEY = "v1";
const MAX_LIST = 32;
const MAX_TOOLS = 256;
/** While the baseline is learnt, it is written once per this many calls (and when complete). */
export const FLUSH_EVERY = 5;
/** Instruction cues counted at most, per text. */
const MAX_CUES = 50;

/**
 * The bounded sample of a tool result that is scanned for instruction cues: the first
 * `perPart` characters of each content part, at most `total` characters per result. Results up to
 * `total` characters (all realistic ones) are scanned in full up to `perPart` per part; a larger
 * result costs at most one linear scan of `total` characters (a few hundred microseconds), whatever
 * its size. Instructions placed after the sample are not counted (as with any bounded scan); they
 * still pass through every other layer.
 */
export const CUE_SAMPLE: { readonly perPart: number; readonly total: number } = {
  perPart: 65536,
  total: 262144,
};

/**
 * Instruction cues in tool results: phrases that address the model rather than inform it.
 * Bounded alternations only (linear time).
 */
export const CUES =
  /\b(?:ignore\s{1,3}(?:all\s{1,3})?(?:previous|prior|above)|you\s{1,3}(?:must|should|need\s{1,3}to)\s{1,3}(?:now\s{1,3})?(?:call|use|read|send|include|forward|run|execute|fetch|ignore|tell|not)|do\s{1,3}not\s{1,3}(?:tell|mention|inform|reveal\s{1,3}this)|(?:before|after)\s{1,3}(?:calling|using|answering|responding)|instead\s{1,3}of\s{1,3}(?:calling|using)|(?:call|use|invoke)\s{1,3}the\s{1,3}[\w-]{1,64}\s{1,3}tool|system\s{1,3}(?:directive|update|override|note|instruction)|new\s{1,3}instructions|<important>|\[system\]|this\s{1,3}is\s{1,3}(?:a\s{1,3})?mandatory|assistant\s{0,3}:|as\s{1,3}an\s{1,3}ai)/gi;

/** Count instruction cues in a text (first 64 KiB, at most 50). */
export function countCues(text: string): number {
  return cuesIn(new RegExp(CUES), text);
}

/**
 * {@link countCues} with a caller-owned copy of {@link CUES} (one linear pass; no per-call clone
 * of the regex, as `matchAll` would make).
 */
function cuesIn(re: RegExp, text: string): number {
  const t = text.length > CUE_SAMPLE.perPart ? text.slice(0, CUE_SAMPLE.perPart) : text;
  re.lastIndex = 0;
  let n = 0;
  while (n < MAX_CUES && re.exec(t) !== null) n++; // no empty matches: lastIndex always advances
  re.lastIndex = 0;
  return n;
}

/**
 * A copy of `re`, compiled now rather than by the first message that needs it. V8 compiles a
 * regex lazily, once per subject encoding (one-byte, two-byte); a subject of 1,000 characters or
 * more goes straight to native code. Compiling {@link CUES} takes milliseconds: this way it is
 * paid once, when the detector is built. The copy is kept by its owner and reused for every
 * message: a fresh copy per message (as `matchAll` makes) recompiles whenever V8 has dropped the
 * regex from its compilation cache.
 */
export function precompiled(re: RegExp): RegExp {
  const copy = new RegExp(re.source, re.flags);
  const pad = " ".repeat(1024);
  copy.test(pad);
  copy.lastIndex = 0;
  copy.test(`\u2019${pad}`);
  copy.lastIndex = 0;
  return copy;
}

interface Window {
  start: number;
  count: number;
  alerted: boolean;
}

interface ServerState {
  b: Baseline;
  /** Changes not yet written. */
  dirty: boolean;
  /** Results seen since the last write. */
  unsaved: number;
  listChanged: Window;
  calls: Window;
  sampling: Window;
}

/**
 * The per-tool table of a baseline: an object without a prototype, so that tools named
 * `__proto__`, `constructor` or `toString` are ordinary keys (neither inherited look-ups nor
 * prototype writes).
 */
function toolTable(from?: unknown): Record<string, ToolStats> {
  const t: Record<string, ToolStats> = Object.create(null);
  if (isObj(from)) {
    for (const k of Object.keys(from)) {
      const v = from[k];
      if (isObj(v) && Array.isArray(v.shapes) && Array.isArray(v.structure)) {
        t[k] = v as unknown as ToolStats;
      }
    }
  }
  return t;
}

/** A stored baseline in the shape this tracker works on (undefined when absent or malformed). */
function loadBaseline(v: Baseline | undefined): Baseline | undefined {
  if (!isObj(v as unknown) || !Array.isArray(v!.roots)) return undefined;
  return { ...v!, tools: toolTable(v!.tools) };
}

/** The argument shape of a call: its key set, sorted and comma-joined. */
function shapeOf(args: Json | undefined): string {
  if (!isObj(args)) return "";
  const keys = Object.keys(args);
  return keys.length === 1 ? keys[0] : keys.sort().join(",");
}

function pushBounded(list: string[], v: string): boolean {
  if (list.includes(v)) return false;
  if (list.length < MAX_LIST) list.push(v);
  return true;
}

/** A path's root: `~`, `/` or a drive, then up to two segments (anchored: one attempt). */
const PATH_ROOT = /^(~|\/|[A-Za-z]:[\\/])([^\\/\s]{1,64})?(?:[\\/]([^\\/\s]{1,64}))?/;

/** Path roots of string arguments that look like paths (`/a/b`, `~/x`, `C:\x`). */
function pathRoots(args: Json | undefined, out: Set<string>, depth = 0): void {
  if (depth > 4 || out.size > 16) return;
  if (typeof args === "string") {
    // Only `~…`, `/…` and `X:…` can match: skip the regex for every other string.
    const c = args.charCodeAt(0);
    if (c !== 126 && c !== 47 && args.charCodeAt(1) !== 58) return;
    const m = PATH_ROOT.exec(args.length > 300 ? args.slice(0, 300) : args);
    if (m && (m[1] !== "/" || m[2])) {
      out.add(`${m[1]}${m[2] ?? ""}/${m[3] ?? ""}`.replace(/\/+$/, ""));
    }
  } else if (Array.isArray(args)) {
    for (const x of args.slice(0, 16)) {
      pathRoots(x, out, depth + 1);
    }
  } else if (isObj(args)) {
    for (const x of Object.values(args).slice(0, 32)) pathRoots(x, out, depth + 1);
  }
}

/** `content:<type>` of a content part (the common types without building a string). */
function contentKind(type: Json | undefined): string {
  switch (type) {
    case "text":
      return "content:text";
    case "image":
      return "content:image";
    case "audio":
      return "content:audio";
    case "resource":
      return "content:resource";
    case "resource_link":
      return "content:resource_link";
    default:
      return `content:${typeof type === "string" ? type : "?"}`;
  }
}

/**
 * What a tool result looks like: its text size, its structure, and its instruction cues (counted
 * in the bounded sample {@link CUE_SAMPLE}). One pass over the content parts; the text itself is
 * only measured (`length`), and scanned once, by `cues` (a copy of {@link CUES}; default a fresh
 * one).
 */
export function resultProfile(
  result: Json | undefined,
  cues?: RegExp,
): { chars: number; structure: string[]; cues: number } {
  if (!isObj(result)) return { chars: 0, structure: [], cues: 0 };
  const structure: string[] = [];
  let chars = 0;
  let count = 0;
  let budget = CUE_SAMPLE.total;
  const content = result.content;
  if (Array.isArray(content)) {
    const parts = Math.min(content.length, 256);
    for (let i = 0; i < parts; i++) {
      const part = content[i];
      if (!isObj(part)) continue;
      const kind = contentKind(part.type);
      if (!structure.includes(kind)) structure.push(kind);
      const text = typeof part.text === "string"
        ? part.text
        : isObj(part.resource) && typeof part.resource.text === "string"
        ? part.resource.text
        : "";
      chars += text.length + (typeof part.data === "string" ? part.data.length : 0);
      if (text && budget > 0) {
        const sample = text.length > budget ? text.slice(0, budget) : text;
        budget -= Math.min(sample.length, CUE_SAMPLE.perPart);
        count += cuesIn(cues ??= new RegExp(CUES), sample);
      }
    }
  }
  if (isObj(result.structuredContent)) {
    const keys = Object.keys(result.structuredContent);
    for (let i = 0; i < keys.length && i < 32; i++) {
      const kind = `structured:${keys[i]}`;
      if (!structure.includes(kind)) structure.push(kind);
    }
  }
  if (result.isError === true) structure.push("isError");
  if (structure.length > 1) structure.sort();
  return { chars, structure, cues: count };
}

/** Phase, flood and burst tracking for every server a process talks to. */
export class PhaseTracker {
  readonly #opts: Required<PhaseOptions>;
  readonly #servers = new Map<string, ServerState>();
  /** This tracker's copy of {@link CUES}, compiled up front. */
  readonly #cues: RegExp = precompiled(CUES);

  /** A tracker with the given tunables (defaults for the rest). */
  constructor(opts: PhaseOptions = {}) {
    this.#opts = {
      baselineCalls: opts.baselineCalls ?? 20,
      listChangedLimit: opts.listChangedLimit ?? 5,
      callBurstLimit: opts.callBurstLimit ?? 500,
      samplingBurstLimit: opts.samplingBurstLimit ?? 10,
      windowMs: opts.windowMs ?? 10_000,
    };
  }

  #state(store: StateStore, key: string, clock: number | (() => number)): ServerState {
    let s = this.#servers.get(key);
    if (!s) {
      const now = timeOf(clock);
      const b = loadBaseline(store.get<Baseline>(BASELINE_NS_PREFIX + key, BASELINE_KEY)?.value) ??
        { calls: 0, complete: false, since: now, tools: toolTable(), maxCues: 0, roots: [] };
      const w = (): Window => ({ start: now, count: 0, alerted: false });
      s = { b, dirty: false, unsaved: 0, listChanged: w(), calls: w(), sampling: w() };
      this.#servers.set(key, s);
    }
    return s;
  }

  #flush(store: StateStore, key: string, s: ServerState, now: number, force = false): void {
    if (!s.dirty || (!force && s.unsaved < FLUSH_EVERY)) return;
    try {
      store.put(BASELINE_NS_PREFIX + key, BASELINE_KEY, s.b, now);
      s.dirty = false;
      s.unsaved = 0;
    } catch { /* a busy store only delays persistence */ }
  }

  /** Write what is pending (call when the connection ends). */
  flush(store: StateStore, key: string, now: number): void {
    const s = this.#servers.get(key);
    if (s) this.#flush(store, key, s, now, true);
  }

  /**
   * Count a window event: {@link UNDER} the limit, {@link OVER} it, or {@link CROSSED} (over it,
   * the first time in this window).
   */
  #tick(w: Window, now: number, limit: number): number {
    if (now - w.start > this.#opts.windowMs) {
      w.start = now;
      w.count = 0;
      w.alerted = false;
    }
    w.count++;
    if (w.count <= limit) return UNDER;
    if (w.alerted) return OVER;
    w.alerted = true;
    return CROSSED;
  }

  /** A `notifications/*\/list_changed` from the server: returns whether to drop it, and a finding. */
  onListChanged(
    store: StateStore,
    key: string,
    method: string,
    now: number,
  ): { drop: boolean; finding?: Finding } {
    const s = this.#state(store, key, now);
    const t = this.#tick(s.listChanged, now, this.#opts.listChangedLimit);
    if (t === UNDER) return { drop: false };
    return {
      drop: true,
      finding: t === CROSSED
        ? {
          layer: "L1-behaviour",
          rule: "notification-flood",
          severity: "high",
          action: "block",
          message:
            `The server sent more than ${this.#opts.listChangedLimit} list_changed notifications in ${
              this.#opts.windowMs / 1000
            } s; the excess is dropped (a flood makes the client re-list and can hide a swap).`,
          path: "/method",
          evidence: method,
          details: { limit: this.#opts.listChangedLimit, windowMs: this.#opts.windowMs },
        }
        : undefined,
    };
  }

  /** A `sampling/createMessage` from the server: a finding when they come in a burst. */
  onSampling(store: StateStore, key: string, now: number): Finding | undefined {
    const s = this.#state(store, key, now);
    if (this.#tick(s.sampling, now, this.#opts.samplingBurstLimit) !== CROSSED) return undefined;
    return {
      layer: "L1-behaviour",
      rule: "sampling-burst",
      severity: "high",
      action: "alert",
      message: `The server sent more than ${this.#opts.samplingBurstLimit} sampling requests in ${
        this.#opts.windowMs / 1000
      } s: it is using the client's model as its own.`,
      path: "/method",
      evidence: "sampling/createMessage",
    };
  }

  /** A `tools/call` request from the client. */
  onCall(
    store: StateStore,
    key: string,
    tool: string,
    args: Json | undefined,
    now: number,
  ): Finding[] {
    const s = this.#state(store, key, now);
    const out: Finding[] = [];
    if (this.#tick(s.calls, now, this.#opts.callBurstLimit) === CROSSED) {
      out.push({
        layer: "L1-behaviour",
        rule: "call-burst",
        severity: "medium",
        action: "alert",
        message: `More than ${this.#opts.callBurstLimit} tool calls in ${
          this.#opts.windowMs / 1000
        } s to this server (a flooding loop, or a result that told the model to repeat calls).`,
        path: "/params/name",
        tool,
        evidence: tool,
      });
    }
    const b = s.b;
    if (!b.complete) {
      const ts = this.#tool(b, tool);
      if (ts) pushBounded(ts.shapes, shapeOf(args));
      const roots = new Set<string>();
      pathRoots(args, roots);
      for (const r of roots) pushBounded(b.roots, r);
      s.dirty = true;
      return out;
    }
    // After the baseline: a finding needs a known tool (3+ results) called with a new shape on
    // new paths; the cheap conditions go first, the argument walk last.
    const ts = b.tools[tool];
    if (
      ts === undefined || !(ts.n >= 3) || ts.shapes.length >= MAX_LIST || b.roots.length === 0 ||
      b.roots.length >= MAX_LIST
    ) return out;
    const shape = shapeOf(args);
    if (ts.shapes.includes(shape)) return out;
    const roots = new Set<string>();
    pathRoots(args, roots);
    const newRoots = [...roots].filter((r) => !b.roots.includes(r));
    if (newRoots.length > 0) {
      out.push({
        layer: "L1-behaviour",
        rule: "phase-transition-arguments",
        severity: "medium",
        action: "alert",
        message:
          `After a baseline of ${b.calls} calls, '${tool}' is called with a new argument shape (${
            shape || "none"
          }) on paths it never touched (${newRoots.join(", ")}).`,
        path: "/params/arguments",
        tool,
        evidence: `${shape} ${newRoots.join(" ")}`,
        details: { shape, knownShapes: ts.shapes, newRoots },
      });
    }
    return out;
  }

  #tool(b: Baseline, tool: string): ToolStats | undefined {
    let ts = b.tools[tool];
    if (!ts && Object.keys(b.tools).length < MAX_TOOLS) {
      ts = b.tools[tool] = { n: 0, maxChars: 0, sumChars: 0, shapes: [], structure: [] };
    }
    return ts;
  }

  /**
   * A `tools/call` result from the server. `now` may be a clock: it is read only when needed
   * (while the baseline is learnt), not for every result.
   */
  onResult(
    store: StateStore,
    key: string,
    tool: string,
    result: Json | undefined,
    now: number | (() => number),
  ): Finding[] {
    const s = this.#state(store, key, now);
    const b = s.b;
    const p = resultProfile(result, this.#cues);
    if (!b.complete) {
      const ts = this.#tool(b, tool);
      if (ts) {
        ts.n++;
        ts.sumChars += p.chars;
        ts.maxChars = Math.max(ts.maxChars, p.chars);
        for (const x of p.structure) pushBounded(ts.structure, x);
      }
      b.maxCues = Math.max(b.maxCues, p.cues);
      b.calls++;
      s.dirty = true;
      s.unsaved++;
      if (b.calls >= this.#opts.baselineCalls) b.complete = true;
      if (b.complete || s.unsaved >= FLUSH_EVERY) this.#flush(store, key, s, timeOf(now), true);
      return [];
    }
    const ts = b.tools[tool];
    const signals: string[] = [];
    if (ts && ts.n >= 3) {
      if (p.chars > Math.max(10 * ts.maxChars, 16_384)) {
        signals.push(`size ${p.chars} chars vs at most ${ts.maxChars} in the baseline`);
      }
      const novel = p.structure.filter((x) => x !== "isError" && !ts.structure.includes(x));
      if (novel.length && ts.structure.length < MAX_LIST) {
        signals.push(`new structure ${novel.join(", ")}`);
      }
    }
    const cueJump = p.cues >= 3 && p.cues > 3 * b.maxCues;
    if (cueJump) signals.push(`${p.cues} instruction cues vs at most ${b.maxCues} in the baseline`);
    if (!(cueJump && b.maxCues === 0) && signals.length < 2) return [];
    return [{
      layer: "L1-behaviour",
      rule: "phase-transition",
      severity: "critical",
      action: "alert",
      message:
        `After a quiet baseline of ${b.calls} calls, '${tool}' suddenly behaves differently (${
          signals.join("; ")
        }): a server that switched on.`,
      path: "/result",
      tool,
      evidence: signals.join("; "),
      details: { signals, baselineCalls: b.calls },
    }];
  }
}
