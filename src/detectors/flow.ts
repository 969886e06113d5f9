/**
 * Layer 3, cross-server flow: remembers fingerprints of the significant tokens (secrets, hashes,
 * identifiers, high-entropy strings) that each server returns, per client session, and flags a
 * request to another server that carries one of them: the signature of data exfiltration across
 * servers ("read the key with server A, post it with server B").
 *
 * Memory lives in the {@link StateStore}, namespace `flow:<session>`, so that the wrappers a client
 * launched (separate processes sharing the state database) see each other's tokens. Keys are
 * truncated salted SHA-256 fingerprints, never the tokens. Records expire after a time window and
 * the namespace is kept to a bounded size, least recently seen first (`store.evict`).
 *
 * Tokens the client itself sent first (typed by the user, say) belong to the client, not to the
 * server that later echoes them, so they never count as a flow.
 *
 * Cost per message: one pass over its strings, one hash per significant token (capped), and at most
 * three store calls (`getMany`, `putMany`, `evict`).
 *
 * @example
 * ```ts
 * import { createFlowDetector, significantTokens } from "./flow.ts";
 * significantTokens("key AKIAIOSFODNN7EXAMPLE and the word hello"); // ["AKIAIOSFODNN7EXAMPLE"]
 * const detector = createFlowDetector({ windowMs: 3_600_000 });
 * ```
 *
 * @module
 */
import { sha256Hex } from "../hash.ts";
import type { DetectorEnv, JsonRpcMessage, MessageDetector } from "../pipeline/detector.ts";
import { extractFields } from "../pipeline/fields.ts";
import type { Finding, Json, MessageContext } from "../types.ts";
import { forEachArgumentString } from "./scope.ts";

/** Tuning of the flow tracker. */
export interface FlowOptions {
  /** How long a server's token is remembered (ms). Default 2 hours. */
  readonly windowMs?: number;
  /** Most tokens remembered per session (LRU beyond). Default 50 000. */
  readonly maxTokens?: number;
  /** Most significant tokens taken from one message. Default 2 000. */
  readonly maxPerMessage?: number;
}

/** Store namespace prefix; the namespace is `flow:<session>`. */
export const FLOW_NS_PREFIX = "flow:";
/** Store namespace of the flow tracker's own bookkeeping (when sessions were last swept). */
export const FLOW_META_NS = "l3-flow-meta";
/** JSON-RPC error code of a request refused for a cross-server flow. */
export const FLOW_BLOCK_CODE: number = -32002;

/** Where a token came from. */
interface Source {
  /** Server key. */
  readonly k: string;
  /** Server display name. */
  readonly n: string;
  /** Method of the response it appeared in. */
  readonly m: string;
  /** Tool, when known. */
  readonly t?: string;
}

/** A stored fingerprint: its sources, or `c: 1` when the client sent it first. */
interface FlowRecord {
  readonly s?: readonly Source[];
  readonly c?: 1;
}

const MAX_SOURCES = 4;
const MAX_FINDINGS = 5;
const MIN_LEN = 10;
const MAX_LEN = 512;

/** Responses whose content is data a server hands over (sources of flows). */
const SOURCE_METHODS = new Set(["tools/call", "tasks/result", "resources/read", "prompts/get"]);

/** ASCII classes: 1 = token character (letters, digits, `-`, `_`), 2 = base64 only (`+/=`). */
const CLASS = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const tok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 ||
      c === 95;
    t[c] = tok ? 1 : c === 43 || c === 47 || c === 61 ? 2 : 0;
  }
  return t;
})();

function isTokenChar(c: number): boolean {
  return c < 128 && CLASS[c] === 1;
}

/** Shannon entropy in bits per character of an ASCII token. */
function entropy(tok: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / tok.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Share of the characters that sit in lower-case runs of 4 or more (words inside names). */
function wordiness(tok: string): number {
  let inWords = 0, run = 0;
  for (let i = 0; i <= tok.length; i++) {
    const c = i < tok.length ? tok.charCodeAt(i) : 0;
    if (c >= 97 && c <= 122) {
      run++;
      continue;
    }
    if (run >= 4) inWords += run;
    run = 0;
  }
  return inWords / tok.length;
}

/** Length of the longest part between `-` and `_` separators. */
function longestSegment(tok: string): number {
  let best = 0, run = 0;
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    run = c === 45 || c === 95 ? 0 : run + 1;
    if (run > best) best = run;
  }
  return best;
}

