/**
 * A tolerant JSONC reader that keeps where every value sits in the text, so that client configs
 * (VS Code, Zed, Cursor… allow comments and trailing commas) can be edited with minimal text
 * edits: the bytes around an edited value, comments included, stay exactly as they were.
 *
 * Accepts JSON plus `//` and `/* *\/` comments, trailing commas, a BOM, raw control characters
 * inside strings. Runs in linear time (a hand-written scanner, one sticky number regex).
 *
 * @example
 * ```ts
 * import { applyEdits, findNode, parseJsonc } from "./jsonc.ts";
 * const text = '{\n  // mine\n  "a": [1, 2,],\n}';
 * const root = parseJsonc(text);
 * const a = findNode(root, ["a"])!;
 * applyEdits(text, [{ start: a.start, end: a.end, text: "[3]" }]); // '{\n  // mine\n  "a": [3],\n}'
 * ```
 *
 * @module
 */
import type { Json } from "./types.ts";

/** A half-open text range [start, end) in UTF-16 code units. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** An object member with the spans of its key and value. */
export interface JsoncMember extends Span {
  readonly key: string;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly value: JsoncNode;
}

/** A parsed value and its span. Strings keep their raw token text (quotes and escapes). */
export type JsoncNode =
  | (Span & { readonly type: "object"; readonly members: readonly JsoncMember[] })
  | (Span & { readonly type: "array"; readonly elements: readonly JsoncNode[] })
  | (Span & { readonly type: "string"; readonly value: string; readonly raw: string })
  | (Span & { readonly type: "number"; readonly value: number })
  | (Span & { readonly type: "boolean"; readonly value: boolean })
  | (Span & { readonly type: "null"; readonly value: null });

/** A replacement of [start, end) by `text`, in the coordinates of the original text. */
export interface TextEdit extends Span {
  readonly text: string;
}

/** Thrown on text that is not JSONC, with the offset of the problem. */
export class JsoncError extends Error {
  override name = "JsoncError";
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.offset = offset;
  }
}

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Parse JSONC text into a node tree with spans. Throws {@link JsoncError}.
 *
 * @example
 * ```ts
 * import { parseJsonc } from "./jsonc.ts";
 * parseJsonc('{"x": 1 /* c *\/}').type; // "object"
 * ```
 */
export function parseJsonc(text: string): JsoncNode {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const skip = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else if (c === 0x2f && text.charCodeAt(pos + 1) === 0x2f) {
        const nl = text.indexOf("\n", pos);
        pos = nl < 0 ? text.length : nl + 1;
      } else if (c === 0x2f && text.charCodeAt(pos + 1) === 0x2a) {
        const close = text.indexOf("*/", pos + 2);
        if (close < 0) throw new JsoncError("unterminated comment", pos);
        pos = close + 2;
      } else break;
    }
  };

  const str = (): JsoncNode => {
    const start = pos;
    pos++;
    let hasControl = false;
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x5c) pos += 2;
      else if (c === 0x22) break;
      else {
        if (c < 0x20) hasControl = true;
        pos++;
      }
    }
    if (pos >= text.length) throw new JsoncError("unterminated string", start);
    pos++;
    const raw = text.slice(start, pos);
    // Tolerate raw control characters (some editors write them) by escaping before JSON.parse.
    const src = hasControl
      ? raw.replace(
        // deno-lint-ignore no-control-regex
        /[\u0000-\u001f]/g,
        (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
      )
      : raw;
    let value: string;
    try {
      value = JSON.parse(src) as string;
    } catch {
      throw new JsoncError("invalid string escape", start);
    }
    return { type: "string", start, end: pos, value, raw };
  };

  const val = (depth: number): JsoncNode => {
    if (depth > MAX_DEPTH) throw new JsoncError("nesting too deep", pos);
    skip();
    const start = pos;
    const c = text[pos];
    if (c === "{") {
      pos++;
      const members: JsoncMember[] = [];
      for (;;) {
        skip();
        if (text[pos] === "}") break;
        if (text[pos] !== '"') throw new JsoncError("expected a key", pos);
        const k = str();
        skip();
        if (text[pos] !== ":") throw new JsoncError("expected ':'", pos);
        pos++;
        const v = val(depth + 1);
        members.push({
          key: (k as { value: string }).value,
          keyStart: k.start,
          keyEnd: k.end,
          value: v,
          start: k.start,
          end: v.end,
        });
        skip();
        if (text[pos] === ",") pos++;
        else if (text[pos] !== "}") throw new JsoncError("expected ',' or '}'", pos);
      }
      pos++;
      return { type: "object", start, end: pos, members };
    }
    if (c === "[") {
      pos++;
      const elements: JsoncNode[] = [];
      for (;;) {
        skip();
        if (text[pos] === "]") break;
        elements.push(val(depth + 1));
        skip();
        if (text[pos] === ",") pos++;
        else if (text[pos] !== "]") throw new JsoncError("expected ',' or ']'", pos);
      }
      pos++;
      return { type: "array", start, end: pos, elements };
    }
    if (c === '"') return str();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value === null
          ? { type: "null", start, end: pos, value }
          : { type: "boolean", start, end: pos, value };
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m) {
      pos += m[0].length;
      return { type: "number", start, end: pos, value: Number(m[0]) };
    }
    throw new JsoncError(pos >= text.length ? "unexpected end" : "unexpected character", pos);
  };

  const root = val(0);
  skip();
  if (pos < text.length) throw new JsoncError("trailing content", pos);
  return root;
}

/** The plain JSON value of a node (later duplicate keys win, as in `JSON.parse`). */
export function toValue(node: JsoncNode): Json {
  switch (node.type) {
    case "object": {
      const o: { [k: string]: Json } = {};
      for (const m of node.members) o[m.key] = toValue(m.value);
      return o;
    }
    case "array":
      return node.elements.map(toValue);
    default:
      return node.value;
  }
}

/** The last member named `key` of an object node (the one that wins), if any. */
export function getMember(node: JsoncNode | undefined, key: string): JsoncMember | undefined {
  if (node?.type !== "object") return undefined;
  for (let i = node.members.length - 1; i >= 0; i--) {
    if (node.members[i].key === key) return node.members[i];
  }
  return undefined;
}

/** Follow object keys and array indices from `node`. */
export function findNode(
  node: JsoncNode | undefined,
  path: readonly (string | number)[],
): JsoncNode | undefined {
  let cur = node;
  for (const step of path) {
    if (cur === undefined) return undefined;
    if (typeof step === "number") cur = cur.type === "array" ? cur.elements[step] : undefined;
    else cur = getMember(cur, step)?.value;
  }
  return cur;
}

/**
 * Apply non-overlapping edits (original coordinates, any order) and return the new text.
 * Throws on overlapping edits.
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = "";
  let at = 0;
  for (const e of sorted) {
    if (e.start < at || e.end < e.start) throw new RangeError("overlapping edits");
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

/** 1-based line number of an offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}
