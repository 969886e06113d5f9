/**
 * Builds the single-binary mcp-watchdog with `deno compile` (`deno task compile`). The rules are
 * already code (`rules/builtin.gen.ts`), and the subcommands are loaded with literal dynamic
 * imports, which `deno compile` embeds, so the binary reads no file of ours at run time.
 *
 * `deno compile` needs Deno's runtime binary (`denort`) for each target, downloaded from Deno's
 * release site unless `DENORT_BIN` names a local copy. Where neither is possible this script says so
 * in one line and exits with code 3 (distinct from a failed build, 1).
 *
 * usage: deno run -A scripts/compile.ts [--output dist/mcp-watchdog] [--target TRIPLE | --all-targets]
 *                                       [--no-check]
 *
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** Targets `deno compile` supports. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** Exit code for "the runtime download is unreachable" (the build itself is fine). */
export const UNREACHABLE = 3;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The `deno compile` arguments for one binary. */
export function compileArgs(output: string, target?: string, check = true): string[] {
  return [
    "compile",
    "-A",
    ...(check ? [] : ["--no-check"]),
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    path.join(ROOT, "cli.ts"),
  ];
}

/**
 * Null when `deno compile` can get its runtime binary (`DENORT_BIN` set to a file, or Deno's
 * release site answers within a few seconds), else why not.
 */
export async function denortProblem(): Promise<string | null> {
  const local = Deno.env.get("DENORT_BIN");
  if (local) {
    try {
      if (Deno.statSync(local).isFile) return null;
    } catch { /* fall through */ }
    return `DENORT_BIN=${local} is not a file`;
  }
  try {
    const r = await fetch(`https://dl.deno.land/release/v${Deno.version.deno}/`, {
      method: "HEAD",
      signal: AbortSignal.timeout(5000),
    });
    await r.body?.cancel();
    return null;
  } catch (e) {
    return `Deno's runtime download (denort ${Deno.version.deno}) is unreachable: ${
      e instanceof Error ? e.message.split("\n")[0] : String(e)
    }`;
  }
}

/** Whether `deno compile`'s stderr says it could not download the runtime binary. */
export function isDownloadFailure(stderr: string): boolean {
  return /denort|dl\.deno\.land/i.test(stderr) &&
    /error sending request|dns error|failed to lookup|connect|timed out|Download/i.test(stderr);
}

/** Compile one binary; resolves with the exit code (0, 1 or {@link UNREACHABLE}) and a message. */
export async function compile(
  output: string,
  target?: string,
  check = true,
): Promise<{ code: number; message: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output, target, check),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.success) {
    const file = target?.includes("windows") && !output.endsWith(".exe") ? `${output}.exe` : output;
    return { code: 0, message: `${file}: ${(Deno.statSync(file).size / 1e6).toFixed(1)} MB` };
  }
  if (isDownloadFailure(stderr)) {
    return {
      code: UNREACHABLE,
      message: `mcp-watchdog compile: skipped, Deno's runtime binary (denort ${
        target ?? "for this platform"
      }) cannot be downloaded here; set DENORT_BIN to a local denort or run where dl.deno.land is reachable`,
    };
  }
  const clean = stderr.trim().split("\n").slice(-12).join("\n");
  return { code: 1, message: `deno compile failed:\n${clean}` };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      output: { type: "string", short: "o", default: path.join(ROOT, "dist", "mcp-watchdog") },
      target: { type: "string" },
      "all-targets": { type: "boolean" },
      "no-check": { type: "boolean" },
    },
  });
  const check = !values["no-check"];
  const jobs = values["all-targets"]
    ? TARGETS.map((t) => ({ output: `${values.output}-${t}`, target: t as string | undefined }))
    : [{ output: values.output, target: values.target }];
  let worst = 0;
  for (const j of jobs) {
    const r = await compile(j.output, j.target, check);
    console.error(r.message);
    if (r.code === UNREACHABLE) Deno.exit(UNREACHABLE);
    worst = Math.max(worst, r.code);
  }
  Deno.exit(worst);
}
