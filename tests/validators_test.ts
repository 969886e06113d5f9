import assert from "node:assert/strict";
import {
  base62,
  crc32,
  isPlaceholder,
  shannonEntropy,
  validators as v,
} from "../src/rules/validators.ts";

// Fixtures are assembled at run time so that secret scanners do not flag this file. The GitHub and
// npm tokens below carry checksums computed independently (Python zlib.crc32 + base62).
const j = (...p: string[]) => p.join("");
const GHP = j("ghp", "_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL");
const NPM = j("npm", "_Eeeby3abP3E2Zs8IQ9Y7aJZqhB6bae2dTjzx");

Deno.test("crc32 and base62 match reference values", () => {
  assert.equal(crc32("123456789"), 0xcbf43926);
  assert.equal(crc32(""), 0);
  assert.equal(base62(0, 6), "000000");
  assert.equal(base62(61, 1), "z");
  assert.equal(base62(62, 3), "010");
});

Deno.test("github: checksum decides for ghp_/gho_/ghs_, structure for github_pat_", () => {
  assert.equal(v.github(GHP), true);
  assert.equal(v.github(GHP.replace("ghp", "gho")), true);
  // One character changed: the CRC32 no longer matches.
  assert.equal(v.github(GHP.slice(0, 10) + "Z" + GHP.slice(11)), false);
  assert.equal(v.github(j("ghp", "_", "x".repeat(36))), false);
  assert.equal(v.github(j("ghp", "_1234567890abcdefghijklmnopqrstuvwxyz")), false);
  const pat = j(
    "github",
    "_pat_CN6Zj4a3dDVhYRnKTbxTNJ_FoBinF5aJXVuLkSIc47WQAmL9xVQ2zg4mZaouqKLiMcVbpT4r5yHUig43ki",
  );
  assert.equal(v.github(pat), true);
  assert.equal(v.github(j("github", "_pat_", "A".repeat(22), "_", "B".repeat(59))), false);
});

Deno.test("npm: same checksum scheme", () => {
  assert.equal(v.npm(NPM), true);
  assert.equal(v.npm(NPM.slice(0, -1) + "y"), false);
});

Deno.test("aws: access key ids, not the documentation example", () => {
  assert.equal(v.aws_access_key(j("AKIA", "Q3PZ7TLM2XWV4KRN")), true);
  assert.equal(v.aws_access_key(j("AKIA", "IOSFODNN7EXAMPLE")), false);
  assert.equal(v.aws_access_key(j("AKIA", "AAAAAAAAAAAAAAAA")), false);
  assert.equal(v.aws_secret_key("SOUpTP+j33ZyXOivikASDTyPhQz0ziAFnPzMtgBo"), true);
  assert.equal(v.aws_secret_key(j("wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY")), false);
  // A 40-hex commit SHA is not a secret key (no upper case).
  assert.equal(v.aws_secret_key("9fceb02d0ae598e95dc970b74767f19372d61af8"), false);
});

Deno.test("slack, stripe, google", () => {
  assert.equal(v.slack(j("xoxb", "-123456789012-1234567890123-JfahqSIjOugM1yTMAd7V3DnI")), true);
  assert.equal(v.slack(j("xoxb", "-your-token-here")), false);
  assert.equal(v.slack(j("xoxb", "-000000000000-xxxxxxxxxxxxxxxxxxxx")), false);
  assert.equal(v.stripe(j("sk", "_live_JfahqSIjOugM1yTMAd7V3DnI")), true);
  assert.equal(v.stripe(j("sk", "_live_xxxxxxxxxxxxxxxxxxxxxxxx")), false);
  assert.equal(v.stripe(j("sk", "_test_JfahqSIjOugM1yTMAd7V3DnI")), false);
  assert.equal(v.google_api_key(j("AIza", "xpAKLG3JxIyiJG21DHtOR3WRbUfXrG7jwrG")), true);
  assert.equal(v.google_api_key(j("AIza", "SyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")), false);
});

