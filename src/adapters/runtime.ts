/**
 * The runtime seam: everything the proxy and the CLI need from the host (processes, stdio, files,
 * environment, signals). `deno.ts` implements it on `Deno.*`; the npm build swaps in `node.ts`.
 * Pure modules never import this.
 *
 * @module
 */

/** Signals the proxy sends or forwards. */
export type Signal = "SIGTERM" | "SIGKILL" | "SIGINT" | "SIGHUP";

/** How a child process ended. */
export interface ExitStatus {
  readonly code: number;
  readonly signal: Signal | null;
}

/** A spawned child process with piped stdio. */
export interface ChildProcess {
  readonly pid: number;
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  /** Piped stderr, or null when it is inherited. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  readonly status: Promise<ExitStatus>;
  kill(signal?: Signal): void;
}

/** Options for {@link Runtime.spawn}. */
export interface SpawnOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** `inherit` writes the child's stderr to ours (default); `piped` exposes it; `null` drops it. */
  readonly stderr?: "inherit" | "piped" | "null";
}

/** Thrown when a command cannot be started (not found, not executable…). */
export class SpawnError extends Error {
  override name = "SpawnError";
  /** Exit code a launcher conventionally uses for this failure (127 not found, 126 not executable). */
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A file-system change seen by {@link Runtime.watchFs}. */
export interface FsEvent {
  readonly kind: "create" | "modify" | "remove" | "rename" | "other";
  readonly paths: readonly string[];
}

/** Everything host-specific. */
export interface Runtime {
  readonly name: "deno" | "node";
  /** Command-line arguments after the script. */
  readonly args: readonly string[];
  readonly pid: number;
  /** Parent process id (wrappers launched by one client share it). */
  readonly ppid: number;
  env(name: string): string | undefined;
  envObject(): Record<string, string>;
  cwd(): string;
  homeDir(): string;
  /** Our own stdin / stdout as web streams. */
  readonly stdin: ReadableStream<Uint8Array>;
  readonly stdout: WritableStream<Uint8Array>;
  /** Write to our stdout synchronously (subcommand output; never used by the proxy's relay). */
  writeStdoutSync(bytes: Uint8Array): void;
  /** Write to our stderr synchronously (alerts must not be lost on exit). */
  writeStderr(text: string): void;
  /** Whether stderr is a terminal (for colours). */
  stderrIsTerminal(): boolean;
  stdoutIsTerminal(): boolean;
  /** Start a process with piped stdin/stdout; throws {@link SpawnError}. */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Call `handler` on the signal; returns a function that removes it. */
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", handler: () => void): () => void;
  exit(code: number): never;
  readTextFile(path: string): Promise<string>;
  readTextFileSync(path: string): string;
  writeTextFile(path: string, text: string, options?: { mode?: number }): Promise<void>;
  /** Append synchronously (audit lines survive a crash). */
  appendTextFileSync(path: string, text: string): void;
  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<void>;
  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number }): void;
  /** File info, or null when the path does not exist. */
  statSync(path: string): { isFile: boolean; isDirectory: boolean; isSymlink: boolean } | null;
  /** Resolve symlinks; throws when the path does not exist. */
  realPathSync(path: string): string;
  readDirSync(path: string): { name: string; isFile: boolean; isDirectory: boolean }[];
  removeSync(path: string): void;
  renameSync(from: string, to: string): void;
  copyFileSync(from: string, to: string): void;
  /** Watch paths (recursively unless told otherwise); returns a function that stops watching. */
  watchFs(
    paths: readonly string[],
    onEvent: (e: FsEvent) => void,
    options?: { recursive?: boolean },
  ): () => void;
  /**
   * `fetch` for upstream MCP servers (`--url`). Deno: plain `http:` goes over kept-alive
   * HTTP/1.1 sockets (`./http1_fetch.ts`, much cheaper per request than the runtime's `fetch`),
   * everything else to the runtime's `fetch`. Node: its own `fetch`.
   */
  readonly fetch: typeof fetch;
  /** The path of this program's entry (for re-invoking ourselves). */
  selfCommand(): { command: string; args: string[] };
}
