/**
 * Reading the sweep: the targets of issue 4 and the configuration values it recommends.
 * A value is only recommended over the default when it is measurably better: by more than the
 * spread between repetitions, at least 5%; among near-equal windows the smaller one wins
 * (fewer messages to re-send after a failure, less server memory).
 */
import { DEFAULTS } from "./plan";
import { type CaseSummary, referencesFor } from "./stats";

export interface Target {
  name: string;
  value: string;
  met: boolean | null;
}

const pipelines = (all: CaseSummary[]) => all.filter((s) => s.spec.kind === "pipeline" && s.spec.group === "pipeline");
const is1kb = (s: CaseSummary) => s.spec.size === "1kb" && s.spec.delayMs === 0;

/** The best pipeline configuration measured with 1 KB messages and no added delay. */
export function bestPipeline(all: CaseSummary[]): CaseSummary | null {
  return pipelines(all)
    .filter(is1kb)
    .reduce<CaseSummary | null>((a, b) => (a && a.median >= b.median ? a : b), null);
}

export function targets(all: CaseSummary[]): Target[] {
  const out: Target[] = [];
  const best = bestPipeline(all);
  const dflt = pipelines(all).find(
    (s) =>
      is1kb(s) &&
      s.spec.window === DEFAULTS.window &&
      s.spec.batchSize === DEFAULTS.batchSize &&
      s.spec.serialization === DEFAULTS.serialization &&
      s.spec.ackMode === DEFAULTS.ackMode,
  );
  for (const [label, s] of [
    ["default config", dflt],
    ["best config", best],
  ] as const) {
    if (!s) continue;
    const ref = referencesFor(all, s.spec);
    if (ref.stockBest)
      out.push({
        name: `pipeline (${label}: ${s.spec.name}) >= 1.0x stock best (${ref.stockBest.spec.name})`,
        value: `${(s.median / ref.stockBest.median).toFixed(2)}x (${Math.round(s.median)} vs ${Math.round(ref.stockBest.median)} msg/s)`,
        met: s.median >= ref.stockBest.median,
      });
    if (ref.v7)
      out.push({
        name: `pipeline (${label}) >= 2x V7 (${ref.v7.spec.name})`,
        value: `${(s.median / ref.v7.median).toFixed(2)}x (${Math.round(s.median)} vs ${Math.round(ref.v7.median)} msg/s)`,
        met: s.median >= 2 * ref.v7.median,
      });
  }
  const small = all.find((s) => s.spec.name === "rss.pipe.100k");
  const large = all.find((s) => s.spec.name === "rss.pipe.1m");
  if (small && large) {
    const r = large.maxRssMB / small.maxRssMB;
    out.push({
      name: "peak RSS: 1M-row backlog <= 1.2x 100k-row backlog and < 300 MB",
      value: `${Math.round(large.maxRssMB)} MB vs ${Math.round(small.maxRssMB)} MB = ${r.toFixed(2)}x`,
      met: r <= 1.2 && large.maxRssMB < 300,
    });
  } else {
    // The default serialization's runs; piscina adds a V8 heap per worker (shown in the table).
    const rss = Math.max(
      ...pipelines(all)
        .filter((s) => s.spec.serialization === DEFAULTS.serialization)
        .map((s) => s.maxRssMB),
    );
    if (Number.isFinite(rss))
      out.push({
        name: `peak RSS of every ${DEFAULTS.serialization} pipeline run < 300 MB (--rss compares 100k- and 1M-row backlogs)`,
        value: `${Math.round(rss)} MB`,
        met: rss < 300,
      });
  }
  return out;
}

/**
 * The value to recommend for one knob: the default unless another value is better by more
 * than `slack` (5%: about the spread between repetitions here); then, among values within
 * `slack` of the best, the one `prefer` ranks first.
 */
function pick(candidates: Array<{ value: number; s: CaseSummary }>, current: number, prefer: (a: number, b: number) => number, slack = 0.05) {
  if (candidates.length === 0) return null;
  const top = Math.max(...candidates.map((c) => c.s.median));
  const dflt = candidates.find((c) => c.value === current);
  if (dflt && dflt.s.median >= top * (1 - slack)) return dflt;
  return candidates.filter((c) => c.s.median >= top * (1 - slack)).sort((a, b) => prefer(a.value, b.value))[0] ?? null;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

export function recommend(all: CaseSummary[]): string[] {
  const lines: string[] = [];
  const p = pipelines(all).filter(is1kb);
  const inlineInbox = p.filter((s) => s.spec.serialization === "inline" && s.spec.ackMode === "inbox");
  const line = (key: string, value: string | number, why: string) => lines.push(`${`${key}: ${value}`.padEnd(26)} # ${why}`);
  const sweep = (list: CaseSummary[], key: (s: CaseSummary) => number) => list.map((s) => `${key(s)}: ${fmt(s.median)}`).join(", ");

  // Windows: smaller wins a tie (fewer messages to re-send after a failure, less server memory).
  const windows = inlineInbox.filter((s) => s.spec.batchSize === DEFAULTS.batchSize).sort((a, b) => a.spec.window - b.spec.window);
  const w = pick(
    windows.map((s) => ({ value: s.spec.window, s })),
    DEFAULTS.window,
    (a, b) => a - b,
  );
  if (w) line("max_in_flight", w.value, `msg/s by window: ${sweep(windows, (s) => s.spec.window)}`);

  // Pages: larger wins a tie (fewer round trips to a remote database).
  const batches = inlineInbox.filter((s) => s.spec.window === DEFAULTS.window).sort((a, b) => a.spec.batchSize - b.spec.batchSize);
  const b = pick(
    batches.map((s) => ({ value: s.spec.batchSize, s })),
    DEFAULTS.batchSize,
    (x, y) => y - x,
  );
  if (b) line("batch_size", b.value, `msg/s by page size (window ${DEFAULTS.window}): ${sweep(batches, (s) => s.spec.batchSize)}`);

  const bestOf = (list: CaseSummary[]) => list.reduce<CaseSummary | null>((a, c) => (a && a.median >= c.median ? a : c), null);
  const bi = bestOf(inlineInbox);
  const bp = bestOf(p.filter((s) => s.spec.serialization === "piscina" && s.spec.ackMode === "inbox"));
  if (bi && bp) {
    const usePool = bp.median > bi.median * 1.05;
    line(
      "serialization",
      usePool ? "piscina" : "inline",
      `best inline ${fmt(bi.median)} msg/s (${bi.spec.name}), best piscina ${fmt(bp.median)} (${bp.spec.name})`,
    );
    if (usePool) line("workers", bp.spec.workers, "");
  }
  const stock = bestOf(p.filter((s) => s.spec.ackMode === "stock"));
  if (bi && stock)
    line("ack_mode", bi.median >= stock.median ? "inbox" : "stock", `best inbox ${fmt(bi.median)} msg/s, best stock ${fmt(stock.median)} (${stock.spec.name})`);
  return lines;
}
