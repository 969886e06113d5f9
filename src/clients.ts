/**
 * MCP client configurations: where each client keeps its server list, what shape it has, and how
 * to read the servers out of it with the text spans needed to rewrite a server's command with
 * minimal edits (`wrap` / `unwrap`). Pure: paths are computed from the home directory, the
 * working directory, the platform and an environment lookup that the caller supplies.
 *
 * | client | file(s) | key |
 * |---|---|---|
 * | Claude Desktop | `~/Library/Application Support/Claude/claude_desktop_config.json` (macOS), `%APPDATA%\Claude\claude_desktop_config.json` (Windows), `~/.config/Claude/claude_desktop_config.json` (Linux) | `mcpServers` |
 * | Claude Code | `~/.claude.json` (user, and `projects[<dir>].mcpServers`), `<project>/.mcp.json` | `mcpServers` |
 * | Cursor | `~/.cursor/mcp.json`, `<project>/.cursor/mcp.json` | `mcpServers` |
 * | Windsurf | `~/.codeium/windsurf/mcp_config.json` | `mcpServers` |
 * | VS Code | `<project>/.vscode/mcp.json`, `<user dir>/mcp.json` (`servers`), `<user dir>/settings.json` (`mcp.servers`), JSONC | `servers` |
 * | Gemini CLI | `~/.gemini/settings.json`, `<project>/.gemini/settings.json` | `mcpServers` |
 * | Codex | `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`), `<project>/.codex/config.toml`, TOML | `[mcp_servers.<name>]` |
 * | Zed | `~/.config/zed/settings.json` (Linux, macOS), `%APPDATA%\Zed\settings.json` (Windows), `<project>/.zed/settings.json`, JSONC | `context_servers` |
 * | Cline | `<VS Code user dir>/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json` | `mcpServers` |
 *
 * @example
 * ```ts
 * import { parseClientConfig } from "./clients.ts";
 * const { servers } = parseClientConfig('{"mcpServers":{"fs":{"command":"npx","args":["-y","x"]}}}', {
 *   client: "cursor",
 *   path: "/home/u/.cursor/mcp.json",
 * });
 * servers[0].command; // "npx"
 * ```
 *
 * @module
 */
import {
  getMember,
  JsoncError,
  type JsoncMember,
  type JsoncNode,
  lineOf,
  parseJsonc,
  type TextEdit,
} from "./jsonc.ts";

/** The clients whose configurations mcp-watchdog knows. */
export const CLIENT_IDS = [
  "claude-desktop",
  "claude-code",
  "cursor",
  "windsurf",
  "vscode",
  "gemini",
  "codex",
  "zed",
  "cline",
] as const;

/** One of {@link CLIENT_IDS}, or `other` for a file given with `--config` that matches none. */
export type ClientId = (typeof CLIENT_IDS)[number] | "other";

/** Display names for reports. */
export const CLIENT_NAMES: Readonly<Record<ClientId, string>> = {
  "claude-desktop": "Claude Desktop",
  "claude-code": "Claude Code",
  cursor: "Cursor",
  windsurf: "Windsurf",
  vscode: "VS Code",
  gemini: "Gemini CLI",
  codex: "Codex",
  zed: "Zed",
  cline: "Cline",
  other: "config",
};

/** Which keys hold the servers. `auto` tries every known shape (for `--config`). */
export type ConfigShape =
  | "mcpServers"
  | "claude-user" // mcpServers + projects[<dir>].mcpServers
  | "servers"
  | "vscode-settings" // mcp.servers
  | "context_servers"
  | "codex-toml"
  | "auto";

/** A config file a client reads. */
export interface ConfigLocation {
  readonly client: ClientId;
  readonly scope: "user" | "project";
  readonly path: string;
  readonly shape: ConfigShape;
}

/** Host facts that config locations depend on. */
export interface HostInfo {
  readonly home: string;
  readonly cwd: string;
  readonly platform: "linux" | "darwin" | "windows";
  readonly env: (name: string) => string | undefined;
}

function join(...parts: string[]): string {
  return parts.map((
    p,
    i,
  ) => (i === 0 ? p.replace(/[\\/]+$/, "") : p.replace(/^[\\/]+|[\\/]+$/g, "")))
    .join("/");
}

/**
 * Every config file location the known clients use on this host, user scope first, then the
 * project scope of `cwd`. Paths may not exist.
 *
 * @example
 * ```ts
 * import { configLocations } from "./clients.ts";
 * const locs = configLocations({ home: "/h", cwd: "/p", platform: "linux", env: () => undefined });
 * locs.find((l) => l.client === "cursor")?.path; // "/h/.cursor/mcp.json"
 * ```
 */
