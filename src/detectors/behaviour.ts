/**
 * The Layer 1 behaviour detector: one {@link MessageDetector} that routes each message to the
 * behaviour checks, in order of cost (most messages match none and return at once):
 *
 * - `tools/list` results: scope creep and fingerprinting in input schemas, judged against the
 *   pinned definition ({@link toolScopeFindings});
 * - `elicitation/create`: requests for secrets are refused ({@link elicitationFindings});
 * - `sampling/createMessage`: context extraction is refused, large jobs and bursts alerted
 *   ({@link samplingFindings});
 * - `tools/call` requests and results: the per-server baseline and phase transitions, call bursts
 *   ({@link PhaseTracker});
 * - `notifications/*\/list_changed`: floods (the excess is dropped).
 *
 * Runs after pinning (it reads the pins to tell a field declared from the start from one added
 * later).
 *
 * @example
 * ```ts
 * import { createBehaviourDetector } from "./behaviour.ts";
 * const behaviour = createBehaviourDetector({ baselineCalls: 20 });
 * ```
 *
 * @module
 */
import type { DetectorEnv, MessageDetector, MessageVerdict } from "../pipeline/detector.ts";
import type { Finding, Json, MessageContext } from "../types.ts";
import { type PhaseOptions, PhaseTracker, precompiled } from "./phase.ts";
import { pinKey, pinNamespace, type PinRecord } from "./pinning.ts";
import { hasSensitiveInput, toolScopeFindings } from "./scope_creep.ts";
import { elicitationFindings, samplingFindings } from "./server_requests.ts";
import { type ServerTools, TOOLS_NS_PREFIX } from "./shadowing.ts";
import { directedTools, steeringFindings, TOOL_DIRECTIVE } from "./steering.ts";

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** JSON-RPC error code of a refused server request (elicitation, sampling). */
export const REFUSED_REQUEST_CODE: number = -32004;

/** The behaviour detector with its own phase tracker (one per process). */
export function createBehaviourDetector(opts: PhaseOptions = {}): MessageDetector & {
  /** Persist pending baseline updates (call at the end of a connection). */
  flush(env: DetectorEnv): void;
} {
  const phase = new PhaseTracker(opts);
  const directive = precompiled(TOOL_DIRECTIVE);
  return {
    name: "behaviour",
    flush(env) {
      phase.flush(env.store, env.server.key, env.now());
    },
    inspect(msg, ctx, env) {
      const method = typeof msg.method === "string" ? msg.method : undefined;
      if (ctx.direction === "client_to_server") {
        if (method !== "tools/call" || !isObj(msg.params)) return undefined;
        const tool = typeof msg.params.name === "string" ? msg.params.name : "";
        const fs = phase.onCall(env.store, env.server.key, tool, msg.params.arguments, env.now());
        return fs.length ? { findings: fs } : undefined;
      }
      if (method === undefined) {
        if (!("result" in msg)) return undefined;
        if (ctx.method === "tools/call") {
          const tool = (ctx as MessageContext & { tool?: string }).tool ?? "";
          // The clock is read only if the tracker needs it (while learning), not per result.
          const fs = phase.onResult(env.store, env.server.key, tool, msg.result, () => env.now());
          const steering = resultSteering(msg.result, tool, env, directive);
          if (steering.length) fs.push(...steering);
          return fs.length ? { findings: fs } : undefined;
        }
        if (ctx.method === "tools/list" && isObj(msg.result)) return listFindings(msg.result, env);
        return undefined;
      }
      if (method === "elicitation/create") return refuseOrAlert(elicitationFindings(msg.params));
      if (method === "sampling/createMessage") {
        const fs = samplingFindings(msg.params);
        const burst = phase.onSampling(env.store, env.server.key, env.now());
        if (burst) fs.push(burst);
        return refuseOrAlert(fs);
      }
      if (method.startsWith("notifications/") && method.endsWith("/list_changed")) {
        const r = phase.onListChanged(env.store, env.server.key, method, env.now());
        if (!r.drop) return undefined;
        return {
          findings: r.finding ? [r.finding] : [],
          block: { code: REFUSED_REQUEST_CODE, message: "mcp-watchdog: list_changed flood" },
        };
      }
      return undefined;
    },
  };
}

