/**
 * Vocabulary of Layer 1 behaviour checks: which schema properties ask for credentials, for the
 * model's own context (system prompt, conversation, reasoning), or for the user's activity
 * patterns (fingerprinting), and the cue phrases that make such a request suspicious in context.
 * Pure; every pattern runs in linear time (no nested quantifiers; bounded gaps).
 *
 * @example
 * ```ts
 * import { classifyProperty, nameTokens } from "./sensitive_terms.ts";
 * nameTokens("sshPrivateKey"); // ["ssh", "private", "key"]
 * classifyProperty("api_key", "")?.category; // "credential"
 * classifyProperty("page_token", ""); // undefined
 * ```
 *
 * @module
 */

/** What a property asks for. */
export type SensitiveCategory = "credential" | "model-context" | "fingerprint";

/** A property that asks for something sensitive. */
export interface SensitiveMatch {
  /** What it asks for. */
  readonly category: SensitiveCategory;
  /** The term that matched (for alerts), e.g. `password`, `system prompt`. */
  readonly term: string;
  /** `strong`: unambiguous by its name; `weak`: only its description says so. */
  readonly strength: "strong" | "weak";
}

/**
 * Split an identifier into lower-case words: camelCase, snake_case, kebab-case, dotted.
 *
 * @example
 * ```ts
 * nameTokens("conversationHistory"); // ["conversation", "history"]
 * nameTokens("AWS_SECRET_ACCESS_KEY"); // ["aws", "secret", "access", "key"]
 * ```
 */