export function configLocations(host: HostInfo): ConfigLocation[] {
  const { home, cwd, platform, env } = host;
  const appData = env("APPDATA") ?? join(home, "AppData/Roaming");
  const xdg = env("XDG_CONFIG_HOME") || join(home, ".config");
  const appSupport = join(home, "Library/Application Support");
  const base = platform === "darwin" ? appSupport : platform === "windows" ? appData : xdg;
  const codeUsers = ["Code", "Code - Insiders"].map((d) => join(base, d, "User"));
  const zedUser = platform === "windows" ? join(appData, "Zed") : join(home, ".config/zed");
  const codexHome = env("CODEX_HOME") || join(home, ".codex");
  const user = (client: ClientId, path: string, shape: ConfigShape): ConfigLocation => ({
    client,
    scope: "user",
    path,
    shape,
  });
  const project = (client: ClientId, rel: string, shape: ConfigShape): ConfigLocation => ({
    client,
    scope: "project",
    path: join(cwd, rel),
    shape,
  });
  const locs: ConfigLocation[] = [
    user("claude-desktop", join(base, "Claude/claude_desktop_config.json"), "mcpServers"),
    user("claude-code", join(home, ".claude.json"), "claude-user"),
    user("cursor", join(home, ".cursor/mcp.json"), "mcpServers"),
    user("windsurf", join(home, ".codeium/windsurf/mcp_config.json"), "mcpServers"),
    ...codeUsers.flatMap((u) => [
      user("vscode", join(u, "mcp.json"), "servers"),
      user("vscode", join(u, "settings.json"), "vscode-settings"),
    ]),
    user("gemini", join(home, ".gemini/settings.json"), "mcpServers"),
    user("codex", join(codexHome, "config.toml"), "codex-toml"),
    user("zed", join(zedUser, "settings.json"), "context_servers"),
    ...codeUsers.map((u) =>
      user(
        "cline",
        join(u, "globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"),
        "mcpServers",
      )
    ),
    project("claude-code", ".mcp.json", "mcpServers"),
    project("cursor", ".cursor/mcp.json", "mcpServers"),
    project("vscode", ".vscode/mcp.json", "servers"),
    project("gemini", ".gemini/settings.json", "mcpServers"),
    project("codex", ".codex/config.toml", "codex-toml"),
    project("zed", ".zed/settings.json", "context_servers"),
  ];
  const seen = new Set<string>();
  return locs.filter((l) => !seen.has(l.path) && seen.add(l.path));
}

/** Guess the client and shape of a file given with `--config`, from its path. */
export function locationForPath(path: string, home?: string): ConfigLocation {
  const p = path.replace(/\\/g, "/");
  const file = p.slice(p.lastIndexOf("/") + 1);
  const is = (suffix: string) => p.endsWith(suffix);
  const loc = (client: ClientId, shape: ConfigShape): ConfigLocation => ({
    client,
    scope: "user",
    path,
    shape,
  });
  if (file.endsWith(".toml")) return loc("codex", "codex-toml");
  if (file === "claude_desktop_config.json") return loc("claude-desktop", "auto");
  if (file === ".claude.json" && (!home || p === join(home, ".claude.json"))) {
    return loc("claude-code", "auto");
  }
  if (file === ".mcp.json") return loc("claude-code", "auto");
  if (is("/.cursor/mcp.json")) return loc("cursor", "auto");
  if (file === "mcp_config.json") return loc("windsurf", "auto");
  if (is("/.vscode/mcp.json") || is("/User/mcp.json")) return loc("vscode", "auto");
  if (is("/User/settings.json")) return loc("vscode", "auto");
  if (is("/.gemini/settings.json")) return loc("gemini", "auto");
  if (is("zed/settings.json") || is("Zed/settings.json")) return loc("zed", "auto");
  if (file === "cline_mcp_settings.json") return loc("cline", "auto");
  return loc("other", "auto");
}

/** Where a string value sits, with its raw token text (quotes and escapes as written). */
export interface RawString {
  readonly start: number;
  readonly end: number;
  readonly raw: string;
  readonly value: string;
}

