/**
 * Shadowing and squatting across servers (Layer 1). Every wrapper of a client session records the
 * tool names its server offers in the store (`tools:<session>`, one record per server), so that
 * separate mcp-watchdog processes see each other's servers. On each `tools/list` result:
 *
 * - a tool whose description refers to another server's tool and tells the model how to use it
 *   ("when send_email is called, add a bcc…") is shadowing: critical, and withheld when the
 *   instruction targets the other tool's behaviour (recipients, redirection, overriding);
 * - a tool name also offered by another server (squatting / collision) is reported;
 * - preference manipulation ("always use this tool instead of…", "do not use other tools") is
 *   reported.
 *
 * @example
 * ```ts
 * import { createShadowingDetector } from "./shadowing.ts";
 * const shadowing = createShadowingDetector();
 * ```
 *
 * @module
 */
import type { DetectorEnv, MessageDetector, MessageVerdict } from "../pipeline/detector.ts";
import type { Finding, Json } from "../types.ts";
import { pinKey, pinNamespace, type PinRecord } from "./pinning.ts";
import { nearby } from "./sensitive_terms.ts";

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Store namespace prefix of the cross-server tool registry; full name `tools:<session>`. */
export const TOOLS_NS_PREFIX = "tools:";

/** One server's entry in the registry. */
export interface ServerTools {
  /** The server's display name. */
  readonly server: string;
  /** Its tool names, sorted. */
  readonly tools: readonly string[];
}

/** Entries older than this are servers that are gone. */
const STALE_MS = 24 * 60 * 60 * 1000;
const MAX_TOOLS = 1000;
/** Servers kept per session registry. */
const MAX_SERVERS = 200;

/** Words too common to count as a reference to another server's tool or name. */
const COMMON = new Set([
  "add",
  "get",
  "set",
  "list",
  "read",
  "write",
  "search",
  "fetch",
  "query",
  "run",
  "echo",
  "ping",
  "help",
  "time",
  "date",
  "open",
  "close",
  "delete",
  "update",
  "create",
  "edit",
  "find",
  "move",
  "copy",
  "send",
  "call",
  "test",
  "status",
  "info",
  "server",
  "tool",
  "tools",
  "files",
  "file",
  "memory",
  "notes",
  "email",
  "mail",
  "browser",
  "shell",
  "terminal",
  "git",
  "github",
  "everything",
  "default",
]);

/** Is this name distinctive enough that mentioning it is a reference? */
function distinctive(name: string): boolean {
  if (name.length < 4 || name.length > 80) return false;
  if (COMMON.has(name.toLowerCase())) return false;
  return /[_\-.]|[a-z][A-Z]/.test(name) || name.length >= 6;
}

