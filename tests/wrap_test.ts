import assert from "node:assert/strict";
import { denoRuntime } from "../src/adapters/deno.ts";
import { type CliIo, renderDiff, runUnwrap, runWrap } from "../src/cli/wrap.ts";
import { connect, fixture, ROOT } from "./helpers.ts";

const FIX = new URL("./fixtures/configs/", import.meta.url);

/** Each fixture placed where its client keeps it, relative to HOME (or the project dir). */
const PLACES: [string, string][] = [
  ["claude_desktop_config.json", "home/.config/Claude/claude_desktop_config.json"],
  ["claude.json", "home/.claude.json"],
  ["cursor_mcp.json", "home/.cursor/mcp.json"],
  ["windsurf_mcp_config.json", "home/.codeium/windsurf/mcp_config.json"],
  ["vscode_settings.json", "home/.config/Code/User/settings.json"],
  ["gemini_settings.json", "home/.gemini/settings.json"],
  ["codex_config.toml", "home/.codex/config.toml"],
  ["zed_settings.json", "home/.config/zed/settings.json"],
  [
    "cline_mcp_settings.json",
    "home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
  ],
  ["mcp.json", "project/.mcp.json"],
  ["vscode_mcp.json", "project/.vscode/mcp.json"],
];

const SECRETS = [
  "ghp_FAKEfakeFAKEfake0123456789abcdefABCD",
  "sk-FAKE-remote-token-0123456789",
  "sk-FAKE-project-key-abcdefghijklmnop",
  "sk-FAKE-codex-key-0123456789abcdef",
  "FAKEtokenFAKEtoken123456",
  "FAKEweatherKEY0123456789abcdef",
];

function makeIo(root: string): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return {
    out,
    err,
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    env: (
      n,
    ) => (n === "XDG_CONFIG_HOME" || n === "APPDATA" || n === "CODEX_HOME"
      ? undefined
      : n === "NO_COLOR"
      ? "1"
      : undefined),
    cwd: `${root}/project`,
    home: `${root}/home`,
    runtime: denoRuntime,
  };
}

async function setup(): Promise<
  { root: string; originals: Map<string, string> } & AsyncDisposable
> {
  const root = await Deno.makeTempDir({ prefix: "mcp-watchdog-wrap-" });
  const originals = new Map<string, string>();
  for (const [file, rel] of PLACES) {
    const path = `${root}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const text = await Deno.readTextFile(new URL(file, FIX));
    await Deno.writeTextFile(path, text);
    originals.set(path, text);
  }
  return { root, originals, [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
}

Deno.test("wrap finds every client config under HOME and the project, unwrap restores each byte", async () => {
  await using t = await setup();
  const io = makeIo(t.root);
  assert.equal(await runWrap([], io), 0, io.err.join(""));
  const out = io.out.join("");
  for (const [path, original] of t.originals) {
    const now = await Deno.readTextFile(path);
    assert.notEqual(now, original, `${path} was not wrapped`);
    assert.equal(
      await Deno.readTextFile(`${path}.mcp-watchdog-backup`),
      original,
      "backup holds the original",
    );
    assert.ok(out.includes(`--- ${path}`), `diff for ${path}`);
  }
  assert.match(io.err.join(""), /'mcp-watchdog' is not on your PATH/);
  // Secrets from env, headers and args never reach the output.
  for (const s of SECRETS) assert.ok(!out.includes(s), `secret leaked: ${s}`);
  assert.ok(out.includes('-      "command": "npx",'));
  assert.ok(out.includes('+      "command": "mcp-watchdog",'));
  assert.ok(out.includes("skipped (remote server"));

  // JSONC comments are still there after wrapping.
  const vscode = await Deno.readTextFile(`${t.root}/project/.vscode/mcp.json`);
  assert.ok(vscode.includes("// 💡 Inputs are prompted on first server start"));
  assert.ok(
    vscode.includes(
      '"args": ["--name", "Perplexity", "--", "npx", "-y", "server-perplexity-ask"], // the server package',
    ),
  );

  // Wrapping again changes nothing.
  const snapshot = new Map<string, string>();
  for (const path of t.originals.keys()) snapshot.set(path, await Deno.readTextFile(path));
  const io2 = makeIo(t.root);
  assert.equal(await runWrap([], io2), 0);
  for (const [path, text] of snapshot) {
    assert.equal(await Deno.readTextFile(path), text, `${path} changed on second wrap`);
  }
  assert.ok(!io2.out.join("").includes("+++"), "second wrap printed a diff");

  const io3 = makeIo(t.root);
  assert.equal(await runUnwrap([], io3), 0, io3.err.join(""));
  for (const [path, original] of t.originals) {
    assert.equal(await Deno.readTextFile(path), original, `${path} not restored`);
  }
  for (const s of SECRETS) assert.ok(!io3.out.join("").includes(s));
});

Deno.test("wrap keeps a private config private: the file and its backup stay 0600", async () => {
  await using t = await setup();
  const path = `${t.root}/home/.claude.json`;
  await Deno.chmod(path, 0o600);
  assert.equal(await runWrap(["--client", "claude-code"], makeIo(t.root)), 0);
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${path}.mcp-watchdog-backup`)).mode! & 0o777, 0o600);
});