/** What `wrap` and `unwrap` need to rewrite one stdio server with minimal text edits. */
export interface CommandSpans {
  readonly format: "json" | "toml";
  /** The command string value. */
  readonly command: RawString;
  /** The args array, when present. */
  readonly args?: {
    readonly start: number;
    readonly end: number;
    readonly elements: readonly RawString[];
  };
  /** Where an `args` member is inserted when there is none, and the text that introduces it. */
  readonly argsInsert: { readonly at: number; readonly prefix: string };
}

/** One server entry of a client config. */
export interface ServerEntry {
  /** The server's key in the config. */
  readonly name: string;
  readonly client: ClientId;
  readonly configPath: string;
  readonly scope: "user" | "project";
  /** For Claude Code `projects[<dir>].mcpServers`: the project directory. */
  readonly project?: string;
  readonly transport: "stdio" | "remote";
  readonly command?: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly url?: string;
  /** Disabled in the config (`disabled: true`, `enabled: false`). */
  readonly disabled: boolean;
  /** 1-based line of the entry in the file. */
  readonly line: number;
  /** Spans of the command and args, for stdio servers whose values are plain strings. */
  readonly spans?: CommandSpans;
}

/** What {@link parseClientConfig} finds in one file. */
export interface ParsedConfig {
  readonly servers: ServerEntry[];
  /** String values that must never be shown (env and header values). */
  readonly secrets: string[];
}

/** Thrown when a config file cannot be parsed at all. */
export class ConfigParseError extends Error {
  override name = "ConfigParseError";
}

const rawOf = (n: JsoncNode | undefined): RawString | undefined =>
  n?.type === "string" ? { start: n.start, end: n.end, raw: n.raw, value: n.value } : undefined;

function stringMap(n: JsoncNode | undefined, secrets: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (n?.type !== "object") return out;
  for (const m of n.members) {
    if (m.value.type === "string") {
      out[m.key] = m.value.value;
      secrets.push(m.value.value);
    } else if (m.value.type === "number" || m.value.type === "boolean") {
      out[m.key] = String(m.value.value);
    }
  }
  return out;
}

function stringArray(n: JsoncNode | undefined): string[] | undefined {
  if (n?.type !== "array") return undefined;
  const out: string[] = [];
  for (const e of n.elements) {
    if (e.type !== "string") return undefined;
    out.push(e.value);
  }
  return out;
}

/** Read one server object (any JSON client shape, Zed's `command: {path,args,env}` included). */
function jsonServer(
  m: JsoncMember,
  text: string,
  base: { client: ClientId; configPath: string; scope: "user" | "project"; project?: string },
  secrets: string[],
): ServerEntry | undefined {
  const o = m.value;
  if (o.type !== "object") return undefined;
  const get = (k: string, node: JsoncNode = o) => getMember(node, k)?.value;
  const str = (k: string, node: JsoncNode = o) => {
    const v = get(k, node);
    return v?.type === "string" ? v.value : undefined;
  };
  stringMap(get("headers"), secrets);
  const type = str("type");
  const url = str("url") ?? str("serverUrl") ?? str("httpUrl");
  const disabled =
    get("disabled")?.type === "boolean" && (get("disabled") as { value: boolean }).value ||
    (get("enabled")?.type === "boolean" && !(get("enabled") as { value: boolean }).value);
  let holder: JsoncNode = o; // the object that holds command/args/env
  let cmdNode = get("command");
  if (cmdNode?.type === "object") { // Zed (older): "command": { "path", "args", "env" }
    holder = cmdNode;
    cmdNode = get("path", cmdNode);
  }
  const env = {
    ...stringMap(get("env"), secrets),
    ...(holder !== o ? stringMap(get("env", holder), secrets) : {}),
  };
  const common = {
    name: m.key,
    ...base,
    env,
    disabled: Boolean(disabled),
    line: lineOf(text, m.keyStart),
  };
  const command = rawOf(cmdNode);
  if (!command || (type !== undefined && type !== "stdio" && url !== undefined)) {
    if (url === undefined && !command) return undefined;
    return { ...common, transport: "remote", args: [], ...(url !== undefined ? { url } : {}) };
  }
  const argsNode = get("args", holder);
  const args = stringArray(argsNode) ?? [];
  const spansOk = argsNode === undefined || stringArray(argsNode) !== undefined;
  const spans: CommandSpans | undefined = spansOk
    ? {
      format: "json",
      command,
      ...(argsNode?.type === "array"
        ? {
          args: {
            start: argsNode.start,
            end: argsNode.end,
            elements: argsNode.elements.map((e) => rawOf(e)!),
          },
        }
        : {}),
      argsInsert: { at: command.end, prefix: ', "args": ' },
    }
    : undefined;
  const cwd = str("cwd");
  return {
    ...common,
    transport: "stdio",
    command: command.value,
    args,
    ...(cwd !== undefined ? { cwd } : {}),
    ...(spans ? { spans } : {}),
  };
}

