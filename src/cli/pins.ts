/**
 * `mcp-watchdog pins list|diff|approve|reset [server] [name]`: review and approve the definitions
 * that pinning withheld (see `src/detectors/pinning.ts`).
 *
 * - `list [server]`: every pinned server and definition, with what waits for approval.
 * - `diff [server] [name]`: the readable diff of each pending definition against its pin.
 * - `approve <server> [name]`: move the pending definition(s) into the pin; the next list shows
 *   them again (clients re-list on their own or after a restart).
 * - `reset [server] [name]`: forget pins; the next list of that server is trusted anew (a whole
 *   server's reset also forgets its behaviour baseline).
 *
 * `name` is a tool name, or `prompt:<name>`, `resource:<uri>`, `template:<uriTemplate>`,
 * `instructions`. `server` is the `--name` of the wrapped server (or its full state key).
 *
 * @example
 * ```ts
 * import { runPins } from "./pins.ts";
 * import { MemoryStore } from "../store/memory_store.ts";
 * const code = await runPins(["list"], {
 *   stdout: (s) => console.log(s.trimEnd()),
 *   stderr: (s) => console.error(s.trimEnd()),
 *   store: new MemoryStore(),
 * });
 * ```
 *
 * @module
 */
import { definitionDiff } from "../detectors/definition_diff.ts";
import {
  META_KEY,
  PIN_NS_PREFIX,
  type PinKind,
  type PinMeta,
  type PinRecord,
} from "../detectors/pinning.ts";
import { BASELINE_NS_PREFIX } from "../detectors/phase.ts";
import type { StateStore, StoreRecord } from "../store/store.ts";

/** What `runPins` writes to and reads from. */
export interface PinsIo {
  /** Writes text to standard output (the text carries its own newlines). */
  stdout(text: string): void;
  /** Writes text to standard error. */
  stderr(text: string): void;
  /** The state store (the shared database). */
  store: StateStore;
}

const USAGE = `usage: mcp-watchdog pins list [server]
       mcp-watchdog pins diff [server] [name]
       mcp-watchdog pins approve <server> [name]
       mcp-watchdog pins reset [server] [name]
name: a tool name, or prompt:<name>, resource:<uri>, template:<uriTemplate>, instructions
`;

const KINDS: readonly PinKind[] = ["tool", "prompt", "resource", "template", "instructions"];

interface ServerNs {
  readonly ns: string;
  readonly key: string;
  readonly name: string;
}

function servers(store: StateStore, filter?: string): ServerNs[] {
  const out: ServerNs[] = [];
  for (const ns of store.namespaces(PIN_NS_PREFIX)) {
    const key = ns.slice(PIN_NS_PREFIX.length);
    const meta = store.get<PinMeta>(ns, META_KEY)?.value;
    const name = meta?.server ?? key;
    if (filter === undefined || filter === name || filter === key) out.push({ ns, key, name });
  }
  return out;
}

/** Does a record match a user's `name` argument? */
function matches(rec: PinRecord, target: string | undefined): boolean {
  if (target === undefined) return true;
  if (target === "instructions") return rec.kind === "instructions";
  const colon = target.indexOf(":");
  const kind = colon > 0 ? target.slice(0, colon) : "";
  if ((KINDS as readonly string[]).includes(kind)) {
    return rec.kind === kind && rec.name === target.slice(colon + 1);
  }
  return rec.name === target;
}

function records(store: StateStore, ns: string): StoreRecord<PinRecord>[] {
  return store.list<PinRecord>(ns).filter((r) => r.key !== META_KEY);
}

function label(rec: PinRecord): string {
  if (rec.kind === "instructions") return "instructions";
  return rec.kind === "tool" ? rec.name : `${rec.kind}:${rec.name}`;
}

function status(rec: PinRecord): string {
  if (!rec.pending) return "pinned";
  return rec.hash ? "CHANGED, withheld until approved" : "NEW, withheld until approved";
}

function iso(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString();
}

/**
 * Run the `pins` subcommand. Returns the exit code: 0 done, 1 nothing matched, 2 usage error.
 */
