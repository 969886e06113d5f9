/**
 * The stderr line for a notable proxy event (findings are formatted by `src/alert_format.ts`).
 *
 * @module
 */
import { paint, sanitize, STYLE } from "../alert_format.ts";
import type { ProxyEvent } from "./session.ts";

/** `mcp-watchdog: server: unparseable (server_to_client): reason` */
export function formatEvent(server: string, e: ProxyEvent, color: boolean): string {
  const where = e.direction ? ` (${e.direction})` : "";
  return `mcp-watchdog: ${sanitize(server)}: ${paint(STYLE.dim, e.event, color)}${where}: ${
    sanitize(e.reason)
  }`;
}
