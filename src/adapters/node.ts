/**
 * The {@link Runtime} on Node.js (22.13+): `node:child_process` (an argument array, never a shell),
 * `node:fs`, `process`, and web streams through `Readable.toWeb` / `Writable.toWeb`. The npm build
 * (`scripts/build_npm.ts`) swaps this module in wherever the code imports `./deno.ts`.
 *
 * Spawn failures are reported synchronously, like on Deno: Node starts the process synchronously
 * (libuv) but only *emits* `ENOENT`/`EACCES` on the next tick, so {@link nodeRuntime.spawn} looks at
 * `child.pid` right after `spawn()` and, when the start failed, works out why (not found: 127; not
 * executable: 126) and throws {@link SpawnError} before the caller starts relaying.
 *
 * It also holds the Node side of the HTTP listener seam ({@link listenHttp}, `node:http`), which the
 * npm build puts in place of `./http_serve.ts` (`Deno.serve`).
 *
 * @example Run a command and read its output (works on Node; in Deno through its Node compatibility)
 * ```ts
 * import { nodeRuntime } from "./node.ts";
 *
 * const child = nodeRuntime.spawn("echo", ["hello"], { stderr: "null" });
 * await child.stdin.close();
 * const text = await new Response(child.stdout).text();
 * const { code } = await child.status;
 * console.log(text.trim(), code); // hello 0
 * ```
 *
 * @module
 */
import * as cp from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { Readable, Writable } from "node:stream";
import type {
  ChildProcess,
  ExitStatus,
  FsEvent,
  Runtime,
  Signal,
  SpawnOptions,
} from "./runtime.ts";
import { SpawnError } from "./runtime.ts";

export type {
  ChildProcess,
  ExitStatus,
  FsEvent,
  Runtime,
  Signal,
  SpawnOptions,
} from "./runtime.ts";
export { SpawnError } from "./runtime.ts";

type NodeErrno = Error & { code?: string };

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `command` cannot be started, the way a shell would say it: 127 when it is not found (no such
 * path, or nowhere on `PATH`), 126 when it exists but cannot be executed.
 */
function diagnose(
  command: string,
  env: Record<string, string | undefined>,
  cwd?: string,
): SpawnError {
  if (cwd !== undefined) {
    try {
      if (!fs.statSync(cwd).isDirectory()) {
        return new SpawnError(`cannot start '${command}': '${cwd}' is not a directory`, 126);
      }
    } catch {
      return new SpawnError(`cannot start '${command}': directory '${cwd}' not found`, 127);
    }
  }
  const base = cwd ?? process.cwd();
  if (command.includes("/") || (process.platform === "win32" && command.includes("\\"))) {
    const p = path.resolve(base, command);
    if (!fs.existsSync(p)) return new SpawnError(`cannot start '${command}': not found`, 127);
    return new SpawnError(`cannot start '${command}': permission denied`, 126);
  }
  const dirs = (env.PATH ?? env.Path ?? "").split(path.delimiter).filter((d) => d !== "");
  let foundNotExecutable = false;
  for (const d of dirs) {
    const p = path.resolve(base, d, command);
    if (isExecutableFile(p)) {
      // On PATH and executable, yet the start failed (bad interpreter, ENOEXEC …).
      return new SpawnError(`cannot start '${command}': ${p} could not be executed`, 126);
    }
    if (fs.existsSync(p)) foundNotExecutable = true;
  }
  return foundNotExecutable
    ? new SpawnError(`cannot start '${command}': permission denied`, 126)
    : new SpawnError(`cannot start '${command}': command not found`, 127);
}

function statusOf(code: number | null, signal: NodeJS.Signals | null): ExitStatus {
  if (signal) {
    const n = (os.constants.signals as Record<string, number | undefined>)[signal] ?? 0;
    return { code: 128 + n, signal: signal as Signal };
  }
  return { code: code ?? 1, signal: null };
}

