/**
 * Merging user rules into the built-in set (no YAML here: the proxy loads this at every start,
 * the YAML parser only when `--rules` is given).
 *
 * @module
 */
import { type Rule, RuleError } from "./schema.ts";

/**
 * `builtin` with `extra` added: an extra rule with a built-in id replaces the built-in one; two
 * extra rules with one id are an error.
 */
export function mergeRules(builtin: readonly Rule[], extra: readonly Rule[]): Rule[] {
  const seen = new Map<string, string>();
  for (const r of extra) {
    const prev = seen.get(r.id);
    if (prev) {
      throw new RuleError(`${r.source}: rule "${r.id}": id: duplicate of the rule in ${prev}`);
    }
    seen.set(r.id, r.source ?? "?");
  }
  return [...builtin.filter((r) => !seen.has(r.id)), ...extra];
}
