import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore, StateStoreError } from "../src/adapters/sqlite_store.ts";
import {
  openSqliteStateStore,
  openStateStore,
  resolveStateDir,
  STATE_DB_FILE,
} from "../src/adapters/state_dir.ts";
import { MemoryStore } from "../src/store/memory_store.ts";
import { fixture, jsonLines, PROXY, run, tempDir } from "./helpers.ts";

const STORE_URL = new URL("../src/adapters/sqlite_store.ts", import.meta.url).href;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "wd-store-"));
}

Deno.test("state dir: --state-dir, then MCP_WATCHDOG_HOME, then ~/.mcp-watchdog", () => {
  assert.equal(resolveStateDir({ flag: "/x/y", env: () => "/env" }), "/x/y");
  assert.equal(
    resolveStateDir({ env: (n) => n === "MCP_WATCHDOG_HOME" ? "/env/wd" : undefined }),
    "/env/wd",
  );
  assert.equal(resolveStateDir({ env: () => undefined, home: "/home/u" }), "/home/u/.mcp-watchdog");
});

Deno.test("state dir: created 0700 with state.db inside; store works", () => {
  const t = tmp();
  try {
    const dir = join(t, "a", "b");
    const store = openSqliteStateStore(dir);
    store.put("ns", "k", { v: 1 });
    assert.deepEqual(store.get("ns", "k")?.value, { v: 1 });
    store.close();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.ok(statSync(join(dir, STATE_DB_FILE)).isFile());
  } finally {
    rmSync(t, { recursive: true });
  }
});

Deno.test("state store: a corrupt file gives a clear error, and openStateStore falls back to memory", () => {
  const t = tmp();
  try {
    writeFileSync(join(t, STATE_DB_FILE), "this is not a database, just text ".repeat(200));
    assert.throws(() => openSqliteStateStore(t), (e: unknown) => {
      assert.ok(e instanceof StateStoreError);
      assert.match(e.message, /state\.db/);
      assert.match(e.message, /corrupt or not SQLite/);
      return true;
    });
    const opened = openStateStore({ flag: t });
    assert.equal(opened.persistent, false);
    assert.ok(opened.store instanceof MemoryStore);
    assert.match(opened.warning ?? "", /warning: .*corrupt.*in-memory state/);
    opened.store.close();
  } finally {
    rmSync(t, { recursive: true });
  }
});

Deno.test("state store: a file locked by another process gives a clear error", async () => {
  const t = tmp();
  const path = join(t, STATE_DB_FILE);
  new SqliteStore(path).close();
  // Another process takes an exclusive lock and holds it until its stdin closes.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO kv VALUES ('x','y','1',1);");
       console.log("locked");
       for await (const _ of Deno.stdin.readable) { /* wait */ }
       db.exec("ROLLBACK"); db.close();`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /locked/);
  try {
    assert.throws(() => new SqliteStore(path, 100), (e: unknown) => {
      assert.ok(e instanceof StateStoreError);
      assert.match(e.message, /locked/);
      return true;
    });
    const opened = openStateStore({ flag: t, busyTimeoutMs: 100 });
    assert.equal(opened.persistent, false);
    assert.match(opened.warning ?? "", /locked/);
  } finally {
    await child.stdin.close();
    reader.releaseLock();
    await child.stdout.cancel();
    await child.status;
  }
  // Once released, it opens fine and is intact.
  const s = new SqliteStore(path);
  assert.equal(s.get("x", "y"), undefined);
  s.close();
  rmSync(t, { recursive: true });
});

Deno.test("state store: concurrent writer processes never corrupt the database", async () => {
  const t = tmp();
  const path = join(t, STATE_DB_FILE);
  const writers = 4, rounds = 150;
  const code = (w: number) =>
    `import { SqliteStore } from ${JSON.stringify(STORE_URL)};
     const s = new SqliteStore(${JSON.stringify(path)});
     for (let i = 0; i < ${rounds}; i++) {
       s.put("w${w}", "k" + i, { w: ${w}, i, pad: "x".repeat(200) });
       if (i % 10 === 0) s.putMany("shared", [{ key: "w${w}-" + i, value: i }, { key: "last", value: ${w} }]);
       if (i % 50 === 0) s.evict("shared", 0, 1000);
       s.get("shared", "last");
     }
     s.close();`;
  const procs = Array.from(
    { length: writers },
    (_, w) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", code(w)],
        stdout: "null",
        stderr: "piped",
      }).output(),
  );
  const results = await Promise.all(procs);
  for (const r of results) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const db = new DatabaseSync(path);
  const check = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
  db.close();
  assert.equal(check.integrity_check, "ok");
  const s = new SqliteStore(path);
  for (let w = 0; w < writers; w++) assert.equal(s.list(`w${w}`).length, rounds);
  assert.equal(s.list("shared", "w").length, writers * (rounds / 10));
  s.close();
  rmSync(t, { recursive: true });
});

Deno.test("SqliteStore and MemoryStore agree on the StateStore contract", () => {
  const t = tmp();
  try {
    for (const store of [new MemoryStore(), new SqliteStore(join(t, STATE_DB_FILE))]) {
      store.putMany("a:1", [{ key: "x1", value: 1 }, { key: "x2", value: [2] }, {
        key: "y",
        value: { z: "3" },
      }], 10);
      store.put("a:2", "k", null, 20);
      assert.deepEqual(store.getMany("a:1", ["x2", "missing", "y"]).map((r) => r.value), [[2], {
        z: "3",
      }]);
      assert.deepEqual(store.list("a:1", "x").map((r) => r.key), ["x1", "x2"]);
      assert.deepEqual(store.namespaces("a:"), ["a:1", "a:2"]);
      assert.equal(store.deleteKey("a:1", "x1"), true);
      assert.equal(store.deleteKey("a:1", "x1"), false);
      store.put("a:1", "new", 5, 30);
      assert.equal(store.evict("a:1", 15, 1), 2); // x2 and y are older than 15; then 1 record left
      assert.deepEqual(store.list("a:1").map((r) => r.key), ["new"]);
      assert.equal(store.delete("a:2"), 1);
      assert.deepEqual(store.namespaces("a:"), ["a:1"]);
      store.close();
    }
  } finally {
    rmSync(t, { recursive: true });
  }
});

Deno.test("e2e: a corrupt state file: the proxy says so and still serves, enforcing in memory", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/state.db`, "garbage, not SQLite ".repeat(100));
  const lines = [
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
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} },
  ].map((m) => JSON.stringify(m) + "\n").join("");
  const r = await run([
    ...PROXY,
    "--state-dir",
    dir.path,
    "--name",
    "mal",
    "--",
    Deno.execPath(),
    "run",
    fixture("malicious_server.ts"),
  ], lines);
  const out = jsonLines(r.stdout);
  const list = out.find((m) => m.id === 2) as { result: { tools: { name: string }[] } };
  assert.deepEqual(list.result.tools.map((t) => t.name), ["get_weather", "get_time"]);
  assert.match(r.stderr, /state\.db.*corrupt.*in-memory state/s);
});
