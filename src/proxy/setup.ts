/**
 * Wires one proxied connection from the parsed command line: the state store, the detectors, the
 * inspector, the audit sinks (file and stderr) and the {@link ProxySession}. Every transport (stdio,
 * HTTP client, HTTP gateway) builds its sessions here, so that they inspect alike.
 *
 * @module
 */
import { openStateStore } from "../adapters/state_dir.ts";
import { type SessionMonitor, startSessionMonitor } from "../adapters/fs_monitor.ts";
import type { Runtime } from "../adapters/runtime.ts";
import { type AuditRecord, auditRecord, type AuditSink } from "../audit.ts";
import type { ProxyArgs } from "../cli/options.ts";
import { buildDetectors, type DetectorHost } from "../detectors/registry.ts";
import { sha256Hex } from "../hash.ts";
import type { ServerIdentity } from "../pipeline/detector.ts";
import { Inspector } from "../pipeline/inspector.ts";
import type { StateStore } from "../store/store.ts";
import type { WatchdogConfig } from "../config.ts";
import { type ProxyEvent, ProxySession } from "./session.ts";
import { formatEvent } from "./alert_line.ts";
import { formatFinding, useColor } from "../alert_format.ts";

/** Everything a transport needs for one connection. */
export interface ProxySetup {
  readonly session: ProxySession;
  readonly store: StateStore;
  /** Report a notable event (stderr and audit log). */
  event(e: ProxyEvent): void;
  close(): void;
}

/** The stable identity of the guarded server: its name plus a hash of its command or URL. */
export function serverIdentity(config: WatchdogConfig): ServerIdentity {
  const what = config.serverUrl ?? config.serverCommand.join("\u0000");
  return { name: config.serverName, key: `${config.serverName}#${sha256Hex(what).slice(0, 12)}` };
}

/**
 * The client session: wrappers launched by one client share it (they have the same parent
 * process). `MCP_WATCHDOG_SESSION` overrides it.
 */
export function clientSession(runtime: Runtime): string {
  const forced = runtime.env("MCP_WATCHDOG_SESSION");
  if (forced) return forced;
  let start = "";
  try {
    // Linux: the parent's start time tells a reused pid from the same parent.
    const stat = runtime.readTextFileSync(`/proc/${runtime.ppid}/stat`);
    start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch { /* not Linux: the pid alone */ }
  return `ppid-${runtime.ppid}${start ? `-${start}` : ""}`;
}

/**
 * Build the session (and its sinks) for one connection.
 * @throws {RuleError} when a `--rules` directory holds an invalid rule.
 */
export async function createProxySetup(
  args: ProxyArgs,
  runtime: Runtime,
  host: DetectorHost = {},
): Promise<ProxySetup> {
  const config = args.config;
  const color = useColor(runtime.stderrIsTerminal(), (n) => runtime.env(n));
  const opened = openStateStore({
    flag: args.stateDir,
    env: (n) => runtime.env(n),
    home: runtime.homeDir(),
  });
  const server = serverIdentity(config);
  const writeAudit = (obj: unknown) => {
    if (!args.auditLog) return;
    try {
      runtime.appendTextFileSync(args.auditLog, JSON.stringify(obj) + "\n");
    } catch (e) {
      runtime.writeStderr(
        `mcp-watchdog: cannot write the audit log ${args.auditLog}: ${
          e instanceof Error ? e.message : e
        }\n`,
      );
    }
  };
  const event = (e: ProxyEvent) => {
    writeAudit({ ts: new Date().toISOString(), server: server.name, ...e });
    if (!args.quiet) runtime.writeStderr(formatEvent(server.name, e, color) + "\n");
  };
  if (opened.warning) event({ event: "store_fallback", reason: opened.warning });
  const audit: AuditSink = {
    write(r: AuditRecord) {
      writeAudit(r);
      if (!args.quiet) {
        runtime.writeStderr(formatFinding(r, { color, verbose: args.verbose }) + "\n");
      }
    },
  };
  // Extra rules are loaded before anything starts: a broken rule file is a clear error, not a surprise.
  // The YAML parser is only loaded when there are user rules to read.
  const extraRules = config.ruleDirs.length
    ? (await import("../rules/load.ts")).loadRuleDirs(config.ruleDirs, {
      readDir: (d) => runtime.readDirSync(d).filter((e) => e.isFile).map((e) => e.name),
      readText: (p) => runtime.readTextFileSync(p),
    })
    : [];
  const detectorHost: DetectorHost = {
    extraRules,
    realPath: (p) => {
      try {
        return runtime.realPathSync(p);
      } catch {
        return p;
      }
    },
    isDirectory: (p) => runtime.statSync(p)?.isDirectory ?? false,
    homeDir: runtime.homeDir(),
    cwd: runtime.cwd(),
    env: (n) => runtime.env(n),
    ...host,
  };
  const detectors = buildDetectors(config, detectorHost);
  for (const w of detectors.warnings ?? []) runtime.writeStderr(`mcp-watchdog: warning: ${w}\n`);
  const sessionKey = clientSession(runtime);
  const inspector = new Inspector(detectors, {
    server,
    session: sessionKey,
    store: opened.store,
    config,
    now: () => Date.now(),
  });
  // Layer 4's file-system monitor: only for a local (stdio) server, whose writes land on this machine.
  let monitor: SessionMonitor | undefined;
  if (config.serverCommand.length > 0 && !config.serverUrl) {
    try {
      monitor = startSessionMonitor({
        config,
        host: { ...detectorHost, homeDir: runtime.homeDir(), cwd: runtime.cwd() },
        store: opened.store,
        session: sessionKey,
        server,
        stateDir: opened.dir,
        report: (f) =>
          audit.write(
            auditRecord(f, "alerted", {
              server: server.name,
              direction: "server_to_client",
              method: "fs/watch",
            }),
          ),
        watch: (paths, recursive, cb) => runtime.watchFs(paths, cb, { recursive }),
      });
    } catch (e) {
      event({
        event: "monitor_unavailable",
        reason: `file-system monitor not started: ${e instanceof Error ? e.message : e}`,
      });
    }
  }
  const session = new ProxySession(inspector, {
    audit,
    event,
    call: monitor
      ? (phase, id, tool) =>
        phase === "start" ? monitor!.calls.start(id, tool ?? "") : monitor!.calls.end(id)
      : undefined,
  });
  return {
    session,
    store: opened.store,
    event,
    close: () => {
      monitor?.stop();
      for (const d of detectors.message) {
        try {
          d.flush?.(inspector.env);
        } catch { /* the store may be gone: losing the last baseline updates is acceptable */ }
      }
      opened.store.close();
    },
  };
}