function serversIn(
  node: JsoncNode | undefined,
  text: string,
  base: { client: ClientId; configPath: string; scope: "user" | "project"; project?: string },
  secrets: string[],
): ServerEntry[] {
  if (node?.type !== "object") return [];
  const out: ServerEntry[] = [];
  for (const m of node.members) {
    const s = jsonServer(m, text, base, secrets);
    if (s) out.push(s);
  }
  return out;
}

/**
 * Read the servers of a client config file (JSON, JSONC or Codex TOML).
 * Throws {@link ConfigParseError} when the file cannot be parsed.
 */
export function parseClientConfig(
  text: string,
  loc: { client: ClientId; path: string; scope?: "user" | "project"; shape?: ConfigShape },
): ParsedConfig {
  const shape = loc.shape ?? locationForPath(loc.path).shape;
  const base = { client: loc.client, configPath: loc.path, scope: loc.scope ?? "user" } as const;
  const secrets: string[] = [];
  if (shape === "codex-toml" || (shape === "auto" && loc.path.endsWith(".toml"))) {
    return { servers: codexServers(text, base, secrets), secrets };
  }
  if (text.trim() === "") return { servers: [], secrets };
  let root: JsoncNode;
  try {
    root = parseJsonc(text);
  } catch (e) {
    throw new ConfigParseError(
      e instanceof JsoncError ? `${e.message} (line ${lineOf(text, e.offset)})` : String(e),
    );
  }
  const servers: ServerEntry[] = [];
  const add = (key: string) =>
    servers.push(...serversIn(getMember(root, key)?.value, text, base, secrets));
  if (shape === "mcpServers" || shape === "claude-user" || shape === "auto") add("mcpServers");
  if (shape === "servers" || shape === "auto") add("servers");
  if (shape === "context_servers" || shape === "auto") add("context_servers");
  if (shape === "vscode-settings" || shape === "auto") {
    add("mcp.servers");
    servers.push(
      ...serversIn(getMember(getMember(root, "mcp")?.value, "servers")?.value, text, base, secrets),
    );
  }
  if (shape === "claude-user" || shape === "auto") {
    const projects = getMember(root, "projects")?.value;
    if (projects?.type === "object") {
      for (const p of projects.members) {
        servers.push(
          ...serversIn(
            getMember(p.value, "mcpServers")?.value,
            text,
            { ...base, project: p.key },
            secrets,
          ),
        );
      }
    }
  }
  return { servers, secrets };
}

// ---------------------------------------------------------------------------------------------
// Codex TOML: a small reader for the subset config files use (tables, dotted keys, strings of the
// four kinds, arrays, inline tables, scalars). It keeps spans so that only the command and args
// values are ever rewritten; everything else (comments, order, other tables) stays byte-identical.

/** One `key = value` of a TOML file, with its full dotted path (table header included). */
export interface TomlEntry {
  readonly path: readonly string[];
  readonly value: JsoncNode;
  /** Offset of the end of the line holding the end of the value (before `\n`). */
  readonly lineEnd: number;
  readonly inline: boolean;
}

class TomlError extends Error {}

/**
 * Parse the TOML subset that Codex configs use into entries with spans.
 * Values are given as {@link JsoncNode}s (strings keep their raw token; dates and other scalars
 * become `null` nodes with their span).
 */
