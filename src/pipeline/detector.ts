/**
 * The contracts between the inspection pipeline and the detectors. Detectors are pure: data in,
 * findings out; whatever state they keep lives in the {@link StateStore} they are handed.
 *
 * The pipeline runs, for each parsed JSON-RPC message:
 * 1. every {@link MessageDetector} on the whole message (pins, behaviour, flow, scope), in order;
 * 2. every {@link TextDetector} on each {@link TextField} the model will see, in order, each one
 *    seeing the findings of those before it on the same field (so that Layer 2 skips what Layer 0
 *    already redacted);
 * 3. optionally an {@link AsyncTextDetector} (the semantic classifier) under a latency budget.
 * Then it applies the actions (unless in monitor mode) and writes the audit.
 *
 * @module
 */
import type { WatchdogConfig } from "../config.ts";
import type { StateStore } from "../store/store.ts";
import type { Finding, Json, MessageContext, TextField } from "../types.ts";

/** Who the server is, stably across restarts. */
export interface ServerIdentity {
  /** Display name. */
  readonly name: string;
  /** Stable key for state: name plus a hash of the command or URL. */
  readonly key: string;
}

/** What every detector gets besides the message. */
export interface DetectorEnv {
  /** The guarded server. */
  readonly server: ServerIdentity;
  /** The client session (wrappers launched by one client share it). */
  readonly session: string;
  /** Shared state (pins, baselines, flow tokens). */
  readonly store: StateStore;
  /** The configuration of this proxy process. */
  readonly config: WatchdogConfig;
  /** Milliseconds since the epoch (injectable for tests). */
  now(): number;
}

/** A parsed JSON-RPC message (one element of a batch). */
export type JsonRpcMessage = { [key: string]: Json };

/** What a message detector wants done. Everything is optional. */
export interface MessageVerdict {
  /** What the detector found. */
  readonly findings: readonly Finding[];
  /**
   * Refuse the message. For a request the proxy does not forward it and answers the sender with
   * this JSON-RPC error; for a response, the receiver gets this error instead of the result.
   */
  readonly block?: { readonly code: number; readonly message: string; readonly data?: Json };
  /** JSON Pointers of array elements or object members to remove (e.g. withheld tools). */
  readonly remove?: readonly string[];
}

/** A detector that sees whole messages (Layers 1, 3, 4). */
export interface MessageDetector {
  /** Short name, for profiling and errors. */
  readonly name: string;
  /** Look at one message; `undefined` when there is nothing to say. */
  inspect(msg: JsonRpcMessage, ctx: MessageContext, env: DetectorEnv): MessageVerdict | undefined;
  /** Persist whatever the detector batches in memory (called when the connection ends). */
  flush?(env: DetectorEnv): void;
}

/** A detector that sees one text field at a time (Layers 0 and 2). */
export interface TextDetector {
  /** Short name, for profiling and errors. */
  readonly name: string;
  /**
   * Findings for one field. `prior` holds the findings that earlier detectors made on this same
   * field (with spans in the same original text).
   */
  scan(
    field: TextField,
    ctx: MessageContext,
    env: DetectorEnv,
    prior: readonly Finding[],
  ): Finding[];
}

/** A slow detector (the semantic classifier). The pipeline bounds how long it may take. */
export interface AsyncTextDetector {
  /** Short name, for profiling and errors. */
  readonly name: string;
  /** Whether this field should be sent at all (given what the cheap layers found). */
  wants(field: TextField, ctx: MessageContext, prior: readonly Finding[]): boolean;
  /** Findings for one field; must settle promptly once `signal` aborts. */
  scan(
    field: TextField,
    ctx: MessageContext,
    env: DetectorEnv,
    prior: readonly Finding[],
    signal: AbortSignal,
  ): Promise<Finding[]>;
}
