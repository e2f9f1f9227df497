/** /metrics, /healthz and /readyz over real HTTP on a free port. */
import { request } from "node:http";
import t, { type Test } from "tap";
import { startOpsServer } from "../../src/ops/http";
import { Metrics } from "../../src/ops/metrics";
import { Readiness } from "../../src/ops/readiness";

function get(url: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function setup(t: Test) {
  let now = 5_000_000;
  const metrics = new Metrics();
  const readiness = new Readiness({ failureGraceSeconds: 30, livenessTimeoutSeconds: 60, now: () => now });
  const server = await startOpsServer({ host: "127.0.0.1", port: 0, metrics, readiness });
  t.teardown(() => server.close());
  return { metrics, readiness, server, advance: (s: number) => (now += s * 1000) };
}

t.test("serves Prometheus text on /metrics with its content type", async (t) => {
  const { metrics, server } = await setup(t);
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(server.port, 0);
  metrics.published(12);
  const r = await get(`${server.url}/metrics`);
  t.equal(r.status, 200);
  t.match(r.type, /^text\/plain; version=0\.0\.4; charset=utf-8/);
  t.match(r.body, /^onp_rows_published_total 12$/m);
  t.match(r.body, /^process_resident_memory_bytes \d+/m);
});

t.test("/readyz goes 503 with a one-line JSON reason while a dependency is down, and back to 200", async (t) => {
  const { readiness, server } = await setup(t);
  let r = await get(`${server.url}/readyz`);
  t.equal(r.status, 503, "not ready before connecting");
  readiness.setDependency("source", true);
  readiness.setDependency("tracking", true);
  readiness.setDependency("nats", true);
  r = await get(`${server.url}/readyz`);
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { ready: true });

  readiness.setDependency("nats", false);
  r = await get(`${server.url}/readyz`);
  t.equal(r.status, 503);
  t.match(r.type, /^application\/json/);
  t.equal(r.body.trim().split("\n").length, 1, "one line");
  t.same(JSON.parse(r.body), { ready: false, reason: "nats: disconnected" });

  readiness.setDependency("nats", true);
  r = await get(`${server.url}/readyz`);
  t.equal(r.status, 200, "back by itself once reported connected");
});

t.test("/readyz reports a cycle failing past the grace", async (t) => {
  const { readiness, server, advance } = await setup(t);
  for (const d of ["source", "tracking", "nats"] as const) readiness.setDependency(d, true);
  readiness.cycleFailed("tracking");
  t.equal((await get(`${server.url}/readyz`)).status, 200);
  advance(31);
  const r = await get(`${server.url}/readyz`);
  t.equal(r.status, 503);
  t.same(JSON.parse(r.body), { ready: false, reason: "last cycle failed 31 s ago (tracking)" });
  readiness.cycleSucceeded();
  t.equal((await get(`${server.url}/readyz`)).status, 200);
});

t.test("/healthz is 200 while the loop ticks, 503 when it stalls, 200 again when it ticks", async (t) => {
  const { readiness, server, advance } = await setup(t);
  let r = await get(`${server.url}/healthz`);
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { live: true });
  advance(61);
  r = await get(`${server.url}/healthz`);
  t.equal(r.status, 503);
  t.same(JSON.parse(r.body), { live: false, reason: "loop stalled: no progress for 61 s (limit 60 s)" });
  readiness.tick();
  t.equal((await get(`${server.url}/healthz`)).status, 200);
});

t.test("answers HEAD without a body, 404 elsewhere, 405 to other methods", async (t) => {
  const { server } = await setup(t);
  const head = await get(`${server.url}/healthz`, "HEAD");
  t.equal(head.status, 200);
  t.equal(head.body, "");
  t.equal((await get(`${server.url}/metrics?x=1`)).status, 200, "a query string is ignored");
  t.equal((await get(`${server.url}/`)).status, 404);
  t.equal((await get(`${server.url}/metrics`, "POST")).status, 405);
});

t.test("refuses to start on a port already in use", async (t) => {
  const { server } = await setup(t);
  await t.rejects(
    startOpsServer({
      host: "127.0.0.1",
      port: server.port,
      metrics: new Metrics({ processMetrics: false }),
      readiness: new Readiness({ failureGraceSeconds: 1, livenessTimeoutSeconds: 1 }),
    }),
    { code: "EADDRINUSE" },
  );
});