Deno.test("wrap --dry-run prints the diff and writes nothing; --client and --server narrow it", async () => {
  await using t = await setup();
  const io = makeIo(t.root);
  assert.equal(await runWrap(["--dry-run"], io), 0);
  for (const [path, original] of t.originals) {
    assert.equal(await Deno.readTextFile(path), original);
    assert.equal(denoRuntime.statSync(`${path}.mcp-watchdog-backup`), null);
  }
  assert.ok(io.out.join("").includes("dry run, nothing written"));

  const io2 = makeIo(t.root);
  assert.equal(await runWrap(["--client", "cursor"], io2), 0);
  const changed = [...t.originals].filter(([p, o]) => Deno.readTextFileSync(p) !== o).map(([p]) =>
    p
  );
  assert.deepEqual(changed, [`${t.root}/home/.cursor/mcp.json`]);

  const io3 = makeIo(t.root);
  assert.equal(await runWrap(["--client", "claude-desktop", "--server", "github"], io3), 0);
  const desktop = Deno.readTextFileSync(`${t.root}/home/.config/Claude/claude_desktop_config.json`);
  assert.ok(desktop.includes('"args": ["--name", "github", "--", "docker"'));
  assert.ok(desktop.includes('"command": "npx"'), "filesystem stays unwrapped");
});

Deno.test("wrap --config edits just that file; Codex TOML keeps every other line", async () => {
  await using t = await setup();
  const path = `${t.root}/home/.codex/config.toml`;
  const io = makeIo(t.root);
  assert.equal(await runWrap(["--config", path], io), 0, io.err.join(""));
  const before = t.originals.get(path)!.split("\n");
  const after = (await Deno.readTextFile(path)).split("\n");
  const gone = before.filter((l) => !after.includes(l));
  assert.ok(gone.every((l) => /^(command|args) = |^ {2}"mcp-server-git"/.test(l)), gone.join("\n"));
  assert.equal(
    after.length,
    before.length + 1,
    "only one line added (args for a server without args)",
  );
  // Other files untouched.
  assert.equal(
    await Deno.readTextFile(`${t.root}/home/.cursor/mcp.json`),
    t.originals.get(`${t.root}/home/.cursor/mcp.json`),
  );
  assert.equal(await runUnwrap(["--config", path], makeIo(t.root)), 0);
  assert.equal(await Deno.readTextFile(path), t.originals.get(path));
});

