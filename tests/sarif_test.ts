import assert from "node:assert/strict";
import type { AlertRecord } from "../src/alert_format.ts";
import { fileUri, sarifLevel, toSarif } from "../src/sarif.ts";

const rec = (over: Partial<AlertRecord> = {}): AlertRecord => ({
  server: "fs",
  rule: "smac5-important-block",
  severity: "critical",
  action: "stripped",
  message: "Hidden block.",
  method: "tools/list",
  path: "/result/tools/2/description",
  tool: "read_file",
  layer: "L0-preprocess",
  sha256: "cd".repeat(32),
  excerpt: "<IMPORTANT>…",
  ...over,
});

Deno.test("sarifLevel: critical/high error, medium warning, low note", () => {
  assert.deepEqual(["critical", "high", "medium", "low"].map((s) => sarifLevel(s as never)), [
    "error",
    "error",
    "warning",
    "note",
  ]);
});

Deno.test("toSarif: a valid 2.1.0 log with rule metadata, locations and fingerprints", () => {
  const log = toSarif(
    [
      { record: rec(), artifact: "/w/proj/.mcp.json", line: 4, client: "Claude Code" },
      {
        record: rec({ tool: "write_file", path: "/result/tools/3/description" }),
        artifact: "/w/proj/.mcp.json",
        line: 4,
      },
      {
        record: rec({
          rule: "pin-changed",
          severity: "medium",
          layer: "L1-behaviour",
          message: "Changed since pinned.",
        }),
        artifact: "/home/u/.cursor/mcp.json",
        line: 2,
      },
    ],
    [{
      level: "warning",
      message: 'server "x" could not be scanned',
      artifact: "/w/proj/.mcp.json",
      line: 9,
    }],
    {
      version: "9.9.9",
      baseDir: "/w/proj",
      rules: [{
        id: "smac5-important-block",
        title: "<IMPORTANT> block",
        message: "Long text.",
        severity: "critical",
        references: ["https://example.com/ref"],
        family: "hidden-instructions",
        layer: "L0-preprocess",
      }],
    },
  );
  assert.equal(log.version, "2.1.0");
  assert.match(log.$schema, /sarif-2\.1\.0/);
  // deno-lint-ignore no-explicit-any
  const run = log.runs[0] as Record<string, any>;
  assert.equal(run.tool.driver.version, "9.9.9");
  // Rules are listed once each, in first-use order, with metadata from the rule file when known.
  assert.deepEqual(run.tool.driver.rules.map((r: { id: string }) => r.id), [
    "smac5-important-block",
    "pin-changed",
  ]);
  const r0 = run.tool.driver.rules[0];
  assert.equal(r0.shortDescription.text, "<IMPORTANT> block");
  assert.equal(r0.helpUri, "https://example.com/ref");
  assert.equal(r0.properties["security-severity"], "9.5");
  assert.ok(r0.properties.tags.includes("hidden-instructions"));
  assert.equal(run.tool.driver.rules[1].shortDescription.text, "pin-changed");
  assert.equal(run.tool.driver.rules[1].defaultConfiguration.level, "warning");
  assert.equal(run.results.length, 3);
  const [a, b, c] = run.results;
  assert.equal(a.ruleIndex, 0);
  assert.equal(b.ruleIndex, 0);
  assert.equal(c.ruleIndex, 1);
  assert.equal(c.level, "warning");
  assert.deepEqual(a.locations[0].physicalLocation, {
    artifactLocation: { uri: ".mcp.json", uriBaseId: "%SRCROOT%" },
    region: { startLine: 4 },
  });
  assert.equal(
    c.locations[0].physicalLocation.artifactLocation.uri,
    "file:///home/u/.cursor/mcp.json",
  );
  assert.equal(a.locations[0].logicalLocations[0].fullyQualifiedName, "fs/read_file");
  assert.match(
    a.message.text,
    /Hidden block\. \[server "fs", tool "read_file" description \(tools\/list\)\]/,
  );
  assert.notEqual(a.partialFingerprints["mcpWatchdog/v1"], b.partialFingerprints["mcpWatchdog/v1"]);
  assert.equal(a.properties.client, "Claude Code");
  assert.equal(run.originalUriBaseIds["%SRCROOT%"].uri, "file:///w/proj/");
  assert.equal(run.invocations[0].toolExecutionNotifications[0].level, "warning");
  // The whole log is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(log)), log);
});

Deno.test("toSarif: empty scans still give a run", () => {
  const log = toSarif([], [], { version: "1.0.0" });
  assert.equal(log.runs.length, 1);
  assert.deepEqual(log.runs[0].results, []);
});

Deno.test("fileUri: POSIX and Windows paths, spaces escaped", () => {
  assert.equal(
    fileUri("/Users/me/Library/Application Support/Claude/x.json"),
    "file:///Users/me/Library/Application%20Support/Claude/x.json",
  );
  assert.equal(
    fileUri("C:\\Users\\me\\AppData\\Roaming\\Claude\\x.json"),
    "file:///C:/Users/me/AppData/Roaming/Claude/x.json",
  );
});
