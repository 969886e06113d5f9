/**
 * Builds the detectors of the pipeline from the configuration, in the order they run:
 * message detectors (Layer 1 pinning, behaviour, shadowing; Layer 4 scope; Layer 3 flow), then
 * text detectors (Layer 0 rules, Layer 2 entropy, Layer 2 instruction-likeness), then the optional
 * semantic classifier. Each layer owns its line here.
 *
 * @module
 */
import type { WatchdogConfig } from "../config.ts";
import type { AsyncTextDetector, MessageDetector, TextDetector } from "../pipeline/detector.ts";
import type { Detectors } from "../pipeline/inspector.ts";
import { createPinningDetector } from "./pinning.ts";

/** Host facilities some detectors need, passed in so that detectors stay pure. */
export interface DetectorHost {
  /** Resolve symlinks of an existing path (Layer 4); returns the input when it cannot. */
  realPath?(path: string): string;
  /** Whether a path is an existing directory (Layer 4: roots a server was started with). */
  isDirectory?(path: string): boolean;
  /** The user's home directory (Layer 4: `~`). */
  homeDir?: string;
  /** Environment lookup (semantic classifier: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL). */
  env?(name: string): string | undefined;
  /** Extra rules loaded from `--rules` directories (already validated). */
  extraRules?: readonly unknown[];
}

/** The detectors for `config`, in pipeline order. */
export function buildDetectors(config: WatchdogConfig, host: DetectorHost = {}): Detectors {
  const message: MessageDetector[] = [];
  const text: TextDetector[] = [];
  let slow: AsyncTextDetector | undefined;
  void config;
  void host;
  // Layer registrations go below, in pipeline order.
  message.push(createPinningDetector()); // L1
  return slow ? { message, text, async: slow } : { message, text };
}