/** Length of the longest run of digits. */
function longestDigitRun(tok: string): number {
  let best = 0, run = 0;
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    run = c >= 48 && c <= 57 ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

/**
 * Whether a token (letters, digits, `-`, `_`; 10 to 512 characters) identifies something: a hash
 * or UUID, a secret-looking high-entropy string, an identifier with a long number in it, a long
 * number (card, account). Words, code identifiers, dates, versions and small numbers are not.
 *
 * @example
 * ```ts
 * isSignificantToken("9f86d081884c7d659a2feaa0c55ad015"); // true (hash)
 * isSignificantToken("getUserAccountSettings"); // false (identifier made of words)
 * ```
 */
export function isSignificantToken(tok: string): boolean {
  const len = tok.length;
  if (len < MIN_LEN || len > MAX_LEN) return false;
  let lower = 0, upper = 0, digit = 0, hex = 0;
  for (let i = 0; i < len; i++) {
    const c = tok.charCodeAt(i);
    if (c >= 48 && c <= 57) digit++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)) hex++;
  }
  const letters = lower + upper;
  if (/^\d{4}-\d\d-\d\d/.test(tok)) return false; // dates and timestamps
  if (letters === 0) {
    // Numbers: long ones are accounts, cards, phone numbers; 10/13-digit epochs are not.
    if (digit < 12) return false;
    return !(digit === 13 && digit === len && /^1[5-9]/.test(tok));
  }
  const alnum = letters + digit;
  // Hashes and UUIDs: hex digits only (dashes aside), both letters and digits present.
  if (hex === alnum && alnum >= 16 && digit >= 2 && letters >= 2) return true;
  // Random-looking: few word-like lower-case runs (camelCase and snake_case names are words),
  // one long segment (not `x86_64-linux-gnu`), and a high entropy.
  const randomish = wordiness(tok) < 0.4 && longestSegment(tok) >= 12;
  if (digit === 0) {
    // Letters only: a mixed-case random string (a base62-ish secret).
    if (len < 20 || upper < 0.25 * letters || upper > 0.75 * letters) return false;
    return randomish && entropy(tok) >= 3.8;
  }
  if (len >= 16 && randomish && (digit >= 2 || upper >= 2) && entropy(tok) >= 3.4) return true;
  // Identifiers with a real number in them (ORD-2024-88412, INV20240001), not `x86_64`.
  return longestDigitRun(tok) >= 4 && digit >= 5 && letters >= 2;
}

/**
 * Where a significant token may be: two digits, or two capitals, in one token (letters, digits,
 * `-`, `_`). Every significant token has one (see {@link isSignificantToken}: a number has 12+
 * digits, a hash or an identifier 2+, a letters-only secret 3+ capitals, another random-looking
 * one 2+ digits or 2+ capitals), so the runs without either are skipped with no per-word work.
 * Two expressions rather than one alternation: each is a plain fast scan for its first class.
 * Linear: each consumes a class without its last character, so an attempt that starts at a digit
 * (a capital) reads up to the next digit (capital) at most. Their `lastIndex` is set before every
 * use, so no state outlives a call.
 */
const TWO_DIGITS = /[0-9][A-Za-z_-]*[0-9]/g;
const TWO_CAPITALS = /[A-Z][a-z0-9_-]*[A-Z]/g;
/** The rest of a run of token and base64 characters (`lastIndex` set before each use). */
const RUN_REST = /[A-Za-z0-9_+/=-]*/y;

function isRunChar(c: number): boolean {
  return c < 128 && CLASS[c] !== 0;
}

/** End of the first match of `re` at or after `from`, or -1. */
function nextCandidate(re: RegExp, text: string, from: number): number {
  re.lastIndex = from;
  const end = re.test(text) ? re.lastIndex : -1;
  re.lastIndex = 0;
  return end;
}

/**
 * The significant tokens of a text (see {@link isSignificantToken}), deduplicated, in order of
 * first appearance, at most `max`. Runs of more than 256 token/base64 characters are blobs and
 * skipped. Linear: one pass of two candidate expressions over the text (`TWO_DIGITS`,
 * `TWO_CAPITALS`); only the runs they point at are read again, each once.
 *
 * @example
 * ```ts
 * significantTokens("id=ORD-2024-88412, at 2026-11-23T10:00:00Z"); // ["ORD-2024-88412"]
 * ```
 */