function spawnNode(command: string, args: readonly string[], o: SpawnOptions = {}): ChildProcess {
  // Like Deno.Command: `env` adds to (and overrides) ours rather than replacing it.
  const env: Record<string, string | undefined> = o.env
    ? { ...process.env, ...o.env }
    : process.env;
  const stderr = o.stderr === "piped" ? "pipe" : o.stderr === "null" ? "ignore" : "inherit";
  let child: cp.ChildProcess;
  let startError: NodeErrno | undefined;
  try {
    child = cp.spawn(command, [...args], {
      stdio: ["pipe", "pipe", stderr],
      env,
      cwd: o.cwd,
      shell: false,
      windowsHide: true,
    });
  } catch (e) {
    // Synchronous throws: invalid arguments (NUL bytes …), or EACCES on some platforms.
    const err = e as NodeErrno;
    if (err.code === "ENOENT") throw diagnose(command, env, o.cwd);
    if (err.code === "EACCES" || err.code === "EPERM") {
      throw new SpawnError(`cannot start '${command}': permission denied`, 126);
    }
    throw new SpawnError(`cannot start '${command}': ${err.message}`, 126);
  }
  // Node emits spawn errors on the next tick; without a listener they would crash us.
  child.on("error", (e: NodeErrno) => {
    startError ??= e;
  });
  if (child.pid === undefined) {
    // The start failed synchronously inside libuv; the 'error' event is still to come.
    throw diagnose(command, env, o.cwd);
  }
  // EPIPE / ECONNRESET on the child's pipes are reported through the web streams, never thrown.
  child.stdin?.on("error", () => {});
  child.stdout?.on("error", () => {});
  child.stderr?.on("error", () => {});

  const status = new Promise<ExitStatus>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(statusOf(child.exitCode, child.signalCode));
      return;
    }
    child.once("exit", (code, signal) => resolve(statusOf(code, signal)));
    child.once("error", () => {
      // A process that never started (should have been caught above) ends as "not executable".
      if (child.pid === undefined) {
        resolve({ code: startError?.code === "ENOENT" ? 127 : 126, signal: null });
      }
    });
  });
  const stdin = Writable.toWeb(child.stdin!) as unknown as WritableStream<Uint8Array>;
  const stdout = Readable.toWeb(child.stdout!) as unknown as ReadableStream<Uint8Array>;
  const stderrStream = o.stderr === "piped" && child.stderr
    ? Readable.toWeb(child.stderr) as unknown as ReadableStream<Uint8Array>
    : null;
  const pid = child.pid;
  return {
    pid,
    stdin,
    stdout,
    stderr: stderrStream,
    status,
    kill(signal: Signal = "SIGTERM") {
      try {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      } catch { /* already exited */ }
    },
  };
}

let stdinStream: ReadableStream<Uint8Array> | undefined;
let stdoutStream: WritableStream<Uint8Array> | undefined;

/** Write all of `bytes` to `fd` synchronously; a closed pipe throws (`EPIPE`) when `strict`. */
function writeAllSync(fd: number, bytes: Uint8Array, strict = false): void {
  let off = 0;
  let spins = 0;
  while (off < bytes.length) {
    try {
      off += fs.writeSync(fd, bytes, off, bytes.length - off);
      spins = 0;
    } catch (e) {
      // A non-blocking pipe that is full: retry for a bounded while, then give up.
      if ((e as NodeErrno).code === "EAGAIN" && ++spins < 100_000) continue;
      if (strict) throw e;
      return;
    }
  }
}

function fsEventKind(type: string, full: string): FsEvent["kind"] {
  if (type === "change") return "modify";
  if (type === "rename") return fs.existsSync(full) ? "create" : "remove";
  return "other";
}