/** Every tool directive contains the word (see steering.ts): most results are dismissed by it. */
const TOOL_WORD = /tool/i;

/**
 * Whether the text that {@link resultText} would build can mention a tool (same bounds; the
 * word cannot span the joints): when not, no text is built and no directive scan runs.
 */
function mentionsTool(result: Json | undefined): boolean {
  if (!isObj(result) || !Array.isArray(result.content)) return false;
  const parts = Math.min(result.content.length, 64);
  let length = 0;
  for (let i = 0; i < parts; i++) {
    const part = result.content[i];
    if (!isObj(part) || typeof part.text !== "string") continue;
    const text = part.text.length > 65536 ? part.text.slice(0, 65536) : part.text;
    if (TOOL_WORD.test(text)) return true;
    length += text.length + 1;
    if (length >= 65536) break;
  }
  return false;
}

/** Text parts of a tool result that the model reads (bounded). */
function resultText(result: Json | undefined): string {
  if (!isObj(result) || !Array.isArray(result.content)) return "";
  let text = "";
  for (const part of result.content.slice(0, 64)) {
    if (isObj(part) && typeof part.text === "string") text += part.text.slice(0, 65536) + "\n";
    if (text.length >= 65536) break;
  }
  return text;
}

/** A result that points the model at tools this server does not offer (see steering.ts). */
function resultSteering(
  result: Json | undefined,
  tool: string,
  env: DetectorEnv,
  directive: RegExp,
): Finding[] {
  if (!mentionsTool(result)) return [];
  const text = resultText(result);
  const directed = text ? directedTools(text, directive) : [];
  if (directed.length === 0) return [];
  // Only now (rare) read the registries: this server's tools, and the other servers' of the session.
  const registry = env.store.list<ServerTools>(TOOLS_NS_PREFIX + env.session);
  const mine = registry.find((r) => r.key === env.server.key)?.value.tools ??
    env.store.list<PinRecord>(pinNamespace(env.server.key), "tool:").map((r) => r.value.name);
  if (mine.length === 0) return []; // never listed: nothing to compare with
  const others = new Map<string, string>();
  for (const r of registry) {
    if (r.key !== env.server.key) { for (const t of r.value.tools) others.set(t, r.value.server); }
  }
  return steeringFindings(text, new Set(mine), others, tool, directed);
}

function refuseOrAlert(findings: Finding[]): MessageVerdict | undefined {
  if (findings.length === 0) return undefined;
  const refusing = findings.find((f) => f.action === "block");
  if (!refusing) return { findings };
  return {
    findings,
    block: {
      code: REFUSED_REQUEST_CODE,
      message: `mcp-watchdog refused this request: ${refusing.message}`,
      data: { rule: refusing.rule },
    },
  };
}

function listFindings(result: Obj, env: DetectorEnv): MessageVerdict | undefined {
  const tools = result.tools;
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const ns = pinNamespace(env.server.key);
  const names = tools.map((t) => isObj(t) && typeof t.name === "string" ? t.name : "");
  // Only tools that ask for something sensitive need their pin (most lists have none).
  const sensitive = tools.map(hasSensitiveInput);
  const wanted = names.filter((n, i) => n && sensitive[i]).map((n) => pinKey("tool", n));
  const pins = new Map(
    (wanted.length ? env.store.getMany<PinRecord>(ns, wanted) : []).map((
      r,
    ) => [r.value.name, r.value]),
  );
  const findings: Finding[] = [];
  tools.forEach((t, i) => {
    if (!sensitive[i]) {
      findings.push(...toolScopeFindings(t, i, undefined, false));
      return;
    }
    const rec = pins.get(names[i]);
    // A pending change of a pinned tool: compare with what was approved.
    const pinned = rec?.hash && rec.pending ? rec.def : undefined;
    findings.push(...toolScopeFindings(t, i, pinned));
  });
  return findings.length ? { findings } : undefined;
}
