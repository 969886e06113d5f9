/**
 * Filesystem scope (Layer 4): where a server may write (its declared scope) and which locations
 * nobody may touch through a tool call (credentials, git internals, shell start-up files, the MCP
 * client configurations that decide which servers run). Pure: the I/O it needs (does this
 * directory exist?) comes in as callbacks.
 *
 * The declared scope of a server is the union of
 * - `--allow-path` directories (`config.allowPaths`),
 * - the directories on its command line (server-filesystem's root arguments), and
 * - the client's MCP roots (`roots/list` answers, `file://` URIs).
 * An empty scope means "unknown": no write is judged out of scope, only sensitive locations are.
 *
 * @example
 * ```ts
 * import { sensitiveLocation, inDeclaredScope } from "./scope.ts";
 * sensitiveLocation("/home/u/proj/.git/config", "/home/u")?.rule; // "l4-sensitive-git"
 * sensitiveLocation("/home/u/proj/.env.example", "/home/u"); // undefined
 * inDeclaredScope("/w/a.txt", ["/w"]); // true
 * ```
 *
 * @module
 */
import {
  fileUriToPath,
  isWithin,
  normalizePosix,
  type PathHost,
  resolveSymlinks,
} from "./paths.ts";
import { configLocations } from "./clients.ts";
import type { Json } from "./types.ts";

/** A sensitive location that a path falls in. */
export interface SensitiveMatch {
  /** Rule id, e.g. `l4-sensitive-ssh`. */
  readonly rule: string;
  /** What it is, for people: "SSH keys and configuration". */
  readonly what: string;
  /** Only writing is dangerous here (reading is fine), e.g. `.cursor/rules/`. */
  readonly writeOnly?: boolean;
}

/** `.env` variants that hold no secrets by convention. */
const ENV_TEMPLATES = new Set(["example", "sample", "template", "dist", "defaults", "schema"]);

/** Shell start-up files in the home directory (a write there runs code in every new shell). */
const SHELL_RC = new Set([
  ".bashrc",
  ".bash_profile",
  ".bash_login",
  ".bash_logout",
  ".profile",
  ".zshrc",
  ".zshenv",
  ".zprofile",
  ".zlogin",
  ".zlogout",
  ".cshrc",
  ".tcshrc",
  ".kshrc",
  ".mkshrc",
  ".inputrc",
]);

/** System-wide shell start-up files. */
const SYSTEM_RC = new Set([
  "/etc/profile",
  "/etc/bash.bashrc",
  "/etc/bashrc",
  "/etc/zshrc",
  "/etc/zsh/zshrc",
  "/etc/zsh/zshenv",
  "/etc/environment",
]);

/** Credential files in the home directory. */
const HOME_CREDENTIALS = new Set([
  ".npmrc",
  ".netrc",
  ".git-credentials",
  ".pgpass",
  ".pypirc",
  ".docker/config.json",
  ".kube/config",
]);

/** Editors whose `<editor>/User/{mcp,settings}.json` hold MCP servers (lower case). */
const EDITOR_USER_DIRS = new Set(["code", "code - insiders", "vscodium", "cursor", "windsurf"]);

/** Directories whose every file is an MCP client's configuration, anywhere (lower case). */
const MCP_CONFIG_DIRS = new Set([".codex", ".cursor", ".claude", ".gemini", ".windsurf"]);

const CREDENTIAL_DIRS: Record<string, string> = {
  ".ssh": "SSH keys and configuration",
  ".aws": "AWS credentials",
  ".gnupg": "GnuPG keys",
  ".gcloud": "Google Cloud credentials",
  ".azure": "Azure credentials",
};

/**
 * The sensitive location `path` (absolute, normalised) falls in, or `undefined`. Matching is case
 * insensitive (macOS and Windows file systems are). Reading these is refused as well as writing.
 * `configFiles` adds exact client config paths (lower case), e.g. from {@link mcpClientConfigFiles}.
 *
 * @example
 * ```ts
 * sensitiveLocation("/home/u/.ssh/authorized_keys", "/home/u")?.rule; // "l4-sensitive-credentials"
 * sensitiveLocation("/home/u/proj/.git/HEAD", "/home/u"); // undefined
 * ```
 */
