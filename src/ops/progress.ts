/**
 * The progress line of `--once` on a terminal: rows done of the rows to the upper bound, the
 * rate, and an estimate of the time left, redrawn in place on stderr with "\r". On anything
 * but a TTY (a log file, a pipe, systemd) it writes nothing: the cycle log lines serve there.
 *
 *   const progress = new ProgressLine(process.stderr, { total: waiting.rows });
 *   pipeline observer: combineObservers(metrics, progress.observer())
 *   at the end: progress.finish()
 */
import type { PipelineObserver } from "./metrics";

const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * One line, no newline: "12,000 of 100,000 rows (12.0%)  4,000 rows/s  ETA 0:22".
 * `total` null (not counted) drops the share and the ETA; the rate needs some elapsed time.
 */
export function renderProgress(p: { done: number; total: number | null; elapsedSeconds: number }): string {
  const rate = p.elapsedSeconds > 0 ? p.done / p.elapsedSeconds : 0;
  const parts: string[] = [];
  if (p.total !== null && p.total > 0) {
    const done = Math.min(p.done, p.total);
    parts.push(`${count(done)} of ${count(p.total)} rows (${((100 * done) / p.total).toFixed(1)}%)`);
  } else {
    parts.push(`${count(p.done)} rows`);
  }
  parts.push(rate > 0 ? `${count(rate)} rows/s` : "-- rows/s");
  if (p.total !== null && p.total > 0) {
    const left = Math.max(0, p.total - p.done);
    parts.push(left === 0 ? "ETA 0:00" : rate > 0 ? `ETA ${formatDuration(left / rate)}` : "ETA --");
  }
  return parts.join("  ");
}

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export interface ProgressOptions {
  /** Rows to the upper bound (countAfter with the cycle's limit), or null when not counted. */
  total: number | null;
  /** Least time between two redraws (default 250 ms). */
  intervalMs?: number;
  /** Unix milliseconds; injectable for tests. */
  now?: () => number;
}

export class ProgressLine {
  private readonly stream: ProgressStream;
  private readonly enabled: boolean;
  private readonly total: number | null;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private done = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private width = 0;
  private finished = false;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    this.stream = stream;
    this.enabled = stream.isTTY === true;
    this.total = options.total;
    this.intervalMs = options.intervalMs ?? 250;
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  /** `n` more rows are done; redraws at most once per interval. */
  add(n: number): void {
    this.done += n;
    if (!this.enabled || this.finished) return;
    const now = this.now();
    if (now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.draw(now);
  }

  /** Draws the final state and ends the line (nothing on a non-TTY). */
  finish(): void {
    if (!this.enabled || this.finished) return;
    this.finished = true;
    this.draw(this.now());
    this.stream.write("\n");
  }

  /** Rows done: acknowledged (published), recovered, or dead-lettered. */
  observer(): PipelineObserver {
    const add = (n: number) => this.add(n);
    const none = () => undefined;
    return { rowsRead: none, published: add, duplicates: none, recovered: add, deadLettered: add, retried: none, inFlight: none, ackLatency: none };
  }

  private draw(now: number): void {
    const line = renderProgress({ done: this.done, total: this.total, elapsedSeconds: (now - this.started) / 1000 });
    // Pad over the rest of a longer previous line.
    const padded = line.padEnd(this.width);
    this.width = line.length;
    this.stream.write(`\r${padded}`);
  }
}
