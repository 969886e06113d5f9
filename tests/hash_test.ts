import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hash8, sha256Hex, sha256HexBytes } from "../src/hash.ts";

Deno.test("sha256Hex: FIPS 180-2 / NIST vectors", () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    sha256Hex("a".repeat(1_000_000)),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("sha256Hex: hashes UTF-8, matches node:crypto at every padding boundary", () => {
  for (let n = 0; n < 140; n++) {
    const s = "é🙂x".repeat(n).slice(0, n);
    assert.equal(sha256Hex(s), createHash("sha256").update(s, "utf8").digest("hex"), `len ${n}`);
  }
  assert.equal(
    sha256HexBytes(new Uint8Array([0xff, 0x00])),
    createHash("sha256").update(new Uint8Array([0xff, 0x00])).digest("hex"),
  );
});

Deno.test("hash8: first 8 hex digits", () => {
  assert.equal(hash8("abc"), "ba7816bf");
  assert.match(hash8("ghp_secret"), /^[0-9a-f]{8}$/);
});
