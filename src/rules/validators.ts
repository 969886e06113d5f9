/**
 * Named validators that a rule can attach to a pattern (`match.validate: <name>`): the engine calls
 * `validators[name](matchText)` and keeps the match only when it returns `true`. They confirm a
 * candidate secret by its structure and, where the issuer defines one, its checksum, and reject
 * documentation placeholders (`sk-xxxx`, `your-api-key-here`, `AKIAIOSFODNN7EXAMPLE`), so that a
 * redaction never corrupts legitimate text. Pure functions, no I/O.
 *
 * @example
 * ```ts
 * import { validators } from "./validators.ts";
 * validators.jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"); // true
 * validators.aws_access_key("AKIAIOSFODNN7EXAMPLE"); // false: the documentation example
 * ```
 *
 * @module
 */

/** A validator: `true` when the matched text really is what the rule looks for. */
export type Validator = (matchText: string) => boolean;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3, as zlib) of an ASCII/Latin-1 string.
 *
 * @example
 * ```ts
 * crc32("123456789"); // 0xcbf43926
 * ```
 */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Base62 (0-9A-Za-z) of a non-negative integer, left-padded with `0` to `width`. */
export function base62(n: number, width: number): string {
  let out = "";
  let v = n;
  do {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  } while (v > 0);
  return out.padStart(width, "0");
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(text: string): number {
  if (!text) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  const n = [...text].length;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

const PLACEHOLDER_WORDS =
  /x{4}|\*{3}|\.{3}|example|placeholder|redacted|your|dummy|sample|changeme|replace|insert|secret_?here|token_?here|key_?here|fake|test_?key|<|>|\{\{|\$\{/i;
// Environment-variable references (`$DB_PASSWORD`, `%API_KEY%`) are upper case by convention.
const ENV_REFERENCE = /\$[A-Z_]{3}|%[A-Z_]{3}/;

/**
 * Whether a candidate secret is a documentation placeholder rather than a real value: template
 * words (`your`, `example`, `xxxx`, `<…>`, `${…}`), one character repeated, or an alphabet or
 * digit run.
 *
 * @example
 * ```ts
 * isPlaceholder("sk-xxxxxxxxxxxxxxxxxxxxxxxx"); // true
 * isPlaceholder("your-api-key-here"); // true
 * ```
 */
export function isPlaceholder(text: string): boolean {
  if (PLACEHOLDER_WORDS.test(text) || ENV_REFERENCE.test(text)) return true;
  if (/(.)\1{5}/.test(text)) return true;
  const lower = text.toLowerCase();
  return /0123456|1234567|2345678|3456789|abcdefg|bcdefgh|cdefghi|qwertyu/.test(lower);
}

/** Whether `body` looks random: entropy high enough for its length and more than one class. */
function looksRandom(body: string, minEntropy = 3.0): boolean {
  if (body.length < 8 || isPlaceholder(body)) return false;
  const classes = Number(/[a-z]/.test(body)) + Number(/[A-Z]/.test(body)) +
    Number(/[0-9]/.test(body));
  if (classes < 2) return false;
  return shannonEntropy(body) >= Math.min(minEntropy, Math.log2(body.length) - 0.5);
}

/** GitHub `gh?_` tokens carry `base62(crc32(random30))` as their last 6 characters. */
function githubChecksumOk(token: string): boolean {
  const body = token.slice(4);
  if (!/^[A-Za-z0-9]{36}$/.test(body)) return false;
  return base62(crc32(body.slice(0, 30)), 6) === body.slice(30);
}

/**
 * GitHub tokens. `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36 base62 must carry a valid CRC32 checksum;
 * fine-grained `github_pat_<22>_<59>` has no public checksum and is checked by structure and
 * randomness.
 */
export function githubToken(text: string): boolean {
  if (/^gh[pousr]_/.test(text)) return text.length === 40 && githubChecksumOk(text);
  const m = /^github_pat_([A-Za-z0-9]{22})_([A-Za-z0-9]{59})$/.exec(text);
  return m !== null && looksRandom(m[1] + m[2], 4.0);
}

/** npm automation/publish tokens: `npm_` + 36 base62 with the same CRC32 checksum as GitHub's. */
export function npmToken(text: string): boolean {
  return /^npm_[A-Za-z0-9]{36}$/.test(text) && githubChecksumOk(text);
}

/** AWS access key ids: `AKIA`/`ASIA`/… + 16 upper-case base32 characters, not the docs example. */
export function awsAccessKey(text: string): boolean {
  return /^(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}$/.test(text) &&
    !isPlaceholder(text) && shannonEntropy(text.slice(4)) >= 3.0;
}

/** AWS secret access keys: 40 base64 characters, random-looking (checked in context by the rule). */
export function awsSecretKey(text: string): boolean {
  return /^[A-Za-z0-9/+]{40}$/.test(text) && looksRandom(text, 4.0) && /[A-Z]/.test(text) &&
    /[a-z]/.test(text);
}

/** Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-`, `xapp-`): numeric groups then a random tail. */
export function slackToken(text: string): boolean {
  const m = /^(?:xox[abposre](?:\.[a-z0-9]{1,8})?|xapp)-(?:[0-9]{1,16}-){1,3}([A-Za-z0-9-]{8,})$/
    .exec(text);
  return m !== null && looksRandom(m[1].replaceAll("-", ""));
}

/** Stripe live secret and restricted keys (`sk_live_`, `rk_live_`), not test or placeholder keys. */
export function stripeKey(text: string): boolean {
  const m = /^(?:sk|rk)_live_([A-Za-z0-9]{16,247})$/.exec(text);
  return m !== null && looksRandom(m[1]);
}

/**
 * OpenAI keys: `sk-proj-`/`sk-svcacct-`/`sk-admin-` project keys, and legacy `sk-` keys (48
 * characters, most with the `T3BlbkFJ` marker). Anthropic `sk-ant-` keys are not OpenAI's.
 */
export function openaiKey(text: string): boolean {
  if (text.startsWith("sk-ant-")) return false;
  const m = /^sk-(?:(?:proj|svcacct|admin)-)?([A-Za-z0-9_-]{20,300})$/.exec(text);
  if (m === null) return false;
  const body = m[1];
  if (body.includes("T3BlbkFJ")) return !isPlaceholder(body);
  return body.length >= 32 && looksRandom(body, 4.0);
}

/** Anthropic API and admin keys: `sk-ant-api03-…AA` / `sk-ant-admin01-…AA`. */
export function anthropicKey(text: string): boolean {
  const m = /^sk-ant-(?:api|admin|sid|oat)[0-9]{2}-([A-Za-z0-9_-]{80,120})$/.exec(text);
  return m !== null && looksRandom(m[1], 4.0);
}

/** Google API keys: `AIza` + 35 URL-safe base64 characters. */
export function googleApiKey(text: string): boolean {
  const m = /^AIza([A-Za-z0-9_-]{35})$/.exec(text);
  return m !== null && looksRandom(m[1]);
}

function decodeBase64UrlJson(segment: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(segment) || segment.length % 4 === 1) return undefined;
  const b64 = segment.replaceAll("-", "+").replaceAll("_", "/");
  try {
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
}

/**
 * JSON Web Tokens: `header.payload.signature` where the header decodes to a JSON object with a
 * string `alg` and the payload to a JSON object. An unsigned token (`alg: none`, empty signature)
 * still carries claims and counts.
 */
export function jwt(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 3) return false;
  const header = decodeBase64UrlJson(parts[0]);
  if (typeof header !== "object" || header === null || Array.isArray(header)) return false;
  const alg = (header as Record<string, unknown>).alg;
  if (typeof alg !== "string") return false;
  const payload = decodeBase64UrlJson(parts[1]);
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return false;
  if (alg.toLowerCase() === "none") return true;
  return /^[A-Za-z0-9_-]{16,}$/.test(parts[2]);
}

/**
 * PEM private keys with their bodies: a BEGIN line, a base64 body of real length (not `...` or a
 * placeholder) and, when present, an END line with the same `… PRIVATE KEY` label.
 */
export function pemPrivateKey(text: string): boolean {
  const m =
    /^-----BEGIN ([A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?)-----([\s\S]*?)(?:-----END ([A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?)-----)?$/
      .exec(text);
  if (m === null || (m[3] !== undefined && m[1] !== m[3])) return false;
  // Lines may be real newlines or the two characters `\n` (keys inside .env or JSON text). Header
  // lines such as `Proc-Type:` / `DEK-Info:` of encrypted legacy keys are dropped.
  const body = m[2].split(/\r?\n|\\n/).filter((l) => !l.includes(":")).join("").replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/=]+$/.test(body) || isPlaceholder(body)) return false;
  // Short bodies only when they start with a key structure: the OpenSSH magic
  // ("openssh-key-v1") or a DER SEQUENCE ("MII…").
  return body.length >= 64 ||
    (body.length >= 24 && (body.startsWith("b3BlbnNzaC1rZXktdjE") || body.startsWith("MII")));
}

/**
 * The password part of a URL's userinfo (`scheme://user:PASSWORD@host`): real only when it is not a
 * placeholder (`password`, `pass`, `secret`, `****`, `<password>`, `${DB_PASSWORD}`, `xxx`).
 */
export function urlPassword(text: string): boolean {
  let pw = text;
  try {
    pw = decodeURIComponent(text);
  } catch { /* keep raw */ }
  // Documentation examples use short stand-ins (`he//o`); real passwords are longer.
  if (pw.length < 6 || isPlaceholder(pw)) return false;
  return !/^(?:pass(?:word|wd)?|pwd|secret|admin|root|user|guest|test|postgres|mysql|changeit|\*+|x+|\.+|[a-z]*_?password)$/i
    .test(pw);
}

/**
 * A value assigned to a secret-named key (`password=`, `api_key:`, `client_secret`): long enough,
 * random-looking and not a placeholder or a reference to another variable.
 */
export function assignedSecret(text: string): boolean {
  if (text.length < 12 || /^(?:true|false|null|none|undefined)$/i.test(text)) return false;
  // Code references (`process.env.PRIVATE_KEY`, `config.apiKey`), not values.
  if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(text)) return false;
  if (!/[0-9]/.test(text) || !looksRandom(text, 3.3)) return false;
  return !isEncodedPhrase(text);
}

/** Base64 that decodes to a plain-text phrase (`bm90IG15…` = "not my real password"): an example. */
function isEncodedPhrase(text: string): boolean {
  if (!/^[A-Za-z0-9+/]{8,}={0,2}$/.test(text) || text.length % 4 !== 0) return false;
  try {
    const plain = atob(text);
    return /^[\x20-\x7e]+$/.test(plain) && plain.includes(" ");
  } catch {
    return false;
  }
}

/**
 * Slack incoming-webhook URLs: `hooks.slack.com/services/T…/B…/<secret>` whose secret part looks
 * random (documentation uses `T00000000/B00000000/XXXXXXXX`).
 */
export function slackWebhook(text: string): boolean {
  const secret = text.slice(text.lastIndexOf("/") + 1);
  return secret.length >= 16 && looksRandom(secret) && !/\/[TB]0{6,}/.test(text);
}

/**
 * All validators by the name a rule's `match.validate` uses.
 *
 * @example
 * ```ts
 * validators.url_password("s3cr3t-Pa55"); // true
 * validators.url_password("password"); // false
 * ```
 */
export const validators: Readonly<Record<string, Validator>> = Object.freeze({
  github: githubToken,
  npm: npmToken,
  aws_access_key: awsAccessKey,
  aws_secret_key: awsSecretKey,
  slack: slackToken,
  slack_webhook: slackWebhook,
  stripe: stripeKey,
  openai: openaiKey,
  anthropic: anthropicKey,
  google_api_key: googleApiKey,
  jwt,
  pem_private_key: pemPrivateKey,
  url_password: urlPassword,
  assigned_secret: assignedSecret,
});
