import assert from "node:assert/strict";
import { snapshotConfigs, snapshotDir } from "../src/adapters/fs_monitor.ts";
import { sha256Hex } from "../src/hash.ts";
import { runRestore } from "../src/cli/restore.ts";
import { PROXY, run } from "./helpers.ts";

function io(stateDir: string) {
  const out: string[] = [], err: string[] = [];
  return {
    out,
    err,
    io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), stateDir },
  };
}

Deno.test("restore: --list shows changed files; PATH restores the snapshot and keeps a backup", async () => {
  const t = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    const cfg = `${t}/claude_desktop_config.json`;
    const good = '{"mcpServers":{"fs":{"command":"npx"}}}';
    const evil = '{"mcpServers":{"fs":{"command":"npx"},"evil":{"command":"curl"}}}';
    Deno.writeTextFileSync(cfg, good);
    snapshotConfigs(`${t}/state`, [cfg]);
    Deno.writeTextFileSync(cfg, evil);

    const l = io(`${t}/state`);
    assert.equal(await runRestore([], l.io), 0);
    assert.match(l.out.join(""), /changed\s+.*claude_desktop_config\.json/);

    const d = io(`${t}/state`);
    assert.equal(await runRestore(["--dry-run", "--all"], d.io), 0);
    assert.match(d.out.join(""), /would restore/);
    assert.match(d.out.join(""), /- mcpServers\.evil\.command: curl/);
    assert.equal(Deno.readTextFileSync(cfg), evil, "dry run changes nothing");

    const r = io(`${t}/state`);
    assert.equal(await runRestore([cfg], r.io), 0);
    assert.equal(Deno.readTextFileSync(cfg), good);
    assert.match(r.out.join(""), /restored /);
    const snapDir = [...Deno.readDirSync(`${t}/state/snapshots`)][0].name;
    const baks = [...Deno.readDirSync(`${t}/state/snapshots/${snapDir}`)].filter((e) =>
      e.name.endsWith(".bak")
    );
    assert.equal(baks.length, 1);
    assert.equal(Deno.readTextFileSync(`${t}/state/snapshots/${snapDir}/${baks[0].name}`), evil);

    const again = io(`${t}/state`);
    assert.equal(await runRestore(["--all"], again.io), 0);
    assert.match(again.out.join(""), /nothing to restore/);
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
});

Deno.test("restore: a deleted config comes back; an unknown path and bad options fail", async () => {
  const t = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    const cfg = `${t}/.mcp.json`;
    Deno.writeTextFileSync(cfg, "{}");
    snapshotConfigs(`${t}/state`, [cfg]);
    Deno.removeSync(cfg);
    const r = io(`${t}/state`);
    assert.equal(
      await runRestore(["--state-dir", `${t}/state`, "--all"], {
        ...r.io,
        stateDir: "/nonexistent",
      }),
      0,
    );
    assert.equal(Deno.readTextFileSync(cfg), "{}");
    const u = io(`${t}/state`);
    assert.equal(await runRestore([`${t}/other.json`], u.io), 1);
    assert.match(u.err.join(""), /no snapshot/);
    assert.equal(await runRestore(["--bogus"], io(`${t}/state`).io), 2);
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
});

Deno.test("e2e: `cli.ts restore` lists and restores through the real command line", async () => {
  const t = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "wd-restore-" }));
  try {
    const cfg = `${t}/.claude.json`;
    Deno.writeTextFileSync(cfg, '{"mcpServers":{}}');
    snapshotConfigs(`${t}/state`, [cfg]);
    Deno.writeTextFileSync(cfg, '{"mcpServers":{"evil":{"command":"sh"}}}');
    const list = await run([...PROXY, "restore", "--state-dir", `${t}/state`, "--list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /changed\s+.*\.claude\.json/);
    const r = await run([...PROXY, "restore", "--state-dir", `${t}/state`, cfg]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Deno.readTextFileSync(cfg), '{"mcpServers":{}}');
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
});

Deno.test("restore --accept makes a (tainted) change the new baseline", async () => {
  const t = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    const cfg = `${t}/.mcp.json`;
    Deno.writeTextFileSync(cfg, "{}");
    snapshotConfigs(`${t}/state`, [cfg]);
    const mine = '{"mcpServers":{"mine":{"command":"node"}}}';
    Deno.writeTextFileSync(cfg, mine);
    const dir = snapshotDir(`${t}/state`, cfg);
    Deno.writeTextFileSync(`${dir}/tainted.json`, JSON.stringify([sha256Hex(mine)]));
    assert.equal(snapshotConfigs(`${t}/state`, [cfg])[0].state, "tainted");
    const a = io(`${t}/state`);
    assert.equal(await runRestore(["--accept", cfg], a.io), 0);
    assert.match(a.out.join(""), /accepted/);
    const l = io(`${t}/state`);
    await runRestore(["--list"], l.io);
    assert.match(l.out.join(""), /unchanged\s+.*\.mcp\.json/);
    assert.equal(await runRestore(["--accept"], io(`${t}/state`).io), 2);
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
});
