import assert from "node:assert/strict";
import { BUILTIN_RULES } from "../rules/builtin.gen.ts";
import { bundledRules, generate, readRuleFiles } from "../scripts/bundle_rules.ts";
import {
  applyEdits,
  compileRules,
  hasKeyword,
  KeywordMatcher,
  MAX_HITS_PER_RULE,
  scanText,
} from "../src/rules/engine.ts";
import { loadRules, parseRuleFile } from "../src/rules/load.ts";
import { type Rule, RuleError, validateRule } from "../src/rules/schema.ts";
import { validators } from "../src/rules/validators.ts";
import { replacementFor } from "../src/detectors/layer0.ts";
import type { FieldKind } from "../src/types.ts";
import { CODENAME_RULE_YAML } from "./helpers.ts";

const FILES = readRuleFiles();
const RULES: Rule[] = FILES.flatMap((f) => parseRuleFile(f.text, `rules/${f.name}`));

/** The text after applying one rule's hits (as the pipeline would in enforce mode). */
function applyRule(rule: Rule, input: string, kind: FieldKind): { hits: number; output: string } {
  const hits = scanText(input, kind, compileRules([rule], { validators }));
  const edits = hits.flatMap((h) => {
    const r = replacementFor(rule, h.text);
    return r === undefined ? [] : [{ start: h.start, end: h.end, replacement: r }];
  });
  return { hits: hits.length, output: applyEdits(input, edits) };
}

Deno.test("rules: every rule file validates, ids are unique, every rule has tests", () => {
  assert.ok(FILES.length > 0, "no rule files found");
  const ids = new Set<string>();
  for (const r of RULES) {
    assert.ok(!ids.has(r.id), `duplicate rule id ${r.id}`);
    ids.add(r.id);
    assert.ok(r.tests && r.tests.match.length > 0, `${r.source}: rule ${r.id} has no match tests`);
    assert.ok(r.references.length > 0, `${r.source}: rule ${r.id} has no references`);
  }
  // All compile together (validators resolve).
  compileRules(RULES, { validators });
});

for (const rule of RULES) {
  Deno.test(`rule ${rule.id}: its test cases`, () => {
    const defaultKind: FieldKind = rule.applies_to?.[0] ?? "result.text";
    for (const c of rule.tests?.match ?? []) {
      const kind = c.kind ?? defaultKind;
      const { hits, output } = applyRule(rule, c.input, kind);
      assert.ok(hits > 0, `${rule.id} should match ${JSON.stringify(c.input)}`);
      if (c.output !== undefined) {
        assert.equal(output, c.output, `${rule.id} output for ${JSON.stringify(c.input)}`);
      }
    }
    for (const input of rule.tests?.no_match ?? []) {
      const { hits } = applyRule(rule, input, defaultKind);
      assert.equal(hits, 0, `${rule.id} should not match ${JSON.stringify(input)}`);
    }
  });
}

Deno.test("rules: builtin.gen.ts is fresh (re-run scripts/bundle_rules.ts)", async () => {
  const onDisk = await Deno.readTextFile(new URL("../rules/builtin.gen.ts", import.meta.url));
  assert.equal(
    onDisk,
    await generate(),
    "rules/builtin.gen.ts is stale: run deno run -A scripts/bundle_rules.ts",
  );
  assert.deepEqual(BUILTIN_RULES, bundledRules(FILES));
});

Deno.test("schema: errors name the file, the rule, the field and why", () => {
  const base = {
    id: "x-rule",
    title: "X",
    family: "f",
    severity: "high",
    action: "neutralize",
    message: "m",
    match: { patterns: ["a"] },
  };
  assert.equal(validateRule(base, "f.yaml").match.view, "normalized");
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...base, id: "Bad_Id" }, /^f\.yaml: rule "Bad_Id": id: must be kebab-case/],
    [
      { ...base, severity: "urgent" },
      /rule "x-rule": severity: must be one of critical\|high\|medium\|low/,
    ],
    [{ ...base, match: { patterns: ["(a"] } }, /match\.patterns\[0\]: invalid regular expression/],
    [{ ...base, match: { patterns: [] } }, /match\.patterns: needs at least one pattern/],
    [
      { ...base, match: { patterns: ["a"], keywords: ["ABC"] } },
      /match\.keywords\[0\]: must be lower-case/,
    ],
    [{ ...base, applies_to: ["tool.body"] }, /applies_to\[0\]: unknown field kind "tool.body"/],
    [{ ...base, colour: "red" }, /colour: unknown field/],
    [{ ...base, action: "redact" }, /match\.redact_type: is required when action is redact/],
    [
      { ...base, tests: { match: [{ input: 3 }] } },
      /tests\.match\[0\]: must be a string or a mapping/,
    ],
    [{ ...base, message: undefined }, /message: is required/],
  ];
  for (const [obj, re] of bad) {
    assert.throws(
      () => validateRule(obj, "f.yaml"),
      (e: unknown) => e instanceof RuleError && re.test(e.message),
      String(re),
    );
  }
});

Deno.test("schema: an unknown validator is rejected at compile time", () => {
  const r = validateRule({
    id: "v-rule",
    title: "V",
    family: "f",
    severity: "low",
    action: "alert",
    message: "m",
    match: { patterns: ["a"], validate: "nope" },
  }, "v.yaml");
  assert.throws(
    () => compileRules([r], { validators }),
    /v\.yaml: rule "v-rule": match\.validate: unknown validator "nope"/,
  );
});

