/**
 * Cost of each detector alone on a 1 MB clean text and on a small message (microseconds), for
 * finding hot spots: `deno run -A scripts/profile_detectors.ts`. (`deno task bench` has the same
 * table beside the end-to-end figures.)
 *
 * @module
 */
import { MemoryStore } from "../src/store/memory_store.ts";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { buildDetectors } from "../src/detectors/registry.ts";
import { extractFields } from "../src/pipeline/fields.ts";
const words =
  "the quick brown fox jumps over a lazy dog while reading files and listing open issues in this repository"
    .split(" ");
let s = "", k = 0;
while (s.length < 1e6) s += words[k++ % words.length] + (k % 17 ? " " : ".\n");
s = s.slice(0, 1e6);
const small = "Hello from the benchmark: list the files under src/ and summarise them.";
const det = buildDetectors(DEFAULT_CONFIG, {});
const env = {
  server: { name: "x", key: "x" },
  session: "s",
  store: new MemoryStore(),
  config: DEFAULT_CONFIG,
  now: () => Date.now(),
};
for (const text of [s, small]) {
  const msg = { jsonrpc: "2.0", id: 5, result: { content: [{ type: "text", text }] } };
  const req = {
    jsonrpc: "2.0",
    id: 5,
    method: "tools/call",
    params: { name: "echo", arguments: { text } },
  };
  const N = text === s ? 3 : 5000;
  for (const d of det.message) {
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      d.inspect(req as never, {
        server: "x",
        direction: "client_to_server",
        method: "tools/call",
        id: 5,
      }, env as never);
      d.inspect(msg as never, {
        server: "x",
        direction: "server_to_client",
        method: "tools/call",
        id: 5,
      }, env as never);
    }
    console.log(text.length, d.name, ((performance.now() - t) / N * 1000).toFixed(1), "us");
  }
  const fields = extractFields(msg as never, "tools/call", "server_to_client");
  for (const d of det.text) {
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      for (const f of fields) {
        d.scan(
          f,
          { server: "x", direction: "server_to_client", method: "tools/call" },
          env as never,
          [],
        );
      }
    }
    console.log(text.length, d.name, ((performance.now() - t) / N * 1000).toFixed(1), "us");
  }
}
