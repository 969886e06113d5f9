import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { DEFAULT_CONFIG, type WatchdogConfig } from "../src/config.ts";
import {
  argumentStrings,
  createScopeDetector,
  ROOTS_NS,
  type ScopeHost,
} from "../src/detectors/scope.ts";
import type { DetectorEnv, JsonRpcMessage, MessageVerdict } from "../src/pipeline/detector.ts";
import {
  inDeclaredScope,
  isWriteTool,
  mcpClientConfigFiles,
  rootsFromListResult,
  sensitiveLocation,
  serverRootsFromCommand,
} from "../src/scope.ts";
import { MemoryStore } from "../src/store/memory_store.ts";
import { SqliteStore } from "../src/adapters/sqlite_store.ts";
import type { Json } from "../src/types.ts";
import { connect, FILESYSTEM, PROXY, ROOT, SDK_TEST } from "./helpers.ts";

const H = "/home/u";

Deno.test("sensitiveLocation: the listed locations, case-insensitively", () => {
  const rule = (p: string) => sensitiveLocation(p, H)?.rule;
  assert.equal(rule("/home/u/proj/.git/config"), "l4-sensitive-git");
  assert.equal(rule("/home/u/proj/.git/hooks/pre-commit"), "l4-sensitive-git");
  assert.equal(rule("/home/u/.ssh/authorized_keys"), "l4-sensitive-credentials");
  assert.equal(rule("/home/u/.SSH/id_rsa"), "l4-sensitive-credentials");
  assert.equal(rule("/home/u/.aws/credentials"), "l4-sensitive-credentials");
  assert.equal(rule("/home/u/.gnupg/pubring.kbx"), "l4-sensitive-credentials");
  assert.equal(rule("/home/u/.npmrc"), "l4-sensitive-credentials");
  assert.equal(rule("/home/u/proj/.env"), "l4-sensitive-env");
  assert.equal(rule("/home/u/proj/.env.production"), "l4-sensitive-env");
  assert.equal(rule("/home/u/.bashrc"), "l4-sensitive-shell-rc");
  assert.equal(rule("/home/u/.zshrc"), "l4-sensitive-shell-rc");
  assert.equal(rule("/etc/profile"), "l4-sensitive-shell-rc");
  assert.equal(rule("/home/u/.claude.json"), "l4-sensitive-mcp-config");
  assert.equal(rule("/home/u/proj/.mcp.json"), "l4-sensitive-mcp-config");
  assert.equal(rule("/home/u/.cursor/mcp.json"), "l4-sensitive-mcp-config");
  assert.equal(rule("/home/u/.codeium/windsurf/mcp_config.json"), "l4-sensitive-mcp-config");
  assert.equal(rule("/home/u/proj/.vscode/mcp.json"), "l4-sensitive-mcp-config");
  assert.equal(rule("/home/u/.codex/config.toml"), "l4-sensitive-mcp-config");
  assert.equal(
    rule("/home/u/Library/Application Support/Claude/claude_desktop_config.json"),
    "l4-sensitive-mcp-config",
  );
  assert.equal(
    rule("/home/u/.config/Claude/claude_desktop_config.json"),
    "l4-sensitive-mcp-config",
  );
});

Deno.test("sensitiveLocation: ordinary files are not sensitive (false-positive guard)", () => {
  for (
    const p of [
      "/home/u/proj/README.md",
      "/home/u/proj/.git/HEAD",
      "/home/u/proj/.git",
      "/home/u/proj/.env.example",
      "/home/u/proj/.env.sample",
      "/home/u/proj/src/env.ts",
      "/home/u/proj/.gitignore",
      "/home/u/proj/docs/bashrc.md",
      "/home/u/proj/.bashrc", // a dotfiles repo: only the home's rc files run
      "/home/u/proj/.vscode/settings.json",
      "/home/u/proj",
      "/home/u",
    ]
  ) assert.equal(sensitiveLocation(p, H), undefined, p);
});

Deno.test("sensitiveLocation: client rule files are write-only sensitive", () => {
  assert.equal(sensitiveLocation("/home/u/p/.cursor/rules/a.mdc", H)?.writeOnly, true);
  assert.equal(sensitiveLocation("/home/u/p/.cursor/mcp.json", H)?.writeOnly, false);
});

