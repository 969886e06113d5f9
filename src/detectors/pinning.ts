/**
 * Layer 1 pinning: trust on first use of everything a server presents (`instructions`, tools,
 * prompts, resources, resource templates), against rug pulls.
 *
 * The first complete listing of each kind is trusted and pinned (a canonical, order-insensitive
 * hash plus the definition, in the store namespace `pins:<serverKey>`). Afterwards, on every list
 * response, a definition whose hash differs from its pin (changed), or a tool/prompt/template that
 * was not there before (new), is withheld from the list and recorded as *pending*; a call to it
 * (`tools/call`, `prompts/get`, `resources/read`) is refused with a JSON-RPC error that names the
 * approval command, until `mcp-watchdog pins approve <server> <name>` moves the pending definition
 * into the pin. With `--pin-policy alert` nothing is withheld: the change is only reported.
 *
 * Pagination: a page never implies that items of other pages were removed (nothing is ever
 * inferred from absence), and the pages of the first listing (followed by `cursor`) are trusted.
 * New *resources* are pinned silently (servers add documents all the time); a changed resource
 * description is withheld like any other change.
 *
 * @example
 * ```ts
 * import { createPinningDetector } from "./pinning.ts";
 * const pinning = createPinningDetector();
 * // pipeline: pinning.inspect(msg, ctx, env) on every message
 * ```
 *
 * @module
 */
import { ReadCache } from "../store/read_cache.ts";
import { canonicalHash, canonicalJson } from "../canonical.ts";
import type {
  DetectorEnv,
  JsonRpcMessage,
  MessageDetector,
  MessageVerdict,
} from "../pipeline/detector.ts";
import type { StateStore } from "../store/store.ts";
import type { Finding, Json } from "../types.ts";
import { definitionDiff } from "./definition_diff.ts";

/** What kind of definition a pin is about. */
export type PinKind = "tool" | "prompt" | "resource" | "template" | "instructions";

/** A definition waiting for approval. */
export interface PendingDefinition {
  /** Canonical hash of {@link PendingDefinition.def}. */
  readonly hash: string;
  /** The definition as seen (its pinned projection). */
  readonly def: Json;
  /** First time this exact version was seen. */
  readonly seenAt: number;
}

/** One pin (the value stored at `pins:<serverKey>` / `<kind>:<name>`). */
export interface PinRecord {
  /** What kind of definition. */
  readonly kind: PinKind;
  /** Its name (URI for resources, URI template for templates, "" for instructions). */
  readonly name: string;
  /** Hash of the approved definition; absent when it appeared after the first pin and waits. */
  readonly hash?: string;
  /** The approved definition (for diffs). */
  readonly def?: Json;
  /** When it was pinned or approved, ms since the epoch. */
  readonly pinnedAt?: number;
  /** A changed or new version waiting for approval (withheld meanwhile). */
  readonly pending?: PendingDefinition;
  /** Set by `pins reset <server> <name>`: the next version seen is pinned without asking. */
  readonly retrust?: boolean;
}

/** Listing progress of one kind (the first complete listing is trusted). */
export interface KindState {
  /** `open`: the first listing has more pages to come; `done`: first listing complete. */
  readonly state: "open" | "done";
  /** The `nextCursor` of the last trusted page (while open). */
  readonly cursor?: string;
  /** The id of the request that continues the first listing (while open). */
  readonly contId?: string | number | null;
  /** Pages seen of the first listing. */
  readonly pages: number;
  /** When the first page was seen, ms since the epoch. */
  readonly firstAt: number;
}

/** Per-server metadata (key {@link META_KEY}). */
export interface PinMeta {
  /** The server's display name (for `pins list`). */
  readonly server: string;
  /** Listing progress per kind. */
  readonly kinds: Partial<Record<PinKind, KindState>>;
}

