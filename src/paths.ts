/**
 * Path normalisation for the filesystem-scope layer (Layer 4): turn what a model puts into a tool
 * argument (`~/x`, `../x`, `file:///x`, `%2e%2e/x`, a symlink…) into the absolute paths the
 * server may actually touch, so that scope and sensitive-location checks see through tricks.
 * POSIX semantics; pure (symlinks are resolved through an injected `realPath`).
 *
 * @example
 * ```ts
 * import { candidatePaths, normalizePosix } from "./paths.ts";
 * normalizePosix("/a/b/../c//d/."); // "/a/c/d"
 * candidatePaths("~/%2e%2e/x", { home: "/home/u", cwd: "/w" }); // ["/home/u/%2e%2e/x", "/home/x"]
 * ```
 *
 * @module
 */

/** Host facts that path resolution needs. */
export interface PathHost {
  /** The user's home directory, absolute. */
  readonly home: string;
  /** The directory relative paths are resolved against (the server's working directory). */
  readonly cwd: string;
  /**
   * Resolve symlinks of an existing path; `undefined` (or the path itself) when it does not exist
   * or cannot be read. Supplied by an adapter (`Deno.realPathSync`); omit to skip symlinks.
   */
  readonly realPath?: (path: string) => string | undefined;
}

/** Most symlink hops/components examined per path (keeps resolution bounded). */
const MAX_COMPONENTS = 128;
/** Longest string that is treated as a path at all. */
export const MAX_PATH_LENGTH = 4096;

/**
 * Lexically normalise an absolute POSIX path: collapse `//`, drop `.`, apply `..` (never above
 * `/`), drop a trailing slash. A relative input is treated as relative to `/`.
 *
 * @example
 * ```ts
 * normalizePosix("/a/./b/../../../c/"); // "/c"
 * ```
 */
