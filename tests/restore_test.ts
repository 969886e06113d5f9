import assert from "node:assert/strict";
import { snapshotConfigs } from "../src/adapters/fs_monitor.ts";
import { runRestore } from "../src/cli/restore.ts";

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
