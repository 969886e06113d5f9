/**
 * The command line of the proxy: `mcp-watchdog [options] -- <server-command> [args...]` (or
 * `--url <upstream>`). One table describes every option, for parsing and for `--help`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG, type WatchdogConfig } from "../config.ts";

/** Thrown for a command line that cannot be used; the CLI prints it and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  readonly arg?: string;
  readonly help: string;
}

/** Every proxy option, in the order `--help` shows them. */
export const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  "help": { type: "boolean", short: "h", help: "Show this help and exit." },
  "version": { type: "boolean", short: "V", help: "Print the version and exit." },
  "name": {
    type: "string",
    arg: "NAME",
    help: "Server name in alerts, pins and the audit log (default: derived from the command).",
  },
  "mode": {
    type: "string",
    arg: "enforce|monitor",
    help:
      "enforce (default) neutralises, redacts, withholds and refuses; monitor only logs and never changes a message.",
  },
  "audit-log": {
    type: "string",
    arg: "PATH",
    help: "Append one JSON line per finding and notable event to PATH.",
  },
  "quiet": {
    type: "boolean",
    short: "q",
    help: "No alert lines on stderr (the audit log is still written).",
  },
  "verbose": {
    type: "boolean",
    short: "v",
    help: "More detail in alert lines (rule message, details).",
  },
  "max-message-bytes": {
    type: "string",
    arg: "N",
    help: "Largest JSON-RPC message accepted (default 67108864 = 64 MiB).",
  },
  "rules": {
    type: "string",
    multiple: true,
    arg: "DIR",
    help: "Load extra YAML rules from DIR (repeatable).",
  },
  "state-dir": {
    type: "string",
    arg: "DIR",
    help:
      "State directory for pins, baselines and flow tokens (default ~/.mcp-watchdog, or $MCP_WATCHDOG_HOME).",
  },
  "pin-policy": {
    type: "string",
    arg: "block|alert",
    help:
      "A changed or new tool definition is withheld until approved (block, default) or only reported (alert).",
  },
  "flow-policy": {
    type: "string",
    arg: "block|alert",
    help:
      "A token from another server's response in a request is reported (alert, default) or refused (block).",
  },
  "allow-path": {
    type: "string",
    multiple: true,
    arg: "DIR",
    help: "Directory the server may write to (repeatable); adds to the roots it was started with.",
  },
  "semantic": {
    type: "string",
    arg: "[=all]",
    help:
      "Ask the semantic classifier (Claude, needs ANTHROPIC_API_KEY) about suspicious content; --semantic=all about everything.",
  },
  "semantic-model": {
    type: "string",
    arg: "MODEL",
    help: `Model for the semantic classifier (default ${DEFAULT_CONFIG.semanticModel}).`,
  },
  "semantic-timeout": {
    type: "string",
    arg: "MS",
    help:
      `Latency budget of the classifier in milliseconds (default ${DEFAULT_CONFIG.semanticTimeoutMs}).`,
  },
  "semantic-failure": {
    type: "string",
    arg: "open|closed",
    help:
      "On classifier timeout or error: let the message through with an alert (open, default) or treat it as malicious (closed).",
  },
  "url": {
    type: "string",
    arg: "URL",
    help: "Guard a remote Streamable HTTP (or legacy SSE) server instead of a command.",
  },
  "header": {
    type: "string",
    multiple: true,
    arg: "'K: V'",
    help: "HTTP header for --url (repeatable; ${ENV} references are expanded).",
  },
};

/** Parsed proxy command line. */
export interface ProxyArgs {
  readonly config: WatchdogConfig;
  readonly help: boolean;
  readonly version: boolean;
  readonly auditLog?: string;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly stateDir?: string;
  readonly headers: readonly string[];
}

