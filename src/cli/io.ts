/**
 * What a subcommand reads and writes: the seam between subcommands and the runtime, so that they
 * can be tested with real files and processes but captured output.
 *
 * @module
 */
import type { Runtime } from "../adapters/runtime.ts";

/** What a subcommand reads and writes. */
export interface CliIo {
  /** Write to standard output (the text carries its own newlines). */
  stdout(text: string): void;
  /** Write to standard error. */
  stderr(text: string): void;
  env(name: string): string | undefined;
  readonly cwd: string;
  readonly home: string;
  readonly runtime: Runtime;
  readonly stdoutIsTerminal?: boolean;
  readonly stderrIsTerminal?: boolean;
  /** Aborts long-running subcommands (`log --follow`). */
  readonly signal?: AbortSignal;
}
