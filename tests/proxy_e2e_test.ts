// The proxy is invisible to real MCP traffic: a real SDK client gets identical answers from real
// npm servers directly and through `mcp-watchdog`.
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { connect, EVERYTHING, FILESYSTEM, PROXY, SDK_TEST, tempDir } from "./helpers.ts";

async function both<T>(server: string[], fn: (c: Client) => Promise<T>, extra: string[] = []) {
  const direct = await connect(server);
  const proxied = await connect([...PROXY, "--quiet", ...extra, "--", ...server]);
  try {
    return await Promise.all([fn(direct), fn(proxied)]);
  } finally {
    await Promise.all([direct.close(), proxied.close()]);
  }
}

Deno.test({
  name: "server-everything: identical answers direct and through the proxy",
  ...SDK_TEST,
  async fn() {
    await using state = await tempDir();
    const [d, p] = await both(EVERYTHING, async (c) => {
      const tools = await c.listTools();
      const echo = await c.callTool({ name: "echo", arguments: { message: "hello ✓ 👩‍💻" } });
      const sum = await c.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
      const image = await c.callTool({ name: "get-tiny-image", arguments: {} });
      const structured = await c.callTool({
        name: "get-structured-content",
        arguments: { location: "New York" },
      });
      const links = await c.callTool({ name: "get-resource-links", arguments: { count: 3 } });
      const resources = await c.listResources();
      const read = await c.readResource({ uri: resources.resources[0].uri });
      const templates = await c.listResourceTemplates();
      const prompts = await c.listPrompts();
      const prompt = await c.getPrompt({ name: prompts.prompts[0].name, arguments: {} });
      return {
        server: c.getServerVersion(),
        instructions: c.getInstructions(),
        tools,
        echo,
        sum,
        image,
        structured,
        links,
        resources,
        read,
        templates,
        prompts,
        prompt,
      };
    }, ["--state-dir", state.path]);
    assert.ok(d.tools.tools.length >= 10, "server-everything lists its tools");
    assert.deepEqual(p, d);
  },
});

Deno.test({
  name: "server-everything: progress notifications, sampling, elicitation and roots pass both ways",
  ...SDK_TEST,
  async fn() {
    await using state = await tempDir();
    const [d, p] = await both(EVERYTHING, async (c) => {
      const progress: number[] = [];
      const long = await c.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 3 } },
        undefined,
        { onprogress: (n: { progress: number }) => progress.push(n.progress) },
      );
      const sampling = await c.callTool({
        name: "trigger-sampling-request",
        arguments: { prompt: "Say hi", maxTokens: 5 },
      });
      const elicit = await c.callTool({ name: "trigger-elicitation-request", arguments: {} });
      const roots = await c.callTool({ name: "get-roots-list", arguments: {} });
      return { long, progress, sampling, elicit, roots };
    }, ["--state-dir", state.path]);
    // The last progress notification may race the result, so count at least two either way.
    assert.ok(d.progress.length >= 2, "direct run reports progress");
    assert.ok(p.progress.length >= 2, "progress notifications pass through the proxy");
    const { progress: _d, ...dRest } = d;
    const { progress: _p, ...pRest } = p;
    assert.deepEqual(pRest, dRest);
    assert.match(JSON.stringify(p.sampling), /sampled answer/);
  },
});

Deno.test({
  name: "server-filesystem: identical listings, reads and writes through the proxy",
  ...SDK_TEST,
  async fn() {
    await using dir = await tempDir();
    await using state = await tempDir();
    await Deno.writeTextFile(
      `${dir.path}/README.md`,
      "# Project\n\nIMPORTANT: paths must be absolute.\n",
    );
    await Deno.mkdir(`${dir.path}/src`);
    await Deno.writeTextFile(
      `${dir.path}/src/app.ts`,
      "this.addEventListener('load', () => {});\n",
    );
    const server = [...FILESYSTEM, dir.path];
    const [d, p] = await both(server, async (c) => {
      const tools = await c.listTools();
      const list = await c.callTool({ name: "list_directory", arguments: { path: dir.path } });
      const readme = await c.callTool({
        name: "read_text_file",
        arguments: { path: `${dir.path}/README.md` },
      });
      const app = await c.callTool({
        name: "read_text_file",
        arguments: { path: `${dir.path}/src/app.ts` },
      });
      return { tools, list, readme, app };
    }, ["--state-dir", state.path]);
    assert.deepEqual(p, d);
    assert.match(JSON.stringify(p.app), /addEventListener/);
    const proxied = await connect([
      ...PROXY,
      "--quiet",
      "--state-dir",
      state.path,
      "--",
      ...server,
    ]);
    try {
      const w = await proxied.callTool({
        name: "write_file",
        arguments: { path: `${dir.path}/src/notes.txt`, content: "hello" },
      });
      assert.notEqual(w.isError, true);
      assert.equal(await Deno.readTextFile(`${dir.path}/src/notes.txt`), "hello");
    } finally {
      await proxied.close();
    }
  },
});

Deno.test({
  name: "server-everything: simulated logging notifications reach the client",
  ...SDK_TEST,
  async fn() {
    await using state = await tempDir();
    const c = await connect([...PROXY, "--quiet", "--state-dir", state.path, "--", ...EVERYTHING]);
    try {
      const seen: unknown[] = [];
      c.setNotificationHandler(LoggingMessageNotificationSchema, (n: { params: unknown }) => {
        seen.push(n.params);
      });
      c.setNotificationHandler(ProgressNotificationSchema, () => {});
      await c.setLoggingLevel("debug");
      await c.callTool({ name: "toggle-simulated-logging", arguments: {} });
      for (let i = 0; i < 100 && seen.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(seen.length > 0, "a log notification arrived through the proxy");
    } finally {
      await c.close();
    }
  },
});
