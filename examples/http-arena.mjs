// One arena per HTTP request: everything a handler allocates goes away when the request is done, so the
// heap grows to what the busiest moment needs, then stays flat however many requests follow. A request
// arena costs what it holds: its chunks are runs of 256-byte slots shared with other requests in the same
// pages (a few KiB here), not a 64 KiB page each. Run with `node examples/http-arena.mjs`.
import http from "node:http";
import { Heap } from "../dist/index.js";

const TOTAL = 10_000;
const CONCURRENCY = 32;
const heap = await Heap.create();
const server = heap.createArena({ name: "server" });
server.strdup("server config: listen=127.0.0.1"); // long-lived state, owned by the server arena
let logged = 0;
let busiest = 0;
/** The most a request arena held in chunks (stats().reservedBytes), taken when its handler is done with it. */
let requestChunks = 0;

async function handle(req, res) {
  // On a runtime with `using` (Node 22+, TypeScript), the try/finally below is just:
  //   using arena = server.createChild({ name: "request" });
  const arena = server.createChild({ name: "request" });
  try {
    const url = arena.strdup(req.url);
    arena.alloc(2048, { name: "scratch" });
    arena.add(() => logged++, undefined, "access-log");
    // Pretend to wait for a database: meanwhile other requests get arenas of their own.
    await new Promise((resolve) => setImmediate(resolve));
    busiest = Math.max(busiest, server.stats().children);
    const body = arena.alloc(512, { name: "response" });
    const text = `hello from ${arena.readString(url)}\n`;
    const { written } = new TextEncoder().encodeInto(text, arena.bytes(body));
    // Copy out: the socket writes later, when this arena's memory already belongs to another request.
    res.end(Buffer.from(arena.bytes(body, written)));
    requestChunks = Math.max(requestChunks, arena.stats().reservedBytes);
  } finally {
    arena[Symbol.dispose]();
  }
}

// Heap pages plus the server arena's stats (children: request arenas still registered in it).
const snapshot = (label) => {
  const { children, allocations, liveBytes, reservedBytes } = server.stats();
  const line = `heap ${heap.memory.buffer.byteLength / 65536} pages; server arena: ${JSON.stringify({ children, allocations, liveBytes, reservedBytes })}`;
  console.log(`${label.padEnd(22)} ${line}`);
  return line;
};

const httpServer = http.createServer(handle);
await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const { port } = httpServer.address();
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

const get = (path) =>
  new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });

// CONCURRENCY workers pull request numbers from a shared counter until `count` have been sent.
let sent = 0;
async function send(count) {
  const worker = async () => {
    while (sent < count) await get(`/item/${sent++}`);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const start = performance.now();
snapshot("before any request:");
await send(CONCURRENCY); // opens the keep-alive connections, so the warm-up runs at full concurrency
await send(1_000);
const warm = snapshot("after 1,000 requests:");
await send(TOTAL);
const done = snapshot(`after ${TOTAL.toLocaleString("en")} requests:`);
const seconds = ((performance.now() - start) / 1000).toFixed(1);
console.log(`${logged} access-log actions ran; up to ${busiest} request arenas were live at once; ${seconds} s`);
// Per live request: its chunks (256-byte slots, shared pages), beside the whole heap at its busiest.
console.log(
  `memory per live request: its chunks ${requestChunks.toLocaleString("en")} B (reservedBytes); the whole heap ` +
    `${heap.memory.buffer.byteLength / 1024} KiB with up to ${busiest} requests live at once`,
);
console.log(`one more request: ${JSON.stringify(await get("/last"))}`);
console.log(`growth between 1,000 and ${TOTAL.toLocaleString("en")} requests: ${warm === done ? "none" : "YES"}`);

agent.destroy();
await new Promise((resolve) => httpServer.close(resolve));
server.release();
process.exitCode = warm === done ? 0 : 1;