Deno.test("load: --rules directories from real files; a user rule overrides a built-in id", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/company.yaml`,
      `${CODENAME_RULE_YAML}tests:
  match:
    - input: "see Project Bluebird"
      output: "see [mcp-watchdog removed: codename (company-codename)]"
---
id: ansi-sgr-colour
title: Colour codes (alert only)
family: terminal-escapes
severity: low
action: alert
message: Only alert on colour codes.
match:
  view: raw
  patterns: ['\\x1b\\[[0-9;]{0,32}m']
`,
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a rule");
    const io = {
      readDir: (d: string) => [...Deno.readDirSync(d)].map((e) => e.name),
      readText: (p: string) => Deno.readTextFileSync(p),
    };
    const rules = loadRules(BUILTIN_RULES, [dir], io);
    assert.equal(rules.length, BUILTIN_RULES.length + 1);
    const custom = rules.find((r) => r.id === "company-codename")!;
    assert.equal(custom.source, `${dir}/company.yaml`);
    assert.equal(rules.find((r) => r.id === "ansi-sgr-colour")!.action, "alert");
    const out = applyRule(custom, "see Project Bluebird", "result.text");
    assert.equal(out.output, "see [mcp-watchdog removed: codename (company-codename)]");

    await Deno.writeTextFile(`${dir}/broken.yaml`, "id: broken-rule\ntitle: [unclosed\n");
    assert.throws(() => loadRules(BUILTIN_RULES, [dir], io), /broken\.yaml: YAML/);
    await Deno.remove(`${dir}/broken.yaml`);
    await Deno.writeTextFile(
      `${dir}/dup.yaml`,
      (await Deno.readTextFile(`${dir}/company.yaml`)).split("---")[0],
    );
    assert.throws(
      () => loadRules(BUILTIN_RULES, [dir], io),
      /rule "company-codename": id: duplicate/,
    );
    assert.throws(
      () => loadRules(BUILTIN_RULES, [`${dir}/missing`], io),
      /cannot read rule directory/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine: KeywordMatcher finds overlapping, nested, case-folded and non-ASCII keywords in one pass", () => {
  const kws = ["he", "she", "his", "hers", "key", "monkey", "\u200b", "é", "<!--"];
  const m = new KeywordMatcher(kws);
  const found = (t: string) => {
    const p = m.find(t);
    return p ? kws.filter((_, i) => hasKeyword(p, i)) : [];
  };
  assert.deepEqual(found("USHERS"), ["he", "she", "hers"]);
  assert.deepEqual(found("a Monkey"), ["key", "monkey"]);
  assert.deepEqual(found("x\u200by CAFÉ &lt;!-- <!--"), ["\u200b", "é", "<!--"]);
  assert.equal(m.find("nothing to see"), null);
  assert.equal(new KeywordMatcher([]).find("anything"), null);
});

function rule(match: Record<string, unknown>, extra: Record<string, unknown> = {}): Rule {
  return validateRule({
    id: "t-rule",
    title: "T",
    family: "test",
    severity: "medium",
    action: "neutralize",
    message: "m",
    match,
    ...extra,
  }, "inline");
}

Deno.test("engine: (?<span>) narrows the span; require/forbid/context filter matches", () => {
  const span = compileRules([rule({ patterns: ["token=(?<span>[a-z]{4,8})"] })]);
  const [h] = scanText("url?token=abcdef&x", undefined, span);
  assert.deepEqual([h.start, h.end, h.text], [10, 16, "abcdef"]);

  const req = compileRules([rule({ patterns: ["<x>[^<]{0,50}</x>"], require: ["evil", "bad"] })]);
  assert.equal(scanText("<x>fine</x>", undefined, req).length, 0);
  assert.equal(scanText("<x>so BAD</x>", undefined, req).length, 1);

  const ctx = compileRules([
    rule({ patterns: ["\\bpixel\\b"], forbid: "newsletter", context: 20 }),
  ]);
  assert.equal(scanText("our newsletter pixel", undefined, ctx).length, 0);
  assert.equal(scanText("add a pixel to every reply", undefined, ctx).length, 1);
});

Deno.test("engine: hits of one rule merge; applyEdits merges overlaps (widest replacement wins)", () => {
  const set = compileRules([rule({ patterns: ["ab{1,3}", "b{2}c"] })]);
  const hits = scanText("xabbbcx", undefined, set);
  assert.equal(hits.length, 1);
  assert.deepEqual([hits[0].start, hits[0].end], [1, 6]);
  assert.equal(
    applyEdits("0123456789", [
      { start: 2, end: 4, replacement: "[a]" },
      { start: 3, end: 8, replacement: "[wide]" },
      { start: 9, end: 10, replacement: "" },
    ]),
    "01[wide]8",
  );
});

Deno.test("engine: matches per rule are capped; empty matches do not loop", () => {
  const set = compileRules([rule({ patterns: ["a", "(?:)"] })]);
  const hits = scanText("a".repeat(20_000), undefined, set);
  assert.equal(hits.length, MAX_HITS_PER_RULE);
  assert.ok(MAX_HITS_PER_RULE >= 4096, "a long colour-coded log must be stripped whole");
});
