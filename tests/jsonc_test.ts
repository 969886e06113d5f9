import assert from "node:assert/strict";
import {
  applyEdits,
  findNode,
  getMember,
  JsoncError,
  lineOf,
  parseJsonc,
  toValue,
} from "../src/jsonc.ts";

Deno.test("parseJsonc: plain JSON gives the same value as JSON.parse", () => {
  const texts = [
    '{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"d\\n\\u00e9\\"x"},"e":[]}',
    "[]",
    '"just a string"',
    "  42  ",
    '{"dup":1,"dup":2}',
  ];
  for (const t of texts) assert.deepEqual(toValue(parseJsonc(t)), JSON.parse(t), t);
});

Deno.test("parseJsonc: comments, trailing commas and a BOM are accepted", () => {
  const text =
    '\ufeff// head\n{\n  /* block\n  comment */ "a": [1, 2,], // tail\n  "b": {"c": "x",},\n}\n';
  assert.deepEqual(toValue(parseJsonc(text)), { a: [1, 2], b: { c: "x" } });
});

Deno.test("parseJsonc: string nodes keep their raw token and spans point into the text", () => {
  const text = '{ "cmd" : "C:\\\\tools\\\\x.exe", "args": ["-y", "pkg"] }';
  const root = parseJsonc(text);
  const cmd = findNode(root, ["cmd"])!;
  assert.equal(cmd.type, "string");
  if (cmd.type !== "string") return;
  assert.equal(cmd.value, "C:\\tools\\x.exe");
  assert.equal(text.slice(cmd.start, cmd.end), cmd.raw);
  assert.equal(cmd.raw, '"C:\\\\tools\\\\x.exe"');
  const second = findNode(root, ["args", 1])!;
  assert.equal(text.slice(second.start, second.end), '"pkg"');
  const m = getMember(root, "args")!;
  assert.equal(text.slice(m.keyStart, m.keyEnd), '"args"');
  assert.equal(findNode(root, ["args", 5]), undefined);
  assert.equal(findNode(root, ["nope", "x"]), undefined);
});

Deno.test("parseJsonc: raw control characters inside strings are tolerated", () => {
  const root = parseJsonc('{"a": "tab\there"}');
  assert.deepEqual(toValue(root), { a: "tab\there" });
});

Deno.test("parseJsonc: broken input throws JsoncError with an offset", () => {
  for (
    const bad of [
      '{"a": }',
      '{"a" 1}',
      '{"a": "x',
      "[1 2]",
      "/* open",
      '{"a": 1} x',
      "",
      "{a: 1}",
      '"\\q"',
    ]
  ) {
    assert.throws(() => parseJsonc(bad), JsoncError, bad);
  }
  try {
    parseJsonc('{\n  "a": ?\n}');
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof JsoncError);
    assert.equal(e.offset, 9);
  }
});

Deno.test("parseJsonc: deep nesting is refused instead of overflowing the stack", () => {
  assert.throws(() => parseJsonc("[".repeat(100_000)), /nesting too deep/);
  assert.deepEqual(
    toValue(parseJsonc("[".repeat(100) + "]".repeat(100))),
    JSON.parse("[".repeat(100) + "]".repeat(100)),
  );
});

Deno.test("parseJsonc: linear on large inputs", () => {
  const big = JSON.stringify({
    projects: Object.fromEntries(
      Array.from(
        { length: 20_000 },
        (_, i) => [`/p/${i}`, { mcpServers: {}, history: ["x".repeat(50)] }],
      ),
    ),
  });
  const root = parseJsonc(big);
  assert.equal(getMember(root, "projects")?.value.type, "object");
});

Deno.test("applyEdits: applies edits in any order, refuses overlaps", () => {
  assert.equal(
    applyEdits("abcdef", [{ start: 4, end: 5, text: "E" }, { start: 0, end: 1, text: "AA" }, {
      start: 3,
      end: 3,
      text: "+",
    }]),
    "AAbc+dEf",
  );
  assert.equal(applyEdits("abc", []), "abc");
  assert.throws(
    () => applyEdits("abcdef", [{ start: 0, end: 3, text: "" }, { start: 2, end: 4, text: "" }]),
    RangeError,
  );
});

Deno.test("edits keep comments: replacing one value leaves every other byte", () => {
  const text = '{\n  // keep me\n  "command": "npx", /* and me */\n  "args": ["-y"],\n}';
  const root = parseJsonc(text);
  const c = findNode(root, ["command"])!;
  const out = applyEdits(text, [{ start: c.start, end: c.end, text: '"mcp-watchdog"' }]);
  assert.equal(
    out,
    '{\n  // keep me\n  "command": "mcp-watchdog", /* and me */\n  "args": ["-y"],\n}',
  );
});

Deno.test("lineOf: 1-based line numbers", () => {
  const t = "a\nbb\nccc";
  assert.equal(lineOf(t, 0), 1);
  assert.equal(lineOf(t, 1), 1);
  assert.equal(lineOf(t, 2), 2);
  assert.equal(lineOf(t, 8), 3);
});
