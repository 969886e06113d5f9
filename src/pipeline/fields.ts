/**
 * Which strings of which MCP message the model will see. The pipeline inspects exactly these, each
 * with a JSON Pointer and a {@link FieldKind}, so detectors can judge context and the pipeline can
 * change exactly one field. Responses are classified by the method of the request they answer.
 *
 * @example
 * ```ts
 * import { extractFields } from "./fields.ts";
 * const fields = extractFields(
 *   { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "a", description: "Adds." }] } },
 *   "tools/list",
 *   "server_to_client",
 * );
 * // [{ path: "/result/tools/0/name", kind: "tool.name", ... }, { path: "/result/tools/0/description", ... }]
 * ```
 *
 * @module
 */
import type { Direction, FieldKind, Json, TextField } from "../types.ts";
import { escapeToken } from "./pointer.ts";

/** A JSON object. */
export type JsonObject = { [key: string]: Json };
type Obj = JsonObject;
const isObj = (v: Json | undefined): v is Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const MAX_DEPTH = 64;

/** Keys whose string values are identifiers or binary payloads, never prose for the model. */
const SKIP_KEYS = new Set(["data", "blob", "mimeType", "type", "$schema", "$ref", "cursor"]);

/** Media types whose blobs are text the model will read (and so are inspected, decoded). */
const TEXTUAL =
  /^(?:text\/|application\/(?:json|xml|javascript|x-yaml|yaml|toml|x-sh|sql|graphql|ld\+json)|[a-z]+\/[a-z0-9.+-]{0,64}\+(?:json|xml))/i;

/** A resource's text, or its blob decoded when the media type is textual. */
function resourceText(out: TextField[], path: string, r: Obj, tool?: string) {
  if (typeof r.text === "string") return push(out, `${path}/text`, r.text, "resource.text", tool);
  if (typeof r.blob !== "string" || typeof r.mimeType !== "string" || !TEXTUAL.test(r.mimeType)) {
    return;
  }
  let text: string;
  try {
    const bin = atob(r.blob);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return; // not valid base64 or not UTF-8: nothing the model can read as text
  }
  if (text.length > 0) {
    out.push({ path: `${path}/blob`, text, kind: "resource.text", tool, encoding: "base64" });
  }
}

function push(out: TextField[], path: string, v: Json | undefined, kind: FieldKind, tool?: string) {
  if (typeof v === "string" && v.length > 0) out.push({ path, text: v, kind, tool });
}

/** Every non-empty string below `v` (values, not keys), skipping binary and identifier keys. */
function walk(
  v: Json | undefined,
  path: string,
  kind: FieldKind,
  out: TextField[],
  tool?: string,
  depth = 0,
): void {
  if (depth > MAX_DEPTH || v === undefined || v === null) return;
  if (typeof v === "string") return push(out, path, v, kind, tool);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) walk(v[i], `${path}/${i}`, kind, out, tool, depth + 1);
    return;
  }
  if (typeof v === "object") {
    for (const k in v) {
      if (SKIP_KEYS.has(k)) continue;
      walk(v[k], `${path}/${escapeToken(k)}`, kind, out, tool, depth + 1);
    }
  }
}

/** Content blocks of tool results, prompt messages and sampling messages. */
function content(
  v: Json | undefined,
  path: string,
  kind: FieldKind,
  out: TextField[],
  tool?: string,
) {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) content(v[i], `${path}/${i}`, kind, out, tool);
    return;
  }
  if (!isObj(v)) return;
  switch (v.type) {
    case "text":
      return push(out, `${path}/text`, v.text, kind, tool);
    case "image":
    case "audio":
      return; // binary: Layer 2 sees data URIs in text, never raw media
    case "resource": {
      const r = v.resource;
      if (isObj(r)) resourceText(out, `${path}/resource`, r, tool);
      return;
    }
    case "resource_link":
      for (const k of ["name", "title", "description", "uri"]) {
        push(out, `${path}/${k}`, v[k], kind, tool);
      }
      return;
    default:
      walk(v, path, kind, out, tool);
  }
}

