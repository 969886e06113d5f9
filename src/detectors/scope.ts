/**
 * Layer 4, pre-flight: a `tools/call` whose path arguments reach a sensitive location (any access)
 * or, for a tool that writes, leave the server's declared scope, is refused before the server sees
 * it; so is a `resources/read` of a sensitive `file:` URI. Paths are normalised first (`~`, `..`,
 * percent-encoding, `file://`, symlinks through the injected `realPath`).
 *
 * The detector also learns the client's MCP roots from its `roots/list` answers (stored per
 * session and server in the {@link StateStore}, namespace `l4-roots`).
 *
 * @example
 * ```ts
 * import { createScopeDetector } from "./scope.ts";
 * import { DEFAULT_CONFIG } from "../config.ts";
 * const detector = createScopeDetector({ ...DEFAULT_CONFIG, allowPaths: ["/w"] }, {
 *   home: "/home/u",
 *   cwd: "/w",
 *   isDirectory: () => false,
 * });
 * ```
 *
 * @module
 */
import { ReadCache } from "../store/read_cache.ts";
import type { WatchdogConfig } from "../config.ts";
import { looksLikePath, normalizePosix, type PathHost, resolvePathArgument } from "../paths.ts";
import type {
  DetectorEnv,
  JsonRpcMessage,
  MessageDetector,
  MessageVerdict,
} from "../pipeline/detector.ts";
import { escapeToken } from "../pipeline/pointer.ts";
import {
  inDeclaredScope,
  isCopyTool,
  isWriteTool,
  mcpClientConfigFiles,
  rootsFromListResult,
  sensitiveLocation,
  serverRootsFromCommand,
  type ToolHints,
} from "../scope.ts";
import type { StateStore } from "../store/store.ts";
import type { Finding, Json, MessageContext } from "../types.ts";
import { pinKey, pinNamespace } from "./pinning.ts";

/** Host facts and I/O callbacks the scope detector needs (the adapter supplies them). */
export interface ScopeHost extends PathHost {
  /** Whether `path` is an existing directory (to find roots on the server's command line). */
  readonly isDirectory: (path: string) => boolean;
  /** Environment lookup (`XDG_CONFIG_HOME`, `APPDATA`, `CODEX_HOME`: where client configs live). */
  readonly env?: (name: string) => string | undefined;
}

/** What the pipeline's host gives (see `DetectorHost` in `registry.ts`), all optional. */
export interface ScopeHostParts {
  /** The user's home directory. */
  readonly homeDir?: string;
  /** The server's working directory. */
  readonly cwd?: string;
  /** Resolve symlinks (undefined or the path itself when missing). */
  realPath?(path: string): string | undefined;
  /** Whether a path is an existing directory. */
  isDirectory?(path: string): boolean;
  /** Environment lookup. */
  env?(name: string): string | undefined;
}

/**
 * A {@link ScopeHost} from optional host parts: without a home, `~` resolves nowhere useful (the
 * home-independent sensitive locations still apply); without `isDirectory`, no command-line roots.
 */
export function scopeHostFrom(parts: ScopeHostParts): ScopeHost {
  return {
    home: parts.homeDir ?? "/nonexistent-home",
    cwd: parts.cwd ?? "/",
    realPath: parts.realPath ? (p) => parts.realPath!(p) : undefined,
    isDirectory: parts.isDirectory ? (p) => parts.isDirectory!(p) : () => false,
    env: parts.env
      ? (n) => {
        try {
          return parts.env!(n);
        } catch {
          return undefined; // not allowed to read it (--allow-env): the default locations
        }
      }
      : undefined,
  };
}

/** JSON-RPC error code of a call refused by Layer 4. */
export const SCOPE_BLOCK_CODE: number = -32001;
/** Store namespace of the client's MCP roots; key `<session>|<serverKey>`. */
export const ROOTS_NS = "l4-roots";