Deno.test("isWriteTool from names and annotations", () => {
  for (
    const n of ["write_file", "edit_file", "create_directory", "move_file", "deleteFile", "fs.rm"]
  ) {
    assert.ok(isWriteTool(n), n);
  }
  for (
    const n of [
      "read_text_file",
      "list_directory",
      "search_files",
      "get_file_info",
      "directory_tree",
    ]
  ) {
    assert.ok(!isWriteTool(n), n);
  }
  assert.ok(isWriteTool("sync", { destructiveHint: true }));
  assert.ok(isWriteTool("sync", { readOnlyHint: false }));
  assert.ok(!isWriteTool("sync", { readOnlyHint: true }));
  assert.ok(isWriteTool("write_file", { readOnlyHint: true })); // the server's hint cannot unmake a write
});

Deno.test("serverRootsFromCommand keeps existing directories, skips flags, specs and scripts", () => {
  const dirs = new Set(["/w", "/home/u/proj", "/srv/app"]);
  const roots = serverRootsFromCommand(
    [
      "deno",
      "run",
      "-A",
      "npm:@modelcontextprotocol/server-filesystem",
      "/w",
      "~/proj",
      "stdio",
      "/srv/app/main.js",
      "/nope",
    ],
    { home: H, cwd: "/" },
    (p) => dirs.has(p),
  );
  assert.deepEqual(roots, ["/w", "/home/u/proj"]);
});

Deno.test("rootsFromListResult takes file roots only", () => {
  assert.deepEqual(
    rootsFromListResult({
      roots: [{ uri: "file:///w/a%20b/" }, { uri: "https://x/y" }, { name: "n" }],
    }, {
      home: H,
      cwd: "/",
    }),
    ["/w/a b"],
  );
  assert.deepEqual(rootsFromListResult(null, { home: H, cwd: "/" }), []);
});

Deno.test("inDeclaredScope and mcpClientConfigFiles", () => {
  assert.ok(inDeclaredScope("/w/a", ["/x", "/w"]));
  assert.ok(!inDeclaredScope("/wx", ["/w"]));
  const files = mcpClientConfigFiles(H, "/home/u/proj");
  assert.ok(files.includes("/home/u/.claude.json"));
  assert.ok(files.includes("/home/u/proj/.mcp.json"));
  assert.ok(files.includes("/home/u/.config/Claude/claude_desktop_config.json"));
  assert.ok(
    files.includes("/home/u/Library/Application Support/Claude/claude_desktop_config.json"),
  );
  // Every location the scanner knows is refused even without the exact list (any project, any home).
  for (const f of files.filter((f) => f.startsWith("/"))) {
    assert.ok(sensitiveLocation(f, H) !== undefined, f);
  }
  // XDG_CONFIG_HOME moves configs: the exact list follows it.
  const xdg = mcpClientConfigFiles(H, "/p", (n) => n === "XDG_CONFIG_HOME" ? "/xdg" : undefined);
  assert.ok(xdg.includes("/xdg/Code/User/mcp.json"));
  const set = new Set(xdg.map((p) => p.toLowerCase()));
  assert.equal(
    sensitiveLocation("/xdg/Code/User/mcp.json", H, set)?.rule,
    "l4-sensitive-mcp-config",
  );
});

Deno.test("argumentStrings walks nested arguments with pointers and keys", () => {
  assert.deepEqual(
    argumentStrings({ paths: ["/a"], o: { "x/y": "v" }, n: 1 }, "/params/arguments"),
    [
      { path: "/params/arguments/paths/0", key: "paths", text: "/a" },
      { path: "/params/arguments/o/x~1y", key: "x/y", text: "v" },
    ],
  );
});

// ---- the detector ----

