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
import { createBehaviourDetector } from "./behaviour.ts";
import { createPinningDetector } from "./pinning.ts";
import { createShadowingDetector } from "./shadowing.ts";
import { BUILTIN_RULES } from "../../rules/builtin.gen.ts";
import { mergeRules } from "../rules/merge.ts";
import type { Rule } from "../rules/schema.ts";
import { createLayer0Detector } from "./layer0.ts";
import { createEntropyDetector } from "./entropy.ts";
import { createInstructionDetector } from "./instruction.ts";
import { semanticFromConfig } from "./semantic.ts";
import { createScopeDetector, scopeHostFrom } from "./scope.ts";
import { createFlowDetector } from "./flow.ts";

/** Host facilities some detectors need, passed in so that detectors stay pure. */
export interface DetectorHost {
  /** Resolve symlinks of an existing path (Layer 4); returns the input when it cannot. */
  realPath?(path: string): string;
  /** Whether a path is an existing directory (Layer 4: roots a server was started with). */
  isDirectory?(path: string): boolean;
  /** The user's home directory (Layer 4: `~`). */
  homeDir?: string;
  /** The server's working directory (Layer 4: relative path arguments). */
  cwd?: string;
  /** Environment lookup (semantic classifier: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL). */
  env?(name: string): string | undefined;
  /** Extra rules loaded from `--rules` directories (already validated). */
  extraRules?: readonly Rule[];
}

/** The detectors for `config`, in pipeline order. */
export function buildDetectors(config: WatchdogConfig, host: DetectorHost = {}): Detectors {
  const message: MessageDetector[] = [];
  const text: TextDetector[] = [];
  // Layer registrations go below, in pipeline order.
  message.push(createPinningDetector(), createBehaviourDetector(), createShadowingDetector()); // L1
  message.push(createScopeDetector(config, scopeHostFrom(host))); // L4
  message.push(createFlowDetector()); // L3
  const layer0 = createLayer0Detector(
    mergeRules(BUILTIN_RULES, host.extraRules ?? []),
  );
  text.push(layer0); // L0
  text.push(createEntropyDetector({ rescan: layer0 })); // L2 entropy (decoded payloads rescanned by L0)
  text.push(createInstructionDetector()); // L2 instruction-likeness
  const semantic = semanticFromConfig(config, host.env ?? (() => undefined)); // L2 semantic (optional)
  const slow: AsyncTextDetector | undefined = semantic.detector;
  return {
    message,
    text,
    ...(slow ? { async: slow } : {}),
    ...(semantic.warning ? { warnings: [semantic.warning] } : {}),
  };
}
