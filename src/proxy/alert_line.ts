/**
 * One concise stderr line per finding or event, for people.
 *
 * @module
 */
import type { AuditRecord } from "../audit.ts";
import type { ProxyEvent } from "./session.ts";

const COLORS: Record<string, string> = {
  critical: "\x1b[1;31m",
  high: "\x1b[31m",
  medium: "\x1b[33m",
  low: "\x1b[36m",
};

/** `mcp-watchdog [high] server: rule at /path (tool): stripped: excerpt` */
export function formatAlert(r: AuditRecord, o: { color: boolean; verbose: boolean }): string {
  const sev = o.color ? `${COLORS[r.severity] ?? ""}${r.severity}\x1b[0m` : r.severity;
  const where = `${r.method}${r.tool ? ` ${r.tool}` : ""} ${r.path}`;
  let line = `mcp-watchdog [${sev}] ${r.server}: ${r.rule} ${r.action} at ${where}: ${r.excerpt}`;
  if (o.verbose) line += `\n  ${r.message}${r.details ? `\n  ${JSON.stringify(r.details)}` : ""}`;
  return line;
}

/** `mcp-watchdog: server: unparseable (server_to_client): reason` */
export function formatEvent(server: string, e: ProxyEvent, color: boolean): string {
  const tag = color ? `\x1b[2m${e.event}\x1b[0m` : e.event;
  return `mcp-watchdog: ${server}: ${tag}${e.direction ? ` (${e.direction})` : ""}: ${e.reason}`;
}