function setup(over: Partial<WatchdogConfig> = {}, host: Partial<ScopeHost> = {}) {
  const config: WatchdogConfig = { ...DEFAULT_CONFIG, ...over };
  const h: ScopeHost = { home: H, cwd: "/home/u/proj", isDirectory: () => false, ...host };
  const detector = createScopeDetector(config, h);
  const store = new MemoryStore();
  const env: DetectorEnv = {
    server: { name: "fs", key: "fs-1" },
    session: "sess",
    store,
    config,
    now: () => 1000,
  };
  let id = 0;
  const call = (name: string, args: { [k: string]: Json }): MessageVerdict | undefined =>
    detector.inspect(
      { jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name, arguments: args } },
      { server: "fs", direction: "client_to_server", method: "tools/call", id },
      env,
    );
  return { detector, env, store, call };
}

Deno.test("scope detector: E1 writes refused, ordinary write kept (HOME is the scope)", () => {
  const { call } = setup({ allowPaths: [H] });
  const w = "/home/u/proj";
  const a = call("write_file", { path: `${w}/.git/config`, content: "[core]" });
  assert.equal(a?.block?.code, -32001);
  assert.match(a!.block!.message, /l4-sensitive-git/);
  assert.equal(a!.findings[0].path, "/params/arguments/path");
  assert.equal(a!.findings[0].layer, "L4-scope");
  assert.match(
    call("write_file", { path: `${w}/.mcp.json`, content: "{}" })!.block!.message,
    /mcp-config/,
  );
  const trav = call("write_file", { path: `${w}/src/../../.ssh/authorized_keys`, content: "k" });
  assert.match(trav!.block!.message, /l4-sensitive-credentials/);
  assert.equal(call("write_file", { path: `${w}/src/notes.txt`, content: "hello" }), undefined);
});

Deno.test("scope detector: reads in scope pass; only the sensitive list is refused for reads", () => {
  const { call } = setup({ allowPaths: ["/home/u/proj"] });
  assert.equal(call("read_text_file", { path: "/home/u/proj/README.md" }), undefined);
  assert.equal(call("list_directory", { path: "/home/u/proj" }), undefined);
  assert.equal(call("read_text_file", { path: "/home/u/proj/.git/HEAD" }), undefined);
  assert.equal(call("read_text_file", { path: "/home/u/proj/.env.example" }), undefined);
  // A read outside the scope is the server's business, not a Layer 4 refusal.
  assert.equal(call("read_text_file", { path: "/etc/hostname" }), undefined);
  assert.match(
    call("read_text_file", { path: "/home/u/proj/.env" })!.block!.message,
    /l4-sensitive-env/,
  );
  assert.match(call("read_file", { path: "~/.aws/credentials" })!.block!.message, /credentials/);
  assert.ok(
    call("read_multiple_files", { paths: ["/home/u/proj/a", "/home/u/.ssh/id_ed25519"] })?.block,
  );
});

Deno.test("scope detector: write outside the declared scope, and the tricks", () => {
  const { call } = setup({ allowPaths: ["/home/u/proj"] });
  const out = call("write_file", { path: "/tmp/x.sh", content: "echo" });
  assert.match(out!.block!.message, /l4-write-outside-scope/);
  assert.ok(
    call("write_file", { path: "/home/u/proj/../other/x", content: "" })?.block,
    "traversal",
  );
  assert.ok(
    call("write_file", { path: "/home/u/proj/%2e%2e/other/x", content: "" })?.block,
    "percent",
  );
  assert.ok(
    call("write_file", { path: "/home/u/proj/%252e%252e/other", content: "" })?.block,
    "double",
  );
  assert.ok(call("write_file", { path: "file:///home/u/other/x", content: "" })?.block, "file URI");
  assert.ok(call("create_directory", { path: "/home/u/projX" })?.block, "prefix sibling");
  assert.ok(
    call("move_file", { source: "/home/u/proj/a", destination: "/home/u/elsewhere/a" })?.block,
    "move destination",
  );
  assert.ok(
    call("move_file", { source: "/elsewhere/a", destination: "/home/u/proj/a" })?.block,
    "move source",
  );
  assert.equal(
    call("copy_file", { source: "/elsewhere/a", destination: "/home/u/proj/a" }),
    undefined,
  );
  assert.equal(
    call("write_file", { path: "notes/today.md", content: "/tmp/x" }),
    undefined,
    "relative, content",
  );
  assert.equal(
    call("edit_file", { path: "/home/u/proj/a.ts", edits: [{ oldText: "/x", newText: "/y" }] }),
    undefined,
  );
});

