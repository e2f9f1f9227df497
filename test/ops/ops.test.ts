/** Ops: the one object the poll loop reports to, over real HTTP. */
import t, { type Test } from "tap";
import { SourceError } from "../../src/errors";
import { Ops, type OpsSettings } from "../../src/ops/ops";

function setup(t: Test, over: Partial<OpsSettings["metrics"]> = {}) {
  let now = 1_000_000;
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const ops = new Ops(
    {
      metrics: { enabled: true, host: "127.0.0.1", port: 0, ready_failure_grace: 30, liveness_timeout: 60, ...over },
      heartbeatInterval: 300,
      timeZone: "UTC",
      processMetrics: false,
      now: () => now,
    },
    { info: (fields, message) => lines.push({ fields, message }) },
  );
  t.teardown(() => ops.close());
  return { ops, lines, advance: (s: number) => (now += s * 1000) };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

const WM = { ts: "2026-03-01 12:00:00.000000", id: "77" };

t.test("serves the endpoints when enabled; readiness follows the loop's reports", async (t) => {
  const { ops, lines } = setup(t);
  const server = await ops.start();
  t.ok(server);
  t.match(lines[0], { message: "operations endpoint listening", fields: { url: server?.url } });
  const url = server?.url as string;
  t.equal((await get(`${url}/readyz`)).status, 503);
  ops.dependency("source", true);
  ops.dependency("tracking", true);
  ops.dependency("nats", true);
  t.equal((await get(`${url}/readyz`)).status, 200);
  ops.dependency("nats", false, "reconnecting");
  t.same(await get(`${url}/readyz`), { status: 503, body: '{"ready":false,"reason":"nats: reconnecting"}\n' });
  ops.dependency("nats", true);
  t.equal((await get(`${url}/readyz`)).status, 200);
  const metrics = (await get(`${url}/metrics`)).body;
  t.match(metrics, /^onp_dependency_up\{dependency="nats"\} 1$/m);
});

t.test("a cycle sets lag and rows waiting, counts the outcome, and logs a heartbeat when idle", async (t) => {
  const { ops, lines, advance } = setup(t);
  ops.cycle({ rows: 500, seconds: 1.5, watermark: WM, waiting: { rows: 20, dbNow: "2026-03-01 12:01:00.000000" } });
  let text = await ops.metrics.render();
  t.match(text, /^onp_lag_seconds 60$/m);
  t.match(text, /^onp_rows_waiting 20$/m);
  t.match(text, /^onp_cycles_total\{outcome="rows"\} 1$/m);
  t.same(lines, [], "no heartbeat after a busy cycle");

  ops.cycle({ rows: 0, seconds: 0.01, watermark: WM, waiting: { rows: 0, dbNow: "2026-03-01 12:09:00.000000" } });
  t.same(lines, [], "the interval restarts at the busy cycle");
  advance(300);
  ops.cycle({ rows: 0, seconds: 0.01, watermark: WM, waiting: { rows: 0, dbNow: "2026-03-01 12:14:00.000000" } });
  t.same(lines, [{ message: "idle: no new rows", fields: { rows: 0, lag_s: 0, rows_waiting: 0, watermark: WM } }]);
  text = await ops.metrics.render();
  t.match(text, /^onp_lag_seconds 0$/m, "idle: lag 0");
  t.match(text, /^onp_cycles_total\{outcome="idle"\} 2$/m);
});

t.test("a failed cycle counts its error kind and turns /readyz 503 after the grace", async (t) => {
  const { ops, advance } = setup(t);
  const url = (await ops.start())?.url as string;
  for (const d of ["source", "tracking", "nats"] as const) ops.dependency(d, true);
  ops.cycle({ rows: 0, seconds: 2, watermark: null, error: new SourceError("ORA-03113", true) });
  t.match(await ops.metrics.render(), /^onp_errors_total\{kind="source"\} 1$/m);
  t.equal((await get(`${url}/readyz`)).status, 200, "within the grace");
  advance(31);
  t.same(await get(`${url}/readyz`), { status: 503, body: '{"ready":false,"reason":"last cycle failed 31 s ago (source)"}\n' });
  ops.cycle({ rows: 0, seconds: 0.1, watermark: null });
  t.equal((await get(`${url}/readyz`)).status, 200, "a good cycle clears it");
});

t.test("leadership, commits and failures outside a cycle reach the metrics", async (t) => {
  const { ops } = setup(t);
  ops.leadership(true);
  ops.committed(new Date("2026-03-01T00:00:00Z"));
  ops.failed(Object.assign(new Error("lost the lock"), { code: "E_FENCED" }));
  const text = await ops.metrics.render();
  t.match(text, /^onp_instance_active 1$/m);
  t.match(text, /^onp_last_commit_timestamp_seconds 1772323200$/m);
  t.match(text, /^onp_errors_total\{kind="fenced"\} 1$/m);
});

t.test("rows moving through the pipeline keep /healthz alive during a long cycle", async (t) => {
  const { ops, advance } = setup(t);
  advance(50);
  ops.observer.rowsRead(1000);
  advance(50);
  ops.observer.published(1000);
  advance(50);
  t.ok(ops.readiness.live().ok, "150 s into a cycle, with a 60 s bound");
  advance(61);
  t.notOk(ops.readiness.live().ok, "no progress for 61 s");
});

t.test("disabled: no endpoint, metrics still kept", async (t) => {
  const { ops } = setup(t, { enabled: false });
  t.equal(await ops.start(), null);
  ops.observer.published(3);
  t.match(await ops.metrics.render(), /^onp_rows_published_total 3$/m);
});
