/**
 * The effective configuration of one mcp-watchdog process, as parsed from the command line.
 * Pure data: the CLI fills it, the pipeline and detectors read it.
 *
 * @module
 */

/** `enforce` changes traffic (neutralise, redact, withhold, refuse); `monitor` only logs. */
export type Mode = "enforce" | "monitor";

/** What to do with a finding of a stateful layer: refuse/withhold, or only alert. */
export type Policy = "block" | "alert";

/** The configuration every layer reads. */
export interface WatchdogConfig {
  /** `enforce` changes traffic; `monitor` only logs. */
  readonly mode: Mode;
  /** Display name of the server (`--name`, else derived from its command). */
  readonly serverName: string;
  /** The server's command line (argument array), when it is a stdio server. */
  readonly serverCommand: readonly string[];
  /** The upstream URL when the server is remote (`--url`). */
  readonly serverUrl?: string;
  /** Largest JSON-RPC message accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** Extra rule directories (`--rules`). */
  readonly ruleDirs: readonly string[];
  /** Layer 1: what a changed or new definition gets. */
  readonly pinPolicy: Policy;
  /** Layer 3: what a cross-server token flow gets. */
  readonly flowPolicy: Policy;
  /** Layer 4: directories the server may write to (`--allow-path`), absolute. */
  readonly allowPaths: readonly string[];
  /** Layer 2 semantic classifier: off, on suspicious content, or on everything. */
  readonly semantic: "off" | "suspicious" | "all";
  /** Model of the semantic classifier. */
  readonly semanticModel: string;
  /** Latency budget of the semantic classifier, in milliseconds. */
  readonly semanticTimeoutMs: number;
  /** What a semantic timeout or API error means: let the message through, or treat as malicious. */
  readonly semanticFailure: "open" | "closed";
}

/** Defaults for every field that has one. */
export const DEFAULT_CONFIG: WatchdogConfig = {
  mode: "enforce",
  serverName: "server",
  serverCommand: [],
  maxMessageBytes: 64 * 1024 * 1024,
  ruleDirs: [],
  pinPolicy: "block",
  flowPolicy: "alert",
  allowPaths: [],
  semantic: "off",
  semanticModel: "claude-haiku-4-5",
  semanticTimeoutMs: 1500,
  semanticFailure: "open",
};