Deno.test("scope detector: no declared scope means only sensitive locations are refused", () => {
  const { call } = setup();
  assert.equal(call("write_file", { path: "/tmp/anything", content: "x" }), undefined);
  assert.ok(call("write_file", { path: "/home/u/.bashrc", content: "x" })?.block);
});

Deno.test("scope detector: loose path-looking strings are checked for sensitive places only", () => {
  const { call } = setup({ allowPaths: ["/home/u/proj"] });
  assert.ok(call("run", { args: ["cat", "/home/u/.ssh/id_rsa"] })?.block);
  assert.equal(call("send_email", { to: "a@b.c", body: "see ~/.ssh/config" }), undefined);
  assert.equal(
    call("search", { query: "/home/u/.ssh" }),
    undefined,
    "content-like keys are never paths",
  );
});

Deno.test("scope detector: server command-line roots and client roots declare the scope", () => {
  const { call, detector, env, store } = setup({
    serverCommand: ["node", "fs.js", "/srv/data"],
  }, { isDirectory: (p) => p === "/srv/data" });
  assert.equal(call("write_file", { path: "/srv/data/x", content: "" }), undefined);
  assert.ok(call("write_file", { path: "/srv/other/x", content: "" })?.block);
  // The client answers the server's roots/list with a root: it joins the scope.
  const answer: JsonRpcMessage = {
    jsonrpc: "2.0",
    id: 0,
    result: { roots: [{ uri: "file:///home/u/work" }] },
  };
  detector.inspect(answer, {
    server: "fs",
    direction: "client_to_server",
    method: "roots/list",
    id: 0,
  }, env);
  assert.deepEqual(store.get(ROOTS_NS, "sess|fs-1")?.value, ["/home/u/work"]);
  assert.equal(call("write_file", { path: "/home/u/work/y", content: "" }), undefined);
});