/** One string inside tool arguments, with its JSON Pointer and the name of its nearest key. */
export interface ArgumentString {
  /** JSON Pointer of the string. */
  readonly path: string;
  /** Name of the object key it sits under ("" at the top). */
  readonly key: string;
  /** The string. */
  readonly text: string;
}

const MAX_ARG_DEPTH = 16;
const MAX_ARG_STRINGS = 2000;

/**
 * Calls `fn` for every string value below `value`, in the order and within the limits of
 * {@link argumentStrings} (at most 2000 strings, depth 16), with the name of the object key it
 * sits under and `at`, which builds its JSON Pointer (valid during the call only: pointers are
 * built for the strings that need one, not for all). `fn` returns `true` to stop the walk.
 *
 * @example
 * ```ts
 * forEachArgumentString({ a: "x", b: ["y"] }, "/params/arguments", (text, key, at) => {
 *   console.log(text, key, at()); // "x" "a" "/params/arguments/a", then "y" "b" "/params/arguments/b/0"
 * });
 * ```
 */
export function forEachArgumentString(
  value: Json | undefined,
  base: string,
  fn: (text: string, key: string, at: () => string) => boolean | void,
): void {
  const segs: (string | number)[] = [];
  const at = (): string => {
    let p = base;
    for (const s of segs) p += "/" + escapeToken(s);
    return p;
  };
  let count = 0;
  let stop = false;
  const visit = (v: Json | undefined, key: string, depth: number): void => {
    if (
      stop || count >= MAX_ARG_STRINGS || depth > MAX_ARG_DEPTH || v === undefined || v === null
    ) {
      return;
    }
    if (typeof v === "string") {
      count++;
      if (fn(v, key, at) === true) stop = true;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length && !stop; i++) {
        segs.push(i);
        visit(v[i], key, depth + 1);
        segs.pop();
      }
    } else if (typeof v === "object") {
      for (const k in v) {
        if (stop) break;
        segs.push(k);
        visit(v[k], k, depth + 1);
        segs.pop();
      }
    }
  };
  visit(value, "", 0);
}

/**
 * Every string value below `value` (at most 2000, depth 16), with its pointer and the name of the
 * object key it sits under (array elements inherit their array's key).
 *
 * @example
 * ```ts
 * argumentStrings({ paths: ["/a", "/b"] }, "/params/arguments");
 * // [{ path: "/params/arguments/paths/0", key: "paths", text: "/a" }, …]
 * ```
 */
export function argumentStrings(value: Json | undefined, base: string): ArgumentString[] {
  const out: ArgumentString[] = [];
  forEachArgumentString(value, base, (text, key, at) => {
    out.push({ path: at(), key, text });
  });
  return out;
}

/** Words of an argument name that make its value a path. */
const PATH_KEY_WORDS = new Set([
  "path",
  "paths",
  "file",
  "files",
  "filename",
  "filepath",
  "filepaths",
  "dir",
  "dirs",
  "directory",
  "directories",
  "folder",
  "uri",
  "uris",
  "destination",
  "dest",
  "dst",
  "source",
  "src",
  "target",
  "cwd",
  "root",
  "location",
  "output",
  "workdir",
]);

/**
 * Argument names that put the call in a remote repository or bucket (GitHub's `owner`/`repo`,
 * GitLab's `project_id`, S3's `bucket`): relative paths there are not local files.
 */
const REMOTE_CONTEXT_KEYS = new Set(["owner", "repo", "repository", "projectid", "bucket"]);

/** Argument names whose value is content, never a path (however it looks). */
const CONTENT_KEYS = new Set([
  "content",
  "contents",
  "text",
  "newtext",
  "oldtext",
  "body",
  "message",
  "data",
  "query",
  "pattern",
  "description",
  "comment",
  "diff",
  "patch",
]);

function keyWords(key: string): string[] {
  return key.slice(0, 100).replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(
    /[^a-z0-9]+/,
  ).filter((w) => w !== "");
}

/**
 * What an argument name says about its values (see {@link argumentRole}): content (`text`,
 * `body`…: never a path), a path by name (`path`, `targetDir`…), or anything else (a path only
 * when the value looks like one).
 */
