/**
 * The idle heartbeat: on a table with nothing new, the poll loop logs one line every
 * `logging.heartbeat_interval` seconds (rows 0, lag, rows waiting, watermark) rather than one per
 * poll, so a quiet service still shows it is alive and where it stands.
 *
 *   after each cycle:  if (heartbeat.due(result.rows)) log.info(heartbeatFields(...), "idle")
 *
 * A cycle with rows logs its own line, which restarts the interval. The first idle cycle after
 * start (or after a busy spell) logs at once. An interval of 0 turns the heartbeat off.
 */
import type { Watermark } from "../pipeline/types";

export class Heartbeat {
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** When the last line (heartbeat or a cycle with rows) was logged; null: none yet while idle. */
  private last: number | null = null;

  /** `now`: Unix milliseconds, injectable for tests. */
  constructor(intervalSeconds: number, now: () => number = Date.now) {
    this.intervalMs = intervalSeconds * 1000;
    this.now = now;
  }

  /** Call once per finished cycle; true when the heartbeat line is due now. */
  due(rows: number): boolean {
    const now = this.now();
    if (rows > 0) {
      this.last = now;
      return false;
    }
    if (this.intervalMs <= 0) return false;
    if (this.last !== null && now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}

/** The heartbeat line's fields (pino), ids as strings. */
export function heartbeatFields(state: { lagSeconds: number | null; rowsWaiting: number; watermark: Watermark | null }): Record<string, unknown> {
  return {
    rows: 0,
    lag_s: state.lagSeconds === null ? null : +state.lagSeconds.toFixed(3),
    rows_waiting: state.rowsWaiting,
    watermark: state.watermark ? { ts: state.watermark.ts, id: state.watermark.id } : null,
  };
}