export function runPins(args: readonly string[], io: PinsIo): Promise<number> {
  return Promise.resolve(run(args, io));
}

function run(args: readonly string[], io: PinsIo): number {
  const [cmd, server, target, ...rest] = args;
  if (rest.length || !cmd || cmd === "help" || cmd === "--help" || cmd === "-h") {
    (cmd && cmd !== "help" && cmd !== "--help" && cmd !== "-h" ? io.stderr : io.stdout)(USAGE);
    return cmd && cmd !== "help" && cmd !== "--help" && cmd !== "-h" ? 2 : 0;
  }
  const store = io.store;
  const found = servers(store, server);
  if (server !== undefined && found.length === 0) {
    io.stderr(`mcp-watchdog: no pins for server '${server}' (see: mcp-watchdog pins list)\n`);
    return 1;
  }
  switch (cmd) {
    case "list": {
      if (found.length === 0) io.stdout("no pinned servers yet\n");
      for (const s of found) {
        io.stdout(`${s.name}  (${s.key})\n`);
        for (const r of records(store, s.ns)) {
          if (!matches(r.value, target)) continue;
          const v = r.value;
          io.stdout(`  ${label(v).padEnd(32)} ${status(v).padEnd(34)} pinned ${iso(v.pinnedAt)}\n`);
        }
      }
      return 0;
    }
    case "diff": {
      let n = 0;
      for (const s of found) {
        for (const r of records(store, s.ns)) {
          const v = r.value;
          if (!v.pending || !matches(v, target)) continue;
          n++;
          io.stdout(
            `--- ${s.name} ${label(v)} (${
              v.hash ? `pinned ${iso(v.pinnedAt)}` : "not pinned: new"
            })\n+++ seen ${iso(v.pending.seenAt)}\n`,
          );
          for (const l of definitionDiff(v.def, v.pending.def)) io.stdout(`${l}\n`);
        }
      }
      if (n === 0) io.stdout("nothing waits for approval\n");
      return 0;
    }
    case "approve": {
      if (server === undefined) {
        io.stderr(`mcp-watchdog: pins approve needs a server\n${USAGE}`);
        return 2;
      }
      let n = 0;
      const now = Date.now();
      for (const s of found) {
        const updates: { key: string; value: PinRecord }[] = [];
        for (const r of records(store, s.ns)) {
          const v = r.value;
          if (!v.pending || !matches(v, target)) continue;
          updates.push({
            key: r.key,
            value: {
              kind: v.kind,
              name: v.name,
              hash: v.pending.hash,
              def: v.pending.def,
              pinnedAt: now,
            },
          });
          io.stdout(`approved ${s.name} ${label(v)}\n`);
        }
        store.putMany(s.ns, updates, now);
        n += updates.length;
      }
      if (n === 0) {
        io.stderr(`mcp-watchdog: nothing waits for approval${target ? ` for '${target}'` : ""}\n`);
        return 1;
      }
      io.stdout(`${n} definition(s) approved; clients see them on their next list\n`);
      return 0;
    }
    case "reset": {
      let n = 0;
      for (const s of found) {
        if (target === undefined) {
          n += store.delete(s.ns);
          // Trusting the server anew also means learning its normal behaviour anew.
          store.delete(BASELINE_NS_PREFIX + s.key);
          io.stdout(`reset all pins and the behaviour baseline of ${s.name}\n`);
          continue;
        }
        for (const r of records(store, s.ns)) {
          if (!matches(r.value, target)) continue;
          // Forget the pin, and trust whatever the server shows next under this name.
          store.put(s.ns, r.key, { kind: r.value.kind, name: r.value.name, retrust: true });
          n++;
          io.stdout(`reset ${s.name} ${label(r.value)}: trusted again at its next list\n`);
        }
      }
      if (n <= 0 && target !== undefined) {
        io.stderr(`mcp-watchdog: no pin '${target}'\n`);
        return 1;
      }
      return 0;
    }
    default:
      io.stderr(`mcp-watchdog: unknown pins command '${cmd}'\n${USAGE}`);
      return 2;
  }
}