type KeyKind = "content" | "path" | "other";

/** What an argument name says: a pure function of the name (cached per detector). */
function keyKind(key: string): KeyKind {
  if (CONTENT_KEYS.has(key.toLowerCase().replace(/[^a-z0-9]/g, ""))) return "content";
  return keyWords(key).some((w) => PATH_KEY_WORDS.has(w)) ? "path" : "other";
}

/** How an argument string is treated: a declared path, a string that looks like one, or neither. */
function argumentRole(kind: KeyKind, text: string): "path" | "loose" | undefined {
  if (kind === "content") return undefined;
  if (kind === "path") {
    return text.length > 0 && !/[\n\r]/.test(text) ? "path" : undefined;
  }
  return looksLikePath(text) ? "loose" : undefined;
}

/** Whether an argument names what a copy reads (its source), not where it writes. */
function isSourceKey(key: string): boolean {
  const w = keyWords(key);
  return w.includes("source") || w.includes("src") || w.includes("from");
}

/**
 * A small memo of a pure function of a short string (argument and tool names): a hit is one map
 * lookup. Bounded (names come from the client and the model): cleared when full; long strings
 * are not kept.
 */
function memo<T>(f: (s: string) => T, max = 512, maxLength = 200): (s: string) => T {
  const cache = new Map<string, T>();
  return (s: string): T => {
    let v = cache.get(s);
    if (v === undefined && !cache.has(s)) {
      v = f(s);
      if (s.length <= maxLength) {
        if (cache.size >= max) cache.clear();
        cache.set(s, v);
      }
    }
    return v as T;
  };
}

function isObj(v: Json | undefined): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const STORE_READ_TTL_MS = 1000;
const STORE_READ_CACHE_MAX = 512;

/** Annotations of a tool as first pinned by Layer 1 (when pinning runs), else none. */
function pinnedHints(env: DetectorEnv, tool: string): ToolHints | undefined {
  const rec = env.store.get<{ def?: Json }>(pinNamespace(env.server.key), pinKey("tool", tool));
  const def = rec?.value?.def;
  if (!isObj(def) || !isObj(def.annotations)) return undefined;
  const a = def.annotations;
  return {
    readOnlyHint: typeof a.readOnlyHint === "boolean" ? a.readOnlyHint : undefined,
    destructiveHint: typeof a.destructiveHint === "boolean" ? a.destructiveHint : undefined,
  };
}

/**
 * `host` whose `realPath` remembers its answers: for the paths of one argument only (a file
 * system that changes between two calls is no concern within one check).
 */
function withRealPathMemo(host: ScopeHost): ScopeHost {
  const realPath = host.realPath;
  if (!realPath) return host;
  const seen = new Map<string, string | undefined>();
  return {
    ...host,
    realPath: (p) => {
      if (seen.has(p)) return seen.get(p);
      const r = realPath(p);
      seen.set(p, r);
      return r;
    },
  };
}

/** A refused access, before it becomes a finding. */
interface Violation {
  readonly rule: string;
  readonly message: string;
  readonly pointer: string;
  readonly raw: string;
  readonly resolved: string;
}

/** The store key of a server's client roots in {@link ROOTS_NS}. */
export function rootsKey(session: string, serverKey: string): string {
  return `${session}|${serverKey}`;
}

/**
 * The fixed part of a server's declared scope: `--allow-path` directories and the directories on
 * its command line, normalised and symlink-resolved. Computed once per process (it does I/O
 * through `host.isDirectory`).
 */
export function staticScopeRoots(config: WatchdogConfig, host: ScopeHost): string[] {
  const roots = new Set<string>();
  for (const p of config.allowPaths) for (const r of resolvePathArgument(p, host)) roots.add(r);
  for (const r of serverRootsFromCommand(config.serverCommand, host, host.isDirectory)) {
    roots.add(r);
  }
  return [...roots];
}

/**
 * The declared scope of a server now: its static roots plus the client's MCP roots learned from
 * `roots/list` answers (the filesystem monitor uses this too). Empty = unknown.
 */