/** The Node.js runtime adapter. */
export const nodeRuntime: Runtime = {
  fetch: (input, init) => fetch(input, init),
  name: "node",
  get args() {
    return process.argv.slice(2);
  },
  pid: process.pid,
  get ppid() {
    return process.ppid;
  },
  env: (name) => process.env[name],
  envObject() {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
    return out;
  },
  cwd: () => process.cwd(),
  homeDir: () => process.env.HOME ?? process.env.USERPROFILE ?? os.homedir() ?? process.cwd(),
  get stdin() {
    stdinStream ??= Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>;
    return stdinStream;
  },
  get stdout() {
    stdoutStream ??= Writable.toWeb(process.stdout) as unknown as WritableStream<Uint8Array>;
    return stdoutStream;
  },
  writeStdoutSync(bytes) {
    writeAllSync(1, bytes, true);
  },
  writeStderr(text) {
    writeAllSync(2, new TextEncoder().encode(text));
  },
  stderrIsTerminal: () => process.stderr.isTTY === true,
  stdoutIsTerminal: () => process.stdout.isTTY === true,
  spawn: spawnNode,
  onSignal(signal, handler) {
    if (process.platform === "win32" && signal === "SIGHUP") return () => {};
    const h = () => handler();
    process.on(signal, h);
    return () => {
      process.off(signal, h);
    };
  },
  exit(code): never {
    // Bytes already handed to a piped stdout are flushed by Node before the process ends only when
    // the pipe is synchronous; on Linux stdout pipes are, on macOS they are not, so callers should
    // close `stdout` (awaiting it) before exiting, as they do on Deno.
    process.exit(code);
  },
  readTextFile: (p) => fs.promises.readFile(p, "utf8"),
  readTextFileSync: (p) => fs.readFileSync(p, "utf8"),
  async writeTextFile(p, t, o) {
    await fs.promises.writeFile(p, t, o?.mode ? { mode: o.mode } : undefined);
    // Deno applies `mode` to an existing file too.
    if (o?.mode) await fs.promises.chmod(p, o.mode);
  },
  appendTextFileSync: (p, t) => fs.appendFileSync(p, t),
  async mkdir(p, o) {
    await fs.promises.mkdir(p, { recursive: o?.recursive ?? false, mode: o?.mode });
  },
  mkdirSync(p, o) {
    fs.mkdirSync(p, { recursive: o?.recursive ?? false, mode: o?.mode });
  },
  statSync(p) {
    let s: fs.Stats;
    try {
      s = fs.lstatSync(p);
    } catch {
      return null;
    }
    if (s.isSymbolicLink()) {
      try {
        const t = fs.statSync(p);
        return { isFile: t.isFile(), isDirectory: t.isDirectory(), isSymlink: true };
      } catch {
        return { isFile: false, isDirectory: false, isSymlink: true };
      }
    }
    return { isFile: s.isFile(), isDirectory: s.isDirectory(), isSymlink: false };
  },
  realPathSync: (p) => fs.realpathSync(p),
  readDirSync: (p) =>
    fs.readdirSync(p, { withFileTypes: true }).map((e) => ({
      name: e.name,
      isFile: e.isFile(),
      isDirectory: e.isDirectory(),
    })),
  removeSync: (p) => fs.rmSync(p, { recursive: true }),
  renameSync: (a, b) => fs.renameSync(a, b),
  copyFileSync: (a, b) => fs.copyFileSync(a, b),
  watchFs(paths, onEvent, options) {
    const watchers: fs.FSWatcher[] = [];
    for (const p of paths) {
      const abs = path.resolve(p);
      let isDir = false;
      try {
        isDir = fs.statSync(abs).isDirectory();
      } catch { /* a missing path: fs.watch throws below, as Deno.watchFs does */ }
      const w = fs.watch(
        abs,
        { recursive: isDir && (options?.recursive ?? true) },
        (type, filename) => {
          const full = isDir && filename ? path.join(abs, filename.toString()) : abs;
          onEvent({ kind: fsEventKind(type, full), paths: [full] });
        },
      );
      w.on("error", () => {/* the watched path went away: nothing more to report */});
      watchers.push(w);
    }
    return () => {
      for (const w of watchers) {
        try {
          w.close();
        } catch { /* already closed */ }
      }
    };
  },
  selfCommand() {
    const script = process.argv[1];
    return {
      command: process.execPath,
      args: [...process.execArgv, ...(script ? [path.resolve(script)] : [])],
    };
  },
};

