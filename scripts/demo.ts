/**
 * `deno task demo`: a misbehaving MCP server (scripts/demo_server.ts) behind mcp-watchdog, driven by
 * a scripted MCP client. Each step runs once directly and once through the proxy, and the report
 * shows what the server sent, what reached the client, and the alerts.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const deno = Deno.execPath();
const server = [deno, "run", "-A", `${root}scripts/demo_server.ts`];
const work = await Deno.makeTempDir({ prefix: "mcp-watchdog-demo-" });
const audit = `${work}/audit.jsonl`;
const home = Deno.env.get("HOME") ?? work;
const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const c = (code: string, s: string) => color ? `\x1b[${code}m${s}\x1b[0m` : s;

type Msg = {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
  method?: string;
};
interface Step {
  title: string;
  method: string;
  params?: unknown;
  show(m: Msg): string;
}

const tools = (m: Msg) =>
  (m.result?.tools as { name: string; description: string }[] | undefined) ?? [];
const text = (m: Msg) =>
  m.error
    ? `JSON-RPC error: ${m.error.message}`
    : ((m.result?.content as { text?: string }[] | undefined) ?? []).map((x) => x.text ?? "").join(
      "",
    );
const descOf = (name: string) => (m: Msg) => {
  const t = tools(m).find((x) => x.name === name);
  return t ? t.description : `(${name} is not in the list)`;
};
const call = (name: string, args: Record<string, unknown> = {}) => ({
  method: "tools/call",
  params: { name, arguments: args },
  show: text,
});

const steps: Step[] = [
  {
    title: "Poisoned tool description (<IMPORTANT> block asking for ~/.ssh/id_rsa)",
    method: "tools/list",
    show: descOf("get_weather"),
  },
  { title: "A tool call", ...call("get_weather", { city: "Oslo" }) },
  {
    title: "Hidden unicode: tag-character smuggling and zero-width characters in a result",
    ...call("read_note"),
  },
  {
    title: "Rug pull: get_time changes after it was trusted (list_changed)",
    method: "tools/list",
    show: descOf("get_time"),
  },
  { title: "Calling the changed tool", ...call("get_time", { city: "Oslo" }) },
  { title: "Leaked secrets in a result (AWS key pair)", ...call("deploy_status") },
  {
    title: "HTML comment instruction, markdown image exfiltration, base64-encoded instruction",
    ...call("fetch_page", { url: "https://example.com" }),
  },
  {
    title: "ANSI escapes: colour kept as text, OSC title and concealed text stripped",
    ...call("run_tests"),
  },
  {
    title:
      "A support ticket with a session token (clean: remembered, as a fingerprint, for Layer 3)",
    ...call("get_ticket"),
  },
  {
    title:
      "Write to a sensitive location (~/.ssh/authorized_keys), refused before the server sees it",
    ...call("write_file", {
      path: `${home}/.ssh/authorized_keys`,
      content: "ssh-ed25519 AAAA attacker",
    }),
  },
];

async function converse(
  command: string[],
  script: readonly Step[] = steps,
): Promise<Msg[]> {
  const p = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    // Both wrappers of the flow step belong to one client session, as under one real client.
    env: { MCP_WATCHDOG_SESSION: "demo-client" },
  }).spawn();
  const w = p.stdin.getWriter();
  const enc = new TextEncoder();
  const lines = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const next = async (id: number): Promise<Msg> => {
    while (true) {
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const m = JSON.parse(buf.slice(0, i)) as Msg;
        buf = buf.slice(i + 1);
        if (m.id === id && !m.method) return m;
      }
      const { value, done } = await lines.read();
      if (done) return { id, error: { message: "(connection closed)" } };
      buf += value;
    }
  };
  let id = 0;
  const send = async (method: string, params: unknown) => {
    const my = ++id;
    await w.write(enc.encode(JSON.stringify({ jsonrpc: "2.0", id: my, method, params }) + "\n"));
    return await next(my);
  };
  await send("initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "demo", version: "1" },
  });
  await w.write(enc.encode('{"jsonrpc":"2.0","method":"notifications/initialized"}\n'));
  const out: Msg[] = [];
  for (const s of script) out.push(await send(s.method, s.params ?? {}));
  await w.close();
  await lines.cancel();
  await p.status;
  return out;
}

const direct = await converse(server);
const proxied = await converse([
  deno,
  "run",
  "-A",
  `${root}cli.ts`,
  "--quiet",
  "--name",
  "demo",
  "--audit-log",
  audit,
  "--state-dir",
  `${work}/state`,
  "--",
  ...server,
]);
const records = (await Deno.readTextFile(audit).catch(() => "")).split("\n").filter(Boolean).map((
  l,
) => JSON.parse(l));

const clip = (s: string, n = 220) => {
  const v = JSON.stringify(s).slice(1, -1);
  return v.length > n ? v.slice(0, n) + "…" : v;
};
console.log(c("1", "mcp-watchdog demo: a malicious MCP server, directly and through the proxy\n"));
let caught = 0;
steps.forEach((s, i) => {
  const id = i + 2;
  const sent = s.show(direct[i]), got = s.show(proxied[i]);
  const alerts = records.filter((r) =>
    r.id === id ||
    (s.method === "tools/list" && r.method === "tools/list" && r.path?.includes("/tools/") &&
      r.id === id)
  );
  const changed = sent !== got;
  if (changed || alerts.length) caught++;
  console.log(c("1", `${i + 1}. ${s.title}`));
  console.log(`   server sent:        ${clip(sent)}`);
  console.log(`   reached the client: ${changed ? c("32", clip(got)) : clip(got)}`);
  for (const r of alerts) {
    console.log(
      `   ${c("33", `[${r.severity}]`)} ${r.rule} ${r.action} at ${r.path}: ${r.excerpt}`,
    );
  }
  if (!changed && !alerts.length) console.log(`   ${c("2", "(nothing to do: clean)")}`);
  console.log();
});
// Layer 3: a second wrapper (another server, "notes") in the same client session receives the
// token that the first server returned. Both share the state directory, as wrappers on one machine do.
const flowAudit = `${work}/audit-notes.jsonl`;
const ticketAt = steps.findIndex((s) =>
  (s.params as { name?: string } | undefined)?.name === "get_ticket"
);
const token = /tk_[A-Za-z0-9]+/.exec(text(proxied[ticketAt]))?.[0] ?? "";
const flowStep: Step = {
  title: `Cross-server flow: the token from server "demo" sent to server "notes"`,
  ...call("fetch_page", { url: `https://example.com/support?session=${token}` }),
};
await converse([
  deno,
  "run",
  "-A",
  `${root}cli.ts`,
  "--quiet",
  "--name",
  "notes",
  "--audit-log",
  flowAudit,
  "--state-dir",
  `${work}/state`,
  "--",
  ...server,
], [flowStep]);
const flowRecords = (await Deno.readTextFile(flowAudit).catch(() => "")).split("\n")
  .filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.layer === "L3-flow");
console.log(c("1", `${steps.length + 1}. ${flowStep.title}`));
console.log(`   request to "notes": fetch_page ${clip(JSON.stringify(flowStep.params))}`);
for (const r of flowRecords) {
  console.log(`   ${c("33", `[${r.severity}]`)} ${r.rule} ${r.action} at ${r.path}: ${r.message}`);
}
if (flowRecords.length) caught++;
else console.log(`   ${c("2", "(not caught)")}`);
console.log();
console.log(
  c(
    "1",
    `${caught} of ${steps.length + 1} steps caught; ${
      records.filter((r) => r.rule).length
    } findings in the audit log (${audit})`,
  ),
);
console.log(
  `Try it yourself: deno run -A cli.ts --audit-log audit.jsonl -- deno run -A scripts/demo_server.ts`,
);
