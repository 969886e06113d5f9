/**
 * `mcp-watchdog log [--follow] [--verbose] [--min-severity S] [--server NAME] <audit-log>`:
 * pretty-print an audit log (JSON lines written by `--audit-log`), one readable line per finding
 * and per event, colour on a terminal. Lines that are not audit records (garbage, partial
 * writes) are skipped and counted. `--follow` keeps printing what is appended, survives the file
 * being truncated or rotated, and stops on Ctrl-C.
 *
 * @module
 */
import { open, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  type AlertRecord,
  formatFinding,
  paint,
  sanitize,
  STYLE,
  useColor,
} from "../alert_format.ts";
import { SEVERITIES, type Severity, severityRank } from "../types.ts";
import { EXIT_USAGE } from "./wrap.ts";
import type { CliIo } from "./io.ts";

const USAGE =
  `usage: mcp-watchdog log [--follow] [--verbose] [--min-severity low|medium|high|critical] [--server NAME] <audit-log>
`;

/** Filters and formatting of {@link formatLogLine}. */
export interface LogOptions {
  readonly color: boolean;
  readonly verbose: boolean;
  readonly minSeverity?: Severity;
  readonly server?: string;
}

const OUTCOMES = new Set(["blocked", "stripped", "redacted", "alerted"]);

function isFinding(o: Record<string, unknown>): o is Record<string, unknown> & AlertRecord {
  return typeof o.rule === "string" && typeof o.server === "string" &&
    typeof o.message === "string" &&
    typeof o.severity === "string" && (SEVERITIES as readonly string[]).includes(o.severity) &&
    typeof o.action === "string" && OUTCOMES.has(o.action);
}

/**
 * The readable form of one audit log line: a string, `null` when filtered out, or `undefined`
 * when the line is not an audit record.
 *
 * @example
 * ```ts
 * import { formatLogLine } from "./log.ts";
 * formatLogLine('{"ts":"2026-01-01T00:00:00Z","server":"s","event":"server_exit","reason":"code 0"}', { color: false, verbose: false });
 * // "00:00:00 mcp-watchdog [s] server_exit: code 0"
 * formatLogLine("garbage", { color: false, verbose: false }); // undefined
 * ```
 */
export function formatLogLine(line: string, o: LogOptions): string | null | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return undefined;
  const rec = obj as Record<string, unknown>;
  if (o.server !== undefined && rec.server !== o.server) return null;
  if (isFinding(rec)) {
    if (o.minSeverity && severityRank(rec.severity) < severityRank(o.minSeverity)) return null;
    return formatFinding(rec, { color: o.color, verbose: o.verbose, time: true });
  }
  if (typeof rec.event === "string") {
    if (o.minSeverity) return null; // events have no severity
    const ts = typeof rec.ts === "string"
      ? `${paint(STYLE.dim, rec.ts.slice(11, 19), o.color)} `
      : "";
    const server = typeof rec.server === "string" ? ` [${sanitize(rec.server)}]` : "";
    const dir = typeof rec.direction === "string" ? ` (${sanitize(rec.direction)})` : "";
    const reason = typeof rec.reason === "string" ? `: ${sanitize(rec.reason)}` : "";
    return `${ts}${paint(STYLE.bold, "mcp-watchdog", o.color)}${server} ${
      paint(STYLE.magenta, sanitize(rec.event), o.color)
    }${dir}${reason}`;
  }
  return undefined;
}

/** `mcp-watchdog log`. Returns the exit code (0, 1 when the file cannot be read, 2 usage). */
export async function runLog(argv: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        follow: { type: "boolean", short: "f" },
        verbose: { type: "boolean", short: "v" },
        "min-severity": { type: "string" },
        server: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (e) {
    io.stderr(`mcp-watchdog log: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr(`mcp-watchdog log: give one audit log file\n${USAGE}`);
    return EXIT_USAGE;
  }
  const min = values["min-severity"] as string | undefined;
  if (min !== undefined && !(SEVERITIES as readonly string[]).includes(min)) {
    io.stderr(`mcp-watchdog log: --min-severity must be one of ${SEVERITIES.join(", ")}\n`);
    return EXIT_USAGE;
  }
  const path = positionals[0].startsWith("/") ? positionals[0] : `${io.cwd}/${positionals[0]}`;
  const opts: LogOptions = {
    color: useColor(io.stdoutIsTerminal ?? false, io.env),
    verbose: values.verbose === true,
    ...(min ? { minSeverity: min as Severity } : {}),
    ...(typeof values.server === "string" ? { server: values.server } : {}),
  };
  let skipped = 0;
  const emit = (line: string) => {
    if (line.trim() === "") return;
    const out = formatLogLine(line, opts);
    if (out === undefined) skipped++;
    else if (out !== null) io.stdout(out + "\n");
  };

  let offset = 0;
  let rest = "";
  let decoder = new TextDecoder();
  const readMore = async (): Promise<boolean> => {
    const size = (await stat(path)).size;
    if (size < offset) { // truncated or replaced: start over
      offset = 0;
      rest = "";
      decoder = new TextDecoder();
    }
    if (size === offset) return false;
    const fh = await open(path, "r");
    try {
      const buf = new Uint8Array(Math.min(size - offset, 1 << 20));
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const chunk = rest + decoder.decode(buf.subarray(0, bytesRead), { stream: true });
      const lines = chunk.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) emit(l);
      return bytesRead > 0;
    } finally {
      await fh.close();
    }
  };

  try {
    while (await readMore()) { /* read everything there is */ }
  } catch (e) {
    io.stderr(
      `mcp-watchdog log: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return 1;
  }
  if (values.follow) {
    const signal = io.signal;
    while (!signal?.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 250);
        function done() {
          clearTimeout(t);
          signal?.removeEventListener("abort", done);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
      });
      if (signal?.aborted) break;
      try {
        while (await readMore()) { /* catch up */ }
      } catch { /* rotated away: wait for it to come back */ }
    }
  }
  rest += decoder.decode();
  if (rest.trim()) emit(rest);
  if (skipped) {
    io.stderr(`mcp-watchdog log: skipped ${skipped} line(s) that are not audit records\n`);
  }
  return 0;
}