Deno.test("scope detector: symlink out of scope into ~/.ssh is refused (real temp files)", () => {
  const dir = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    Deno.mkdirSync(`${dir}/proj`);
    Deno.mkdirSync(`${dir}/.ssh`);
    Deno.symlinkSync(`${dir}/.ssh`, `${dir}/proj/keys`);
    Deno.symlinkSync(`/tmp`, `${dir}/proj/tmp`);
    const realPath = (p: string) => {
      try {
        return Deno.realPathSync(p);
      } catch {
        return undefined;
      }
    };
    const { call } = setup({ allowPaths: [`${dir}/proj`] }, {
      home: dir,
      cwd: `${dir}/proj`,
      realPath,
    });
    assert.match(
      call("write_file", { path: `${dir}/proj/keys/authorized_keys`, content: "k" })!.block!
        .message,
      /credentials/,
    );
    assert.match(call("read_text_file", { path: "keys/id_rsa" })!.block!.message, /credentials/);
    assert.match(
      call("write_file", { path: `${dir}/proj/tmp/evil`, content: "" })!.block!.message,
      /outside/,
    );
    assert.equal(call("write_file", { path: `${dir}/proj/new.txt`, content: "" }), undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scope detector: resources/read of a sensitive file URI is refused", () => {
  const { detector, env } = setup();
  const v = detector.inspect(
    {
      jsonrpc: "2.0",
      id: 9,
      method: "resources/read",
      params: { uri: "file:///home/u/.aws/credentials" },
    },
    { server: "fs", direction: "client_to_server", method: "resources/read", id: 9 },
    env,
  );
  assert.ok(v?.block);
  const ok = detector.inspect(
    {
      jsonrpc: "2.0",
      id: 10,
      method: "resources/read",
      params: { uri: "file:///home/u/proj/README.md" },
    },
    { server: "fs", direction: "client_to_server", method: "resources/read", id: 10 },
    env,
  );
  assert.equal(ok, undefined);
});

Deno.test("scope detector: pinned annotations make an oddly named tool a write", () => {
  const { call, store, detector, env } = setup({ allowPaths: ["/home/u/proj"] });
  assert.equal(call("sync_to", { path: "/tmp/out" }), undefined);
  // Layer 1 pins the annotations when the tools are listed (a tools/list round trip).
  detector.inspect(
    { jsonrpc: "2.0", id: 99, method: "tools/list" },
    { server: "fs", direction: "client_to_server", method: "tools/list", id: 99 },
    env,
  );
  store.put("pins:fs-1", "tool:sync_to", {
    def: { name: "sync_to", annotations: { destructiveHint: true } },
  });
  assert.ok(call("sync_to", { path: "/tmp/out" })?.block);
});

// ---- end to end: server-filesystem behind the proxy (real processes, real files) ----

const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

Deno.test({
  name:
    "e2e: server-filesystem behind the proxy: sensitive and out-of-scope writes refused, tricks too",
  ...SDK_TEST,
  async fn() {
    const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-scope-" }));
    const outside = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-outside-" }));
    const w = `${t}/proj`;
    Deno.mkdirSync(`${w}/.git`, { recursive: true });
    Deno.mkdirSync(`${w}/src`);
    Deno.mkdirSync(`${t}/.ssh`);
    Deno.writeTextFileSync(`${w}/README.md`, "# hello\n");
    Deno.writeTextFileSync(`${w}/.git/HEAD`, "ref: refs/heads/main\n");
    Deno.symlinkSync(`${t}/.ssh`, `${w}/keys`);
    Deno.symlinkSync(outside, `${w}/out`);
    // HOME is the scratch dir (so ~/.ssh is ${t}/.ssh); Deno keeps its real cache.
    const client = await connect(
      [...PROXY, "--quiet", "--state-dir", `${t}/state`, "--", ...FILESYSTEM, w],
      { capabilities: false, env: { HOME: t, DENO_DIR } },
    );
    const refused = async (name: string, args: Record<string, unknown>, rule: RegExp) => {
      await assert.rejects(() => client.callTool({ name, arguments: args }), (e: Error) => {
        assert.match(e.message, /mcp-watchdog/);
        assert.match(e.message, rule);
        return true;
      }, `${name} ${JSON.stringify(args)}`);
    };
    try {
      await refused(
        "write_file",
        { path: `${w}/.git/config`, content: "[core]\n\tsshCommand = x" },
        /l4-sensitive-git/,
      );
      await refused(
        "write_file",
        { path: `${w}/.mcp.json`, content: "{}" },
        /l4-sensitive-mcp-config/,
      );
      await refused(
        "write_file",
        { path: `${w}/src/../../.ssh/authorized_keys`, content: "k" },
        /l4-sensitive-credentials/,
      );
      await refused(
        "write_file",
        { path: `${w}/%2e%2e/.ssh/authorized_keys`, content: "k" },
        /l4-sensitive-credentials/,
      );
      await refused(
        "write_file",
        { path: `${w}/keys/authorized_keys`, content: "k" },
        /l4-sensitive-credentials/,
      );
      await refused(
        "write_file",
        { path: `${w}/out/dropped.sh`, content: "x" },
        /l4-write-outside-scope/,
      );
      await refused(
        "write_file",
        { path: `${w}/../escape.txt`, content: "x" },
        /l4-write-outside-scope/,
      );
      await refused("read_text_file", { path: "~/.ssh/id_rsa" }, /l4-sensitive-credentials/);
      await refused("write_file", { path: `${w}/.env`, content: "A=1" }, /l4-sensitive-env/);
      // Nothing reached the disk.
      for (
        const p of [
          `${w}/.git/config`,
          `${w}/.mcp.json`,
          `${t}/.ssh/authorized_keys`,
          `${outside}/dropped.sh`,
          `${t}/escape.txt`,
          `${w}/.env`,
        ]
      ) {
        assert.ok(!existsSync(p), p);
      }
      // Ordinary work is untouched (false-positive guards).
      const ok = await client.callTool({
        name: "write_file",
        arguments: { path: `${w}/src/notes.txt`, content: "hello" },
      });
      assert.ok(!ok.isError);
      assert.equal(Deno.readTextFileSync(`${w}/src/notes.txt`), "hello");
      const readme = await client.callTool({
        name: "read_text_file",
        arguments: { path: `${w}/README.md` },
      });
      assert.match(JSON.stringify(readme.content), /# hello/);
      const head = await client.callTool({
        name: "read_text_file",
        arguments: { path: `${w}/.git/HEAD` },
      });
      assert.match(JSON.stringify(head.content), /refs\/heads\/main/);
      const list = await client.callTool({ name: "list_directory", arguments: { path: w } });
      assert.match(JSON.stringify(list.content), /README\.md/);
    } finally {
      await client.close();
      Deno.removeSync(t, { recursive: true });
      Deno.removeSync(outside, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: least privilege: the proxy works under a tight Deno command line",
  ...SDK_TEST,
  async fn() {
    const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-lp-" }));
    Deno.mkdirSync(`${t}/proj/.git`, { recursive: true });
    const tight = [
      Deno.execPath(),
      "run",
      "--no-prompt",
      `--allow-run=${Deno.execPath()}`,
      "--allow-read",
      `--allow-write=${t}/state`,
      "--allow-env=HOME,MCP_WATCHDOG_HOME,MCP_WATCHDOG_SESSION,NO_COLOR,ANTHROPIC_API_KEY,ANTHROPIC_BASE_URL,XDG_CONFIG_HOME,APPDATA,CODEX_HOME",
      `${ROOT}cli.ts`,
    ];
    const client = await connect([
      ...tight,
      "--quiet",
      "--state-dir",
      `${t}/state`,
      "--",
      ...FILESYSTEM,
      `${t}/proj`,
    ], {
      capabilities: false,
      env: { DENO_DIR },
    });
    try {
      const ok = await client.callTool({
        name: "write_file",
        arguments: { path: `${t}/proj/a.txt`, content: "x" },
      });
      assert.ok(!ok.isError);
      assert.equal(Deno.readTextFileSync(`${t}/proj/a.txt`), "x");
      await assert.rejects(
        () =>
          client.callTool({
            name: "write_file",
            arguments: { path: `${t}/proj/.git/config`, content: "x" },
          }),
        /l4-sensitive-git/,
      );
      assert.ok(
        existsSync(`${t}/state/state.db`),
        "the state database was opened under the tight permissions",
      );
    } finally {
      await client.close();
      Deno.removeSync(t, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: the client's MCP roots (roots/list answer) join the declared scope",
  ...SDK_TEST,
  async fn() {
    const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-roots-" }));
    const outside = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-roots-out-" }));
    Deno.mkdirSync(`${t}/proj`);
    // The helper client answers roots/list with file:///tmp; server-filesystem then serves /tmp.
    const client = await connect([
      ...PROXY,
      "--quiet",
      "--state-dir",
      `${t}/state`,
      "--",
      ...FILESYSTEM,
      `${t}/proj`,
    ], {
      env: { DENO_DIR, MCP_WATCHDOG_SESSION: "roots-e2e" },
    });
    try {
      const store = new SqliteStore(`${t}/state/state.db`);
      try {
        const end = Date.now() + 15_000;
        let roots: string[] = [];
        while (Date.now() < end) {
          const rec = store.list<string[]>(ROOTS_NS).find((r) => r.key.startsWith("roots-e2e|"));
          if (rec) {
            roots = rec.value;
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(roots.includes("/tmp"), `learned roots: ${roots}`);
      } finally {
        store.close();
      }
      if (outside.startsWith("/tmp/")) {
        const r = await client.callTool({
          name: "write_file",
          arguments: { path: `${outside}/x.txt`, content: "x" },
        });
        assert.ok(!r.isError, JSON.stringify(r.content));
      }
    } finally {
      await client.close();
      Deno.removeSync(t, { recursive: true });
      Deno.removeSync(outside, { recursive: true });
    }
  },
});

Deno.test("scope detector: relative paths resolve against the working directory and each root", () => {
  const { call } = setup({ serverCommand: ["node", "fs.js", "/srv/a", "/srv/b"] }, {
    cwd: "/",
    isDirectory: (p) => p === "/srv/a" || p === "/srv/b",
  });
  // Regression: with the proxy's cwd outside the roots, a relative write was refused although
  // server-filesystem resolves it under a root.
  assert.equal(call("write_file", { path: "notes/probe.txt", content: "x" }), undefined);
  assert.match(
    call("write_file", { path: ".git/config", content: "x" })!.block!.message,
    /l4-sensitive-git/,
  );
  assert.match(
    call("read_text_file", { path: "../../home/u/.ssh/id_rsa" })!.block!.message,
    /credentials/,
  );
  assert.match(
    call("write_file", { path: "../../etc/cron.d/x", content: "x" })!.block!.message,
    /outside/,
  );
});

Deno.test("scope detector: relative paths in a remote repository are not local files (false-positive guard)", () => {
  const { call } = setup({ allowPaths: ["/home/u/proj"] });
  // GitHub's create_or_update_file / get_file_contents address files in a remote repository.
  assert.equal(
    call("create_or_update_file", {
      owner: "o",
      repo: "r",
      path: ".github/workflows/ci.yml",
      content: "x",
    }),
    undefined,
  );
  assert.equal(
    call("get_file_contents", { owner: "o", repo: "r", path: ".env.example" }),
    undefined,
  );
  assert.equal(
    call("get_file_contents", { owner: "o", repo: "r", path: "config/.mcp.json" }),
    undefined,
  );
  // A local absolute path is still judged; a local git server's repo_path is local.
  assert.ok(
    call("create_or_update_file", { owner: "o", repo: "r", path: "/home/u/.bashrc", content: "x" })
      ?.block,
  );
  assert.ok(call("git_add", { repo_path: "/home/u/proj", files: [".env"] })?.block);
});

Deno.test("sensitiveLocation: trailing dots and spaces (Windows) do not hide a location", () => {
  assert.equal(sensitiveLocation("/home/u/p/.git./config.", H)?.rule, "l4-sensitive-git");
  assert.equal(sensitiveLocation("/home/u/p/.env ", H)?.rule, "l4-sensitive-env");
  assert.equal(sensitiveLocation("/home/u/p/.env.example.", H), undefined);
});

Deno.test("scope detector: a Windows-style path to .ssh is refused", () => {
  const { call } = setup();
  assert.ok(call("read_text_file", { path: "C:\\Users\\u\\.ssh\\id_rsa" })?.block);
});

Deno.test("scope detector: prose that starts with a path is not a path (false-positive regression)", () => {
  const { call } = setup({ allowPaths: ["/home/u/proj"] });
  assert.equal(
    call("create_issue", { title: "~/.ssh is world readable", body: "see title" }),
    undefined,
  );
  assert.equal(call("create_issue", { title: "/etc is full" }), undefined);
  assert.ok(
    call("create_issue", { attachment: "~/.ssh/id_rsa" })?.block,
    "a bare path still counts",
  );
});

Deno.test({
  name: "e2e: --mode monitor reports but never refuses a Layer 4 violation",
  ...SDK_TEST,
  async fn() {
    const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-monitor-" }));
    Deno.mkdirSync(`${t}/proj/.git`, { recursive: true });
    const client = await connect(
      [
        ...PROXY,
        "--quiet",
        "--mode",
        "monitor",
        "--audit-log",
        `${t}/audit.jsonl`,
        "--state-dir",
        `${t}/state`,
        "--",
        ...FILESYSTEM,
        `${t}/proj`,
      ],
      { capabilities: false, env: { DENO_DIR } },
    );
    try {
      const r = await client.callTool({
        name: "write_file",
        arguments: { path: `${t}/proj/.git/config`, content: "x" },
      });
      assert.ok(!r.isError);
      assert.equal(Deno.readTextFileSync(`${t}/proj/.git/config`), "x");
      const audit = Deno.readTextFileSync(`${t}/audit.jsonl`);
      assert.match(audit, /"rule":"l4-sensitive-git"/);
      assert.match(audit, /"action":"alerted"/);
    } finally {
      await client.close();
      Deno.removeSync(t, { recursive: true });
    }
  },
});
