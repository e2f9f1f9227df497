/** How the service reports to Ops (src/ops/wiring.ts), over the in-memory cycle fakes. */
import t from "tap";
import { FencedError, SourceError, TrackingError } from "../../src/errors";
import { Ops } from "../../src/ops/ops";
import { instrumentCycle, instrumentDeps, onceProgress, reportingStore, sampleWaiting, tickingSleep } from "../../src/ops/wiring";
import { runCycle } from "../../src/pipeline/cycle";
import type { Watermark } from "../../src/pipeline/types";
import { FakePublisher } from "../fakes/fake-publisher";
import { cycleDeps, MemorySource, RecordingStore, rows } from "../fakes/memory-cycle";

function newOps(now = () => 1_000_000) {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const ops = new Ops(
    {
      metrics: { enabled: false, host: "127.0.0.1", port: 0, ready_failure_grace: 0, liveness_timeout: 60 },
      heartbeatInterval: 300,
      timeZone: "UTC",
      processMetrics: false,
      now,
    },
    { info: (fields, message) => lines.push({ fields, message }) },
  );
  return { ops, lines };
}

/** A MemorySource that also counts (what countAfter answers is set by the test). */
class CountingSource extends MemorySource {
  waiting = 0;
  dbNow = "2026-01-01 00:01:00.000000";
  fail: Error | null = null;
  asked: Array<{ after: Watermark | null; lag: number; limit: number }> = [];
  async countAfter(after: Watermark | null, lag: number, limit: number) {
    this.asked.push({ after, lag, limit });
    if (this.fail) throw this.fail;
    return { rows: this.waiting, dbNow: this.dbNow };
  }
}

const metric = async (ops: Ops, name: string) => {
  const m = new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(await ops.metrics.render());
  return m ? Number(m[1]) : undefined;
};

t.test("a real cycle through instrumentDeps: the observer counts rows, each commit is reported", async (t) => {
  let now = 1_700_000_000_000;
  const { ops } = newOps(() => now);
  const source = new CountingSource(rows(1, 25));
  const store = new RecordingStore();
  const deps = instrumentDeps(ops, cycleDeps(source, new FakePublisher(), store));
  const probe = { source, safetyLagSeconds: 2, lastWatermark: () => null };
  source.waiting = 3;
  const result = await instrumentCycle(ops, probe, () => runCycle(deps, new AbortController().signal, new AbortController().signal));
  t.equal(result.rows, 25);
  t.equal(await metric(ops, "onp_rows_read_total"), 25);
  t.equal(await metric(ops, "onp_rows_published_total"), 25);
  t.equal(await metric(ops, "onp_last_commit_timestamp_seconds"), 1_700_000_000, "finish() reported as a commit");
  t.equal(await metric(ops, 'onp_cycles_total{outcome="rows"}'), 1);
  t.equal(await metric(ops, "onp_rows_waiting"), 3, "the waiting rows sampled after the cycle");
  t.same(source.asked, [{ after: result.watermark, lag: 2, limit: 1_000_000 }], "counted past the new watermark, at the read bound, bounded");
  t.equal(await metric(ops, "onp_lag_seconds"), 60, "db clock minus the watermark's timestamp");
  t.equal(await metric(ops, 'onp_dependency_up{dependency="source"}'), 1);
  t.equal(await metric(ops, 'onp_dependency_up{dependency="tracking"}'), 1);
  now += 5000;
  t.equal(store.finishes.length, 1);
});

t.test("a failed cycle marks the failing dependency down, counts the error, and a later success brings it back", async (t) => {
  const { ops } = newOps();
  const source = new CountingSource([]);
  const probe = { source, safetyLagSeconds: 0, lastWatermark: () => ({ ts: "2026-01-01 00:00:00.000000", id: "1" }) };
  ops.dependency("nats", true);
  await t.rejects(
    instrumentCycle(ops, probe, () => Promise.reject(new SourceError("reading T failed: ORA-03113", true))),
    /ORA-03113/,
  );
  t.equal(await metric(ops, 'onp_dependency_up{dependency="source"}'), 0);
  t.equal(await metric(ops, 'onp_errors_total{kind="source"}'), 1);
  t.equal(await metric(ops, 'onp_cycles_total{outcome="failed"}'), 1);
  t.match(ops.readiness.ready(), { ok: false, reason: /source: failing/ });

  await t.rejects(instrumentCycle(ops, probe, () => Promise.reject(new TrackingError("ETL_PRMREC gone", true))));
  t.equal(await metric(ops, 'onp_dependency_up{dependency="tracking"}'), 0);

  await instrumentCycle(ops, probe, async () => ({
    rows: 0,
    read: 0,
    full: false,
    watermark: null,
    seconds: 0.01,
    duplicates: 0,
    recovered: 0,
    deadLettered: 0,
    retries: 0,
  }));
  t.equal(await metric(ops, 'onp_dependency_up{dependency="source"}'), 1);
  t.equal(await metric(ops, 'onp_dependency_up{dependency="tracking"}'), 1);
  t.same(ops.readiness.ready(), { ok: true, reason: "ready" });
});

