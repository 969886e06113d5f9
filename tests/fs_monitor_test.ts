import assert from "node:assert/strict";
import {
  CallTracker,
  configDiff,
  FsMonitor,
  listVersions,
  readTainted,
  snapshotConfigs,
  snapshotDir,
  startSessionMonitor,
  type Watch,
} from "../src/adapters/fs_monitor.ts";
import { existsSync } from "node:fs";
import { runRestore } from "../src/cli/restore.ts";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { MemoryStore } from "../src/store/memory_store.ts";
import { connect, FILESYSTEM, SDK_TEST } from "./helpers.ts";
import type { Finding } from "../src/types.ts";

/** The Deno watcher, as the proxy's runtime adapter provides it. */
const denoWatch: Watch = (paths, recursive, onEvent) => {
  const w = Deno.watchFs([...paths], { recursive });
  (async () => {
    try {
      for await (const e of w) onEvent({ kind: e.kind, paths: e.paths });
    } catch { /* closed */ }
  })();
  return () => {
    try {
      w.close();
    } catch { /* already closed */ }
  };
};

/** Wait (bounded) until `pred` holds; file events are asynchronous. */
async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tempHome(): string {
  const t = Deno.realPathSync(Deno.makeTempDirSync());
  Deno.mkdirSync(`${t}/proj/.git`, { recursive: true });
  Deno.mkdirSync(`${t}/.ssh`);
  Deno.mkdirSync(`${t}/state`);
  return t;
}

Deno.test("CallTracker keeps ended calls for the grace period only", () => {
  let now = 0;
  const c = new CallTracker(100, () => now);
  c.start(1, "write_file");
  c.start("b", "read");
  c.end(1);
  assert.deepEqual(c.inFlight().map((x) => x.tool), ["write_file", "read"]);
  now = 500;
  assert.deepEqual(c.inFlight().map((x) => x.id), ["b"]);
});

Deno.test("configDiff masks secrets and shows the added server", () => {
  const before = JSON.stringify({
    mcpServers: { a: { command: "node", env: { API_KEY: "hunter2" } } },
  });
  const after = JSON.stringify({
    mcpServers: {
      a: { command: "node", env: { API_KEY: "hunter3" } },
      evil: { command: "curl", args: ["https://x.example/AbC123dEf456GhI789jKl"] },
    },
  });
  const d = configDiff(before, after).join("\n");
  assert.match(d, /\+ mcpServers\.evil\.command: curl/);
  assert.ok(!d.includes("hunter"), d);
  assert.ok(!d.includes("AbC123dEf456GhI789jKl"), d);
});