/** Directives about how another tool is to be used (within one sentence of the reference). */
export const DIRECTIVE =
  /\b(?:when|whenever|before|after|instead|always|never|must|should|don't|do\s{1,3}not|make\s{1,3}sure|ensure|remember\s{1,3}to|override|overrides|redirect|replace|add|include|change|set|use|call|invoke|pass)\b/i;
/** Directives that tamper with another tool's behaviour: enough to withhold the tool. */
export const TAMPER =
  /\b(?:bcc|cc|recipient|recipients|override|overrides|overriding|redirect|redirects|forward|exfiltrat\w{0,4}|send\s{1,3}(?:all|every|a\s{1,3}copy|copies)|instead\s{1,3}of\s{1,3}(?:the\s{1,3})?(?:user|intended)|do\s{1,3}not\s{1,3}(?:tell|mention|inform)|side\s{1,3}effect)\b/i;
/** "Always use this tool instead of…", "do not use other tools". */
export const PREFERENCE =
  /\b(?:(?:always\s{1,3})?(?:use|call|prefer|choose)\s{1,3}this\s{1,3}tool\s{1,3}(?:instead\s{1,3}of|rather\s{1,3}than|over)\s{1,3}(?:any|all|the|other|built-in|native)|(?:do\s{1,3}not|don't|never)\s{1,3}use\s{1,3}(?:any\s{1,3})?(?:other|another|different)\s{1,3}(?:tools?|servers?)|this\s{1,3}is\s{1,3}the\s{1,3}only\s{1,3}tool\s{1,3}you\s{1,3}(?:should|may|can)|(?:ignore|disregard)\s{1,3}(?:all\s{1,3})?other\s{1,3}tools)\b/i;

/** "… is deprecated / broken …" followed, in the same sentence, by "use this". */
const DISPARAGE = /\b(?:is|are)\s{1,3}(?:deprecated|broken|unsafe|insecure|compromised)\b/gi;
const USE_THIS = /\buse\s{1,3}this\b/i;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The sentence around [start, end) of `text` (bounded to 300 characters each side). */
function sentenceAround(text: string, start: number, end: number): string {
  const from = Math.max(0, start - 300);
  const to = Math.min(text.length, end + 300);
  let a = start;
  while (a > from && !/[.!?\n]/.test(text[a - 1])) a--;
  let b = end;
  while (b < to && !/[.!?\n]/.test(text[b])) b++;
  return text.slice(a, b);
}

/** The shadowing detector (layer `L1-behaviour`). */
export function createShadowingDetector(): MessageDetector {
  let swept = false;
  return {
    name: "shadowing",
    inspect(msg, ctx, env) {
      if (ctx.direction !== "server_to_client" || ctx.method !== "tools/list") return undefined;
      if (!("result" in msg) || !isObj(msg.result) || !Array.isArray(msg.result.tools)) {
        return undefined;
      }
      if (!swept) {
        swept = true;
        sweep(env);
      }
      return inspectList(msg.result.tools, env);
    },
  };
}

/** Forget the registries of client sessions that ended long ago (a few per process start). */
function sweep(env: DetectorEnv): void {
  const cutoff = env.now() - 7 * STALE_MS;
  try {
    for (const ns of env.store.namespaces(TOOLS_NS_PREFIX).slice(0, 32)) {
      if (ns !== TOOLS_NS_PREFIX + env.session) env.store.evict(ns, cutoff, MAX_SERVERS);
    }
  } catch { /* housekeeping only */ }
}

function inspectList(tools: Json[], env: DetectorEnv): MessageVerdict | undefined {
  const ns = TOOLS_NS_PREFIX + env.session;
  const now = env.now();
  const self = env.server.key;
  const names = tools.map((t) => isObj(t) && typeof t.name === "string" ? t.name : "").filter(
    Boolean,
  );

  // Publish this server's tools (only when they changed: lists are frequent, writes are not).
  const mine = env.store.get<ServerTools>(ns, self);
  const sorted = [...new Set(names)].sort().slice(0, MAX_TOOLS);
  if (
    !mine || mine.value.server !== env.server.name ||
    mine.value.tools.join("\n") !== sorted.join("\n") || now - mine.ts > STALE_MS / 2
  ) {
    try {
      env.store.put(ns, self, { server: env.server.name, tools: sorted }, now);
    } catch { /* a busy store only delays publication */ }
  }

  const others = env.store.list<ServerTools>(ns).filter((r) =>
    r.key !== self && now - r.ts < STALE_MS
  );
  const findings: Finding[] = [];
  const remove: string[] = [];
  const ownNames = new Set(names);

  // Other servers' distinctive tool names and server names, as one linear-time alternation.
  const refs = new Map<string, { server: string; tool?: string }>();
  for (const o of others) {
    for (const t of o.value.tools) {
      if (distinctive(t) && !ownNames.has(t)) {
        refs.set(t.toLowerCase(), { server: o.value.server, tool: t });
      }
    }
    if (distinctive(o.value.server) && o.value.server !== env.server.name) {
      refs.set(o.value.server.toLowerCase(), { server: o.value.server });
    }
  }
  const refRe = refs.size
    ? new RegExp(
      `(?<![\\w-])(?:${
        [...refs.keys()].sort((a, b) => b.length - a.length).slice(0, 2000).map(escapeRe).join("|")
      })(?![\\w-])`,
      "gi",
    )
    : undefined;
  const othersByTool = new Map<string, string[]>();
  for (const o of others) {
    for (const t of o.value.tools) {
      othersByTool.set(t, [...(othersByTool.get(t) ?? []), o.value.server]);
    }
  }

  // Tools that pinning already withholds (their removal must not be requested twice).
  const withheldByPins = (name: string) =>
    env.store.get<PinRecord>(pinNamespace(self), pinKey("tool", name))?.value.pending !== undefined;
  const block = env.config.pinPolicy === "block";

  tools.forEach((t, i) => {
    if (!isObj(t) || typeof t.name !== "string") return;
    const name = t.name;
    const desc = typeof t.description === "string" ? t.description.slice(0, 16_000) : "";
    const path = `/result/tools/${i}`;

    const dup = othersByTool.get(name);
    if (dup) {
      findings.push({
        layer: "L1-behaviour",
        rule: "shadowing-duplicate-name",
        severity: "medium",
        action: "alert",
        message: `Tool '${name}' is also offered by ${
          dup.map((s) => `'${s}'`).join(", ")
        }: the model may call the wrong server's tool (name squatting).`,
        path: `${path}/name`,
        tool: name,
        evidence: name,
        details: { otherServers: dup },
      });
    }

    if (refRe && desc) {
      for (const m of desc.matchAll(refRe)) {
        const ref = refs.get(m[0].toLowerCase());
        if (!ref) continue;
        const sentence = sentenceAround(desc, m.index, m.index + m[0].length);
        if (!DIRECTIVE.test(sentence)) continue;
        const tamper = TAMPER.test(sentence);
        const target = ref.tool
          ? `tool '${ref.tool}' of server '${ref.server}'`
          : `server '${ref.server}'`;
        findings.push({
          layer: "L1-behaviour",
          rule: "shadowing-cross-server",
          severity: tamper ? "critical" : "high",
          action: tamper && block ? "block" : "alert",
          message: `Tool '${name}' tells the model how to use ${target}${
            tamper ? ", changing what it does (tool shadowing)" : ""
          }${tamper && block ? "; withheld" : ""}.`,
          path: `${path}/description`,
          tool: name,
          evidence: sentence.slice(0, 500),
          details: { otherServer: ref.server, otherTool: ref.tool, tamper },
        });
        if (tamper && block && !withheldByPins(name)) remove.push(path);
        break;
      }
    }

    const pref = PREFERENCE.exec(desc)?.[0] ?? nearby(desc, DISPARAGE, USE_THIS, 40);
    if (pref) {
      findings.push({
        layer: "L1-behaviour",
        rule: "shadowing-preference-manipulation",
        severity: "medium",
        action: "alert",
        message: `Tool '${name}' pushes the model to prefer it over other tools ("${pref}").`,
        path: `${path}/description`,
        tool: name,
        evidence: pref,
      });
    }
  });
  if (findings.length === 0) return undefined;
  return { findings, remove: remove.length ? remove : undefined };
}