export function declaredScope(
  staticRoots: readonly string[],
  store: StateStore,
  session: string,
  serverKey: string,
): string[] {
  const client = store.get<string[]>(ROOTS_NS, rootsKey(session, serverKey))?.value;
  return Array.isArray(client) ? [...staticRoots, ...client] : [...staticRoots];
}

/**
 * The Layer 4 pre-flight detector (`L4-scope`). Static scope (allow paths and command-line roots)
 * is computed once here; client roots are read from the store on each call.
 */
export function createScopeDetector(config: WatchdogConfig, host: ScopeHost): MessageDetector {
  const staticRoots = staticScopeRoots(config, host);
  const home = normalizePosix(host.home);
  const configFiles = new Set(
    mcpClientConfigFiles(home, host.cwd, host.env).map((p) => p.toLowerCase()),
  );

  // Store reads (client roots, pinned annotations) are reused for up to a second: a call costs a
  // map look-up, and a change made by another wrapper or by `pins approve` is seen within that time.
  const recent = new ReadCache<unknown>(STORE_READ_TTL_MS, STORE_READ_CACHE_MAX);
  const cached = <T>(env: DetectorEnv, key: string, read: () => T): T =>
    recent.get(key, env.now(), read) as T;
  const scopeRoots = (env: DetectorEnv) =>
    cached(
      env,
      `roots\n${env.session}\n${env.server.key}`,
      () => declaredScope(staticRoots, env.store, env.session, env.server.key),
    );
  // Pure functions of a name, asked on every call: memoised per detector.
  const kindOf = memo(keyKind);
  const sourceKey = memo(isSourceKey);
  const toolKind = memo((name: string) => ({ write: isWriteTool(name), copy: isCopyTool(name) }));

  /** The facts about one call that not every string needs, computed once when first needed. */
  interface CallFacts {
    readonly tool: string;
    readonly copy: boolean;
    /** Whether the tool writes (its name, else its pinned annotations: a store read). */
    write(): boolean;
    /** Whether the call names a remote repository or bucket. */
    remote(): boolean;
    roots?: string[];
  }

  /** The violation of one argument string with a role, if any (first in order wins). */
  function checkString(
    role: "path" | "loose",
    text: string,
    key: string,
    at: () => string,
    call: CallFacts,
    env: DetectorEnv,
  ): Violation | undefined {
    // A relative path lands under the working directory or, for servers such as
    // server-filesystem, under one of the roots: consider every base.
    const relative = !/^(?:\/|~(?:\/|$)|file:)/i.test(text);
    if (relative && call.remote()) return undefined; // a path inside a remote repository or bucket
    if (relative) call.roots ??= scopeRoots(env);
    // A root that is the working directory (or listed twice) would give the same forms again.
    const bases = relative ? [...new Set([host.cwd, ...call.roots!])] : [host.cwd];
    // The forms of one string share their ancestors: ask the file system once per path.
    const h = withRealPathMemo(host);
    const groups = bases.map((cwd) =>
      resolvePathArgument(text, cwd === host.cwd ? h : { ...h, cwd })
    );
    for (const forms of groups) {
      for (const p of forms) {
        const hit = sensitiveLocation(p, home, configFiles);
        if (hit && (!hit.writeOnly || call.write())) {
          const write = call.write();
          return {
            rule: hit.rule,
            pointer: at(),
            raw: text,
            resolved: p,
            message: `${write ? "write to" : "access to"} ${hit.what} refused: ${p}`,
          };
        }
      }
    }
    if (role !== "path" || !call.write() || (call.copy && sourceKey(key))) return undefined;
    call.roots ??= scopeRoots(env);
    if (call.roots.length === 0) return undefined;
    // In scope when, for some base, every form (literal, decoded, symlink-resolved) is.
    const r = call.roots;
    if (groups.some((forms) => forms.every((p) => inDeclaredScope(p, r)))) return undefined;
    const p = groups[0].find((q) => !inDeclaredScope(q, r)) ?? groups[0][0] ?? text;
    return {
      rule: "l4-write-outside-scope",
      pointer: at(),
      raw: text,
      resolved: p,
      message: `write by ${call.tool} outside the server's declared scope refused: ${p}`,
    };
  }

  /** The facts of a call to `tool` with `args` (lazy: no store read unless a path needs it). */
  function callFacts(tool: string, args: { [k: string]: Json } | undefined, env: DetectorEnv) {
    const named = toolKind(tool);
    let write: boolean | undefined = named.write ? true : undefined;
    let remote: boolean | undefined = args ? undefined : false;
    const facts: CallFacts = {
      tool,
      copy: named.copy,
      write: () =>
        write ??= isWriteTool(
          tool,
          cached(env, `hints\n${env.server.key}\n${tool}`, () => pinnedHints(env, tool)),
        ),
      remote: () =>
        remote ??= Object.keys(args!).some((k) =>
          REMOTE_CONTEXT_KEYS.has(k.toLowerCase().replace(/[^a-z]/g, ""))
        ),
    };
    return facts;
  }

  function verdict(v: Violation, tool: string | undefined, env: DetectorEnv): MessageVerdict {
    const finding: Finding = {
      layer: "L4-scope",
      rule: v.rule,
      severity: v.rule === "l4-write-outside-scope" ? "high" : "critical",
      action: "block",
      message: v.message,
      path: v.pointer,
      tool,
      evidence: v.raw,
      details: { resolved: v.resolved, server: env.server.name },
    };
    return {
      findings: [finding],
      block: {
        code: SCOPE_BLOCK_CODE,
        message: `mcp-watchdog (${v.rule}): ${v.message}`,
        data: { rule: v.rule, layer: "L4-scope", path: v.resolved },
      },
    };
  }

  return {
    name: "scope",
    inspect(msg: JsonRpcMessage, ctx: MessageContext, env: DetectorEnv) {
      if (ctx.direction !== "client_to_server") return undefined;
      // The client's answer to the server's roots/list: remember its roots.
      if (ctx.method === "roots/list" && msg.method === undefined && isObj(msg.result)) {
        env.store.put(
          ROOTS_NS,
          rootsKey(env.session, env.server.key),
          rootsFromListResult(msg.result, host),
          env.now(),
        );
        // One small record per session and server: forget those of sessions long gone.
        env.store.evict(ROOTS_NS, env.now() - 30 * 24 * 3600_000, 1000);
        recent.forget(`roots\n${env.session}\n${env.server.key}`); // our own write: seen at once
        return undefined;
      }
      // A new listing re-pins tools (Layer 1): read their annotations afresh afterwards.
      if (msg.method === "tools/list") {
        recent.forget("hints\n");
        return undefined;
      }
      if (!isObj(msg.params)) return undefined;
      if (msg.method === "tools/call") {
        const name = typeof msg.params.name === "string" ? msg.params.name : "";
        const args = msg.params.arguments;
        if (!isObj(args)) return undefined;
        let call: CallFacts | undefined;
        let v: Violation | undefined;
        forEachArgumentString(args, "/params/arguments", (text, key, at) => {
          // Decided before any normalisation: most strings are content or prose, not paths.
          const role = argumentRole(kindOf(key), text);
          if (!role) return false;
          v = checkString(role, text, key, at, call ??= callFacts(name, args, env), env);
          return v !== undefined;
        });
        return v ? verdict(v, name, env) : undefined;
      }
      if (msg.method === "resources/read" && typeof msg.params.uri === "string") {
        const uri = msg.params.uri;
        if (!/^file:/i.test(uri)) return undefined;
        const call: CallFacts = {
          tool: "resources/read",
          copy: false,
          write: () => false,
          remote: () => false,
        };
        const role = argumentRole(kindOf("uri"), uri);
        const v = role && checkString(role, uri, "uri", () => "/params/uri", call, env);
        return v ? verdict(v, undefined, env) : undefined;
      }
      return undefined;
    },
  };
}
