/**
 * Shared test helpers: real processes only. The proxy runs as `deno run -A cli.ts`, servers come
 * from npm, clients are the MCP SDK's.
 *
 * @module
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { fileURLToPath as fromFileUrl } from "node:url";
import { DEFAULT_CONFIG, type WatchdogConfig } from "../src/config.ts";
import type { DetectorEnv } from "../src/pipeline/detector.ts";
import { MemoryStore } from "../src/store/memory_store.ts";
import type { StateStore } from "../src/store/store.ts";

/** Absolute path of the project root. */
export const ROOT: string = fromFileUrl(new URL("../", import.meta.url));
/** The proxy command, as users run it from a checkout. */
export const PROXY: string[] = [Deno.execPath(), "run", "-A", `${ROOT}cli.ts`];
/** server-everything over stdio, from npm. */
export const EVERYTHING: string[] = [
  Deno.execPath(),
  "run",
  "-A",
  "npm:@modelcontextprotocol/server-everything@2026.8.31",
  "stdio",
];
/** server-filesystem over stdio, from npm; append the allowed directories. */
export const FILESYSTEM: string[] = [
  Deno.execPath(),
  "run",
  "-A",
  "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
];
/** The shared corpus, beside the project. */
export const SHARED: string = fromFileUrl(new URL("../../shared/", import.meta.url));

/** Sanitizer settings for tests that drive SDK clients (the SDK keeps timers of its own). */
export const SDK_TEST = { sanitizeOps: false, sanitizeResources: false } as const;

/** What {@link detectorEnv} may change. */
export interface TestEnvOptions {
  /** Server name (default "t"); the key defaults to it. */
  name?: string;
  key?: string;
  session?: string;
  store?: StateStore;
  /** Changes to the default configuration. */
  config?: Partial<WatchdogConfig>;
  now?: () => number;
}

/** What a detector gets besides the message, for unit tests: an in-memory store, a fixed clock. */
export function detectorEnv(o: TestEnvOptions = {}): DetectorEnv {
  const name = o.name ?? "t";
  return {
    server: { name, key: o.key ?? name },
    session: o.session ?? "s",
    store: o.store ?? new MemoryStore(),
    config: { ...DEFAULT_CONFIG, ...o.config },
    now: o.now ?? (() => 0),
  };
}

/** A user rule as a `--rules` directory holds it: neutralises "Project Bluebird". */
export const CODENAME_RULE_YAML: string = `id: company-codename
title: Internal codename
family: custom
severity: medium
action: neutralize
marker: codename
message: The internal codename must not reach the model.
match:
  keywords: [bluebird]
  patterns: ['\\bproject\\s+bluebird\\b']
`;

/** A fixture script's path. */
export function fixture(name: string): string {
  return `${ROOT}tests/fixtures/${name}`;
}

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Client capabilities sampling/elicitation/roots with canned answers (default true). */
  readonly capabilities?: boolean;
  readonly env?: Record<string, string>;
  readonly stderr?: "inherit" | "ignore" | "pipe";
}

/** A real MCP SDK client over stdio to `command`. */
export async function connect(command: string[], o: ConnectOptions = {}): Promise<Client> {
  const caps = o.capabilities ?? true;
  const client = new Client(
    { name: "mcp-watchdog-test", version: "1.0.0" },
    { capabilities: caps ? { sampling: {}, elicitation: {}, roots: { listChanged: true } } : {} },
  );
  if (caps) {
    client.setRequestHandler(CreateMessageRequestSchema, () => ({
      role: "assistant",
      content: { type: "text", text: "sampled answer" },
      model: "test-model",
      stopReason: "endTurn",
    }));
    client.setRequestHandler(ElicitRequestSchema, () => ({ action: "decline" }));
    client.setRequestHandler(ListRootsRequestSchema, () => ({
      roots: [{ uri: "file:///tmp", name: "tmp" }],
    }));
  }
  const transport = new StdioClientTransport({
    command: command[0],
    args: command.slice(1),
    env: { ...Deno.env.toObject(), ...o.env },
    stderr: o.stderr ?? "ignore",
  });
  await client.connect(transport);
  return client;
}

/** A fresh temp dir, removed when the returned handle is disposed (`await using`). */
export async function tempDir(
  prefix = "mcp-watchdog-test-",
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Run a command to completion with `input` on stdin; returns stdout, stderr and the code. */
export async function run(
  command: string[],
  input = "",
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(input)).catch(() => {});
  await w.close().catch(() => {});
  const out = await p.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Parse newline-delimited JSON output. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** The `initialize` request (id 1) as one NDJSON line without its newline. */
export const INIT_LINE: string = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "t", version: "1" },
  },
});

/** A `tools/call` request as one NDJSON line without its newline. */
export function toolCallLine(
  id: number | string,
  name: string,
  args: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  });
}

/** The bundled minimal NDJSON echo server (tests/fixtures/echo_server.ts). */
export const ECHO_SERVER: string[] = [Deno.execPath(), "run", "-A", fixture("echo_server.ts")];