function toolDefs(tools: Json | undefined, base: string, out: TextField[]) {
  if (!Array.isArray(tools)) return;
  tools.forEach((t, i) => {
    if (!isObj(t)) return;
    const p = `${base}/${i}`;
    const name = typeof t.name === "string" ? t.name : undefined;
    push(out, `${p}/name`, t.name, "tool.name", name);
    push(out, `${p}/title`, t.title, "tool.title", name);
    push(out, `${p}/description`, t.description, "tool.description", name);
    walk(t.inputSchema, `${p}/inputSchema`, "tool.schema", out, name);
    walk(t.outputSchema, `${p}/outputSchema`, "tool.schema", out, name);
    walk(t.annotations, `${p}/annotations`, "tool.annotation", out, name);
  });
}

function namedDefs(list: Json | undefined, base: string, kind: FieldKind, out: TextField[]) {
  if (!Array.isArray(list)) return;
  list.forEach((d, i) => {
    if (!isObj(d)) return;
    const name = typeof d.name === "string" ? d.name : undefined;
    walk(d, `${base}/${i}`, kind, out, name);
  });
}

function resultFields(r: Obj, method: string, out: TextField[], tool?: string) {
  switch (method) {
    case "initialize":
      push(out, "/result/instructions", r.instructions, "server.instructions");
      return;
    case "tools/list":
      return toolDefs(r.tools, "/result/tools", out);
    case "prompts/list":
      return namedDefs(r.prompts, "/result/prompts", "prompt.meta", out);
    case "resources/list":
      return namedDefs(r.resources, "/result/resources", "resource.meta", out);
    case "resources/templates/list":
      return namedDefs(r.resourceTemplates, "/result/resourceTemplates", "resource.meta", out);
    case "tools/call":
    case "tasks/result":
      content(r.content, "/result/content", "result.text", out, tool);
      walk(r.structuredContent, "/result/structuredContent", "result.text", out, tool);
      return;
    case "resources/read":
      if (Array.isArray(r.contents)) {
        r.contents.forEach((c, i) => {
          if (isObj(c)) resourceText(out, `/result/contents/${i}`, c, tool);
        });
      }
      return;
    case "prompts/get":
      push(out, "/result/description", r.description, "prompt.message", tool);
      if (Array.isArray(r.messages)) {
        r.messages.forEach((m, i) => {
          if (isObj(m)) {
            content(m.content, `/result/messages/${i}/content`, "prompt.message", out, tool);
          }
        });
      }
      return;
    case "completion/complete":
      if (isObj(r.completion)) {
        walk(r.completion.values, "/result/completion/values", "completion.value", out);
      }
      return;
    case "ping":
    case "logging/setLevel":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return;
    default:
      // Unknown or future methods: every string may reach the model.
      walk(r, "/result", "other", out, tool);
  }
}

function requestFields(p: Obj, method: string, out: TextField[]) {
  switch (method) {
    case "sampling/createMessage":
      push(out, "/params/systemPrompt", p.systemPrompt, "sampling.message");
      if (Array.isArray(p.messages)) {
        p.messages.forEach((m, i) => {
          if (isObj(m)) {
            content(m.content, `/params/messages/${i}/content`, "sampling.message", out);
          }
        });
      }
      return;
    case "elicitation/create":
      push(out, "/params/message", p.message, "elicitation.message");
      walk(p.requestedSchema, "/params/requestedSchema", "elicitation.message", out);
      return;
    case "notifications/message":
      walk(p.data, "/params/data", "log.message", out);
      return;
    case "notifications/progress":
      push(out, "/params/message", p.message, "log.message");
      return;
  }
}

/**
 * The model-visible strings of one JSON-RPC message (not a batch).
 *
 * @param msg the parsed message
 * @param method its method, or for a response the method of the request it answers ("" if unknown)
 * @param direction which way it travels; only server→client content reaches the model
 * @param tool the tool name a `tools/call` response answers, when known
 */
export function extractFields(
  msg: JsonObject,
  method: string,
  direction: Direction,
  tool?: string,
): TextField[] {
  if (direction !== "server_to_client") return [];
  const out: TextField[] = [];
  if (isObj(msg.error)) {
    push(out, "/error/message", msg.error.message, "error.message", tool);
    walk(msg.error.data, "/error/data", "error.message", out, tool);
    return out;
  }
  if (isObj(msg.result)) {
    resultFields(msg.result, method, out, tool);
    return out;
  }
  if (typeof msg.method === "string" && isObj(msg.params)) {
    requestFields(msg.params, msg.method, out);
  }
  return out;
}
