/**
 * SARIF 2.1.0 output for `mcp-watchdog scan --format sarif`, for GitHub code scanning and other
 * SARIF viewers. Each finding becomes a result located at the server's entry in the client
 * config file (and, logically, at `server/tool`); rule metadata comes from the rules (title,
 * message, references, severity); servers that could not be scanned become tool execution
 * notifications.
 *
 * Severity mapping: critical and high → `error`, medium → `warning`, low → `note`; the
 * `security-severity` property (used by GitHub to rank alerts) is 9.5 / 8.0 / 5.5 / 3.0.
 *
 * @example
 * ```ts
 * import { toSarif } from "./sarif.ts";
 * const log = toSarif([], [], { version: "0.1.0" });
 * log.version; // "2.1.0"
 * ```
 *
 * @module
 */
import type { AlertRecord } from "./alert_format.ts";
import { describeWhere } from "./alert_format.ts";
import type { Severity } from "./types.ts";

/** The SARIF schema this module writes. */
export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

/** What a rule says about itself (the YAML rules fit; other detectors give less). */
export interface SarifRuleMeta {
  readonly id: string;
  readonly title?: string;
  readonly message?: string;
  readonly severity?: Severity;
  readonly references?: readonly string[];
  readonly family?: string;
  readonly layer?: string;
}

/** One finding and where it was found. */
export interface SarifFinding {
  readonly record: AlertRecord;
  /** The client config file that declares the server. */
  readonly artifact: string;
  /** 1-based line of the server's entry in that file. */
  readonly line?: number;
  /** The client, for properties. */
  readonly client?: string;
}

/** A server that could not be scanned, or another problem worth showing. */
export interface SarifNotification {
  readonly message: string;
  readonly level: "error" | "warning" | "note";
  readonly artifact?: string;
  readonly line?: number;
}

/** Options of {@link toSarif}. */
export interface SarifOptions {
  /** mcp-watchdog's version. */
  readonly version: string;
  /** Paths under this directory are written relative to `%SRCROOT%`. */
  readonly baseDir?: string;
  /** Metadata of known rules (the rest is derived from the findings). */
  readonly rules?: readonly SarifRuleMeta[];
}

/** The SARIF level of a severity. */
export function sarifLevel(s: Severity): "error" | "warning" | "note" {
  return s === "critical" || s === "high" ? "error" : s === "medium" ? "warning" : "note";
}

const SECURITY_SEVERITY: Readonly<Record<Severity, string>> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
};

/** A `file://` URI for an absolute path (POSIX or Windows). */
export function fileUri(path: string): string {
  const p = path.replace(/\\/g, "/");
  const abs = /^[A-Za-z]:\//.test(p) ? `/${p}` : p;
  return "file://" +
    abs.split("/").map((s) => encodeURIComponent(s).replace(/%3A/g, ":")).join("/");
}

function location(artifact: string, line: number | undefined, baseDir: string | undefined) {
  const base = baseDir?.replace(/\\/g, "/").replace(/\/+$/, "");
  const p = artifact.replace(/\\/g, "/");
  const artifactLocation = base && p.startsWith(base + "/")
    ? {
      uri: p.slice(base.length + 1).split("/").map(encodeURIComponent).join("/"),
      uriBaseId: "%SRCROOT%",
    }
    : { uri: fileUri(artifact) };
  return {
    physicalLocation: {
      artifactLocation,
      ...(line !== undefined ? { region: { startLine: line } } : {}),
    },
  };
}

/** A JSON-compatible SARIF log (only the parts mcp-watchdog writes are typed). */
export interface SarifLog {
  readonly $schema: string;
  readonly version: "2.1.0";
  readonly runs: readonly {
    readonly tool: { readonly driver: Record<string, unknown> };
    readonly results: readonly Record<string, unknown>[];
    readonly [key: string]: unknown;
  }[];
}

/**
 * Build a SARIF 2.1.0 log from scan findings and notifications.
 */
export function toSarif(
  findings: readonly SarifFinding[],
  notifications: readonly SarifNotification[],
  opts: SarifOptions,
): SarifLog {
  const known = new Map((opts.rules ?? []).map((r) => [r.id, r]));
  const ruleIndex = new Map<string, number>();
  const rules: Record<string, unknown>[] = [];
  const ruleFor = (rec: AlertRecord): number => {
    const have = ruleIndex.get(rec.rule);
    if (have !== undefined) return have;
    const meta = known.get(rec.rule);
    const severity = meta?.severity ?? rec.severity;
    const tags = [
      "security",
      "mcp",
      ...(meta?.family ? [meta.family] : []),
      ...(meta?.layer ?? rec.layer ? [meta?.layer ?? rec.layer!] : []),
    ];
    const refs = meta?.references ?? [];
    rules.push({
      id: rec.rule,
      name: rec.rule.replace(/(^|[-_])([a-z0-9])/g, (_m, _s, c: string) => c.toUpperCase()),
      shortDescription: { text: meta?.title ?? rec.rule },
      fullDescription: { text: meta?.message ?? rec.message },
      ...(refs.length ? { helpUri: refs[0] } : {}),
      help: {
        text: [meta?.message ?? rec.message, ...refs.map((r) => `See ${r}`)].join("\n"),
      },
      defaultConfiguration: { level: sarifLevel(severity) },
      properties: { tags, "security-severity": SECURITY_SEVERITY[severity], precision: "high" },
    });
    ruleIndex.set(rec.rule, rules.length - 1);
    return rules.length - 1;
  };
  const results = findings.map((f) => {
    const r = f.record;
    const where = describeWhere(r);
    const index = ruleFor(r);
    return {
      ruleId: r.rule,
      ruleIndex: index,
      level: sarifLevel(r.severity),
      message: { text: `${r.message} [server "${r.server}", ${where}]` },
      locations: [{
        ...location(f.artifact, f.line, opts.baseDir),
        logicalLocations: [{
          name: r.tool ?? r.server,
          fullyQualifiedName: r.tool !== undefined ? `${r.server}/${r.tool}` : r.server,
          kind: r.tool !== undefined ? "function" : "module",
        }],
      }],
      partialFingerprints: {
        // Stable across runs: same server, rule, field and content.
        "mcpWatchdog/v1": [r.server, r.rule, r.path ?? "", r.sha256 ?? ""].join("|"),
      },
      properties: {
        severity: r.severity,
        "security-severity": SECURITY_SEVERITY[r.severity],
        server: r.server,
        ...(f.client ? { client: f.client } : {}),
        ...(r.method ? { method: r.method } : {}),
        ...(r.path ? { jsonPointer: r.path } : {}),
        ...(r.tool !== undefined ? { tool: r.tool } : {}),
        proxyAction: r.action,
        ...(r.excerpt ? { excerpt: r.excerpt } : {}),
        ...(r.sha256 ? { sha256: r.sha256 } : {}),
      },
    };
  });
  const base = opts.baseDir?.replace(/\\/g, "/").replace(/\/+$/, "");
  return {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [{
      tool: {
        driver: {
          name: "mcp-watchdog",
          version: opts.version,
          semanticVersion: opts.version,
          informationUri: "https://github.com/bountyy/mcp-watchdog",
          rules,
        },
      },
      ...(base ? { originalUriBaseIds: { "%SRCROOT%": { uri: fileUri(base) + "/" } } } : {}),
      invocations: [{
        executionSuccessful: true,
        toolExecutionNotifications: notifications.map((n) => ({
          level: n.level,
          message: { text: n.message },
          ...(n.artifact ? { locations: [location(n.artifact, n.line, opts.baseDir)] } : {}),
        })),
      }],
      results,
    }],
  };
}