export function normalizePosix(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

/** Whether `path` is `root` or inside it (both absolute and normalised). */
export function isWithin(path: string, root: string): boolean {
  if (root === "/") return path.startsWith("/");
  return path === root || path.startsWith(root + "/");
}

const PCT = /%[0-9a-fA-F]{2}/;

/**
 * Decode percent-encoding, repeatedly (double encoding such as `%252e` too), at most 3 rounds.
 * Invalid sequences are left as they are. Returns the input when nothing is encoded.
 *
 * @example
 * ```ts
 * percentDecode("%252e%252e/x"); // "../x"
 * ```
 */
export function percentDecode(s: string): string {
  let cur = s;
  for (let round = 0; round < 3 && PCT.test(cur); round++) {
    let next: string;
    try {
      next = decodeURIComponent(cur);
    } catch {
      // Some sequences are not valid UTF-8: decode the ASCII ones only.
      next = cur.replace(
        /%([0-7][0-9a-fA-F])/g,
        (_m, h: string) => String.fromCharCode(parseInt(h, 16)),
      );
    }
    if (next === cur) break;
    cur = next;
  }
  return cur;
}

/**
 * The local path of a `file:` URI (`file:///a/b`, `file://localhost/a/b`, `file:/a/b`), percent
 * decoded; `undefined` for other schemes or a remote host.
 *
 * @example
 * ```ts
 * fileUriToPath("file:///home/u/my%20dir"); // "/home/u/my dir"
 * ```
 */
export function fileUriToPath(uri: string): string | undefined {
  if (!/^file:/i.test(uri)) return undefined;
  let rest = uri.slice(5);
  const cut = rest.search(/[?#]/);
  if (cut >= 0) rest = rest.slice(0, cut);
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    const host = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    if (host !== "" && host.toLowerCase() !== "localhost") return undefined;
    rest = slash < 0 ? "/" : rest.slice(slash);
  }
  if (!rest.startsWith("/")) return undefined;
  return percentDecode(rest);
}

/** Expand a leading `~` / `~/` (the home) and make `p` absolute against `cwd`; normalised. */
function absolutize(p: string, host: PathHost): string {
  if (p === "~" || p.startsWith("~/")) p = host.home + p.slice(1);
  else if (!p.startsWith("/")) p = host.cwd + "/" + p;
  return normalizePosix(p);
}

/**
 * Whether a string (not under a path-named key) looks like a filesystem path: absolute, `~/…`,
 * `./…`, `../…` or a `file:` URI, without whitespace. Prose that starts with a path ("~/.ssh is
 * world readable") and code (`/* … *\/`) are not paths.
 *
 * @example
 * ```ts
 * looksLikePath("/etc/passwd"); // true
 * looksLikePath("~/.ssh is world readable"); // false
 * ```
 */
export function looksLikePath(s: string): boolean {
  if (s.length < 2 || s.length > MAX_PATH_LENGTH) return false;
  // The start first (one character decides for most prose), the whole string only then.
  const c = s.charCodeAt(0);
  if (c === 102 || c === 70) { // f, F
    if (!/^file:/i.test(s)) return false;
  } else if (c === 47) { // "/"
    // `/* …` comments and `// …` are code, not paths.
    const d = s.charCodeAt(1);
    if (d === 42 || d === 47) return false;
  } else if (c === 126) { // "~"
    if (s.charCodeAt(1) !== 47) return false; // "~/…" ("~" alone is shorter than 2)
  } else if (!/^\.\.?\//.test(s)) return false;
  return !/[\s\0]/.test(s);
}

/**
 * Every absolute, normalised form a path argument may take on the server side: the literal path
 * and (when different) its percent-decoded form, plus `file:` URIs. Relative paths resolve
 * against `host.cwd`, `~` against `host.home`. Returns `[]` for an empty or oversized string.
 *
 * @example
 * ```ts
 * candidatePaths("/p/src/../../.ssh/x", { home: "/h", cwd: "/" }); // ["/.ssh/x"]
 * ```
 */
export function candidatePaths(raw: string, host: PathHost): string[] {
  if (raw.length === 0 || raw.length > MAX_PATH_LENGTH) return [];
  // File APIs stop at (or refuse) a NUL: judge what comes before it.
  const nul = raw.indexOf("\0");
  if (nul >= 0) raw = raw.slice(0, nul);
  if (raw.length === 0) return [];
  const forms = new Set<string>();
  // Windows separators: also judge the form with forward slashes (`C:\\u\\.ssh\\x`).
  if (raw.includes("\\")) {
    for (const f of candidatePaths(raw.replaceAll("\\", "/"), host)) forms.add(f);
  }
  const fromUri = fileUriToPath(raw);
  if (fromUri !== undefined) forms.add(absolutize(fromUri, host));
  else if (/^[a-z][a-z0-9+.-]{1,20}:\/\//i.test(raw)) return []; // another scheme: not a local path
  else {
    forms.add(absolutize(raw, host));
    const decoded = percentDecode(raw);
    if (decoded !== raw) forms.add(absolutize(decoded, host));
  }
  return [...forms];
}

/**
 * Resolve the symlinks of an absolute normalised path through `realPath`: the path itself when it
 * exists, else its longest existing ancestor resolved plus the remaining components (a file about
 * to be created in a symlinked directory lands in the link's target). Without `realPath`, the
 * path is returned unchanged.
 *
 * @example
 * ```ts
 * const links: Record<string, string> = { "/p/link": "/home/u/.ssh" };
 * resolveSymlinks("/p/link/new", { home: "/home/u", cwd: "/", realPath: (p) => links[p] ?? (p === "/" ? "/" : undefined) });
 * // "/home/u/.ssh/new"
 * ```
 */
export function resolveSymlinks(path: string, host: PathHost): string {
  const realPath = host.realPath;
  if (!realPath) return path;
  const tail: string[] = [];
  let cur = path;
  for (let i = 0; i < MAX_COMPONENTS; i++) {
    const real = realPath(cur);
    // A changed path means a symlink was followed. An unchanged one may also be a missing path
    // (some adapters answer a missing path with itself): keep climbing to find a linked ancestor.
    if (real !== undefined && real !== cur) {
      return tail.length === 0 ? normalizePosix(real) : normalizePosix(real + "/" + tail.join("/"));
    }
    if (cur === "/") break;
    const slash = cur.lastIndexOf("/");
    tail.unshift(cur.slice(slash + 1));
    cur = slash === 0 ? "/" : cur.slice(0, slash);
  }
  return path;
}

/**
 * Every absolute path a path argument may reach: {@link candidatePaths} and, for each, its
 * symlink-resolved form. Deduplicated; the lexical forms come first.
 *
 * @example
 * ```ts
 * resolvePathArgument("~/../u/.aws/credentials", { home: "/home/u", cwd: "/" }); // ["/home/u/.aws/credentials"]
 * ```
 */
export function resolvePathArgument(raw: string, host: PathHost): string[] {
  const out = new Set<string>();
  const lexical = candidatePaths(raw, host);
  for (const p of lexical) out.add(p);
  for (const p of lexical) out.add(resolveSymlinks(p, host));
  return [...out];
}