Deno.test("snapshotConfigs: versions on change, unchanged kept, tainted content never a baseline", () => {
  const t = tempHome();
  try {
    const cfg = `${t}/.claude.json`;
    const state = `${t}/state`;
    Deno.writeTextFileSync(cfg, '{"mcpServers":{}}');
    assert.deepEqual(snapshotConfigs(state, [cfg, `${t}/none.json`], 1000).map((r) => r.state), [
      "saved",
      "absent",
    ]);
    assert.equal(snapshotConfigs(state, [cfg], 2000)[0].state, "unchanged");
    const dir = snapshotDir(state, cfg);
    assert.equal((Deno.statSync(listVersions(dir)[0].file).mode ?? 0) & 0o777, 0o600);
    Deno.writeTextFileSync(cfg, '{"mcpServers":{"b":{}}}');
    assert.equal(snapshotConfigs(state, [cfg], 3000)[0].state, "saved");
    assert.equal(listVersions(dir).length, 2);
    // Content seen changing during a session is tainted: not saved at the next start.
    Deno.writeTextFileSync(cfg, '{"mcpServers":{"evil":{}}}');
    Deno.writeTextFileSync(`${dir}/tainted.json`, "[]");
    const mon = new FsMonitor({
      server: "fs",
      home: t,
      cwd: `${t}/proj`,
      stateDir: state,
      roots: () => [],
      inFlight: () => [],
      report: () => {},
      configFiles: [cfg],
      watch: () => () => {},
    });
    mon.handle({ kind: "modify", paths: [cfg] });
    assert.equal(readTainted(dir).length, 1);
    assert.equal(snapshotConfigs(state, [cfg], 4000)[0].state, "tainted");
    assert.equal(listVersions(dir).length, 2);
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
});

Deno.test("FsMonitor.watchPlan: home and roots shallow, credential dirs deep, .git watched, missing dropped", () => {
  const t = tempHome();
  try {
    const mon = new FsMonitor({
      server: "fs",
      home: t,
      cwd: `${t}/proj`,
      stateDir: `${t}/state`,
      roots: () => [t, `${t}/proj`],
      inFlight: () => [],
      report: () => {},
      watch: () => () => {},
    });
    const plan = mon.watchPlan();
    assert.deepEqual(plan.find((p) => p.path === t), { path: t, recursive: false });
    assert.deepEqual(plan.find((p) => p.path === `${t}/.ssh`), {
      path: `${t}/.ssh`,
      recursive: true,
    });
    const proj = plan.find((p) => p.path === `${t}/proj`);
    assert.deepEqual(proj, { path: `${t}/proj`, recursive: false });
    const git = plan.find((p) => p.path === `${t}/proj/.git`);
    assert.deepEqual(git, { path: `${t}/proj/.git`, recursive: false });
    assert.ok(!plan.some((p) => p.path === `${t}/.aws`), "missing paths are not watched");
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
});

Deno.test("FsMonitor (real Deno.watchFs): sensitive write attributed to the call in flight; config change with diff", async () => {
  const t = tempHome();
  const found: Finding[] = [];
  const calls = new CallTracker();
  const cfg = `${t}/proj/.mcp.json`;
  Deno.writeTextFileSync(cfg, '{"mcpServers":{"ok":{"command":"node"}}}');
  const mon = new FsMonitor({
    server: "fs",
    home: t,
    cwd: `${t}/proj`,
    stateDir: `${t}/state`,
    roots: () => [`${t}/proj`],
    inFlight: () => calls.inFlight(),
    report: (f) => found.push(f),
    watch: denoWatch,
  });
  try {
    const snaps = mon.start();
    assert.equal(snaps.find((s) => s.path === cfg)?.state, "saved");
    // Give the watcher a moment to be established, then write while a call is in flight.
    await new Promise((r) => setTimeout(r, 200));
    calls.start(7, "write_file");
    Deno.writeTextFileSync(`${t}/proj/.git/config`, "[core]\n\tsshCommand = evil\n");
    Deno.writeTextFileSync(`${t}/.ssh/authorized_keys`, "ssh-ed25519 AAAA attacker\n");
    Deno.writeTextFileSync(
      cfg,
      '{"mcpServers":{"ok":{"command":"node"},"evil":{"command":"curl"}}}',
    );
    Deno.writeTextFileSync(`${t}/proj/notes.txt`, "fine");
    calls.end(7);
    await until(() =>
      found.some((f) => f.rule === "l4-mcp-config-changed") &&
      found.filter((f) => f.rule === "l4-fs-sensitive-write").length >= 2, "findings");
    const git = found.find((f) => f.evidence === `${t}/proj/.git/config`)!;
    assert.equal(git.tool, "write_file");
    assert.equal(git.severity, "critical");
    assert.ok(found.some((f) => f.evidence === `${t}/.ssh/authorized_keys`));
    const c = found.find((f) => f.rule === "l4-mcp-config-changed")!;
    assert.match(c.message, /mcp-watchdog restore --state-dir/);
    assert.ok(
      (c.details!.diff as string[]).some((l) => l.includes("+ mcpServers.evil.command: curl")),
    );
    assert.ok(
      !found.some((f) => f.evidence === `${t}/proj/notes.txt`),
      "an ordinary write in scope is silent",
    );
  } finally {
    mon.stop();
    Deno.removeSync(t, { recursive: true });
  }
});

Deno.test("FsMonitor: unattributed write outside the scope is ignored, outside-scope write during a call is reported", () => {
  const found: Finding[] = [];
  let calls: { id: number; tool: string; since: number }[] = [];
  const mon = new FsMonitor({
    server: "fs",
    home: "/home/u",
    cwd: "/home/u/proj",
    stateDir: "/home/u/.mcp-watchdog",
    roots: () => ["/home/u/proj"],
    inFlight: () => calls,
    report: (f) => found.push(f),
    configFiles: [],
    watch: () => () => {},
  });
  mon.handle({ kind: "create", paths: ["/home/u/other.txt"] });
  assert.equal(found.length, 0);
  mon.handle({ kind: "modify", paths: ["/home/u/.mcp-watchdog/state.db"] });
  assert.equal(found.length, 0, "our own state dir is ignored");
  calls = [{ id: 1, tool: "write_file", since: 0 }];
  mon.handle({ kind: "create", paths: ["/home/u/other.txt"] });
  mon.handle({ kind: "modify", paths: ["/home/u/other.txt"] }); // same write, second event: once
  assert.equal(found.length, 1);
  assert.equal(found[0].rule, "l4-fs-write-outside-scope");
  assert.equal(found[0].tool, "write_file");
  mon.handle({ kind: "access", paths: ["/home/u/.bashrc"] });
  assert.equal(found.length, 1, "reads are not writes");
});

Deno.test({
  name:
    "e2e: server-filesystem writes .mcp.json (pre-flight bypassed): reported with a diff, then restored",
  ...SDK_TEST,
  async fn() {
    const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-mon-" }));
    Deno.mkdirSync(`${t}/proj`);
    const cfg = `${t}/proj/.mcp.json`;
    const good = '{"mcpServers":{"fs":{"command":"npx","args":["server-filesystem"]}}}';
    Deno.writeTextFileSync(cfg, good);
    const found: Finding[] = [];
    const m = startSessionMonitor({
      config: { ...DEFAULT_CONFIG, serverCommand: [...FILESYSTEM, `${t}/proj`] },
      host: {
        homeDir: t,
        cwd: `${t}/proj`,
        isDirectory: (p) => existsSync(p) && Deno.statSync(p).isDirectory,
      },
      store: new MemoryStore(),
      session: "s",
      server: { name: "fs", key: "fs#1" },
      stateDir: `${t}/state`,
      report: (f) => found.push(f),
      watch: denoWatch,
    });
    // The server directly, no proxy: what the monitor sees if a write slipped past the pre-flight.
    const client = await connect([...FILESYSTEM, `${t}/proj`], { capabilities: false });
    try {
      assert.equal(m.snapshots.find((s) => s.path === cfg)?.state, "saved");
      await new Promise((r) => setTimeout(r, 200)); // let the watcher settle
      m.calls.start(1, "write_file");
      const evil =
        '{"mcpServers":{"fs":{"command":"npx","args":["server-filesystem"]},"x":{"command":"curl"}}}';
      const r = await client.callTool({
        name: "write_file",
        arguments: { path: cfg, content: evil },
      });
      m.calls.end(1);
      assert.ok(!r.isError);
      await until(
        () => found.some((f) => f.rule === "l4-mcp-config-changed"),
        "config change finding",
      );
      const f = found.find((f) => f.rule === "l4-mcp-config-changed")!;
      assert.equal(f.tool, "write_file");
      assert.match(f.message, /during fs's write_file call/);
      assert.ok(
        (f.details!.diff as string[]).some((l) => l.includes("+ mcpServers.x.command: curl")),
      );
      // Undo it.
      const out: string[] = [];
      const code = await runRestore([cfg], {
        stdout: (s) => out.push(s),
        stderr: (s) => out.push(s),
        stateDir: `${t}/state`,
      });
      assert.equal(code, 0, out.join(""));
      assert.equal(Deno.readTextFileSync(cfg), good);
    } finally {
      m.stop();
      await client.close();
      Deno.removeSync(t, { recursive: true });
    }
  },
});

Deno.test("CallTracker stays bounded when no file event ever sweeps it (regression: unbounded growth)", () => {
  let now = 0;
  const t = new CallTracker(1500, () => now);
  for (let i = 0; i < 20_000; i++) {
    t.start(i, "echo");
    t.end(i);
    now += 1; // 20 s of calls, 1 ms apart
  }
  // At most twice the calls of the grace window (1,500) plus the in-flight ones, far below 20,000.
  assert.ok(t.size <= 3_100, `remembered ${t.size} calls`);
  // A call still in flight is kept through sweeps.
  t.start("long", "slow_tool");
  for (let i = 0; i < 5_000; i++) {
    t.start(`x${i}`, "echo");
    t.end(`x${i}`);
    now += 1;
  }
  assert.ok(t.inFlight().some((c) => c.id === "long"));
});
