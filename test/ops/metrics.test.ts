/** The metrics registry: names, types, what the pipeline and the loop report, closed label sets. */
import t from "tap";
import { ConfigError, LockError, PublishError, SourceError, TrackingError } from "../../src/errors";
import { combineObservers, ERROR_KINDS, errorKindOf, Metrics, type PipelineObserver } from "../../src/ops/metrics";

/** The value of one sample line, e.g. `onp_errors_total{kind="nats"}`. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    if (line.slice(0, at) === series) return Number(line.slice(at + 1));
  }
  return undefined;
}

t.test("defines every required metric with its type, plus the default process metrics", async (t) => {
  const m = new Metrics();
  const text = await m.render();
  const types: Record<string, string> = {
    onp_rows_read_total: "counter",
    onp_rows_published_total: "counter",
    onp_publish_duplicates_total: "counter",
    onp_rows_recovered_total: "counter",
    onp_rows_dead_lettered_total: "counter",
    onp_publish_retries_total: "counter",
    onp_publish_in_flight: "gauge",
    onp_cycle_duration_seconds: "histogram",
    onp_publish_ack_latency_seconds: "histogram",
    onp_lag_seconds: "gauge",
    onp_rows_waiting: "gauge",
    onp_last_commit_timestamp_seconds: "gauge",
    onp_errors_total: "counter",
    onp_instance_active: "gauge",
    onp_cycles_total: "counter",
    onp_dependency_up: "gauge",
  };
  for (const [name, type] of Object.entries(types)) t.match(text, new RegExp(`^# TYPE ${name} ${type}$`, "m"), name);
  t.match(text, /^process_cpu_user_seconds_total /m, "default process metrics are in the same registry");
  t.match(text, /^nodejs_eventloop_lag_seconds /m);
  t.match(m.contentType, /^text\/plain; version=0\.0\.4/);
  for (const name of await m.names()) t.match(name, /^(onp_|process_|nodejs_)/, `${name} is prefixed`);
});

t.test("counts what the pipeline observes", async (t) => {
  const m = new Metrics({ processMetrics: false });
  const o: PipelineObserver = m;
  o.rowsRead(1000);
  o.rowsRead(500);
  o.published(1490);
  o.duplicates(3);
  o.recovered(7);
  o.deadLettered(2);
  o.retried(4);
  o.inFlight(17);
  o.ackLatency(0.0004);
  o.ackLatency(0.003);
  o.ackLatency(12);
  const text = await m.render();
  t.equal(sample(text, "onp_rows_read_total"), 1500);
  t.equal(sample(text, "onp_rows_published_total"), 1490);
  t.equal(sample(text, "onp_publish_duplicates_total"), 3);
  t.equal(sample(text, "onp_rows_recovered_total"), 7);
  t.equal(sample(text, "onp_rows_dead_lettered_total"), 2);
  t.equal(sample(text, "onp_publish_retries_total"), 4);
  t.equal(sample(text, "onp_publish_in_flight"), 17);
  t.equal(sample(text, 'onp_publish_ack_latency_seconds_bucket{le="0.0005"}'), 1, "the smallest bucket is 0.5 ms");
  t.equal(sample(text, 'onp_publish_ack_latency_seconds_bucket{le="0.005"}'), 2);
  t.equal(sample(text, 'onp_publish_ack_latency_seconds_bucket{le="10"}'), 2, "the largest bucket is 10 s");
  t.equal(sample(text, 'onp_publish_ack_latency_seconds_bucket{le="+Inf"}'), 3);
  t.equal(sample(text, "onp_publish_ack_latency_seconds_count"), 3);
});

t.test("records cycles, errors by kind, leadership, lag and commits from the poll loop", async (t) => {
  const m = new Metrics({ processMetrics: false });
  let text = await m.render();
  for (const kind of ERROR_KINDS) t.equal(sample(text, `onp_errors_total{kind="${kind}"}`), 0, `${kind} exists at 0 before any error`);
  t.equal(sample(text, 'onp_cycles_total{outcome="failed"}'), 0);
  t.equal(sample(text, "onp_instance_active"), 0, "standby until told otherwise");

  m.cycleDone({ rows: 250, seconds: 0.8 });
  m.cycleDone({ rows: 0, seconds: 0.02 });
  m.cycleFailed("nats", 3);
  m.cycleFailed("source");
  m.error("fenced");
  m.setActive(true);
  m.setLag(42.5, 1200);
  m.committed(new Date("2026-01-02T03:04:05.500Z"));
  m.setDependency("nats", true);
  text = await m.render();
  t.equal(sample(text, 'onp_cycles_total{outcome="rows"}'), 1);
  t.equal(sample(text, 'onp_cycles_total{outcome="idle"}'), 1);
  t.equal(sample(text, 'onp_cycles_total{outcome="failed"}'), 2);
  t.equal(sample(text, "onp_cycle_duration_seconds_count"), 3, "a failure with a known duration is observed too");
  t.equal(sample(text, 'onp_errors_total{kind="nats"}'), 1);
  t.equal(sample(text, 'onp_errors_total{kind="source"}'), 1);
  t.equal(sample(text, 'onp_errors_total{kind="fenced"}'), 1);
  t.equal(sample(text, "onp_instance_active"), 1);
  t.equal(sample(text, "onp_lag_seconds"), 42.5);
  t.equal(sample(text, "onp_rows_waiting"), 1200);
  t.equal(sample(text, "onp_last_commit_timestamp_seconds"), Date.parse("2026-01-02T03:04:05.500Z") / 1000);
  t.equal(sample(text, 'onp_dependency_up{dependency="nats"}'), 1);
  t.equal(sample(text, 'onp_dependency_up{dependency="source"}'), 0);

  m.setActive(false);
  m.setLag(null, 5);
  text = await m.render();
  t.equal(sample(text, "onp_instance_active"), 0);
  t.ok(Number.isNaN(sample(text, "onp_lag_seconds")), "an undefined lag (no watermark yet) is NaN, not 0");
});

t.test("two registries do not share state (no global registry)", async (t) => {
  const a = new Metrics({ processMetrics: false });
  const b = new Metrics({ processMetrics: false });
  a.published(5);
  t.equal(sample(await b.render(), "onp_rows_published_total"), 0);
  t.equal(sample(await a.render(), "onp_rows_published_total"), 5);
});

t.test("error kinds come from stable codes, never from messages", async (t) => {
  t.equal(errorKindOf(new SourceError("boom", true)), "source");
  t.equal(errorKindOf(new TrackingError("boom", false)), "tracking");
  t.equal(errorKindOf(new PublishError("no ack")), "nats");
  t.equal(errorKindOf(new ConfigError("bad")), "config");
  t.equal(errorKindOf(new LockError("held")), "fenced");
  t.equal(errorKindOf(Object.assign(new Error("fenced"), { code: "E_FENCED" })), "fenced");
  t.equal(errorKindOf(new Error("wrapper", { cause: new SourceError("inner", false) })), "source", "found in the cause chain");
  t.equal(errorKindOf(new Error("password=hunter2 nats tracking")), "other");
  t.equal(errorKindOf("a string"), "other");
  t.equal(errorKindOf(null), "other");
});

t.test("combineObservers calls each observer", async (t) => {
  const seen: string[] = [];
  const spy = (name: string): PipelineObserver => {
    const rec = (method: string) => (n: number) => seen.push(`${name}.${method}(${n})`);
    return {
      rowsRead: rec("rowsRead"),
      published: rec("published"),
      duplicates: rec("duplicates"),
      recovered: rec("recovered"),
      deadLettered: rec("deadLettered"),
      retried: rec("retried"),
      inFlight: rec("inFlight"),
      ackLatency: rec("ackLatency"),
    };
  };
  const both = combineObservers(spy("a"), spy("b"));
  both.published(3);
  both.ackLatency(0.5);
  t.same(seen, ["a.published(3)", "b.published(3)", "a.ackLatency(0.5)", "b.ackLatency(0.5)"]);
});