/** Store namespace prefix of pins; the full namespace is `pins:<serverKey>`. */
export const PIN_NS_PREFIX = "pins:";
/** Key of the per-server metadata record inside a pins namespace. */
export const META_KEY = "~meta";
/** JSON-RPC error code of a refused call to a withheld definition. */
export const WITHHELD_ERROR_CODE: number = -32003;
/** How long a call-time look-up of a pin is reused. */
const USE_CACHE_MS = 1000;
const USE_CACHE_MAX = 4096;
/** Bounds of the per-process cache of definition hashes. */
const HASH_CACHE_MAX = 2048;
const HASH_CACHE_ITEM_MAX = 64 * 1024;
const HASH_CACHE_CHARS = 4 * 1024 * 1024;
/** After this many pages the first listing is considered complete whatever the server says. */
const MAX_FIRST_PAGES = 200;

/** The pins namespace of a server. */
export function pinNamespace(serverKey: string): string {
  return PIN_NS_PREFIX + serverKey;
}

/** The store key of one definition. */
export function pinKey(kind: PinKind, name: string): string {
  return `${kind}:${name}`;
}

const LIST_METHODS: Readonly<Record<string, { kind: PinKind; field: string }>> = {
  "tools/list": { kind: "tool", field: "tools" },
  "prompts/list": { kind: "prompt", field: "prompts" },
  "resources/list": { kind: "resource", field: "resources" },
  "resources/templates/list": { kind: "template", field: "resourceTemplates" },
};

const PROJECTIONS: Readonly<Record<Exclude<PinKind, "instructions">, readonly string[]>> = {
  tool: ["name", "title", "description", "inputSchema", "outputSchema", "annotations"],
  prompt: ["name", "title", "description", "arguments"],
  resource: ["uri", "name", "title", "description", "mimeType"],
  template: ["uriTemplate", "name", "title", "description", "mimeType"],
};

function isObj(v: unknown): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The identity of an item of a list (its name, or URI for resources). */
function itemName(kind: PinKind, item: { [k: string]: Json }): string | undefined {
  const v = kind === "resource" ? item.uri : kind === "template" ? item.uriTemplate : item.name;
  return typeof v === "string" ? v : undefined;
}

/**
 * The pinned part of a definition: only what the model reads and what shapes calls (volatile
 * fields such as `_meta`, `size` or icons are left out so that they do not look like changes).
 */
export function projectDefinition(kind: PinKind, item: Json): Json {
  if (kind === "instructions") return typeof item === "string" ? item : "";
  if (!isObj(item)) return null;
  const out: { [k: string]: Json } = {};
  for (const k of PROJECTIONS[kind]) if (item[k] !== undefined) out[k] = item[k];
  return out;
}

/** The canonical hash of a projected definition. */
export function definitionHash(def: Json): string {
  return canonicalHash(def);
}