function oneOf<T extends string>(
  name: string,
  v: string | undefined,
  allowed: readonly T[],
  dflt: T,
): T {
  if (v === undefined) return dflt;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got '${v}'`);
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`--${name} must be a positive whole number, got '${v}'`);
  }
  return n;
}

/** A short display name from a server command: the npm package or the script's base name. */
export function deriveServerName(command: readonly string[]): string {
  const words = command.filter((w) =>
    !w.startsWith("-") &&
    !["npx", "node", "deno", "run", "bunx", "uvx", "python", "python3"].includes(w)
  );
  const w = words[0] ?? command[0] ?? "server";
  const pkg = w.replace(/^npm:/, "").replace(/@[^@/]*$/, "");
  const base = pkg.split(/[\\/]/).filter(Boolean).pop() ?? pkg;
  const short = pkg.startsWith("@") ? pkg.split("/").slice(1).join("/") : base;
  return (short || "server").replace(/\.(m?[jt]s|py)$/, "").replace(/^server-/, "") || "server";
}

/**
 * Parse `argv` (everything after the program name).
 * @throws {UsageError} on an unknown option, a bad value, or a missing `--` before the server command.
 */
export function parseProxyArgs(argv: readonly string[]): ProxyArgs {
  const dd = argv.indexOf("--");
  const opts = (dd === -1 ? argv : argv.slice(0, dd)).map((a) =>
    a === "--semantic" ? "--semantic=suspicious" : a
  );
  const command = dd === -1 ? [] : argv.slice(dd + 1);
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    const options = Object.fromEntries(
      Object.entries(OPTIONS).map(([k, s]) => [k, {
        type: s.type,
        ...(s.short ? { short: s.short } : {}),
        ...(s.multiple ? { multiple: true } : {}),
      }]),
    );
    ({ values } = parseArgs({
      args: opts,
      options: options as never,
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /Unexpected argument '([^']*)'/.exec(msg);
    throw new UsageError(
      pos
        ? `unexpected argument '${pos[1]}': put '--' before the server command`
        : msg.replace(/\. To specify.*$/s, ""),
    );
  }
  const help = values.help === true, version = values.version === true;
  const url = values.url as string | undefined;
  if (!help && !version && command.length === 0 && !url) {
    throw new UsageError(
      "missing server command: mcp-watchdog [options] -- <server-command> [args...]",
    );
  }
  if (url && command.length) {
    throw new UsageError("give either --url or a server command after '--', not both");
  }
  const semantic = values.semantic as string | undefined;
  const config: WatchdogConfig = {
    ...DEFAULT_CONFIG,
    mode: oneOf(
      "mode",
      values.mode as string | undefined,
      ["enforce", "monitor"],
      DEFAULT_CONFIG.mode,
    ),
    serverName: (values.name as string | undefined) ??
      (url ? new URL(url).hostname : deriveServerName(command)),
    serverCommand: command,
    ...(url ? { serverUrl: url } : {}),
    maxMessageBytes: positiveInt(
      "max-message-bytes",
      values["max-message-bytes"] as string | undefined,
      DEFAULT_CONFIG.maxMessageBytes,
    ),
    ruleDirs: (values.rules as string[] | undefined) ?? [],
    pinPolicy: oneOf(
      "pin-policy",
      values["pin-policy"] as string | undefined,
      ["block", "alert"],
      DEFAULT_CONFIG.pinPolicy,
    ),
    flowPolicy: oneOf("flow-policy", values["flow-policy"] as string | undefined, [
      "block",
      "alert",
    ], DEFAULT_CONFIG.flowPolicy),
    allowPaths: (values["allow-path"] as string[] | undefined) ?? [],
    semantic: semantic === undefined
      ? "off"
      : oneOf("semantic", semantic, ["suspicious", "all", "off"], "suspicious"),
    semanticModel: (values["semantic-model"] as string | undefined) ?? DEFAULT_CONFIG.semanticModel,
    semanticTimeoutMs: positiveInt(
      "semantic-timeout",
      values["semantic-timeout"] as string | undefined,
      DEFAULT_CONFIG.semanticTimeoutMs,
    ),
    semanticFailure: oneOf("semantic-failure", values["semantic-failure"] as string | undefined, [
      "open",
      "closed",
    ], DEFAULT_CONFIG.semanticFailure),
  };
  return {
    config,
    help,
    version,
    auditLog: values["audit-log"] as string | undefined,
    quiet: values.quiet === true,
    verbose: values.verbose === true,
    stateDir: values["state-dir"] as string | undefined,
    headers: (values.header as string[] | undefined) ?? [],
  };
}

/** The `--help` text. */
export function helpText(version: string): string {
  const rows = Object.entries(OPTIONS).map(([k, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${k}${
      s.arg ? (s.arg.startsWith("[") ? s.arg : ` ${s.arg}`) : ""
    }`;
    return `  ${flag.padEnd(34)} ${s.help}`;
  });
  return `mcp-watchdog ${version}: a security proxy for MCP servers

Usage:
  mcp-watchdog [options] -- <server-command> [args...]   guard a stdio server
  mcp-watchdog [options] --url <https://host/mcp>        guard a remote server
  mcp-watchdog serve [--host H] [--port N] -- <server>   serve Streamable HTTP in front of a server
  mcp-watchdog scan [--config FILE] [--client NAME] [--format text|json|sarif] [--deep] ...
  mcp-watchdog wrap|unwrap [--client NAME] [--config FILE] [--dry-run] ...
  mcp-watchdog pins list|diff|approve|reset [server] [name]
  mcp-watchdog log [--follow] [--min-severity S] <audit-log>
  mcp-watchdog restore [--list | --all | PATH...]
Each subcommand prints all of its options with --help.

Options:
${rows.join("\n")}

Example client config (Claude Desktop):
  "command": "mcp-watchdog", "args": ["--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/project"]
`;
}