t.test("an idle cycle logs the heartbeat line with lag and watermark", async (t) => {
  const { ops, lines } = newOps();
  const source = new CountingSource([]);
  const wm = { ts: "2026-01-01 00:00:00.000000", id: "9" };
  await instrumentCycle(ops, { source, safetyLagSeconds: 0, lastWatermark: () => wm }, async () => ({
    rows: 0,
    read: 0,
    full: false,
    watermark: wm,
    seconds: 0.01,
    duplicates: 0,
    recovered: 0,
    deadLettered: 0,
    retries: 0,
  }));
  t.same(lines, [{ message: "idle: no new rows", fields: { rows: 0, lag_s: 0, rows_waiting: 0, watermark: wm } }]);
});

t.test("the waiting sample is skipped when the source cannot count or the count fails", async (t) => {
  const source = new CountingSource([]);
  source.fail = new Error("count failed");
  t.equal(await sampleWaiting(source, null, 0), undefined);
  t.equal(await sampleWaiting(new MemorySource([]), null, 0), undefined);
});

t.test("reportingStore reports only commits that succeeded; tickingSleep ticks", async (t) => {
  const store = new RecordingStore();
  let commits = 0;
  const wrapped = reportingStore(store, () => commits++);
  await wrapped.begin();
  await wrapped.checkpoint({ watermark: null, resumeSeq: 1 }, 0);
  store.failOn = "finish";
  await t.rejects(wrapped.finish({ checkpoint: null, rows: 0 }));
  t.equal(commits, 1);
  t.same(
    store.calls.map((c) => c.op),
    ["begin", "checkpoint", "finish"],
  );

  let now = 0;
  const { ops } = newOps(() => now);
  now = 120_000;
  t.equal(ops.readiness.live().ok, false, "stalled past liveness_timeout");
  await tickingSleep(ops)(1, new AbortController().signal);
  t.equal(ops.readiness.live().ok, true, "the sleep ticked");
});

t.test("--once progress: drawn on a TTY with the counted total, not at all elsewhere", async (t) => {
  const source = new CountingSource(rows(1, 10));
  source.waiting = 500;
  const store = new RecordingStore();
  const written: string[] = [];
  const tty = { isTTY: true, write: (s: string) => written.push(s) > 0 };
  const config = { publisher: { safety_lag_seconds: 0, max_records_per_run: 200 } };
  const line = await onceProgress(tty, store, source, config);
  t.ok(line);
  line?.observer().published(50);
  line?.finish();
  t.match(written.join(""), /50 of 200 rows \(25\.0%\)/, "the total is bounded by max_records_per_run");
  t.equal(await onceProgress({ isTTY: false, write: () => true }, store, source, config), undefined, "nothing off a TTY");
});

t.test("a fenced cycle (the lock went to another instance) makes this one a standby, not a failing one", async (t) => {
  const { ops } = newOps();
  ops.leadership(true);
  for (const d of ["source", "tracking", "nats"] as const) ops.dependency(d, true);
  const probe = { source: new CountingSource([]), safetyLagSeconds: 0, lastWatermark: () => null };
  await t.rejects(instrumentCycle(ops, probe, () => Promise.reject(new FencedError("lock lost"))));
  t.equal(await metric(ops, "onp_instance_active"), 0);
  t.equal(await metric(ops, 'onp_errors_total{kind="fenced"}'), 1);
  t.equal(await metric(ops, 'onp_cycles_total{outcome="failed"}'), 0, "not a failed cycle");
  t.same(ops.readiness.ready(), { ok: true, reason: "ready" }, "a standby stays ready");
});
