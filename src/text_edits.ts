/**
 * Replacing spans of a string, as the pipeline does when it neutralises or redacts: overlapping
 * edits are merged so that nothing of any flagged span survives.
 *
 * @example
 * ```ts
 * import { applyEdits } from "./text_edits.ts";
 * applyEdits("a<b>c", [{ start: 1, end: 4, replacement: "" }]); // "ac"
 * ```
 *
 * @module
 */

/** One change to a string: replace [start, end) by `replacement`. */
export interface TextEdit {
  /** Start of the span to replace. */
  readonly start: number;
  /** End of the span (exclusive). */
  readonly end: number;
  /** What the span becomes. */
  readonly replacement: string;
}

/**
 * Apply edits to `text`. Overlapping edits are merged: the union of their spans is replaced by the
 * replacement of the widest one (the first on a tie), so nothing of either span survives.
 *
 * @example
 * ```ts
 * applyEdits("a<b>c", [{ start: 1, end: 4, replacement: "" }]); // "ac"
 * ```
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  if (edits.length === 0) return text;
  const sorted = [...edits].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: { start: number; end: number; replacement: string; width: number }[] = [];
  for (const e of sorted) {
    const last = merged[merged.length - 1];
    if (last && e.start < last.end) {
      if (e.end - e.start > last.width) {
        last.replacement = e.replacement;
        last.width = e.end - e.start;
      }
      last.end = Math.max(last.end, e.end);
      continue;
    }
    merged.push({ start: e.start, end: e.end, replacement: e.replacement, width: e.end - e.start });
  }
  let out = "";
  let at = 0;
  for (const m of merged) {
    out += text.slice(at, m.start) + m.replacement;
    at = m.end;
  }
  return out + text.slice(at);
}
