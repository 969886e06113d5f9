import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

// What JSR checks on publish: every exported symbol documented, no exported API naming a type the
// package does not export (regression: RequestTracker.outstanding() returned an unexported type).
Deno.test("public API: deno doc --lint mod.ts is clean", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
});
