import assert from "node:assert/strict";
import {
  configLocations,
  findConfigs,
  locationForPath,
  maskSecrets,
  originalCommand,
  parseClientConfig,
  parseClientId,
  parseTomlEntries,
  planUnwrap,
  planWrap,
  secretArgs,
  type ServerEntry,
  wrappedSeparator,
} from "../src/clients.ts";
import { applyEdits, toValue } from "../src/jsonc.ts";

const FIX = new URL("./fixtures/configs/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, FIX));

/** Every fixture with the location the client really uses and what must be found in it. */
const FIXTURES: { file: string; path: string; stdio: string[]; remote: string[] }[] = [
  {
    file: "claude_desktop_config.json",
    path: "/h/.config/Claude/claude_desktop_config.json",
    stdio: ["filesystem", "github", "bare"],
    remote: [],
  },
  { file: "claude.json", path: "/h/.claude.json", stdio: ["memory", "sqlite"], remote: ["remote"] },
  { file: "mcp.json", path: "/p/.mcp.json", stdio: ["everything"], remote: [] },
  { file: "cursor_mcp.json", path: "/h/.cursor/mcp.json", stdio: ["fetch"], remote: ["linear"] },
  {
    file: "windsurf_mcp_config.json",
    path: "/h/.codeium/windsurf/mcp_config.json",
    stdio: ["puppeteer", "off"],
    remote: [],
  },
  {
    file: "vscode_mcp.json",
    path: "/p/.vscode/mcp.json",
    stdio: ["Perplexity"],
    remote: ["github"],
  },
  {
    file: "vscode_settings.json",
    path: "/h/.config/Code/User/settings.json",
    stdio: ["time"],
    remote: [],
  },
  {
    file: "gemini_settings.json",
    path: "/h/.gemini/settings.json",
    stdio: ["pythonTools"],
    remote: [],
  },
  {
    file: "codex_config.toml",
    path: "/h/.codex/config.toml",
    stdio: ["docs", "plain-cmd", "multi"],
    remote: ["remote"],
  },
  {
    file: "zed_settings.json",
    path: "/h/.config/zed/settings.json",
    stdio: ["local-mcp-server", "legacy"],
    remote: ["remote-mcp-server"],
  },
  {
    file: "cline_mcp_settings.json",
    path:
      "/h/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
    stdio: ["weather"],
    remote: [],
  },
];

const HOST = { home: "/h", cwd: "/p", platform: "linux" as const, env: () => undefined };

function parseFixture(f: (typeof FIXTURES)[number]) {
  const loc = configLocations(HOST).find((l) => l.path === f.path);
  assert.ok(loc, `no known location ${f.path}`);
  return { loc, text: read(f.file), parsed: parseClientConfig(read(f.file), loc) };
}

Deno.test("configLocations: every fixture sits at a location a client reads", () => {
  for (const f of FIXTURES) {
    const { parsed } = parseFixture(f);
    const names = (t: string) => parsed.servers.filter((s) => s.transport === t).map((s) => s.name);
    assert.deepEqual(names("stdio"), f.stdio, f.file);
    assert.deepEqual(names("remote"), f.remote, f.file);
  }
});

Deno.test("configLocations: macOS and Windows paths, XDG and CODEX_HOME", () => {
  const mac = configLocations({
    home: "/Users/u",
    cwd: "/w",
    platform: "darwin",
    env: () => undefined,
  });
  assert.ok(
    mac.some((l) =>
      l.path === "/Users/u/Library/Application Support/Claude/claude_desktop_config.json"
    ),
  );
  assert.ok(
    mac.some((l) => l.path === "/Users/u/Library/Application Support/Code/User/settings.json"),
  );
  assert.ok(mac.some((l) => l.path === "/Users/u/.config/zed/settings.json"));
  const env: Record<string, string> = {
    APPDATA: "C:/Users/u/AppData/Roaming",
    CODEX_HOME: "D:/codex",
  };
  const win = configLocations({
    home: "C:/Users/u",
    cwd: "C:/w",
    platform: "windows",
    env: (n) => env[n],
  });
  assert.ok(
    win.some((l) =>
      l.client === "claude-desktop" &&
      l.path === "C:/Users/u/AppData/Roaming/Claude/claude_desktop_config.json"
    ),
  );
  assert.ok(win.some((l) => l.client === "codex" && l.path === "D:/codex/config.toml"));
  assert.ok(
    win.some((l) =>
      l.client === "zed" && l.path === "C:/Users/u/AppData/Roaming/Zed/settings.json"
    ),
  );
  const xdg = configLocations({
    home: "/h",
    cwd: "/p",
    platform: "linux",
    env: (n) => n === "XDG_CONFIG_HOME" ? "/x" : undefined,
  });
  assert.ok(xdg.some((l) => l.path === "/x/Claude/claude_desktop_config.json"));
  // Project scope comes from cwd; no duplicates.
  const all = configLocations(HOST);
  assert.ok(all.some((l) => l.scope === "project" && l.path === "/p/.cursor/mcp.json"));
  assert.equal(new Set(all.map((l) => l.path)).size, all.length);
  for (
    const c of [
      "claude-desktop",
      "claude-code",
      "cursor",
      "windsurf",
      "vscode",
      "gemini",
      "codex",
      "zed",
      "cline",
    ]
  ) {
    assert.ok(all.some((l) => l.client === c), c);
  }
});

Deno.test("parseClientConfig: commands, args, env, cwd, disabled, projects, Zed legacy command", () => {
  const get = (file: string, name: string): ServerEntry => {
    const f = FIXTURES.find((x) => x.file === file)!;
    return parseFixture(f).parsed.servers.find((s) => s.name === name)!;
  };
  const fs = get("claude_desktop_config.json", "filesystem");
  assert.equal(fs.command, "npx");
  assert.deepEqual(fs.args, ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]);
  assert.equal(fs.line, 3);
  assert.equal(
    get("claude_desktop_config.json", "github").env.GITHUB_PERSONAL_ACCESS_TOKEN.startsWith("ghp_"),
    true,
  );
  assert.equal(get("claude.json", "sqlite").project, "/home/me/app");
  assert.equal(get("claude.json", "remote").url, "https://mcp.example.com/mcp");
  assert.equal(get("windsurf_mcp_config.json", "off").disabled, true);
  assert.equal(get("windsurf_mcp_config.json", "puppeteer").disabled, false);
  assert.equal(get("gemini_settings.json", "pythonTools").cwd, "./mcp-servers/python");
  const legacy = get("zed_settings.json", "legacy");
  assert.equal(legacy.command, "/usr/bin/legacy-mcp");
  assert.deepEqual(legacy.args, ["--stdio"]);
  assert.equal(legacy.env.TOKEN, "FAKEtokenFAKEtoken123456");
  const multi = get("codex_config.toml", "multi");
  assert.deepEqual(multi.args, ["mcp-server-git", "--repository", "/home/me/repo"]);
  assert.equal(multi.env.GIT_TOKEN.startsWith("ghp_"), true);
  assert.equal(get("codex_config.toml", "plain-cmd").command, "C:\\tools\\server.exe");
  assert.equal(get("codex_config.toml", "docs").env.API_KEY, "sk-FAKE-codex-key-0123456789abcdef");
});

