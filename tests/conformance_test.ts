/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode) against
 * server-everything over Streamable HTTP, directly and through `mcp-watchdog serve --url`: every
 * check that passes directly must pass through the gateway. (The whole suite takes seconds, so the
 * test runs all of it; the acceptance check H1 does the same with the server under Node.)
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers.ts";
import { startEverything, startServe } from "./fixtures/flaky_http_server.ts";

const CONFORMANCE = "npm:@modelcontextprotocol/conformance@0.1.16";

/** Passed checks per scenario, from the suite's summary lines. */
async function conformance(url: string, cwd: string): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CONFORMANCE, "server", "--url", url],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const passed: Record<string, number> = {};
  for (const m of text.matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed/gm)) {
    passed[m[1]] = Number(m[2]);
  }
  assert.ok(
    Object.keys(passed).length > 0,
    `no summary in the conformance output:\n${text.slice(-2000)}`,
  );
  return passed;
}

Deno.test({
  name: "conformance: every check that passes against server-everything passes through serve --url",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using dir = await tempDir();
    await using ev = await startEverything();
    await using gw = await startServe([
      "--state-dir",
      `${dir.path}/state`,
      "--quiet",
      "--url",
      ev.url,
    ]);
    // Both runs at once (each has its own sessions): the suite spends most of its time waiting.
    const [direct, proxied] = await Promise.all([
      conformance(ev.url, dir.path),
      conformance(gw.url, dir.path),
    ]);
    const lost = Object.keys(direct).filter((k) => (proxied[k] ?? 0) < direct[k]);
    assert.deepEqual(lost, [], `checks lost through the gateway: ${lost.join(", ")}`);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    assert.ok(sum(direct) >= 10, `the suite ran (direct passed ${sum(direct)})`);
    // The gateway validates Host and Origin, which server-everything itself does not.
    assert.equal(proxied["dns-rebinding-protection"], 2);
  },
});
