/**
 * The single binary (`deno task compile`): built into a temp dir, then run from a directory that
 * holds none of our files, it answers like `deno run -A cli.ts` (rules embedded, clean traffic
 * byte-identical, a poisoned description neutralised). `deno compile` needs Deno's runtime binary
 * (`denort`): where it cannot be downloaded (and `DENORT_BIN` is unset) the test is skipped with the
 * reason, and the script's own "unreachable" answer is checked instead.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { compile, denortProblem, isDownloadFailure, UNREACHABLE } from "../scripts/compile.ts";
import { connect, fixture, PROXY, ROOT, run, SDK_TEST } from "./helpers.ts";

const problem = await denortProblem();
if (problem) console.warn(`compile_test: binary build skipped: ${problem}`);

Deno.test("compile script: recognises a runtime download failure", () => {
  const dns =
    "error: Writing deno compile executable to temporary file\n    0: Setting up base binary.\n    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error";
  assert.equal(isDownloadFailure(dns), true);
  assert.equal(isDownloadFailure("error: TS2339 Property 'x' does not exist"), false);
});

Deno.test({
  name: "compile script: without the runtime download, one clear line and exit code 3",
  ignore: problem === null,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        path.join(ROOT, "scripts/compile.ts"),
        "--no-check",
        "--output",
        "/nonexistent/x",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, UNREACHABLE, stderr);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /denort.*DENORT_BIN/);
  },
});

Deno.test({
  name: "compile: the binary runs without the source tree and behaves like the Deno build",
  ignore: problem !== null,
  ...SDK_TEST,
  async fn(t) {
    const tmp = await Deno.makeTempDir({ prefix: "mcpw-compile-" });
    try {
      const bin = path.join(tmp, "mcp-watchdog");
      const r = await compile(bin);
      assert.equal(r.code, 0, r.message);
      const BIN = [bin];

      await t.step("--version and --help as from cli.ts", async () => {
        for (const flag of ["--version", "--help"]) {
          const viaBin = await run([...BIN, flag]);
          assert.equal(viaBin.code, 0, viaBin.stderr);
          assert.equal(viaBin.stdout, (await run([...PROXY, flag])).stdout);
        }
      });

      await t.step("clean traffic is byte-identical", async () => {
        const echo = [Deno.execPath(), "run", "-A", fixture("echo_server.ts")];
        const input = [
          {
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: {
              protocolVersion: "2025-06-18",
              capabilities: {},
              clientInfo: { name: "t", version: "1" },
            },
          },
          { jsonrpc: "2.0", id: 2, method: "tools/list" },
          {
            jsonrpc: "2.0",
            id: 3,
            method: "tools/call",
            params: { name: "echo", arguments: { text: "café 日本語 👩‍💻 </script>" } },
          },
        ].map((m) => JSON.stringify(m) + "\n").join("");
        const direct = await run(echo, input);
        // Run from an empty directory: nothing of ours to read beside the binary.
        const cwd = await Deno.makeTempDir({ dir: tmp });
        const p = new Deno.Command(bin, {
          args: ["--", ...echo],
          cwd,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = p.stdin.getWriter();
        await w.write(new TextEncoder().encode(input));
        await w.close();
        const out = await p.output();
        assert.equal(new TextDecoder().decode(out.stdout), direct.stdout);
      });

      await t.step("a poisoned tool description is neutralised", async () => {
        const state = await Deno.makeTempDir({ dir: tmp });
        const server = [
          Deno.execPath(),
          "run",
          "-A",
          fixture("malicious_server.ts"),
          "--after",
          "0",
          "--attack",
          "rugpull",
        ];
        const c = await connect([...BIN, "--state-dir", state, "--", ...server]);
        try {
          const { tools } = await c.listTools();
          assert.ok(tools.length > 0);
          for (const tool of tools) assert.doesNotMatch(tool.description ?? "", /id_rsa/);
        } finally {
          await c.close();
        }
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
