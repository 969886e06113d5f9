/**
 * The {@link Runtime} on Deno.
 *
 * @module
 */
import type {
  ChildProcess,
  ExitStatus,
  FsEvent,
  Runtime,
  Signal,
  SpawnOptions,
} from "./runtime.ts";
import { SpawnError } from "./runtime.ts";
import { createHttp1Fetch } from "./http1_fetch.ts";

function spawnDeno(command: string, args: readonly string[], o: SpawnOptions = {}): ChildProcess {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args: [...args],
      stdin: "piped",
      stdout: "piped",
      stderr: o.stderr ?? "inherit",
      env: o.env,
      cwd: o.cwd,
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SpawnError(`cannot start '${command}': command not found`, 127);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new SpawnError(`cannot start '${command}': permission denied`, 126);
    }
    throw new SpawnError(
      `cannot start '${command}': ${e instanceof Error ? e.message : String(e)}`,
      126,
    );
  }
  const status: Promise<ExitStatus> = child.status.then((s) => ({
    code: s.code,
    signal: (s.signal as Signal | null) ?? null,
  }));
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: o.stderr === "piped" ? child.stderr : null,
    status,
    kill(signal: Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    },
  };
}

function kindOf(k: Deno.FsEvent["kind"]): FsEvent["kind"] {
  return k === "create" || k === "modify" || k === "remove" || k === "rename" ? k : "other";
}

/** The Deno runtime adapter. */
export const denoRuntime: Runtime = {
  name: "deno",
  get args() {
    return Deno.args;
  },
  pid: Deno.pid,
  get ppid() {
    return Deno.ppid;
  },
  env: (name) => Deno.env.get(name),
  envObject: () => Deno.env.toObject(),
  cwd: () => Deno.cwd(),
  homeDir: () => Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? Deno.cwd(),
  get stdin() {
    return Deno.stdin.readable;
  },
  get stdout() {
    return Deno.stdout.writable;
  },
  writeStdoutSync(bytes) {
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  },
  writeStderr(text) {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    try {
      while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
    } catch { /* stderr gone: nothing sensible left to do */ }
  },
  stderrIsTerminal: () => Deno.stderr.isTerminal(),
  stdoutIsTerminal: () => Deno.stdout.isTerminal(),
  spawn: spawnDeno,
  fetch: createHttp1Fetch(),
  onSignal(signal, handler) {
    try {
      Deno.addSignalListener(signal, handler);
    } catch {
      return () => {};
    }
    return () => {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch { /* already removed */ }
    };
  },
  exit: (code) => Deno.exit(code),
  readTextFile: (p) => Deno.readTextFile(p),
  readTextFileSync: (p) => Deno.readTextFileSync(p),
  writeTextFile: (p, t, o) => Deno.writeTextFile(p, t, o?.mode ? { mode: o.mode } : undefined),
  appendTextFileSync: (p, t) => Deno.writeTextFileSync(p, t, { append: true, create: true }),
  mkdir: (p, o) => Deno.mkdir(p, o),
  mkdirSync: (p, o) => Deno.mkdirSync(p, o),
  statSync(p) {
    try {
      const s = Deno.lstatSync(p);
      if (s.isSymlink) {
        try {
          const t = Deno.statSync(p);
          return { isFile: t.isFile, isDirectory: t.isDirectory, isSymlink: true };
        } catch {
          return { isFile: false, isDirectory: false, isSymlink: true };
        }
      }
      return { isFile: s.isFile, isDirectory: s.isDirectory, isSymlink: false };
    } catch {
      return null;
    }
  },
  realPathSync: (p) => Deno.realPathSync(p),
  readDirSync: (p) =>
    [...Deno.readDirSync(p)].map((e) => ({
      name: e.name,
      isFile: e.isFile,
      isDirectory: e.isDirectory,
    })),
  removeSync: (p) => Deno.removeSync(p, { recursive: true }),
  renameSync: (a, b) => Deno.renameSync(a, b),
  copyFileSync: (a, b) => Deno.copyFileSync(a, b),
  watchFs(paths, onEvent, options) {
    const w = Deno.watchFs([...paths], { recursive: options?.recursive ?? true });
    (async () => {
      try {
        for await (const e of w) onEvent({ kind: kindOf(e.kind), paths: e.paths });
      } catch { /* closed */ }
    })();
    return () => {
      try {
        w.close();
      } catch { /* already closed */ }
    };
  },
  selfCommand() {
    const main = new URL(Deno.mainModule);
    return {
      command: Deno.execPath(),
      args: ["run", "-A", main.protocol === "file:" ? main.pathname : main.href],
    };
  },
};