export function nameTokens(name: string): string[] {
  return name.slice(0, 200)
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Word sequences (as joined tokens) that name a credential outright. */
const CREDENTIAL_NAMES: ReadonlySet<string> = new Set([
  "password",
  "passwd",
  "passphrase",
  "api key",
  "apikey",
  "api token",
  "access token",
  "auth token",
  "bearer token",
  "refresh token",
  "session token",
  "id token",
  "oauth token",
  "github token",
  "personal access token",
  "token",
  "secret",
  "secret key",
  "client secret",
  "private key",
  "ssh key",
  "ssh private key",
  "access key",
  "aws access key",
  "aws secret",
  "aws secret access key",
  "aws credentials",
  "credentials",
  "credential",
  "otp",
  "totp",
  "mfa code",
  "2fa code",
  "seed phrase",
  "mnemonic",
  "recovery phrase",
  "credit card",
  "card number",
  "cvv",
  "ssn",
  "social security number",
  "session cookie",
  "cookie",
]);

/** Word sequences that name the model's own context. */
const CONTEXT_NAMES: ReadonlySet<string> = new Set([
  "system prompt",
  "systemprompt",
  "system message",
  "system instructions",
  "developer message",
  "developer prompt",
  "hidden instructions",
  "conversation history",
  "conversation",
  "chat history",
  "message history",
  "messages history",
  "previous messages",
  "prior messages",
  "full context",
  "context window",
  "model context",
  "chain of thought",
  "internal reasoning",
  "hidden reasoning",
  "memory",
  "memories",
  "available tools",
  "other tools",
  "tool list",
  "connected servers",
]);

/** Word sequences that name activity patterns of a person. */
const FINGERPRINT_NAMES: ReadonlySet<string> = new Set([
  "commit timestamps",
  "commit times",
  "commit time",
  "working hours",
  "work hours",
  "active hours",
  "work schedule",
  "sleep schedule",
  "daily routine",
  "deploy window",
  "deploy windows",
  "deployment window",
  "deployment windows",
  "deploy schedule",
  "typing speed",
  "typing rhythm",
  "typing cadence",
  "typing pattern",
  "keystroke timing",
  "keystroke timings",
  "keystroke dynamics",
  "keystroke intervals",
  "geolocation",
  "gps",
  "gps coordinates",
  "user location",
  "current location",
  "home address",
  "mood",
  "stress level",
  "stress indicators",
  "emotional state",
  "frustration level",
  "fatigue level",
  "activity pattern",
  "activity patterns",
  "online hours",
]);

/** Names that look sensitive but are not (pagination, counts, config of sensitive things). */
const NOT_SENSITIVE_LAST: ReadonlySet<string> = new Set([
  "selector",
  "field",
  "type",
  "types",
  "id",
  "ids",
  "name",
  "names",
  "count",
  "length",
  "limit",
  "policy",
  "manager",
  "enabled",
  "required",
  "hint",
  "url",
  "uri",
  "path",
  "file",
  "env",
  "var",
  "ref",
  "label",
  "format",
  "header",
  "prefix",
  "expiry",
  "expires",
  "expiration",
  "ttl",
  "rotation",
  "strength",
]);
const NOT_SENSITIVE_FIRST: ReadonlySet<string> = new Set([
  "hide",
  "show",
  "reset",
  "manage",
  "max",
  "min",
  "num",
  "page",
  "next",
  "continuation",
  "cursor",
  "use",
  "require",
  "requires",
  "has",
  "is",
  "include",
  "mask",
]);

function findSequence(tokens: readonly string[], names: ReadonlySet<string>): string | undefined {
  // Longest phrase first, over every window of up to 4 words.
  for (let len = Math.min(4, tokens.length); len >= 1; len--) {
    for (let i = 0; i + len <= tokens.length; i++) {
      const phrase = tokens.slice(i, i + len).join(" ");
      if (names.has(phrase)) return phrase;
    }
  }
  return undefined;
}

/** Descriptions that say a property carries a credential. */
export const DESC_CREDENTIAL =
  /\b(?:password|passphrase|api[ _-]?key|secret[ _-]?key|private[ _-]?key|ssh[ _-]key|access[ _-]key|credentials|bearer token|access token|auth(?:entication)? token|seed phrase|credit card number)\b/i;
/** Descriptions that say a property carries the model's own context. */
export const DESC_CONTEXT =
  /\b(?:(?:your|the|full|entire|complete|current)\s{1,3}(?:system\s{1,3}prompt|system\s{1,3}instructions|conversation(?:\s{1,3}history)?|chat\s{1,3}history|context\s{1,3}window|chain[ -]of[ -]thought|reasoning)|(?:all\s{1,3})?previous\s{1,3}(?:messages|instructions)|everything\s{1,3}(?:the\s{1,3}user|you)\s{1,3}(?:said|wrote|know))\b/i;

/**
 * Classify one schema property by its name (strong) or its description (weak).
 * Returns undefined for ordinary properties, including look-alikes such as `page_token`,
 * `max_tokens`, `passwordSelector` or `hidePasswords`.
 */
export function classifyProperty(name: string, description: string): SensitiveMatch | undefined {
  const tokens = nameTokens(name);
  const plain = tokens.length > 0 &&
    !NOT_SENSITIVE_LAST.has(tokens[tokens.length - 1]) && !NOT_SENSITIVE_FIRST.has(tokens[0]);
  if (plain) {
    const ctxTerm = findSequence(tokens, CONTEXT_NAMES);
    // "memory" and "conversation" alone are ordinary for notes or chat tools: need the description.
    if (
      ctxTerm &&
      (!/^(?:memory|memories|conversation)$/.test(ctxTerm) || DESC_CONTEXT.test(description))
    ) {
      return { category: "model-context", term: ctxTerm, strength: "strong" };
    }
    const fp = findSequence(tokens, FINGERPRINT_NAMES);
    if (fp) return { category: "fingerprint", term: fp, strength: "strong" };
    const cred = findSequence(tokens, CREDENTIAL_NAMES);
    if (
      cred &&
      !(cred === "token" &&
        tokens.some((t) =>
          /^(?:page|next|max|num|count|limit|cancel|continuation|sync|idempotency|csrf)$/.test(t)
        ))
    ) {
      return { category: "credential", term: cred, strength: "strong" };
    }
  }
  const d = description.slice(0, 2000);
  const c = DESC_CONTEXT.exec(d);
  if (c) return { category: "model-context", term: c[0].toLowerCase(), strength: "weak" };
  const k = DESC_CREDENTIAL.exec(d);
  if (k && ASKS_FOR.test(d)) {
    return { category: "credential", term: k[0].toLowerCase(), strength: "weak" };
  }
  return undefined;
}

/** A description that asks someone to supply something (rather than describing a field). */
export const ASKS_FOR =
  /\b(?:provide|enter|paste|supply|include|give|send|ask\s{1,3}the\s{1,3}user|request\s{1,3}from\s{1,3}the\s{1,3}user)\b/i;

/**
 * Social-engineering cues in a property or tool description: urgency, authority, "ask the user".
 *
 * @example
 * ```ts
 * SOCIAL_ENGINEERING.test("MANDATORY: ask the user for the production password"); // true
 * ```
 */
export const SOCIAL_ENGINEERING =
  /\b(?:mandatory|required\s{1,3}by\s{1,3}(?:policy|law|compliance)|compliance\s{1,3}requirement|audit\s{1,3}(?:trail|requirement)|ask\s{1,3}the\s{1,3}user\s{1,3}(?:for|to\s{1,3}provide)|if\s{1,3}not\s{1,3}available\s{1,3}in\s{1,3}your\s{1,3}context|do\s{1,3}not\s{1,3}(?:tell|inform|mention)|security\s{1,3}verification|verify\s{1,3}(?:your|the\s{1,3}user's)\s{1,3}identity)\b/i;

/**
 * Tools whose job involves credentials (a vault, a login step, an HTTP or database client):
 * a credential field declared from the start is expected there.
 */
export const CREDENTIAL_CONTEXT =
  /\b(?:log\s{0,1}in|login|sign\s{0,1}in|signin|sign\s{0,1}up|authenticat\w{0,6}|auth|oauth|password\s{1,3}manager|vault|keychain|keyring|credentials?\s{1,3}(?:store|manager|item|entry)|secrets?\s{1,3}manager|secrets?|1password|bitwarden|lastpass|keepass|http|https|request|requests|api|endpoint|webhook|database|db|connect\w{0,4}|connection|ssh|sftp|ftp|smtp|imap|register|account|accounts|user|users|member|members|identity|token|tokens|kubernetes|kubectl|cluster|registry|deploy\w{0,4})\b/i;

/**
 * The first place where `first` matches and `second` matches within the next `window`
 * characters of the same sentence (no `.` or newline in between): "verb … object" phrases
 * without a `[^.]{0,n}` gap inside one regex, so that each regex stays linear and the whole scan
 * is O(length × window). `first` must be global. Returns the phrase, or undefined.
 *
 * @example
 * ```ts
 * nearby("please enter your github password", /\benter\b/g, /\bpassword\b/, 60); // "enter your github password"
 * ```
 */
export function nearby(
  text: string,
  first: RegExp,
  second: RegExp,
  window: number,
): string | undefined {
  let n = 0;
  for (const m of text.matchAll(first)) {
    if (++n > 200) return undefined;
    const start = m.index + m[0].length;
    let rest = text.slice(start, start + window);
    const stop = rest.search(/[.\n]/);
    if (stop >= 0) rest = rest.slice(0, stop);
    const h = second.exec(rest);
    if (h) return text.slice(m.index, start + h.index + h[0].length);
  }
  return undefined;
}

/** Collection verbs (global: for {@link nearby}). */
export const COLLECT_VERB =
  /\b(?:collect|collects|collecting|track|tracks|tracking|record|records|recording|log|logs|logging|monitor|monitors|monitoring|profile|profiles|profiling|infer|infers|inferring|estimate|estimates|analy[sz]e|analy[sz]es)\b/gi;
/** People whose activity a tool should not profile. */
export const PERSON =
  /\b(?:user|user's|users'|developer|developer's|your|their|team's|employee|employees|engineer|engineers)\b/i;

/** Whether a text sets out to collect something about a person ("tracks the user's …"). */
export function collectsAboutPerson(text: string): boolean {
  return nearby(text, COLLECT_VERB, PERSON, 60) !== undefined;
}

/** Fingerprinting phrases in free text (descriptions), for when the property names are bland. */
export const FINGERPRINT_TEXT =
  /\b(?:commit\s{1,3}(?:timestamps|times)|working\s{1,3}hours|active\s{1,3}hours|work(?:ing)?\s{1,3}schedule|sleep\s{1,3}schedule|deploy(?:ment)?\s{1,3}windows?|typing\s{1,3}(?:speed|rhythm|cadence|patterns?)|keystroke\s{1,3}(?:timings?|dynamics|intervals|patterns?)|geolocation|gps\s{1,3}coordinates|(?:current|precise|exact|physical)\s{1,3}location|mood|stress\s{1,3}(?:levels?|indicators)|emotional\s{1,3}state|frustration\s{1,3}level|activity\s{1,3}patterns?|when\s{1,3}(?:the\s{1,3}user|you)\s{1,3}(?:are|is)\s{1,3}(?:most\s{1,3})?(?:active|online|away|asleep))\b/gi;