Deno.test("openai and anthropic keys, placeholders rejected", () => {
  assert.equal(v.openai(j("sk", "-Y9XW1tSnBc0np9B9Udk7Z3KhXXZUon6uZ3FCH2n6WSZ1mvw4")), true);
  assert.equal(v.openai(j("sk", "-proj-Y9XW1tSnBc0np9B9Udk7Z3KhXXZUon6uZ3FCH2n6WSZ1mvw4")), true);
  assert.equal(v.openai(j("sk", "-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")), false);
  assert.equal(v.openai(j("sk", "-your-api-key-here-0000000000000000000")), false);
  assert.equal(v.openai("sk-abc"), false);
  const ant = j(
    "sk",
    "-ant-api03-GVoo_ALvpZHtZrjmTJAMJTT1-NXa0IrleG6woopoDzp7O8QuKEh6D0JCk39QmJWikyFE-xzzdAIDhXzK2QkI3cBXkLjSg",
  );
  assert.equal(v.anthropic(ant), true);
  assert.equal(v.openai(ant), false);
  assert.equal(v.anthropic(j("sk", "-ant-api03-", "x".repeat(93))), false);
});

Deno.test("jwt: decodable header with alg and an object payload", () => {
  const enc = (o: unknown) =>
    btoa(JSON.stringify(o)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  const token = `${enc({ alg: "HS256", typ: "JWT" })}.${
    enc({ sub: "42", name: "a" })
  }.${"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"}`;
  assert.equal(v.jwt(token), true);
  assert.equal(v.jwt(`${enc({ alg: "none" })}.${enc({ sub: "1" })}.`), true);
  assert.equal(v.jwt(`${enc({ typ: "JWT" })}.${enc({ sub: "1" })}.abcdefghijklmnopqrst`), false);
  assert.equal(v.jwt("eyJhbGciOi.not-json.sig"), false);
  assert.equal(v.jwt("a.b.c"), false);
});

Deno.test("pem: needs a matching END and a real body", () => {
  const body = "MIIEowIBAAKCAQEA7Vq3fXgQ2m8bN5p0c1rT9yW4vZ6uK3hL2jD8sF5aG1oE0iR7tY\n".repeat(3);
  const head = j("-----BEGIN ", "RSA PRIVATE KEY-----");
  assert.equal(v.pem_private_key(`${head}\n${body}-----END RSA PRIVATE KEY-----`), true);
  assert.equal(v.pem_private_key(`${head}\n...\n-----END RSA PRIVATE KEY-----`), false);
  assert.equal(v.pem_private_key(`${head}\n${body}-----END PRIVATE KEY-----`), false);
  // Keys inside .env or JSON text carry literal "\n" separators.
  const escaped = `${head}\\n${body.replaceAll("\n", "\\n")}-----END RSA PRIVATE KEY-----`;
  assert.equal(v.pem_private_key(escaped), true);
  // A truncated key (no END line) still has its body.
  assert.equal(v.pem_private_key(`${head}\n${body}`), true);
  // OpenSSH magic makes even a short body a key.
  const ssh = j("-----BEGIN ", "OPENSSH PRIVATE KEY-----");
  assert.equal(
    v.pem_private_key(
      `${ssh}\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----`,
    ),
    true,
  );
});

Deno.test("url password: real passwords yes, placeholders no", () => {
  assert.equal(v.url_password("s3cr3t-Pa55"), true);
  assert.equal(v.url_password("Tr0ub4dor%263"), true);
  for (
    const p of [
      "password",
      "pass",
      "****",
      "<password>",
      "${DB_PASSWORD}",
      "xxxx",
      "secret",
      "he%2F%2Fo",
    ]
  ) {
    assert.equal(v.url_password(p), false, p);
  }
});

Deno.test("helpers: placeholder and entropy", () => {
  assert.equal(isPlaceholder("your-api-key-here"), true);
  assert.equal(isPlaceholder("sk-xxxx"), true);
  assert.equal(isPlaceholder("Y9XW1tSnBc0np9B9Udk7"), false);
  assert.equal(shannonEntropy("aaaa"), 0);
  assert.equal(shannonEntropy("abcd"), 2);
  assert.equal(v.assigned_secret("Y9XW1tSnBc0np9B9Udk7"), true);
  assert.equal(v.assigned_secret("changeme"), false);
});

Deno.test("regression: code references, encoded example phrases and doc passwords are not secrets", () => {
  // @octokit READMEs: `privateKey: process.env.PRIVATE_KEY`.
  assert.equal(v.assigned_secret("process.env.PRIVATE_KEY"), false);
  // npm arborist README: base64 of "not my real password".
  assert.equal(v.assigned_secret("bm90IG15IHJlYWwgcGFzc3dvcmQ="), false);
  // pip docs: `https://username:he%2F%2Fo@pypi.company.com/`.
  assert.equal(v.url_password("he%2F%2Fo"), false);
  // docker-compose default credentials.
  assert.equal(v.url_password("postgres"), false);
});