Deno.test("wrap: an unparseable config is reported and left alone; bad options are usage errors", async () => {
  await using t = await setup();
  const bad = `${t.root}/home/.cursor/mcp.json`;
  await Deno.writeTextFile(bad, '{"mcpServers": {"a": {"command": "x",}');
  const io = makeIo(t.root);
  assert.equal(await runWrap([], io), 1);
  assert.match(io.err.join(""), /mcp\.json.*cannot parse/);
  assert.equal(await Deno.readTextFile(bad), '{"mcpServers": {"a": {"command": "x",}');
  // Others were still wrapped.
  assert.notEqual(
    await Deno.readTextFile(`${t.root}/home/.claude.json`),
    t.originals.get(`${t.root}/home/.claude.json`),
  );
  assert.equal(await runWrap(["--client", "emacs"], makeIo(t.root)), 2);
  assert.equal(await runWrap(["--bogus"], makeIo(t.root)), 2);
  assert.equal(await runWrap(["--config", `${t.root}/missing.json`], makeIo(t.root)), 1);
});

Deno.test("renderDiff: hunks with context, secrets masked, unchanged lines not repeated", () => {
  const text = "a\nb\nc KEYS\nd\ne\nf\ng\nh\ni\nj\n";
  const start = text.indexOf("c"), end = start + 1;
  const diff = renderDiff("/x", text, [{ start, end, text: "C" }, {
    start: text.indexOf("j"),
    end: text.indexOf("j") + 1,
    text: "J",
  }], ["KEYS"]);
  assert.equal(
    diff,
    "--- /x\n+++ /x\n@@ -1,5 +1,5 @@\n a\n b\n-c ***\n+C ***\n d\n e\n@@ -8,4 +8,4 @@\n h\n i\n-j\n+J\n \n",
  );
});

Deno.test("wrap -- <proxy options>: options for every wrapped server, unwrap still exact", async () => {
  await using t = await setup();
  const path = `${t.root}/home/.cursor/mcp.json`;
  assert.equal(await runWrap(["--config", path, "--", "--mode", "monitor"], makeIo(t.root)), 0);
  assert.ok(
    (await Deno.readTextFile(path)).includes(
      '"args": ["--mode", "monitor", "--name", "fetch", "--", "uvx", "mcp-server-fetch"]',
    ),
  );
  assert.equal(await runWrap(["--config", path, "--", "--mode", "--"], makeIo(t.root)), 2);
  assert.equal(await runUnwrap(["--config", path], makeIo(t.root)), 0);
  assert.equal(await Deno.readTextFile(path), t.originals.get(path));
});

Deno.test("a wrapped server really runs through mcp-watchdog (the `--` contract, end to end)", async () => {
  await using t = await setup();
  const path = `${t.root}/project/.mcp.json`;
  const server = [
    Deno.execPath(),
    "run",
    fixture("malicious_server.ts"),
    "--after",
    "0",
    "--attack",
    "rugpull",
  ];
  await Deno.writeTextFile(
    path,
    JSON.stringify(
      { mcpServers: { weather: { command: server[0], args: server.slice(1) } } },
      null,
      2,
    ),
  );
  const watchdog = `${Deno.execPath()} run -A ${ROOT}cli.ts`;
  assert.equal(
    await runWrap(["--config", path, "--command", watchdog, "--", "--quiet"], makeIo(t.root)),
    0,
  );
  const entry = JSON.parse(await Deno.readTextFile(path)).mcpServers.weather;
  assert.equal(entry.command, Deno.execPath());
  assert.deepEqual(entry.args.slice(entry.args.indexOf("--")), ["--", ...server]);
  const client = await connect([entry.command, ...entry.args], { capabilities: false });
  try {
    const { tools } = await client.listTools();
    const weather = (tools as { name: string; description?: string }[]).find((x) =>
      x.name === "get_weather"
    );
    assert.ok(weather, JSON.stringify(tools));
    assert.doesNotMatch(
      weather.description ?? "",
      /id_rsa/,
      "the proxy neutralised the poisoned description",
    );
    assert.match(weather.description ?? "", /mcp-watchdog removed/);
  } finally {
    await client.close();
  }
  // Unwrapping with the same --command restores the original.
  assert.equal(await runUnwrap(["--config", path, "--command", watchdog], makeIo(t.root)), 0);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)).mcpServers.weather, {
    command: server[0],
    args: server.slice(1),
  });
});