export function significantTokens(text: string, max = 4000, into?: Set<string>): string[] {
  const out: string[] = [];
  let d = nextCandidate(TWO_DIGITS, text, 0);
  let u = nextCandidate(TWO_CAPITALS, text, 0);
  if (d < 0 && u < 0) return out;
  const seen = into ?? new Set<string>();
  const cap = seen.size + max;
  while (d >= 0 || u >= 0) {
    // The earliest candidate sits inside a run of token/base64 characters: take that whole run.
    const end = d < 0 ? u : u < 0 ? d : Math.min(d, u);
    // Bounded both ways: a run longer than MAX_RUN is a blob whatever its exact start.
    const lo = Math.max(0, end - MAX_RUN - 1);
    let from = end - 1;
    while (from > lo && isRunChar(text.charCodeAt(from - 1))) from--;
    let to = end;
    const n = Math.min(text.length, from + MAX_RUN + 1);
    while (to < n && isRunChar(text.charCodeAt(to))) to++;
    if (to - from > MAX_RUN) {
      // Longer than any token run: a blob, to be skipped whole (natively, it can be megabytes).
      RUN_REST.lastIndex = to;
      RUN_REST.test(text);
      to = RUN_REST.lastIndex;
      RUN_REST.lastIndex = 0;
    }
    // Longer runs are blobs (images, archives in base64): data, not identifiers; skip them.
    if (to - from >= MIN_LEN && to - from <= MAX_RUN && tokensOf(text, from, to, seen, out, cap)) {
      break;
    }
    // Candidates that end inside this run are done; find the next ones after it.
    if (d >= 0 && d <= to) d = nextCandidate(TWO_DIGITS, text, to);
    if (u >= 0 && u <= to) u = nextCandidate(TWO_CAPITALS, text, to);
  }
  return out;
}

/** Longest run of token/base64 characters still split into tokens. */
const MAX_RUN = 256;

/** Add the significant tokens of text[from, to) (a run); true when the cap is reached. */
function tokensOf(
  text: string,
  from: number,
  to: number,
  seen: Set<string>,
  out: string[],
  cap: number,
): boolean {
  let start = -1;
  for (let i = from; i <= to; i++) {
    if (i < to && isTokenChar(text.charCodeAt(i))) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start >= MIN_LEN) {
      // Trim separators so "-abc…" and "abc…" are one token.
      let a = start, b = i;
      while (a < b && (text.charCodeAt(a) === 45 || text.charCodeAt(a) === 95)) a++;
      while (b > a && (text.charCodeAt(b - 1) === 45 || text.charCodeAt(b - 1) === 95)) b--;
      const tok = text.slice(a, b);
      if (!seen.has(tok) && isSignificantToken(tok)) {
        seen.add(tok);
        out.push(tok);
        if (seen.size >= cap) return true;
      }
    }
    start = -1;
  }
  return false;
}

/** The store key of a token: salted by the session, truncated to 96 bits. */
function fingerprint(session: string, tok: string): string {
  return sha256Hex(`mcp-watchdog/flow\n${session}\n${tok}`).slice(0, 24);
}

/** A token shown to people: its first 4 characters and its length, never the whole. */
export function maskToken(tok: string): string {
  return `${tok.slice(0, 4)}…(${tok.length} chars)`;
}

function isObj(v: Json | undefined): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * The tool a request concerns, and a walk over the strings it sends out to the server (with
 * their pointers, built only when asked for); `undefined` for requests that send no data.
 */
