/**
 * Loading rule files: parse YAML (one rule per document, or a list of rules), validate every rule
 * and combine the built-in rules with the user's `--rules <dir>` directories. File access goes
 * through the {@link RuleFileReader} callbacks, so this module stays pure and testable.
 *
 * @example
 * ```ts
 * import { loadRules } from "./load.ts";
 * import { BUILTIN_RULES } from "../../rules/builtin.gen.ts";
 * const rules = loadRules(BUILTIN_RULES, ["./my-rules"], {
 *   readDir: (d) => [...Deno.readDirSync(d)].map((e) => e.name),
 *   readText: (p) => Deno.readTextFileSync(p),
 * });
 * ```
 *
 * @module
 */
import { parseAllDocuments } from "yaml";
import { type Rule, RuleError, validateRule } from "./schema.ts";
import { mergeRules } from "./merge.ts";

/** File access for {@link loadRuleDirs}: names in a directory, and a file's text. */
export interface RuleFileReader {
  /** Entry names (not paths) of a directory. */
  readDir(dir: string): Iterable<string>;
  /** The text of a file. */
  readText(path: string): string;
}

/** Whether a file name is a rule file. */
export function isRuleFile(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}

/**
 * The rules in one YAML text: each document is a rule, or a list of rules. Throws a
 * `RuleError` naming `source` on a YAML syntax error or a schema violation.
 */
export function parseRuleFile(text: string, source: string): Rule[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const out: Rule[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length) {
      throw new RuleError(`${source}: YAML: ${doc.errors[0].message}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) =>
      out.push(validateRule(item, items.length > 1 ? `${source}[${i}]` : source))
    );
  }
  return out;
}

/** Rules from every rule file in `dirs` (sorted by name, not recursive). */
export function loadRuleDirs(dirs: readonly string[], io: RuleFileReader): Rule[] {
  const out: Rule[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = [...io.readDir(dir)].filter(isRuleFile).sort();
    } catch (e) {
      throw new RuleError(`${dir}: cannot read rule directory: ${(e as Error).message}`);
    }
    for (const name of names) {
      const path = `${dir.replace(/\/+$/, "")}/${name}`;
      out.push(...parseRuleFile(io.readText(path), path));
    }
  }
  return out;
}

/**
 * The built-in rules plus the rules of `dirs`. A user rule with the id of a built-in one replaces
 * it (to tune a rule); two user rules with one id are an error.
 */
export function loadRules(
  builtin: readonly Rule[],
  dirs: readonly string[],
  io: RuleFileReader,
): Rule[] {
  return mergeRules(builtin, loadRuleDirs(dirs, io));
}

export { mergeRules };