export function parseTomlEntries(text: string): TomlEntry[] {
  let pos = 0;
  const entries: TomlEntry[] = [];
  let table: string[] = [];
  const ws = () => {
    while (text[pos] === " " || text[pos] === "\t") pos++;
  };
  const wsnl = () => { // whitespace, newlines, comments (inside arrays)
    for (;;) {
      ws();
      if (text[pos] === "\n" || text[pos] === "\r") pos++;
      else if (text[pos] === "#") skipComment();
      else break;
    }
  };
  const skipComment = () => {
    const nl = text.indexOf("\n", pos);
    pos = nl < 0 ? text.length : nl;
  };
  // After a value or header: optional comment, then the line terminator (not consumed).
  const lineEnd = (): number => {
    ws();
    if (text[pos] === "#") skipComment();
    if (text[pos] === "\r" && text[pos + 1] === "\n") return pos;
    if (pos < text.length && text[pos] !== "\n") throw new TomlError(`unexpected text at ${pos}`);
    return pos;
  };
  // A closing delimiter may be followed by up to two more quotes that belong to the content.
  const closeRun = (q: string): number => {
    let n = 0;
    while (text[pos + n] === q && n < 5) n++;
    return n;
  };
  const basic = (multi: boolean): string => {
    const q = multi ? '"""' : '"';
    pos += q.length;
    if (multi && text[pos] === "\n") pos++;
    else if (multi && text.startsWith("\r\n", pos)) pos += 2;
    let out = "";
    for (;;) {
      if (pos >= text.length) throw new TomlError("unterminated string");
      if (text.startsWith(q, pos)) {
        const n = multi ? closeRun('"') : 1;
        out += '"'.repeat(n - q.length);
        pos += n;
        return out;
      }
      const c = text[pos];
      if (!multi && c === "\n") throw new TomlError("newline in string");
      if (c !== "\\") {
        out += c;
        pos++;
        continue;
      }
      const e = text[pos + 1];
      pos += 2;
      const simple: Record<string, string> = {
        b: "\b",
        t: "\t",
        n: "\n",
        f: "\f",
        r: "\r",
        e: "\x1b",
        '"': '"',
        "\\": "\\",
      };
      if (e in simple) out += simple[e];
      else if (e === "u" || e === "U") {
        const n = e === "u" ? 4 : 8;
        const hex = text.slice(pos, pos + n);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new TomlError("bad escape");
        out += String.fromCodePoint(parseInt(hex, 16));
        pos += n;
      } else if (multi && (e === "\n" || e === " " || e === "\t" || e === "\r")) {
        pos--; // line-ending backslash: trim whitespace and newlines
        while (" \t\r\n".includes(text[pos] ?? "x")) pos++;
      } else throw new TomlError("bad escape");
    }
  };
  const literal = (multi: boolean): string => {
    const q = multi ? "'''" : "'";
    pos += q.length;
    if (multi && text[pos] === "\n") pos++;
    else if (multi && text.startsWith("\r\n", pos)) pos += 2;
    const close = text.indexOf(q, pos);
    if (close < 0) throw new TomlError("unterminated string");
    const s = text.slice(pos, close);
    if (!multi && s.includes("\n")) throw new TomlError("newline in string");
    pos = close;
    const n = multi ? closeRun("'") : 1;
    pos += n;
    return s + "'".repeat(n - q.length);
  };
  const stringValue = (): JsoncNode => {
    const start = pos;
    let value: string;
    if (text.startsWith('"""', pos)) value = basic(true);
    else if (text[pos] === '"') value = basic(false);
    else if (text.startsWith("'''", pos)) value = literal(true);
    else value = literal(false);
    return { type: "string", start, end: pos, value, raw: text.slice(start, pos) };
  };
  const key = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      ws();
      if (text[pos] === '"' || text[pos] === "'") {
        parts.push((stringValue() as { value: string }).value);
      } else {
        const start = pos;
        while (pos < text.length && /[A-Za-z0-9_-]/.test(text[pos])) pos++;
        if (pos === start) throw new TomlError(`bad key at ${pos}`);
        parts.push(text.slice(start, pos));
      }
      ws();
      if (text[pos] !== ".") return parts;
      pos++;
    }
  };
  const value = (depth: number): JsoncNode => {
    if (depth > 128) throw new TomlError("nesting too deep");
    const start = pos;
    const c = text[pos];
    if (c === '"' || c === "'") return stringValue();
    if (c === "[") {
      pos++;
      const elements: JsoncNode[] = [];
      for (;;) {
        wsnl();
        if (text[pos] === "]") break;
        elements.push(value(depth + 1));
        wsnl();
        if (text[pos] === ",") pos++;
        else if (text[pos] !== "]") throw new TomlError(`expected ',' or ']' at ${pos}`);
      }
      pos++;
      return { type: "array", start, end: pos, elements };
    }
    if (c === "{") {
      pos++;
      const members: JsoncMember[] = [];
      ws();
      if (text[pos] !== "}") {
        for (;;) {
          ws();
          const keyStart = pos;
          const k = key();
          const keyEnd = pos;
          if (text[pos] !== "=") throw new TomlError(`expected '=' at ${pos}`);
          pos++;
          ws();
          const v = value(depth + 1);
          // A dotted key inside an inline table nests; flatten into the first part for our needs.
          members.push({
            key: k.join("."),
            keyStart,
            keyEnd,
            value: v,
            start: keyStart,
            end: v.end,
          });
          ws();
          if (text[pos] === ",") pos++;
          else if (text[pos] === "}") break;
          else throw new TomlError(`expected ',' or '}' at ${pos}`);
        }
      }
      pos++;
      return { type: "object", start, end: pos, members };
    }
    // Scalars: booleans, numbers, dates: up to a delimiter.
    while (pos < text.length && !",]}#\n\r".includes(text[pos])) pos++;
    let end = pos;
    while (end > start && (text[end - 1] === " " || text[end - 1] === "\t")) end--;
    pos = end;
    const word = text.slice(start, end);
    if (word === "true" || word === "false") {
      return { type: "boolean", start, end, value: word === "true" };
    }
    if (word === "") throw new TomlError(`missing value at ${start}`);
    const n = Number(word.replace(/_/g, ""));
    return Number.isFinite(n)
      ? { type: "number", start, end, value: n }
      : { type: "null", start, end, value: null };
  };

  while (pos < text.length) {
    wsnl();
    if (pos >= text.length) break;
    if (text[pos] === "[") {
      const arrayTable = text[pos + 1] === "[";
      pos += arrayTable ? 2 : 1;
      table = key();
      if (arrayTable) table = [...table, "[]"];
      if (text[pos] !== "]" || (arrayTable && text[pos + 1] !== "]")) {
        throw new TomlError(`bad table header at ${pos}`);
      }
      pos += arrayTable ? 2 : 1;
      lineEnd();
      continue;
    }
    const k = key();
    if (text[pos] !== "=") throw new TomlError(`expected '=' at ${pos}`);
    pos++;
    ws();
    const v = value(0);
    entries.push({ path: [...table, ...k], value: v, lineEnd: lineEnd(), inline: false });
  }
  return entries;
}