/** A running listener (the shape of `HttpListener` in `./http_serve.ts`). */
export interface HttpListener {
  /** The address actually bound. */
  readonly hostname: string;
  /** The port actually bound (real even when 0 was asked). */
  readonly port: number;
  /** Stop accepting, end open connections, resolve when done. */
  close(): Promise<void>;
  /** Settles when the listener has stopped. */
  readonly finished: Promise<void>;
}

/** Options for {@link listenHttp} (the shape of `ListenOptions` in `./http_serve.ts`). */
export interface ListenOptions {
  /** Address to listen on (`127.0.0.1`, `::1`, `0.0.0.0` …). */
  readonly hostname: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Errors thrown by the handler (already answered with 500). */
  onError?(e: unknown): void;
}

function internalError(): Response {
  return new Response(
    JSON.stringify({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32603, message: "Internal error" },
    }),
    { status: 500, headers: { "content-type": "application/json" } },
  );
}

function toRequest(req: http.IncomingMessage, fallbackHost: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? fallbackHost}`);
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(url, {
    method,
    headers,
    body: hasBody ? Readable.toWeb(req) as unknown as ReadableStream<Uint8Array> : undefined,
    signal,
    // Node's fetch needs this for a streamed request body.
    duplex: "half",
  } as RequestInit);
}

async function writeResponse(
  res: http.ServerResponse,
  response: Response,
  head: boolean,
): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  const cookies = response.headers.getSetCookie();
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") res.setHeader(key, value);
  });
  if (cookies.length) res.setHeader("set-cookie", cookies);
  if (!response.body || head) {
    await response.body?.cancel().catch(() => {});
    res.end();
    return;
  }
  // Streams (SSE) must reach the client as they are produced.
  res.flushHeaders();
  const reader = response.body.getReader();
  const closed = new Promise<void>((r) => res.once("close", () => r()));
  res.once("close", () => {
    reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        await Promise.race([new Promise<void>((r) => res.once("drain", () => r())), closed]);
        if (res.destroyed) return;
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}

/**
 * Serve a web-standard `(Request) => Promise<Response>` handler on `hostname:port` with `node:http`;
 * resolves once listening. Same contract as `listenHttp` in `./http_serve.ts` (`Deno.serve`): a
 * thrown handler error is passed to `onError` and answered with a JSON-RPC 500; a client that goes
 * away aborts `request.signal`; response bodies are streamed (SSE).
 */
export function listenHttp(
  o: ListenOptions,
  handler: (req: Request) => Promise<Response>,
): Promise<HttpListener> {
  return new Promise((resolve, reject) => {
    const fallbackHost = `${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${o.port}`;
    const server = http.createServer((req, res) => {
      const ac = new AbortController();
      res.once("close", () => {
        if (!res.writableFinished) ac.abort();
      });
      req.on("error", () => {});
      res.on("error", () => {});
      (async () => {
        let response: Response;
        try {
          response = await handler(toRequest(req, fallbackHost, ac.signal));
        } catch (e) {
          o.onError?.(e);
          response = internalError();
        }
        await writeResponse(res, response, req.method === "HEAD");
      })().catch(() => res.destroy());
    });
    const finished = new Promise<void>((r) => server.once("close", () => r()));
    server.once("error", reject);
    server.listen(o.port, o.hostname, () => {
      server.off("error", reject);
      server.on("error", (e) => o.onError?.(e));
      const addr = server.address() as AddressInfo;
      resolve({
        hostname: addr.address,
        port: addr.port,
        async close() {
          server.close();
          server.closeIdleConnections();
          // Streams that never end (SSE) would hold the listener open: end them.
          server.closeAllConnections();
          await finished;
        },
        finished,
      });
    });
  });
}