export function sensitiveLocation(
  path: string,
  home: string,
  configFiles?: ReadonlySet<string>,
): SensitiveMatch | undefined {
  const p = path.toLowerCase();
  if (configFiles?.has(p)) {
    return { rule: "l4-sensitive-mcp-config", what: "MCP client configuration" };
  }
  const h = normalizePosix(home).toLowerCase();
  // Windows ignores trailing dots and spaces in names (`.git./config.` is `.git/config`).
  const segs = p.split("/").filter((s) => s !== "").map((s) =>
    s === "." || s === ".." ? s : s.replace(/[. ]{1,64}$/, "")
  );
  const base = segs[segs.length - 1] ?? "";

  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (s === ".git" && (segs[i + 1] === "config" || segs[i + 1] === "hooks")) {
      return { rule: "l4-sensitive-git", what: `git ${segs[i + 1]} (can run commands on git use)` };
    }
    if (CREDENTIAL_DIRS[s] !== undefined) {
      return { rule: "l4-sensitive-credentials", what: CREDENTIAL_DIRS[s] };
    }
    if (MCP_CONFIG_DIRS.has(s) && i < segs.length - 1) {
      // Config files there hold server commands and keys; the rest (rules, agents, commands)
      // steers the client when written, but is harmless to read.
      return {
        rule: "l4-sensitive-mcp-config",
        what: `MCP client configuration (${s}/)`,
        writeOnly: !/\.(?:json|toml|ya?ml)$/.test(base),
      };
    }
    if (s === ".vscode" && segs[i + 1] === "mcp.json") {
      return { rule: "l4-sensitive-mcp-config", what: "MCP client configuration (VS Code)" };
    }
  }
  const parent = segs[segs.length - 2] ?? "";
  if (
    ((parent === ".zed" || parent === "zed") && base === "settings.json") ||
    (parent === "windsurf" && base === "mcp_config.json") ||
    (parent === "user" && EDITOR_USER_DIRS.has(segs[segs.length - 3] ?? "") &&
      (base === "mcp.json" || base === "settings.json"))
  ) {
    return {
      rule: "l4-sensitive-mcp-config",
      what: `MCP client configuration (${parent}/${base})`,
    };
  }
  if (
    base === ".mcp.json" || base === "claude_desktop_config.json" ||
    base === "cline_mcp_settings.json"
  ) {
    return { rule: "l4-sensitive-mcp-config", what: `MCP client configuration (${base})` };
  }
  if (base === ".env" || (base.startsWith(".env.") && !ENV_TEMPLATES.has(base.slice(5)))) {
    return { rule: "l4-sensitive-env", what: "environment file with secrets (.env)" };
  }
  if (SYSTEM_RC.has(p)) return { rule: "l4-sensitive-shell-rc", what: "shell start-up file" };
  if (isWithin(p, h) && p !== h) {
    const rel = p.slice(h === "/" ? 1 : h.length + 1);
    if (SHELL_RC.has(rel) || rel === ".config/fish/config.fish") {
      return { rule: "l4-sensitive-shell-rc", what: "shell start-up file" };
    }
    if (HOME_CREDENTIALS.has(rel)) {
      return { rule: "l4-sensitive-credentials", what: `credentials (~/${rel})` };
    }
    if (rel === ".claude.json") {
      return { rule: "l4-sensitive-mcp-config", what: "MCP client configuration (~/.claude.json)" };
    }
  }
  return undefined;
}

/**
 * The MCP client configuration files of the known clients (see `configLocations` in
 * `clients.ts`) for `home` and the project `cwd`, on every platform's layout at once (a path that
 * does not apply here simply never exists), absolute and normalised with `/`.
 *
 * @example
 * ```ts
 * mcpClientConfigFiles("/home/u", "/home/u/proj").includes("/home/u/.claude.json"); // true
 * ```
 */
export function mcpClientConfigFiles(
  home: string,
  cwd: string,
  env: (name: string) => string | undefined = () => undefined,
): string[] {
  const out = new Set<string>();
  for (const platform of ["linux", "darwin", "windows"] as const) {
    for (const l of configLocations({ home, cwd, platform, env })) {
      const p = l.path.replaceAll("\\", "/");
      out.add(p.startsWith("/") ? normalizePosix(p) : p);
    }
  }
  return [...out];
}

/** Whether `path` is inside any of `roots` (all absolute, normalised). */
export function inDeclaredScope(path: string, roots: readonly string[]): boolean {
  for (const r of roots) if (isWithin(path, r)) return true;
  return false;
}

/** Script files and package specs on a command line are not scope roots. */
const NOT_A_ROOT = /^(?:-|[a-z][a-z0-9+.-]*:)|\.(?:m?[jt]s|c?js|py|rb|sh|exe|jar|json)$/i;

