/**
 * JSON Pointer (RFC 6901) helpers for the inspection pipeline: every finding names the exact field
 * it concerns, and the pipeline changes a message through these.
 *
 * @example
 * ```ts
 * import { joinPointer, getAt } from "./pointer.ts";
 * const p = joinPointer("/result/tools", 0, "description");
 * getAt({ result: { tools: [{ description: "d" }] } }, p); // "d"
 * ```
 *
 * @module
 */
import type { Json } from "../types.ts";

/** Escape one reference token. */
export function escapeToken(token: string | number): string {
  const s = String(token);
  return s.includes("~") || s.includes("/") ? s.replaceAll("~", "~0").replaceAll("/", "~1") : s;
}

/** Append tokens to a pointer. */
export function joinPointer(base: string, ...tokens: (string | number)[]): string {
  let p = base;
  for (const t of tokens) p += "/" + escapeToken(t);
  return p;
}

/** Split a pointer into unescaped tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) {
    throw new SyntaxError(`JSON Pointer must start with '/': ${pointer}`);
  }
  return pointer.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

type Container = Json[] | { [key: string]: Json };

function parentOf(root: Json, tokens: string[]): Container | undefined {
  let cur: Json = root;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (cur !== null && typeof cur === "object") cur = cur[t];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur !== null && typeof cur === "object" ? cur as Container : undefined;
}

/** The value at `pointer`, or undefined. */
export function getAt(root: Json, pointer: string): Json | undefined {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return root;
  const parent = parentOf(root, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) return parent[Number(last)];
  return parent?.[last];
}

/** Replace the value at `pointer` (which must exist). Returns false when it does not. */
export function setAt(root: Json, pointer: string, value: Json): boolean {
  const tokens = parsePointer(pointer);
  const parent = parentOf(root, tokens);
  const last = tokens[tokens.length - 1];
  if (!parent || last === undefined) return false;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) return false;
    parent[i] = value;
  } else {
    if (!(last in parent)) return false;
    parent[last] = value;
  }
  return true;
}

/**
 * Remove several array elements or members at once. Array elements are removed from the highest
 * index down so that earlier pointers stay valid.
 */
export function removeAll(root: Json, pointers: readonly string[]): void {
  // Duplicates would remove two elements; each pointer counts once.
  const parsed = [...new Set(pointers)].map(parsePointer).sort((a, b) => {
    const x = Number(a[a.length - 1]), y = Number(b[b.length - 1]);
    return (Number.isNaN(y) ? 0 : y) - (Number.isNaN(x) ? 0 : x);
  });
  for (const tokens of parsed) {
    const parent = parentOf(root, tokens);
    const last = tokens[tokens.length - 1];
    if (!parent || last === undefined) continue;
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  }
}