function requestTarget(
  msg: JsonRpcMessage,
): { tool: string; walk: (fn: (text: string, at: () => string) => boolean) => void } | undefined {
  const p = msg.params;
  if (!isObj(p)) return undefined;
  switch (msg.method) {
    case "tools/call":
    case "prompts/get":
      return {
        tool: typeof p.name === "string" ? p.name : "",
        walk: (fn) =>
          forEachArgumentString(p.arguments, "/params/arguments", (text, _key, at) => fn(text, at)),
      };
    case "resources/read": {
      const uri = p.uri;
      return typeof uri === "string"
        ? { tool: uri, walk: (fn) => void fn(uri, () => "/params/uri") }
        : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The Layer 3 flow detector (`L3-flow`). Reads `config.flowPolicy` (`block` refuses the request,
 * `alert` only reports) and `env.session` (the namespace).
 */
export function createFlowDetector(options: FlowOptions = {}): MessageDetector {
  const windowMs = options.windowMs ?? 2 * 60 * 60 * 1000;
  const maxTokens = options.maxTokens ?? 50_000;
  const maxPerMessage = options.maxPerMessage ?? 2000;

  function learn(msg: JsonRpcMessage, ctx: MessageContext & { tool?: string }, env: DetectorEnv) {
    if (!isObj(msg.result) || !SOURCE_METHODS.has(ctx.method)) return;
    const seen = new Set<string>();
    for (const f of extractFields(msg, ctx.method, "server_to_client", ctx.tool)) {
      significantTokens(f.text, maxPerMessage - seen.size, seen);
      if (seen.size >= maxPerMessage) break;
    }
    if (seen.size === 0) return;
    const ns = FLOW_NS_PREFIX + env.session;
    const keys = new Map<string, string>();
    for (const tok of seen) keys.set(fingerprint(env.session, tok), tok);
    const existing = new Map<string, { value: FlowRecord; ts: number }>();
    for (const r of env.store.getMany<FlowRecord>(ns, [...keys.keys()])) existing.set(r.key, r);
    const me: Source = { k: env.server.key, n: env.server.name, m: ctx.method, t: ctx.tool };
    const now = env.now();
    const writes: { key: string; value: FlowRecord }[] = [];
    let added = 0;
    for (const key of keys.keys()) {
      const rec = existing.get(key);
      const old = rec?.value;
      if (!old) added++;
      // Seen from this server a moment ago: no write (repeated answers stay read-only).
      else if (old.s?.[0]?.k === me.k && now - rec!.ts < windowMs / 20) continue;
      if (old?.c) {
        writes.push({ key, value: old }); // the client's own token: only refresh it
        continue;
      }
      const others = (old?.s ?? []).filter((s) => s.k !== me.k);
      writes.push({ key, value: { s: [me, ...others].slice(0, MAX_SOURCES) } });
    }
    if (writes.length === 0) return;
    env.store.putMany(ns, writes, now);
    // Only growth can overflow the bound; expired records are ignored when read anyway.
    if (added > 0) {
      env.store.evict(ns, now - windowMs, maxTokens);
      sweepSessions(env, now);
    }
  }

  /** Now and then, expire the namespaces of client sessions that ended (nobody else will). */
  function sweepSessions(env: DetectorEnv, now: number) {
    const last = env.store.get(FLOW_META_NS, "sweep");
    if (last && now - last.ts < windowMs / 4) return;
    env.store.put(FLOW_META_NS, "sweep", 1, now);
    for (const other of env.store.namespaces(FLOW_NS_PREFIX)) {
      if (other !== FLOW_NS_PREFIX + env.session) env.store.evict(other, now - windowMs, maxTokens);
    }
  }

  function check(msg: JsonRpcMessage, env: DetectorEnv) {
    const req = requestTarget(msg);
    if (!req) return undefined;
    const where = new Map<string, { tok: string; path: string }>();
    const seen = new Set<string>();
    req.walk((text, at) => {
      const toks = significantTokens(text, maxPerMessage - seen.size, seen);
      if (toks.length > 0) {
        const path = at();
        for (const tok of toks) where.set(fingerprint(env.session, tok), { tok, path });
      }
      return seen.size >= maxPerMessage;
    });
    if (where.size === 0) return undefined;
    const ns = FLOW_NS_PREFIX + env.session;
    const now = env.now();
    const found = env.store.getMany<FlowRecord>(ns, [...where.keys()]);
    const known = new Set(found.map((r) => r.key));
    const findings: Finding[] = [];
    const block = env.config.flowPolicy === "block";
    for (const r of found) {
      const sources = r.value?.s;
      if (r.value?.c || !sources || sources.length === 0 || r.ts < now - windowMs) continue;
      if (sources.some((s) => s.k === env.server.key)) continue; // it came from this very server
      const from = sources[0];
      const at = where.get(r.key)!;
      const what = from.t ? `${from.m} ${from.t}` : from.m;
      findings.push({
        layer: "L3-flow",
        rule: "l3-cross-server-flow",
        severity: "high",
        action: block ? "block" : "alert",
        message:
          `a value that server "${from.n}" returned (${what}) is being sent to server "${env.server.name}" ` +
          `(${msg.method} ${req.tool}, field ${at.path}): possible cross-server exfiltration`,
        path: at.path,
        tool: req.tool,
        evidence: maskToken(at.tok),
        details: {
          fromServer: from.n,
          fromMethod: from.m,
          fromTool: from.t ?? null,
          toServer: env.server.name,
          toTool: req.tool,
          field: at.path,
          fingerprint: r.key.slice(0, 8),
        },
      });
      if (findings.length >= MAX_FINDINGS) break;
    }
    // Tokens no server gave us came from the client: remember them as the client's.
    const fresh = [...where.keys()].filter((k) => !known.has(k)).map((key) => ({
      key,
      value: { c: 1 },
    }));
    if (fresh.length > 0) {
      env.store.putMany(ns, fresh, now);
      env.store.evict(ns, now - windowMs, maxTokens);
    }
    if (findings.length === 0) return undefined;
    const first = findings[0];
    return {
      findings,
      block: block
        ? {
          code: FLOW_BLOCK_CODE,
          message: `mcp-watchdog (l3-cross-server-flow): ${first.message}`,
          data: { rule: "l3-cross-server-flow", layer: "L3-flow", ...first.details } as Json,
        }
        : undefined,
    };
  }

  return {
    name: "flow",
    inspect(msg: JsonRpcMessage, ctx: MessageContext, env: DetectorEnv) {
      if (ctx.direction === "server_to_client") {
        if (msg.method === undefined) learn(msg, ctx, env);
        return undefined;
      }
      if (typeof msg.method !== "string") return undefined;
      return check(msg, env);
    },
  };
}