/**
 * The directories on a server's command line (after the command itself) that exist: what
 * server-filesystem and similar servers take as their roots. Flags, URLs, `npm:`/`jsr:` specs and
 * script files are skipped; relative arguments resolve against `host.cwd`. Each root is returned
 * both as given (normalised) and symlink-resolved.
 *
 * @param isDirectory the adapter's "is this an existing directory?" (I/O)
 * @example
 * ```ts
 * serverRootsFromCommand(["node", "fs.js", "/w"], { home: "/h", cwd: "/" }, (p) => p === "/w"); // ["/w"]
 * ```
 */
export function serverRootsFromCommand(
  command: readonly string[],
  host: PathHost,
  isDirectory: (path: string) => boolean,
): string[] {
  const out = new Set<string>();
  for (const arg of command.slice(1)) {
    if (arg === "" || arg.length > 4096 || NOT_A_ROOT.test(arg)) continue;
    let p = arg;
    if (p === "~" || p.startsWith("~/")) p = host.home + p.slice(1);
    else if (!p.startsWith("/")) {
      if (!/^\.\.?(?:\/|$)/.test(p) && !p.includes("/")) continue; // a bare word is not a root
      p = host.cwd + "/" + p;
    }
    p = normalizePosix(p);
    if (!isDirectory(p)) continue;
    out.add(p);
    out.add(resolveSymlinks(p, host));
  }
  return [...out];
}

/**
 * The local directories of a `roots/list` result (`{roots: [{uri: "file:///…"}]}`): normalised,
 * and symlink-resolved through `host.realPath` when given. Non-`file:` roots are ignored.
 *
 * @example
 * ```ts
 * rootsFromListResult({ roots: [{ uri: "file:///w/p" }, { uri: "https://x" }] }, { home: "/h", cwd: "/" }); // ["/w/p"]
 * ```
 */
export function rootsFromListResult(result: Json | undefined, host: PathHost): string[] {
  if (result === null || typeof result !== "object" || Array.isArray(result)) return [];
  const roots = result.roots;
  if (!Array.isArray(roots)) return [];
  const out = new Set<string>();
  for (const r of roots.slice(0, 256)) {
    if (r === null || typeof r !== "object" || Array.isArray(r) || typeof r.uri !== "string") {
      continue;
    }
    const p = fileUriToPath(r.uri);
    if (p === undefined) continue;
    const n = normalizePosix(p);
    out.add(n);
    out.add(resolveSymlinks(n, host));
  }
  return [...out];
}

/** Verbs in a tool name that mean it changes the file system. */
const WRITE_VERBS = new Set([
  "write",
  "edit",
  "create",
  "move",
  "mv",
  "rename",
  "delete",
  "del",
  "remove",
  "rm",
  "rmdir",
  "unlink",
  "mkdir",
  "touch",
  "put",
  "save",
  "append",
  "patch",
  "update",
  "upload",
  "copy",
  "cp",
  "overwrite",
  "truncate",
  "chmod",
  "chown",
  "replace",
  "insert",
  "modify",
  "set",
  "apply",
  "store",
  "extract",
  "unzip",
  "download",
]);

/** Split a tool name into lower-case words (`writeFile`, `write_file`, `fs.write-file`). */
function nameWords(name: string): string[] {
  return name.slice(0, 200).replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(
    /[^a-z0-9]+/,
  ).filter((w) => w !== "");
}

/** MCP tool annotations, as far as write-ness goes. */
export interface ToolHints {
  /** The tool does not modify its environment. */
  readonly readOnlyHint?: boolean;
  /** The tool may perform destructive updates. */
  readonly destructiveHint?: boolean;
}

/**
 * Whether a tool changes the file system: a write verb in its name, or annotations saying so
 * (`readOnlyHint: false` or `destructiveHint: true`). A `readOnlyHint: true` does not override a
 * write verb: the annotation comes from the (untrusted) server.
 *
 * @example
 * ```ts
 * isWriteTool("write_file"); // true
 * isWriteTool("read_text_file"); // false
 * isWriteTool("sync", { destructiveHint: true }); // true
 * ```
 */
export function isWriteTool(name: string, hints?: ToolHints): boolean {
  for (const w of nameWords(name)) if (WRITE_VERBS.has(w)) return true;
  return hints?.readOnlyHint === false || hints?.destructiveHint === true;
}

/** Whether a tool only copies (its `source`/`from` arguments are read, not changed). */
export function isCopyTool(name: string): boolean {
  const words = nameWords(name);
  return words.includes("copy") || words.includes("cp");
}
