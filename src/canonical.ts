/**
 * Canonical JSON and content hashes for definitions that a server presents (tools, prompts,
 * resources, instructions). Two definitions that mean the same thing hash the same: object keys
 * are sorted, and arrays are treated as sets (sorted by their own canonical form), so that a
 * server reordering `required` or `enum` is not a "change". Pure; no I/O.
 *
 * @example
 * ```ts
 * import { canonicalHash, canonicalJson } from "./canonical.ts";
 * canonicalJson({ b: [2, 1], a: "x" }); // '{"a":"x","b":[1,2]}'
 * canonicalHash({ a: 1, b: 2 }) === canonicalHash({ b: 2, a: 1 }); // true
 * ```
 *
 * @module
 */
import { sha256Hex } from "./hash.ts";

/** Options of {@link canonicalJson}. */
export interface CanonicalOptions {
  /** Sort arrays by their elements' canonical form (set semantics). Default true. */
  readonly sortArrays?: boolean;
}

/** Deepest nesting followed; deeper values are summarised (bounded work on hostile input). */
const MAX_DEPTH = 64;

/**
 * The canonical JSON text of a value: sorted keys, no whitespace, `undefined` members dropped,
 * arrays sorted unless `sortArrays: false`.
 *
 * @example
 * ```ts
 * canonicalJson({ z: 1, a: [3, 1] }); // '{"a":[1,3],"z":1}'
 * canonicalJson([3, 1], { sortArrays: false }); // '[3,1]'
 * ```
 */
export function canonicalJson(value: unknown, opts: CanonicalOptions = {}): string {
  return enc(value, opts.sortArrays ?? true, 0);
}

function enc(v: unknown, sortArrays: boolean, depth: number): string {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? JSON.stringify(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (depth >= MAX_DEPTH) return JSON.stringify("[too deep]");
      if (Array.isArray(v)) {
        const parts = v.map((x) => enc(x, sortArrays, depth + 1));
        if (sortArrays) parts.sort();
        return `[${parts.join(",")}]`;
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
      return `{${
        keys.map((k) => `${JSON.stringify(k)}:${enc(o[k], sortArrays, depth + 1)}`).join(",")
      }}`;
    }
    default:
      return "null";
  }
}

/**
 * SHA-256 (hex) of the canonical JSON of a value: the pin of a definition.
 *
 * @example
 * ```ts
 * canonicalHash({ required: ["a", "b"] }) === canonicalHash({ required: ["b", "a"] }); // true
 * ```
 */
export function canonicalHash(value: unknown, opts: CanonicalOptions = {}): string {
  return sha256Hex(canonicalJson(value, opts));
}
