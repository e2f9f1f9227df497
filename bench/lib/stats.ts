/** Medians, the results table, and the ratios the targets are stated in. */
import type { CaseResult, CaseSpec } from "../cases/types";

export interface CaseSummary {
  spec: CaseSpec;
  runs: CaseResult[];
  median: number;
  min: number;
  max: number;
  /** Medians of the per-run figures. */
  maxRssMB: number;
  /** Child CPU (user + system) per wall second, i.e. cores used. */
  cores: number;
  /** Server CPU per message, microseconds. */
  natsUsPerMsg: number;
  dbUsPerMsg: number;
  avgBytes: number;
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export function summarize(spec: CaseSpec, runs: CaseResult[]): CaseSummary {
  const rates = runs.map((r) => r.rate);
  return {
    spec,
    runs,
    median: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    maxRssMB: median(runs.map((r) => r.maxRssMB)),
    cores: median(runs.map((r) => (r.cpuUser + r.cpuSystem) / r.seconds)),
    natsUsPerMsg: median(runs.map((r) => (r.natsCpu / r.messages) * 1e6)),
    dbUsPerMsg: median(runs.map((r) => (r.dbCpu / r.messages) * 1e6)),
    avgBytes: median(runs.map((r) => r.avgBytes)),
  };
}

/** The references each case is compared with: same message size, same delay. */
export interface References {
  stockBest: CaseSummary | null;
  v7: CaseSummary | null;
  core: CaseSummary | null;
}

export function referencesFor(all: CaseSummary[], spec: CaseSpec): References {
  const peers = all.filter((s) => s.spec.size === spec.size && s.spec.delayMs === spec.delayMs);
  const best = (list: CaseSummary[]) => list.reduce<CaseSummary | null>((a, b) => (a && a.median >= b.median ? a : b), null);
  return {
    stockBest: best(peers.filter((s) => s.spec.kind === "stock")),
    v7: best(peers.filter((s) => s.spec.kind === "v7")),
    core: best(peers.filter((s) => s.spec.kind === "core")),
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const ratio = (a: number, b: CaseSummary | null) => (b && Number.isFinite(a) && b.median > 0 ? `${(a / b.median).toFixed(2)}x` : "-");
const fixed = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : "-");

export function table(all: CaseSummary[]): string {
  const header = ["case", "rows", "msg B", "median/s", "min/s", "max/s", "vs stock", "vs V7", "vs core", "RSS MB", "cores", "nats us/msg", "db us/msg"];
  const lines = all.map((s) => {
    const ref = referencesFor(all, s.spec);
    return [
      s.spec.name,
      int(s.spec.rows),
      s.avgBytes > 0 ? int(s.avgBytes) : "",
      int(s.median),
      int(s.min),
      int(s.max),
      ratio(s.median, ref.stockBest),
      ratio(s.median, ref.v7),
      ratio(s.median, ref.core),
      int(s.maxRssMB),
      fixed(s.cores, 2),
      fixed(s.natsUsPerMsg, 1),
      fixed(s.dbUsPerMsg, 1),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 2)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [row(header), rule, ...lines.map(row)].join("\n");
}