/** Approval command for a definition, as shown to users. */
export function approveCommand(server: string, kind: PinKind, name: string): string {
  const q = (s: string) => /^[A-Za-z0-9_.:\/@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
  const target = kind === "tool" ? name : kind === "instructions" ? kind : `${kind}:${name}`;
  return `mcp-watchdog pins approve ${q(server)} ${q(target)}`;
}

function readMeta(store: StateStore, ns: string, server: string): PinMeta {
  return store.get<PinMeta>(ns, META_KEY)?.value ?? { server, kinds: {} };
}

/**
 * A write that failed (the shared database busy past its timeout, a full disk) must not cost the
 * verdict: what changed is still withheld now, and is noticed again at the next list.
 */
function safeWrite(fn: () => void): void {
  try {
    fn();
  } catch { /* see above */ }
}

function writeMeta(store: StateStore, ns: string, meta: PinMeta, now: number): void {
  safeWrite(() => store.put(ns, META_KEY, meta, now));
}

/** Options of {@link createPinningDetector}. */
export interface PinningOptions {
  /** Trust new resources silently (default true): resource lists are dynamic by nature. */
  readonly trustNewResources?: boolean;
}

/**
 * The pinning detector (layer `L1-behaviour`). One instance serves a whole process; all state is
 * in `env.store`.
 */
export function createPinningDetector(opts: PinningOptions = {}): MessageDetector {
  const trustNewResources = opts.trustNewResources ?? true;
  // Whether a definition is withheld, per `<serverKey>\n<kind>:<name>`, re-read from the store at
  // most once per USE_CACHE_MS: a call costs a map look-up, and an approval made by
  // `mcp-watchdog pins approve` in another process is seen within that time.
  const caches = new WeakMap<StateStore, ReadCache<PinRecord | undefined>>();
  const cacheOf = (store: StateStore) => {
    let c = caches.get(store);
    if (!c) caches.set(store, c = new ReadCache(USE_CACHE_MS, USE_CACHE_MAX));
    return c;
  };
  const lookup = (env: DetectorEnv, key: string): PinRecord | undefined =>
    cacheOf(env.store).get(
      `${env.server.key}\n${key}`,
      env.now(),
      () => env.store.get<PinRecord>(pinNamespace(env.server.key), key)?.value,
    );
  // Lists repeat: the canonical hash of an item is reused by its (native, fast) JSON text.
  const hashes = new Map<string, { def: Json; hash: string }>();
  let cachedChars = 0;
  const hashOf = (kind: PinKind, item: Json): { def: Json; hash: string } => {
    const raw = `${kind}\n${JSON.stringify(item)}`;
    const hit = hashes.get(raw);
    if (hit) return hit;
    const def = projectDefinition(kind, item);
    const v = { def, hash: definitionHash(def) };
    if (hashes.size >= HASH_CACHE_MAX || cachedChars + raw.length > HASH_CACHE_CHARS) {
      hashes.clear();
      cachedChars = 0;
    }
    if (raw.length <= HASH_CACHE_ITEM_MAX) {
      hashes.set(raw, v);
      cachedChars += raw.length;
    }
    return v;
  };
  const forget = (env: DetectorEnv) => cacheOf(env.store).forget(`${env.server.key}\n`);
  return {
    name: "pinning",
    inspect(msg, ctx, env) {
      if (ctx.direction === "client_to_server") {
        if (!("method" in msg)) return undefined;
        switch (ctx.method) {
          case "tools/call":
            return checkUse(msg, env, "tool", "name", lookup);
          case "prompts/get":
            return checkUse(msg, env, "prompt", "name", lookup);
          case "resources/read":
            return checkUse(msg, env, "resource", "uri", lookup);
          case "tools/list":
          case "prompts/list":
          case "resources/list":
          case "resources/templates/list":
            noteContinuation(msg, ctx.method, ctx.id, env);
            return undefined;
          default:
            return undefined;
        }
      }
      if (!("result" in msg) || !isObj(msg.result)) return undefined;
      if (ctx.method === "initialize") return checkInstructions(msg.result, env);
      // Own properties only: a method named "constructor" must not reach the prototype.
      const lm = Object.hasOwn(LIST_METHODS, ctx.method) ? LIST_METHODS[ctx.method] : undefined;
      if (!lm) return undefined;
      forget(env); // a list may change what is withheld
      return checkList(msg.result, lm.kind, lm.field, ctx.id, env, trustNewResources, hashOf);
    },
  };
}

/** A `tools/list` (etc.) request that continues the first listing: remember its id. */
function noteContinuation(
  msg: JsonRpcMessage,
  method: string,
  id: string | number | null | undefined,
  env: DetectorEnv,
): void {
  const kind = LIST_METHODS[method].kind;
  const params = msg.params;
  const cursor = isObj(params) && typeof params.cursor === "string" ? params.cursor : undefined;
  if (cursor === undefined || id === undefined) return;
  const ns = pinNamespace(env.server.key);
  const meta = readMeta(env.store, ns, env.server.name);
  const ks = meta.kinds[kind];
  if (ks?.state !== "open" || ks.cursor !== cursor) return;
  writeMeta(
    env.store,
    ns,
    { ...meta, kinds: { ...meta.kinds, [kind]: { ...ks, contId: id } } },
    env.now(),
  );
}

/** A call/get/read of a definition: refused while it is withheld. */
function checkUse(
  msg: JsonRpcMessage,
  env: DetectorEnv,
  kind: PinKind,
  field: string,
  lookup: (env: DetectorEnv, key: string) => PinRecord | undefined,
): MessageVerdict | undefined {
  if (env.config.pinPolicy !== "block") return undefined;
  const params = msg.params;
  if (!isObj(params)) return undefined;
  const name = params[field];
  if (typeof name !== "string") return undefined;
  const rec = lookup(env, pinKey(kind, name));
  if (!rec?.pending) return undefined;
  const server = env.server.name;
  const cmd = approveCommand(server, kind, name);
  const what = rec.hash ? "changed since you approved it" : "appeared after the server was pinned";
  const message =
    `mcp-watchdog: ${kind} '${name}' of server '${server}' ${what} and is withheld until you ` +
    `review it (mcp-watchdog pins diff ${server} ${name}) and approve it: ${cmd}`;
  const finding: Finding = {
    layer: "L1-behaviour",
    rule: "pin-withheld-call",
    severity: "high",
    action: "block",
    message: `Refused a ${
      useVerb(kind)
    } to '${name}': its definition ${what}. Approve with: ${cmd}`,
    path: `/params/${field}`,
    tool: name,
    evidence: name,
    details: { server, kind, approve: cmd },
  };
  return {
    findings: [finding],
    block: {
      code: WITHHELD_ERROR_CODE,
      message,
      data: { rule: "pin-withheld-call", approve: cmd },
    },
  };
}

function useVerb(kind: PinKind): string {
  return kind === "tool" ? "call" : kind === "prompt" ? "prompts/get" : "read";
}

/** The server instructions in an `initialize` result. */
function checkInstructions(
  result: { [k: string]: Json },
  env: DetectorEnv,
): MessageVerdict | undefined {
  const text = typeof result.instructions === "string" ? result.instructions : "";
  const ns = pinNamespace(env.server.key);
  const key = pinKey("instructions", "");
  const def: Json = text;
  const hash = definitionHash(def);
  const rec = env.store.get<PinRecord>(ns, key)?.value;
  const now = env.now();
  if (!rec?.hash) {
    safeWrite(() =>
      env.store.put(ns, key, { kind: "instructions", name: "", hash, def, pinnedAt: now }, now)
    );
    return undefined;
  }
  if (rec.hash === hash) {
    if (rec.pending) safeWrite(() => env.store.put(ns, key, { ...rec, pending: undefined }, now));
    return undefined;
  }
  if (rec.pending?.hash !== hash) {
    safeWrite(() => env.store.put(ns, key, { ...rec, pending: { hash, def, seenAt: now } }, now));
  }
  const block = env.config.pinPolicy === "block";
  const cmd = approveCommand(env.server.name, "instructions", "");
  const diff = definitionDiff(rec.def, def);
  const finding: Finding = {
    layer: "L1-behaviour",
    rule: "pin-instructions-changed",
    severity: "high",
    action: block ? "block" : "alert",
    message: `The server instructions changed since they were pinned${
      block ? " and are withheld" : ""
    }. Review with 'mcp-watchdog pins diff ${env.server.name}', approve with: ${cmd}`,
    path: "/result/instructions",
    evidence: text,
    details: { server: env.server.name, kind: "instructions", diff, approve: cmd },
  };
  return {
    findings: [finding],
    remove: block && text !== "" ? ["/result/instructions"] : undefined,
  };
}

/** One list response: pin on first listing, then withhold what changed or is new. */
function checkList(
  result: { [k: string]: Json },
  kind: PinKind,
  field: string,
  id: string | number | null | undefined,
  env: DetectorEnv,
  trustNewResources: boolean,
  hashOf: (kind: PinKind, item: Json) => { def: Json; hash: string },
): MessageVerdict | undefined {
  const items = result[field];
  if (!Array.isArray(items)) return undefined;
  const store = env.store;
  const ns = pinNamespace(env.server.key);
  const now = env.now();
  const meta = readMeta(store, ns, env.server.name);
  const ks = meta.kinds[kind];
  const nextCursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
  // Trusted: the first page ever, and the pages that continue the first listing.
  const trusted = ks === undefined ||
    (ks.state === "open" && id !== undefined && ks.contId !== undefined && ks.contId === id);

  const names: (string | undefined)[] = items.map((it) =>
    isObj(it) ? itemName(kind, it) : undefined
  );
  const keys = names.filter((n): n is string => n !== undefined).map((n) => pinKey(kind, n));
  const recs = new Map(store.getMany<PinRecord>(ns, keys).map((r) => [r.key, r.value]));
  const writes: { key: string; value: unknown }[] = [];
  const findings: Finding[] = [];
  const remove: string[] = [];
  const block = env.config.pinPolicy === "block";
  const seen = new Set<string>();

  items.forEach((item, i) => {
    const name = names[i];
    if (name === undefined) return;
    const key = pinKey(kind, name);
    const { def, hash } = hashOf(kind, item);
    // A duplicate name in one list: the first occurrence decides; a differing twin is withheld.
    const rec = recs.get(key);
    if (rec?.hash === hash) {
      if (rec.pending && !seen.has(key)) {
        writes.push({ key, value: { ...rec, pending: undefined } });
      }
      seen.add(key);
      return;
    }
    if (
      !rec?.hash && !seen.has(key) &&
      (trusted || rec?.retrust || (kind === "resource" && trustNewResources))
    ) {
      const pinned: PinRecord = { kind, name, hash, def, pinnedAt: now };
      writes.push({ key, value: pinned });
      recs.set(key, pinned);
      seen.add(key);
      return;
    }
    seen.add(key);
    const isNew = !rec?.hash;
    if (rec?.pending?.hash !== hash) {
      const next: PinRecord = rec
        ? { ...rec, pending: { hash, def, seenAt: now } }
        : { kind, name, pending: { hash, def, seenAt: now } };
      writes.push({ key, value: next });
      recs.set(key, next);
    }
    const cmd = approveCommand(env.server.name, kind, name);
    const diff = definitionDiff(rec?.def, def);
    findings.push({
      layer: "L1-behaviour",
      rule: isNew ? "pin-new-definition" : "pin-changed-definition",
      severity: isNew ? "medium" : "critical",
      action: block ? "block" : "alert",
      message: isNew
        ? `New ${kind} '${name}' appeared after the server was pinned${
          block ? "; withheld until approved" : ""
        }. Approve with: ${cmd}`
        : `The definition of ${kind} '${name}' changed since it was pinned (possible rug pull)${
          block ? "; withheld until approved" : ""
        }. Review the diff, approve with: ${cmd}`,
      path: `/result/${field}/${i}`,
      tool: name,
      evidence: canonicalJson(def),
      details: {
        server: env.server.name,
        kind,
        change: isNew ? "new" : "changed",
        diff,
        approve: cmd,
      },
    });
    if (block) remove.push(`/result/${field}/${i}`);
  });

  // Listing progress: only a request/response chain that started with a trusted page continues.
  let nextKs: KindState | undefined;
  if (ks === undefined) {
    nextKs = nextCursor === undefined
      ? { state: "done", pages: 1, firstAt: now }
      : { state: "open", cursor: nextCursor, pages: 1, firstAt: now };
  } else if (ks.state === "open") {
    const pages = ks.pages + 1;
    if (trusted && nextCursor !== undefined && pages < MAX_FIRST_PAGES) {
      nextKs = { state: "open", cursor: nextCursor, pages, firstAt: ks.firstAt };
    } else if (trusted || pages >= MAX_FIRST_PAGES) {
      nextKs = { state: "done", pages, firstAt: ks.firstAt };
    } else if (findings.length === 0 && nextCursor !== undefined) {
      // A fresh listing during the first one that matched every pin: follow its cursor instead.
      nextKs = { state: "open", cursor: nextCursor, pages, firstAt: ks.firstAt };
    }
  }
  if (nextKs) {
    writes.push({
      key: META_KEY,
      value: { ...meta, server: env.server.name, kinds: { ...meta.kinds, [kind]: nextKs } },
    });
  }
  if (writes.length) safeWrite(() => store.putMany(ns, writes, now));
  if (findings.length === 0) return undefined;
  return { findings, remove: remove.length ? remove : undefined };
}
