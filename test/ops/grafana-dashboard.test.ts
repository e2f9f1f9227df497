/** deploy/grafana-dashboard.json: valid, with a Prometheus datasource variable, built only on metrics we export. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { Metrics } from "../../src/ops/metrics";

interface Target {
  expr: string;
  refId: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
}

const dashboard = JSON.parse(readFileSync(join(__dirname, "../../deploy/grafana-dashboard.json"), "utf8")) as {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
};

/** PromQL words that are not metric names: functions, aggregations, keywords, label names used in by(). */
const PROMQL = new Set([
  "sum",
  "max",
  "min",
  "avg",
  "count",
  "rate",
  "increase",
  "irate",
  "histogram_quantile",
  "time",
  "by",
  "without",
  "on",
  "ignoring",
  "and",
  "or",
  "unless",
]);

/** The metric names an expression reads: identifiers outside label matchers, groupings, ranges and strings. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, " ")
    .replace(/\b\d+(\.\d+)?\b/g, " ");
  return (bare.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []).filter((w) => !PROMQL.has(w));
}

t.test("is a dashboard of the current schema with a Prometheus datasource variable", async (t) => {
  t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
  t.equal(dashboard.uid, "oracle-nats-publisher");
  const ds = dashboard.templating.list.find((v) => v.type === "datasource");
  t.match(ds, { name: "datasource", query: "prometheus" });
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, "panel ids are unique");
  for (const p of dashboard.panels) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
    t.equal(p.datasource?.uid, "${datasource}", `${p.title} uses the datasource variable`);
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
    t.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
  }
});

t.test("has the panels operators need", async (t) => {
  const titles = dashboard.panels.map((p) => p.title);
  for (const wanted of [/rows\/s/i, /^lag$/i, /rows waiting/i, /ack latency p50 \/ p99/i, /errors by kind/i, /active instance/i, /cycle duration/i]) {
    t.ok(
      titles.some((title) => wanted.test(title)),
      `a panel matching ${wanted}`,
    );
  }
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr));
  t.ok(
    exprs.some((e) => /histogram_quantile\(0\.99, .*onp_publish_ack_latency_seconds_bucket/.test(e)),
    "ack latency p99",
  );
  t.ok(
    exprs.some((e) => /rate\(onp_rows_published_total/.test(e)),
    "rows/s from the published counter",
  );
});

t.test("every query reads only metrics the registry defines", async (t) => {
  const defined = new Set(await new Metrics().names());
  const histograms = new Set(["onp_cycle_duration_seconds", "onp_publish_ack_latency_seconds"]);
  for (const p of dashboard.panels) {
    for (const target of p.targets ?? []) {
      const names = metricNames(target.expr);
      t.ok(names.length > 0, `${p.title}/${target.refId} reads a metric`);
      for (const name of names) {
        const base = name.replace(/_(bucket|sum|count)$/, "");
        const known = defined.has(name) || (histograms.has(base) && defined.has(base));
        t.ok(known, `${p.title}/${target.refId}: ${name} is defined`);
      }
    }
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== "query") continue;
    for (const name of metricNames(
      String((v.query as { query?: string }).query ?? v.query)
        .replace(/^label_values\(|\)$/g, "")
        .replace(/,\s*\w+$/, ""),
    )) {
      t.ok(defined.has(name), `variable ${v.name}: ${name} is defined`);
    }
  }
});

t.test("the name check itself catches a misspelt metric", async (t) => {
  t.same(metricNames('histogram_quantile(0.5, sum by (le) (rate(onp_publish_ack_latency_seconds_bucket{job=~"$job"}[$__rate_interval])))'), [
    "onp_publish_ack_latency_seconds_bucket",
  ]);
  t.same(metricNames("time() - max by (instance) (onp_last_commit_timestamp_seconds)"), ["onp_last_commit_timestamp_seconds"]);
  t.same(metricNames("rate(onp_rows_publishd_total[5m])"), ["onp_rows_publishd_total"]);
  t.notOk(new Set(await new Metrics().names()).has("onp_rows_publishd_total"), "and the registry does not define it");
});
