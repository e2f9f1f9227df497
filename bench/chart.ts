/**
 * The chart: median throughput (whiskers: min..max of the repetitions) against the window of
 * acks in flight, one line per serialization mode and ack mode of the pipeline (1 KB messages,
 * default batch size), the stock client's own window sweep, and the ceilings as flat lines.
 * Plain SVG, no dependencies.
 */
import { DEFAULTS } from "./lib/plan";
import type { CaseSummary } from "./lib/stats";

const W = 900;
const H = 480;
const M = { left: 70, right: 300, top: 40, bottom: 50 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

interface Series {
  label: string;
  points: Array<{ window: number; median: number; min: number; max: number }>;
  dashed?: boolean;
}

export function chartSeries(all: CaseSummary[]): { series: Series[]; flat: Array<{ label: string; value: number }> } {
  const base = all.filter((s) => s.spec.size === "1kb" && s.spec.delayMs === 0);
  const groups = new Map<string, Series>();
  for (const s of base) {
    let label: string | null = null;
    if (s.spec.kind === "pipeline" && s.spec.group === "pipeline" && s.spec.batchSize === DEFAULTS.batchSize)
      label = `pipeline ${s.spec.serialization === "inline" ? "inline" : `piscina x${s.spec.workers}`}, ${s.spec.ackMode} acks`;
    else if (s.spec.kind === "stock") label = "stock js.publish, pre-serialized";
    if (!label) continue;
    const g = groups.get(label) ?? { label, points: [], dashed: s.spec.kind === "stock" };
    g.points.push({ window: s.spec.window, median: s.median, min: s.min, max: s.max });
    groups.set(label, g);
  }
  const series = [...groups.values()].filter((g) => g.points.length > 0);
  for (const g of series) g.points.sort((a, b) => a.window - b.window);
  const flat: Array<{ label: string; value: number }> = [];
  const core = base.find((s) => s.spec.kind === "core");
  if (core) flat.push({ label: "core publish, no acks", value: core.median });
  const v7 = base.find((s) => s.spec.kind === "v7");
  if (v7) flat.push({ label: `V7 (batches of ${v7.spec.batchSize})`, value: v7.median });
  return { series, flat };
}

export function renderChart(all: CaseSummary[], subtitle: string): string {
  const { series, flat } = chartSeries(all);
  const windows = [...new Set(series.flatMap((s) => s.points.map((p) => p.window)))].sort((a, b) => a - b);
  if (windows.length === 0) windows.push(16, 4096);
  const lo = Math.log2(Math.min(...windows));
  const hi = Math.max(lo + 1, Math.log2(Math.max(...windows)));
  const top = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.max)), ...flat.map((f) => f.value));
  const step = niceStep(top / 5);
  const yMax = Math.ceil(top / step) * step;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (w: number) => M.left + ((Math.log2(w) - lo) / (hi - lo)) * pw;
  const y = (v: number) => M.top + ph - (v / yMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="${M.left}" y="20" font-size="15" font-weight="bold">Throughput against the window of acks in flight (1 KB messages, batch_size ${DEFAULTS.batchSize})</text>`,
  );
  out.push(`<text x="${M.left}" y="35" fill="#555">${esc(subtitle)}</text>`);
  for (let v = 0; v <= yMax; v += step) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v / 1000)}k</text>`);
  }
  for (const w of windows) {
    out.push(`<line x1="${x(w)}" x2="${x(w)}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x(w)}" y="${M.top + ph + 18}" text-anchor="middle">${w}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">max_in_flight (publishes awaiting an ack), log scale</text>`);
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">messages per second (median; bars: min..max)</text>`);
  let legendY = M.top + 10;
  const legend = (color: string, label: string, dash: string) => {
    out.push(`<line x1="${M.left + pw + 15}" x2="${M.left + pw + 40}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2.5" ${dash}/>`);
    out.push(`<text x="${M.left + pw + 46}" y="${legendY + 4}">${esc(label)}</text>`);
    legendY += 20;
  };
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const dash = s.dashed ? `stroke-dasharray="6 4"` : "";
    const path = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${x(p.window).toFixed(1)},${y(p.median).toFixed(1)}`).join(" ");
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2.5" ${dash}/>`);
    for (const p of s.points) {
      out.push(`<line x1="${x(p.window)}" x2="${x(p.window)}" y1="${y(p.min)}" y2="${y(p.max)}" stroke="${color}" stroke-width="1.5"/>`);
      out.push(`<circle cx="${x(p.window)}" cy="${y(p.median)}" r="3.5" fill="${color}"/>`);
    }
    legend(color, s.label, dash);
  });
  flat.forEach((f, i) => {
    const color = i === 0 ? "#000" : "#888";
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(f.value)}" y2="${y(f.value)}" stroke="${color}" stroke-dasharray="2 3"/>`);
    legend(color, `${f.label}: ${Math.round(f.value / 100) / 10}k`, `stroke-dasharray="2 3"`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
