import assert from "node:assert/strict";
import {
  candidatePaths,
  fileUriToPath,
  isWithin,
  looksLikePath,
  normalizePosix,
  percentDecode,
  resolvePathArgument,
  resolveSymlinks,
} from "../src/paths.ts";

const host = { home: "/home/u", cwd: "/home/u/proj" };

Deno.test("normalizePosix collapses dots, double slashes and never climbs above /", () => {
  assert.equal(normalizePosix("/a/./b/../c//d/"), "/a/c/d");
  assert.equal(normalizePosix("/../../etc/passwd"), "/etc/passwd");
  assert.equal(normalizePosix("/"), "/");
});

Deno.test("isWithin needs a separator boundary", () => {
  assert.ok(isWithin("/w/a", "/w"));
  assert.ok(isWithin("/w", "/w"));
  assert.ok(!isWithin("/w2/a", "/w"));
  assert.ok(isWithin("/anything", "/"));
});

Deno.test("percentDecode handles single, double and invalid encodings", () => {
  assert.equal(percentDecode("%2e%2e%2fx"), "../x");
  assert.equal(percentDecode("%252e%252e/x"), "../x");
  assert.equal(percentDecode("a%ffb%2e"), "a%ffb."); // invalid UTF-8 kept, ASCII decoded
  assert.equal(percentDecode("plain"), "plain");
});

Deno.test("fileUriToPath accepts local file URIs only", () => {
  assert.equal(fileUriToPath("file:///home/u/my%20dir/x"), "/home/u/my dir/x");
  assert.equal(fileUriToPath("file://localhost/etc/hosts"), "/etc/hosts");
  assert.equal(fileUriToPath("file:/etc/hosts"), "/etc/hosts");
  assert.equal(fileUriToPath("file://evil.example/etc/hosts"), undefined);
  assert.equal(fileUriToPath("https://example.com/x"), undefined);
});

Deno.test("candidatePaths: ~, relative, traversal, percent-encoding and other schemes", () => {
  assert.deepEqual(candidatePaths("~/.ssh/id_rsa", host), ["/home/u/.ssh/id_rsa"]);
  assert.deepEqual(candidatePaths("notes.txt", host), ["/home/u/proj/notes.txt"]);
  assert.deepEqual(candidatePaths("/home/u/proj/src/../../.aws/credentials", host), [
    "/home/u/.aws/credentials",
  ]);
  assert.deepEqual(candidatePaths("/home/u/proj/%2e%2e/.ssh/x", host), [
    "/home/u/proj/%2e%2e/.ssh/x",
    "/home/u/.ssh/x",
  ]);
  assert.deepEqual(candidatePaths("file:///home/u/%2Essh/k", host), ["/home/u/.ssh/k"]);
  assert.deepEqual(candidatePaths("https://example.com/a", host), []);
  assert.deepEqual(candidatePaths("", host), []);
});

Deno.test("looksLikePath: paths yes, code and prose no", () => {
  assert.ok(looksLikePath("/etc/passwd"));
  assert.ok(looksLikePath("~/.bashrc"));
  assert.ok(looksLikePath("../x"));
  assert.ok(looksLikePath("file:///x"));
  assert.ok(!looksLikePath("/* a comment */"));
  assert.ok(!looksLikePath("// note"));
  assert.ok(!looksLikePath("hello world"));
  assert.ok(!looksLikePath("/a\n/b"));
  assert.ok(!looksLikePath("~/.ssh is world readable"));
});

Deno.test("resolveSymlinks follows a real symlinked directory for a file not yet created", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const real = Deno.realPathSync(dir);
    Deno.mkdirSync(`${real}/secret`);
    Deno.symlinkSync(`${real}/secret`, `${real}/link`);
    const realPath = (p: string) => {
      try {
        return Deno.realPathSync(p);
      } catch {
        return undefined;
      }
    };
    const h = { home: real, cwd: real, realPath };
    assert.equal(resolveSymlinks(`${real}/link/new.txt`, h), `${real}/secret/new.txt`);
    assert.equal(resolveSymlinks(`${real}/link`, h), `${real}/secret`);
    assert.deepEqual(resolvePathArgument(`${real}/link/a`, h), [
      `${real}/link/a`,
      `${real}/secret/a`,
    ]);
    // Without realPath nothing is resolved.
    assert.equal(resolveSymlinks(`${real}/link/x`, { home: real, cwd: real }), `${real}/link/x`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSymlinks: an adapter that answers a missing path with itself still finds the link", () => {
  const dir = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    Deno.mkdirSync(`${dir}/secret`);
    Deno.symlinkSync(`${dir}/secret`, `${dir}/link`);
    // The proxy's adapter returns the input when realpath fails (regression: a new file under a
    // symlinked directory was not resolved).
    const realPath = (p: string) => {
      try {
        return Deno.realPathSync(p);
      } catch {
        return p;
      }
    };
    assert.equal(
      resolveSymlinks(`${dir}/link/sub/new.txt`, { home: dir, cwd: dir, realPath }),
      `${dir}/secret/sub/new.txt`,
    );
    assert.equal(
      resolveSymlinks(`${dir}/plain/new.txt`, { home: dir, cwd: dir, realPath }),
      `${dir}/plain/new.txt`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("candidatePaths: NUL truncation and Windows separators (bypass regressions)", () => {
  const h = { home: "/home/u", cwd: "/w" };
  assert.deepEqual(candidatePaths("/home/u/.ssh/authorized_keys\0.txt", h), [
    "/home/u/.ssh/authorized_keys",
  ]);
  assert.ok(candidatePaths("C:\\Users\\u\\.ssh\\id_rsa", h).includes("/w/C:/Users/u/.ssh/id_rsa"));
  assert.deepEqual(candidatePaths("\0", h), []);
});
