/**
 * Every regular expression of the Layer 1 detectors runs in linear time:
 * 1. `npm:recheck` must call each one safe (verdicts cached by source in
 *    `tests/fixtures/layer1_recheck.json`; refresh with `UPDATE_RECHECK=1 deno test -A tests/layer1_regex_test.ts`);
 * 2. the detectors' public functions digest adversarial 100 KB inputs (near-misses that make
 *    backtracking regexes explode) in one go.
 */
import assert from "node:assert/strict";
import { checkSync } from "recheck";
import { sha256Hex } from "../src/hash.ts";
import * as phase from "../src/detectors/phase.ts";
import * as requests from "../src/detectors/server_requests.ts";
import * as scope from "../src/detectors/scope_creep.ts";
import * as shadowing from "../src/detectors/shadowing.ts";
import * as steering from "../src/detectors/steering.ts";
import * as terms from "../src/detectors/sensitive_terms.ts";

const CACHE = new URL("./fixtures/layer1_recheck.json", import.meta.url);

function regexes(): [string, RegExp][] {
  const out: [string, RegExp][] = [];
  for (const [mod, m] of Object.entries({ phase, requests, scope, shadowing, steering, terms })) {
    for (const [k, v] of Object.entries(m)) if (v instanceof RegExp) out.push([`${mod}.${k}`, v]);
  }
  return out;
}

Deno.test("layer 1 regexes: recheck calls every one safe", () => {
  let cache: Record<string, string> = {};
  try {
    cache = JSON.parse(Deno.readTextFileSync(CACHE));
  } catch { /* first run */ }
  const next: Record<string, string> = {};
  const found = regexes();
  assert.ok(found.length >= 12, `${found.length} regexes found`);
  for (const [name, re] of found) {
    const key = sha256Hex(`${re.flags}/${re.source}`).slice(0, 16);
    let status = cache[key];
    if (!status) {
      const r = checkSync(re.source, re.flags, { timeout: 30_000 });
      status = r.status === "vulnerable" ? `vulnerable: ${r.complexity.summary}` : r.status;
    }
    next[key] = status;
    assert.equal(status, "safe", name);
  }
  if (Deno.env.get("UPDATE_RECHECK")) {
    Deno.writeTextFileSync(CACHE, JSON.stringify(next, null, 2) + "\n");
  }
});

Deno.test("layer 1 detectors digest adversarial 100 KB inputs", () => {
  const nearMisses = [
    "enter ".repeat(20_000),
    "collect ".repeat(15_000) + "x",
    "your system ".repeat(10_000),
    "is deprecated ".repeat(8_000),
    "a ".repeat(50_000),
    "you must ".repeat(12_000),
    "always use this tool instead ".repeat(4_000),
    "use the the the ".repeat(8_000),
  ];
  for (const s of nearMisses) {
    terms.classifyProperty(s.slice(0, 300), s);
    requests.elicitationFindings({
      message: s,
      requestedSchema: { properties: { [s.slice(0, 100)]: { description: s } } },
    });
    requests.samplingFindings({ messages: [{ role: "user", content: { type: "text", text: s } }] });
    scope.toolScopeFindings({
      name: "t",
      description: s,
      inputSchema: { properties: { x: { description: s } } },
    }, 0);
    phase.countCues(s);
    steering.directedTools(s);
    assert.ok(terms.collectsAboutPerson(s) === false || s.startsWith("collect"));
  }
});