Deno.test("parseClientConfig: env and header values are reported as secrets", () => {
  const { parsed } = parseFixture(FIXTURES.find((f) => f.file === "claude.json")!);
  assert.ok(parsed.secrets.includes("Bearer sk-FAKE-remote-token-0123456789"));
  const zed = parseFixture(FIXTURES.find((f) => f.file === "zed_settings.json")!).parsed;
  assert.ok(zed.secrets.includes("FAKEtokenFAKEtoken123456"));
  assert.ok(zed.secrets.includes("Bearer FAKE-zed-bearer-0123456789"));
});

Deno.test("parseClientConfig: --config files of unknown shape are read by trying every shape", () => {
  const loc = locationForPath("/tmp/whatever.json");
  assert.equal(loc.client, "other");
  const text = '{"servers": {"a": {"command": "x"}}, "context_servers": {"b": {"command": "y"}}}';
  assert.deepEqual(parseClientConfig(text, loc).servers.map((s) => s.name), ["a", "b"]);
  assert.equal(locationForPath("/tmp/claude_desktop_config.json").client, "claude-desktop");
  assert.equal(locationForPath("/w/.vscode/mcp.json").client, "vscode");
  assert.equal(locationForPath("/x/config.toml").client, "codex");
  assert.deepEqual(parseClientConfig("", loc).servers, []);
  assert.throws(() => parseClientConfig("{ nope", loc), /ConfigParseError|expected|unexpected/);
});

