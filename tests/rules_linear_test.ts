/**
 * Every rule regex must run in linear time. Two checks:
 * 1. `npm:recheck` (a ReDoS analyser) must not flag any pattern, `require` or `forbid`. Verdicts
 *    are cached in tests/fixtures/recheck_verdicts.json by regex and flags (refresh with
 *    `deno run -A scripts/bundle_rules.ts --recheck`); a regex not in the cache is analysed here.
 * 2. A complexity check: each regex runs over adversarial inputs of growing size (repetitions of
 *    its own test cases, of recheck's attack strings and of generic near-misses) and the work must
 *    grow linearly: 4× the input may cost at most ~10× (a quadratic pattern costs 16×).
 */
import assert from "node:assert/strict";
import { BUILTIN_RULES } from "../rules/builtin.gen.ts";
import {
  recheck,
  type RuleRegex,
  ruleRegexes,
  verdictKey,
  VERDICTS,
} from "../scripts/bundle_rules.ts";
import { parseRuleFile } from "../src/rules/load.ts";

const RULES = [...Deno.readDirSync(new URL("../rules/", import.meta.url))]
  .filter((e) => e.name.endsWith(".yaml"))
  .flatMap((e) =>
    parseRuleFile(Deno.readTextFileSync(new URL(`../rules/${e.name}`, import.meta.url)), e.name)
  );
const REGEXES = ruleRegexes(RULES);
const cached: Record<string, string> = (() => {
  try {
    return JSON.parse(Deno.readTextFileSync(VERDICTS));
  } catch {
    return {}; // no cache yet: every regex is analysed
  }
})();
const attacks = new Map<RuleRegex, string>();

Deno.test("linear: npm:recheck flags no rule regex", () => {
  const bad: string[] = [];
  let analysed = 0;
  for (const re of REGEXES) {
    const known = cached[verdictKey(re)];
    if (known) {
      // "safe …", "unknown …" (recheck timed out: the complexity test decides) or "vulnerable …".
      if (known.startsWith("vulnerable ")) bad.push(known.slice("vulnerable ".length));
      continue;
    }
    analysed++;
    const v = recheck(re);
    if (v.attack) attacks.set(re, v.attack);
    if (v.status === "vulnerable") bad.push(`${re.rule} ${re.role}: ${v.summary}`);
  }
  assert.ok(REGEXES.length > 0);
  assert.deepEqual(
    bad,
    [],
    `recheck flags (analysed ${analysed} uncached regexes):\n${bad.join("\n")}`,
  );
});

const GENERIC = [
  "a",
  "a ",
  "aa\t",
  " ",
  "\n",
  "A1+/",
  "-",
  ".",
  "<",
  "<!--",
  "<!-- a",
  "![a](//x",
  "[a]: //x?",
  "[](//h?data=",
  "<img src=//x ",
  "\x1b[",
  "\x1b]",
  "\x1b[1;",
  "\u200b",
  "\u202a",
  "{{",
  "<|",
  "ignore ",
  "you ",
  "send ",
  "the user ",
  "read ~/.",
  "=",
  "%7B",
];

function once(re: RegExp, input: string): number {
  const t = performance.now();
  re.lastIndex = 0;
  for (let m = re.exec(input); m; m = re.exec(input)) if (m[0].length === 0) re.lastIndex++;
  return performance.now() - t;
}

/** Best times on both inputs, measured alternately so that a busy machine disturbs both alike. */
function work(re: RegExp, small: string, big: string): [number, number] {
  let a = Infinity;
  let b = Infinity;
  for (let k = 0; k < 5; k++) {
    a = Math.min(a, once(re, small));
    b = Math.min(b, once(re, big));
  }
  return [a, b];
}

function grown(seed: string, n: number): string {
  return seed.repeat(Math.ceil(n / seed.length)).slice(0, n) + "\u0000";
}

Deno.test("linear: work grows linearly on adversarial inputs of growing size", () => {
  const small = 16_000;
  const big = 64_000;
  const slow: string[] = [];
  for (const re of REGEXES) {
    const rule = RULES.find((r) => r.id === re.rule)!;
    const seeds = new Set<string>(GENERIC);
    for (const c of rule.tests?.match ?? []) {
      seeds.add(c.input);
      seeds.add(c.input.slice(0, Math.ceil(c.input.length / 2)));
    }
    for (const s of rule.tests?.no_match ?? []) seeds.add(s);
    const attack = attacks.get(re);
    if (attack) seeds.add(attack);
    const regex = new RegExp(re.source, re.flags);
    for (const seed of seeds) {
      if (seed.length === 0) continue;
      let ratio = 0;
      let tBig = 0;
      // Retry once: a single pair of timings can be disturbed by GC or a busy machine.
      for (let attempt = 0; attempt < 2; attempt++) {
        const [tSmall, t] = work(regex, grown(seed, small), grown(seed, big));
        tBig = t;
        ratio = tBig / Math.max(tSmall, 0.05);
        if (ratio <= 10 || tBig < 5) break;
      }
      if (ratio > 10 && tBig >= 5) {
        slow.push(
          `${re.rule} ${re.role}: ×${ratio.toFixed(1)} for 4× input (${
            JSON.stringify(seed.slice(0, 40))
          })`,
        );
      }
    }
  }
  assert.deepEqual(slow, [], slow.join("\n"));
});

Deno.test("linear: the built-in bundle holds the same regexes as the rule files", () => {
  assert.deepEqual(
    ruleRegexes(BUILTIN_RULES).map((r) => r.source).sort(),
    REGEXES.map((r) => r.source).sort(),
  );
});