function codexServers(
  text: string,
  base: { client: ClientId; configPath: string; scope: "user" | "project" },
  secrets: string[],
): ServerEntry[] {
  let entries: TomlEntry[];
  try {
    entries = parseTomlEntries(text);
  } catch (e) {
    throw new ConfigParseError(e instanceof Error ? e.message : String(e));
  }
  type Acc = {
    line: number;
    fields: Map<string, { node: JsoncNode; lineEnd: number; inline: boolean }>;
    env: Record<string, string>;
  };
  const byName = new Map<string, Acc>();
  const acc = (name: string, at: number): Acc => {
    let a = byName.get(name);
    if (!a) byName.set(name, a = { line: lineOf(text, at), fields: new Map(), env: {} });
    return a;
  };
  for (const e of entries) {
    if (e.path[0] !== "mcp_servers" || e.path.length < 2) continue;
    const name = e.path[1];
    if (e.path.length === 2) { // mcp_servers.<name> = { command = …, args = […] }
      if (e.value.type !== "object") continue;
      const a = acc(name, e.value.start);
      for (const m of e.value.members) {
        a.fields.set(m.key, { node: m.value, lineEnd: e.lineEnd, inline: true });
      }
      continue;
    }
    const a = acc(name, e.value.start);
    if (e.path.length === 3) {
      a.fields.set(e.path[2], { node: e.value, lineEnd: e.lineEnd, inline: false });
    } else if (e.path[2] === "env" && e.path.length === 4 && e.value.type === "string") {
      a.env[e.path[3]] = e.value.value;
      secrets.push(e.value.value);
    } else if (e.path[2] === "http_headers" && e.value.type === "string") {
      secrets.push(e.value.value);
    }
  }
  const out: ServerEntry[] = [];
  for (const [name, a] of byName) {
    const f = (k: string) => a.fields.get(k)?.node;
    const env = { ...a.env, ...stringMap(f("env"), secrets) };
    stringMap(f("http_headers"), secrets);
    const cmd = a.fields.get("command");
    const url = f("url")?.type === "string" ? (f("url") as { value: string }).value : undefined;
    const enabled = f("enabled");
    const common = {
      name,
      ...base,
      env,
      disabled: enabled?.type === "boolean" && !enabled.value,
      line: a.line,
    };
    const command = rawOf(cmd?.node);
    if (!command) {
      if (url !== undefined) out.push({ ...common, transport: "remote", args: [], url });
      continue;
    }
    const argsNode = f("args");
    const args = stringArray(argsNode);
    const spansOk = argsNode === undefined || args !== undefined;
    const cwdNode = f("cwd");
    out.push({
      ...common,
      transport: "stdio",
      command: command.value,
      args: args ?? [],
      ...(cwdNode?.type === "string" ? { cwd: cwdNode.value } : {}),
      ...(spansOk
        ? {
          spans: {
            format: "toml" as const,
            command,
            ...(argsNode?.type === "array"
              ? {
                args: {
                  start: argsNode.start,
                  end: argsNode.end,
                  elements: argsNode.elements.map((e) => rawOf(e)!),
                },
              }
              : {}),
            argsInsert: cmd!.inline
              ? { at: command.end, prefix: ", args = " }
              : { at: cmd!.lineEnd, prefix: text.includes("\r\n") ? "\r\nargs = " : "\nargs = " },
          },
        }
        : {}),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// wrap / unwrap planning

/** The command that runs mcp-watchdog, as the client should launch it. */
export interface WatchdogCommand {
  readonly command: string;
  /** Arguments before `--name` (e.g. `["-y", "@bountyy/mcp-watchdog"]` for npx). */
  readonly args: readonly string[];
}

/** The default: the `mcp-watchdog` binary on the PATH. */
export const DEFAULT_WATCHDOG: WatchdogCommand = { command: "mcp-watchdog", args: [] };

// `mcp-watchdog` as a command, path segment or package name (`@bountyy/mcp-watchdog@1`, `…/mcp-watchdog/cli.ts`).
const isWatchdogToken = (s: string) => /(?:^|[\\/@:])mcp-watchdog(?:$|[\\/@.])/i.test(s);

/**
 * If a server's command line already runs through mcp-watchdog, the index in `args` of the `--`
 * that separates watchdog options from the wrapped command; else -1.
 *
 * @example
 * ```ts
 * import { wrappedSeparator } from "./clients.ts";
 * wrappedSeparator("mcp-watchdog", ["--name", "fs", "--", "npx", "x"]); // 2
 * wrappedSeparator("npx", ["x"]); // -1
 * ```
 */
export function wrappedSeparator(
  command: string,
  args: readonly string[],
  watchdog?: WatchdogCommand,
): number {
  const sep = args.indexOf("--");
  if (sep < 0 || sep + 1 >= args.length) return -1;
  const before = args.slice(0, sep);
  if (isWatchdogToken(command) || before.some(isWatchdogToken)) return sep;
  // A watchdog given explicitly (`--command`), e.g. `deno run -A ./cli.ts`.
  if (
    watchdog && command === watchdog.command && watchdog.args.every((a, i) => before[i] === a) &&
    before.includes("--name")
  ) return sep;
  return -1;
}

/** The command line a server has once unwrapped (the original), or itself when not wrapped. */
export function originalCommand(
  entry: { command?: string; args: readonly string[] },
  watchdog?: WatchdogCommand,
): {
  command?: string;
  args: readonly string[];
} {
  if (entry.command === undefined) return entry;
  const sep = wrappedSeparator(entry.command, entry.args, watchdog);
  return sep < 0 ? entry : { command: entry.args[sep + 1], args: entry.args.slice(sep + 2) };
}

/**
 * Text edits that make a stdio server run through mcp-watchdog:
 * `command` becomes the watchdog and `args` becomes `[...watchdog args, "--name", <name>, "--",
 * <original command>, ...<original args>]`. The original command's raw token is moved as written,
 * so {@link planUnwrap} restores it byte for byte. Returns `[]` when already wrapped or not
 * rewritable.
 */
export function planWrap(
  entry: ServerEntry,
  watchdog: WatchdogCommand = DEFAULT_WATCHDOG,
): TextEdit[] {
  const s = entry.spans;
  if (!s || entry.transport !== "stdio" || entry.command === undefined) return [];
  if (wrappedSeparator(entry.command, entry.args, watchdog) >= 0) return [];
  const prefix = [...watchdog.args, "--name", entry.name, "--"].map((a) => JSON.stringify(a));
  const edits: TextEdit[] = [{
    start: s.command.start,
    end: s.command.end,
    text: JSON.stringify(watchdog.command),
  }];
  if (s.args) {
    const first = s.args.elements[0];
    const inserted = [...prefix, s.command.raw].join(", ");
    edits.push(
      first
        ? { start: first.start, end: first.start, text: inserted + ", " }
        : { start: s.args.start + 1, end: s.args.end - 1, text: inserted },
    );
  } else {
    edits.push({
      start: s.argsInsert.at,
      end: s.argsInsert.at,
      text: `${s.argsInsert.prefix}[${[...prefix, s.command.raw].join(", ")}]`,
    });
  }
  return edits;
}

/**
 * Text edits that undo {@link planWrap}: the original command token goes back, the watchdog's
 * arguments are cut out of `args` (and an `args` that `wrap` added is removed again).
 * Returns `[]` when the server is not wrapped.
 */
export function planUnwrap(
  entry: ServerEntry,
  text: string,
  watchdog?: WatchdogCommand,
): TextEdit[] {
  const s = entry.spans;
  if (!s || !s.args || entry.command === undefined) return [];
  const sep = wrappedSeparator(entry.command, entry.args, watchdog);
  if (sep < 0) return [];
  const els = s.args.elements;
  const orig = els[sep + 1];
  const edits: TextEdit[] = [{ start: s.command.start, end: s.command.end, text: orig.raw }];
  const next = els[sep + 2];
  if (next) edits.push({ start: els[0].start, end: next.start, text: "" });
  else {
    // Nothing followed the original command: remove the whole `args` if wrap added it.
    const insertedAt = s.argsInsert.at;
    const between = text.slice(insertedAt, s.args.start);
    if (between === s.argsInsert.prefix) {
      edits[0] = { start: s.command.start, end: s.args.end, text: orig.raw };
      if (s.format === "toml" && insertedAt !== s.command.end) {
        edits[0] = { start: s.command.start, end: s.command.end, text: orig.raw };
        edits.push({ start: insertedAt, end: s.args.end, text: "" });
      }
    } else edits.push({ start: els[0].start, end: orig.end, text: "" });
  }
  return edits;
}

/** A config file that exists, with its text. */
export interface FoundConfig {
  readonly location: ConfigLocation;
  readonly text: string;
}

/**
 * The config files that exist: the given `--config` file, or every known location (optionally
 * of one client). `read` returns a file's text, or undefined when it does not exist.
 */
export function findConfigs(
  host: HostInfo,
  read: (path: string) => string | undefined,
  filter: { readonly config?: string; readonly client?: ClientId } = {},
): FoundConfig[] {
  const locs = filter.config !== undefined
    ? [locationForPath(filter.config, host.home)]
    : configLocations(host).filter((l) =>
      filter.client === undefined || l.client === filter.client
    );
  const out: FoundConfig[] = [];
  for (const location of locs) {
    const text = read(location.path);
    if (text !== undefined) out.push({ location, text });
  }
  return out;
}

/** Parse a client name given on the command line (`claude`, `vs-code`… are accepted). */
export function parseClientId(name: string): ClientId | undefined {
  const n = name.toLowerCase().replace(/[\s_]+/g, "-");
  const aliases: Record<string, ClientId> = {
    claude: "claude-desktop",
    "claude-desktop": "claude-desktop",
    "claude-code": "claude-code",
    code: "vscode",
    "vs-code": "vscode",
    "gemini-cli": "gemini",
  };
  return aliases[n] ?? (CLIENT_IDS as readonly string[]).includes(n)
    ? (aliases[n] ?? n as ClientId)
    : undefined;
}

const SECRET_FLAG =
  /^--?(?:api[-_]?key|access[-_]?token|auth[-_]?token|token|secret|password|passwd|pat|key|client[-_]?secret|bearer)$/i;
const SECRET_ASSIGN = /^[^=]*(?:key|token|secret|password|passwd|auth)[^=]*=(.+)$/i;
const SECRET_SHAPE =
  /^(?:sk|pk|rk|ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr]|AKIA|AIza|ya29|eyJ)[-_.A-Za-z0-9]{8,}$/;

/**
 * Values in a command line that look like credentials and must not be shown: the value after a
 * `--token`-style flag, the value of `KEY=…`/`--api-key=…`, and well-known key shapes.
 *
 * @example
 * ```ts
 * import { secretArgs } from "./clients.ts";
 * secretArgs(["--api-key", "abc123", "--db=x", "ghp_0123456789abcdef"]); // ["abc123", "ghp_0123456789abcdef"]
 * ```
 */
export function secretArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (SECRET_FLAG.test(a) && i + 1 < args.length) out.push(args[++i]);
    else if (a.length < 4096) {
      const m = SECRET_ASSIGN.exec(a);
      if (m) out.push(m[1]);
      else if (SECRET_SHAPE.test(a)) out.push(a);
    }
  }
  return out.filter((s) => s.length >= 4);
}

/** Replace every occurrence of each secret (4+ characters) in `text` by `***`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (
    const s of [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) =>
      b.length - a.length
    )
  ) {
    out = out.split(s).join("***");
  }
  return out;
}