Deno.test("planWrap / planUnwrap: every fixture round-trips byte for byte, comments intact", () => {
  for (const f of FIXTURES) {
    const { loc, text, parsed } = parseFixture(f);
    const edits = parsed.servers.flatMap((s) => planWrap(s));
    assert.ok(edits.length > 0, f.file);
    const wrapped = applyEdits(text, edits);
    const after = parseClientConfig(wrapped, loc);
    for (const s of after.servers.filter((s) => s.transport === "stdio")) {
      assert.equal(s.command, "mcp-watchdog", `${f.file} ${s.name}`);
      assert.deepEqual(s.args.slice(0, 3), ["--name", s.name, "--"]);
      const before = parsed.servers.find((b) => b.name === s.name && b.project === s.project)!;
      assert.deepEqual(originalCommand(s), { command: before.command, args: before.args });
      assert.deepEqual(s.env, before.env);
    }
    // Idempotent: wrapping the wrapped file plans nothing.
    assert.deepEqual(after.servers.flatMap((s) => planWrap(s)), [], f.file);
    // Comments survive.
    for (const line of text.split("\n").filter((l) => /^\s*(\/\/|#)/.test(l))) {
      assert.ok(wrapped.includes(line), line);
    }
    const unwrapped = applyEdits(wrapped, after.servers.flatMap((s) => planUnwrap(s, wrapped)));
    if (f.file === "windsurf_mcp_config.json") {
      // `"args": []` that wrap filled in: the semantic original comes back (the CLI restores the backup bytes).
      assert.deepEqual(
        toValue(JSON.parse(unwrapped)),
        toValue(JSON.parse(text.replace(', "args": []', ""))),
      );
    } else assert.equal(unwrapped, text, f.file);
    assert.deepEqual(
      parseClientConfig(unwrapped, loc).servers.flatMap((s) => planUnwrap(s, unwrapped)),
      [],
    );
  }
});

Deno.test("planWrap: Codex TOML changes only the command and args lines", () => {
  const f = FIXTURES.find((x) => x.file === "codex_config.toml")!;
  const { text, parsed } = parseFixture(f);
  const wrapped = applyEdits(text, parsed.servers.flatMap((s) => planWrap(s)));
  const a = text.split("\n"), b = wrapped.split("\n");
  const removed = a.filter((l) => !b.includes(l));
  const added = b.filter((l) => !a.includes(l));
  assert.ok(
    removed.every((l) => /^(command|args) =|^ {2}"mcp-server-git"/.test(l)),
    removed.join("\n"),
  );
  assert.ok(added.every((l) => /^(command|args) =|^ {2}"--name"/.test(l)), added.join("\n"));
  assert.ok(wrapped.includes("startup_timeout_sec = 20\n"));
  assert.ok(wrapped.includes('[profiles.fast]\nmodel = "gpt-5-mini"'));
  assert.ok(wrapped.includes('command = "mcp-watchdog" # the launcher'));
  // The literal Windows path is moved as written (a TOML literal string).
  assert.ok(wrapped.includes(`args = ["--name", "plain-cmd", "--", 'C:\\tools\\server.exe']`));
});

Deno.test("planWrap: a custom watchdog command (npx) is recognised as wrapped", () => {
  const loc = locationForPath("/h/.cursor/mcp.json");
  const text = '{"mcpServers":{"a":{"command":"uvx","args":["srv"]}}}';
  const s = parseClientConfig(text, loc).servers[0];
  const wrapped = applyEdits(
    text,
    planWrap(s, { command: "npx", args: ["-y", "@bountyy/mcp-watchdog"] }),
  );
  assert.equal(
    wrapped,
    '{"mcpServers":{"a":{"command":"npx","args":["-y", "@bountyy/mcp-watchdog", "--name", "a", "--", "uvx", "srv"]}}}',
  );
  const w = parseClientConfig(wrapped, loc).servers[0];
  assert.equal(wrappedSeparator(w.command!, w.args), 4);
  assert.deepEqual(planWrap(w), []);
  assert.equal(applyEdits(wrapped, planUnwrap(w, wrapped)), text);
});

Deno.test("wrappedSeparator: only a watchdog command line counts", () => {
  assert.equal(wrappedSeparator("mcp-watchdog", ["--name", "x", "--", "npx"]), 2);
  assert.equal(wrappedSeparator("/usr/local/bin/mcp-watchdog", ["--", "npx"]), 0);
  assert.equal(
    wrappedSeparator("deno", [
      "run",
      "-A",
      "jsr:@bountyy/mcp-watchdog",
      "--name",
      "x",
      "--",
      "srv",
    ]),
    5,
  );
  assert.equal(wrappedSeparator("npx", ["some-tool", "--", "arg"]), -1);
  assert.equal(wrappedSeparator("mcp-watchdog", ["--name", "x", "--"]), -1);
  assert.equal(wrappedSeparator("mcp-watchdog-other", ["--", "x"]), -1);
  assert.equal(
    wrappedSeparator("npx", ["-y", "@bountyy/mcp-watchdog@0.1.0", "--name", "a", "--", "srv"]),
    4,
  );
  assert.equal(wrappedSeparator("node", ["/opt/mcp-watchdog/cli.js", "--", "srv"]), 1);
  assert.equal(wrappedSeparator("C:\\bin\\mcp-watchdog.cmd", ["--", "srv"]), 0);
  // An explicit watchdog command (`--command`) is recognised by its prefix and `--name`.
  const dw = { command: "deno", args: ["run", "-A", "/src/cli.ts"] };
  assert.equal(
    wrappedSeparator("deno", ["run", "-A", "/src/cli.ts", "--name", "a", "--", "srv"], dw),
    5,
  );
  assert.equal(
    wrappedSeparator("deno", ["run", "-A", "/src/cli.ts", "--name", "a", "--", "srv"]),
    -1,
  );
  assert.equal(
    wrappedSeparator("deno", ["run", "-A", "/other.ts", "--name", "a", "--", "srv"], dw),
    -1,
  );
});

Deno.test("parseTomlEntries: strings of every kind, arrays, inline tables, dotted keys", () => {
  const toml = [
    'a = "x\\ty\\u00e9"',
    "b = 'C:\\raw'",
    'c = """',
    "multi",
    'line"""',
    "d = '''x'y'''",
    "e = [1, 'two', [3], { k = \"v\" },] # c",
    "[t . 'q.k']",
    "x.y = true",
    "n = 1_000",
    "date = 1979-05-27T07:32:00Z",
    "[[arr]]",
    "z = 1",
  ].join("\n");
  const es = parseTomlEntries(toml);
  const v = (path: string) => {
    const e = es.find((e) => e.path.join("/") === path);
    assert.ok(e, path);
    return toValue(e.value);
  };
  assert.equal(v("a"), "x\tyé");
  assert.equal(v("b"), "C:\\raw");
  assert.equal(v("c"), "multi\nline");
  assert.equal(v("d"), "x'y");
  assert.deepEqual(v("e"), [1, "two", [3], { k: "v" }]);
  assert.equal(v("t/q.k/x/y"), true);
  assert.equal(v("t/q.k/n"), 1000);
  assert.equal(v("t/q.k/date"), null);
  assert.equal(v("arr/[]/z"), 1);
  assert.throws(() => parseTomlEntries('a = "open'));
  assert.throws(() => parseTomlEntries('a = "x" b'));
  assert.throws(() => parseTomlEntries("[open\nx = 1"));
});

Deno.test("parseClientConfig: Codex inline-table servers and CRLF files wrap and unwrap", () => {
  const loc = locationForPath("/h/.codex/config.toml");
  const text =
    '[mcp_servers]\r\ninline = { command = "npx", env = { K = "v-secret" } }\r\n\r\n[mcp_servers.b]\r\ncommand = "uvx"\r\n';
  const parsed = parseClientConfig(text, loc);
  assert.deepEqual(parsed.servers.map((s) => [s.name, s.command]), [["inline", "npx"], [
    "b",
    "uvx",
  ]]);
  const wrapped = applyEdits(text, parsed.servers.flatMap((s) => planWrap(s)));
  assert.ok(
    wrapped.includes(
      'inline = { command = "mcp-watchdog", args = ["--name", "inline", "--", "npx"], env',
    ),
  );
  assert.ok(
    wrapped.includes('command = "mcp-watchdog"\r\nargs = ["--name", "b", "--", "uvx"]\r\n'),
  );
  const after = parseClientConfig(wrapped, loc);
  assert.equal(applyEdits(wrapped, after.servers.flatMap((s) => planUnwrap(s, wrapped))), text);
});

Deno.test("findConfigs: existing files only, filtered by client, or the given one", () => {
  const files: Record<string, string> = {
    "/h/.cursor/mcp.json": "{}",
    "/p/.mcp.json": "{}",
    "/tmp/x.json": "{}",
  };
  const read = (p: string) => files[p];
  assert.deepEqual(findConfigs(HOST, read).map((c) => c.location.path), [
    "/h/.cursor/mcp.json",
    "/p/.mcp.json",
  ]);
  assert.deepEqual(findConfigs(HOST, read, { client: "cursor" }).map((c) => c.location.client), [
    "cursor",
  ]);
  assert.deepEqual(findConfigs(HOST, read, { config: "/tmp/x.json" }).map((c) => c.location.path), [
    "/tmp/x.json",
  ]);
});

Deno.test("parseClientId, secretArgs and maskSecrets", () => {
  assert.equal(parseClientId("Claude"), "claude-desktop");
  assert.equal(parseClientId("claude-code"), "claude-code");
  assert.equal(parseClientId("VS Code"), "vscode");
  assert.equal(parseClientId("codex"), "codex");
  assert.equal(parseClientId("emacs"), undefined);
  assert.deepEqual(
    secretArgs([
      "--api-key",
      "abcd1234",
      "--db-path",
      "/x",
      "TOKEN=xyz987",
      "ghp_0123456789abcdefghij",
      "--port",
      "8080",
    ]),
    ["abcd1234", "xyz987", "ghp_0123456789abcdefghij"],
  );
  assert.equal(maskSecrets("a sk-123456 b sk-123456", ["sk-123456", "x"]), "a *** b ***");
});
