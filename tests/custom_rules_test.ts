// Users add rules with --rules <dir>: a new rule needs no code, and a broken one is a clear error.
import assert from "node:assert/strict";
import { ECHO_SERVER, INIT_LINE, jsonLines, PROXY, run, tempDir, toolCallLine } from "./helpers.ts";

const RULE = `id: acme-internal-hostname
title: "Internal ACME host name in a tool result"
family: custom
severity: medium
action: redact
message: >-
  An internal host name leaked into tool output; it was redacted.
references: ["https://example.com/acme-policy"]
falsepositives: ["none known"]
applies_to: [result.text]
match:
  view: raw
  keywords: ["acme.internal"]
  patterns:
    - '[a-z0-9-]{1,40}\\.corp\\.acme\\.internal'
  redact_type: acme-host
tests:
  match:
    - input: "db01.corp.acme.internal is down"
  no_match:
    - "acme.com is up"
`;

const init = INIT_LINE;
const call = toolCallLine(2, "echo", { text: "connect to db01.corp.acme.internal now" });
const ECHO = ECHO_SERVER;

Deno.test("--rules: a user rule from a directory applies through the proxy", async () => {
  await using dir = await tempDir();
  await using state = await tempDir();
  await Deno.writeTextFile(`${dir.path}/acme.yaml`, RULE);
  const r = await run(
    [...PROXY, "--rules", dir.path, "--state-dir", state.path, "--", ...ECHO],
    `${init}\n${call}\n`,
  );
  const text =
    (jsonLines(r.stdout)[1] as { result: { content: { text: string }[] } }).result.content[0].text;
  assert.match(text, /^connect to \[REDACTED:acme-host:[0-9a-f]{8}\] now$/);
  assert.match(r.stderr, /acme-internal-hostname.*redacted/);
});

Deno.test("--rules: an invalid rule file stops start-up with the file, field and reason (exit 2)", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/broken.yaml`, "id: broken\nseverity: loud\n");
  const r = await run([...PROXY, "--rules", dir.path, "--", ...ECHO]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /broken\.yaml: rule "broken": title: is required/);
});
