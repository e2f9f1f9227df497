/**
 * `status`: the program's ETL_PRMREC row, the stream, the lag and rows waiting, and the lock
 * holder, as a table or (--json) one JSON object. Each part is read separately: one that
 * fails is reported (by its error line) and the others are still shown; the exit code is 0
 * only when every part could be read.
 */
import { describeError } from "../errors";
import { lagSeconds, WAITING_ROWS_LIMIT } from "../ops/lag";
import type { LockHolder, Output, ProgramLock, SourceCounter, StreamProbe, StreamSummary, TrackingReader, TrackingRow } from "./ports";

export interface StatusDeps {
  program: string;
  /** source.time_zone */
  timeZone: string;
  /** publisher.safety_lag_seconds: rows waiting are counted up to the same bound a read uses. */
  safetyLagSeconds: number;
  /** Bound of the waiting-rows count (default WAITING_ROWS_LIMIT). */
  waitingLimit?: number;
  tracking: TrackingReader;
  lock: Pick<ProgramLock, "holder">;
  stream: Pick<StreamProbe, "info">;
  source: Pick<SourceCounter, "countAfter">;
}

export type StatusPart = "tracking" | "stream" | "source" | "lock";

export interface StatusReport {
  program: string;
  /** undefined: could not be read (see errors.tracking); null: the program has no row yet. */
  tracking: TrackingRow | null | undefined;
  stream: StreamSummary | undefined;
  lag: { seconds: number | null; rowsWaiting: number; atLeast: boolean; dbNow: string } | undefined;
  lock: { holder: LockHolder | null } | undefined;
  /** One line per part that could not be read. */
  errors: Partial<Record<StatusPart, string>>;
}

export async function gatherStatus(deps: StatusDeps): Promise<StatusReport> {
  const report: StatusReport = { program: deps.program, tracking: undefined, stream: undefined, lag: undefined, lock: undefined, errors: {} };
  const limit = deps.waitingLimit ?? WAITING_ROWS_LIMIT;
  const attempt = async <T>(part: StatusPart, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (err) {
      report.errors[part] = describeError(err);
      return undefined;
    }
  };
  // The tracking row first: the lag is measured from its watermark.
  report.tracking = await attempt("tracking", () => deps.tracking.read());
  const [stream, lock, count] = await Promise.all([
    attempt("stream", () => deps.stream.info()),
    attempt("lock", async () => ({ holder: await deps.lock.holder() })),
    report.tracking === undefined
      ? Promise.resolve(undefined)
      : attempt("source", () => deps.source.countAfter(report.tracking?.watermark ?? null, deps.safetyLagSeconds, limit)),
  ]);
  report.stream = stream;
  report.lock = lock;
  if (count) {
    const watermark = report.tracking?.watermark ?? null;
    report.lag = {
      seconds: lagSeconds({ dbNow: count.dbNow, watermarkTs: watermark?.ts ?? null, timeZone: deps.timeZone, waitingRows: count.rows }),
      rowsWaiting: count.rows,
      atLeast: count.rows >= limit,
      dbNow: count.dbNow,
    };
  } else if (report.tracking === undefined) {
    report.errors.source = "not counted: the watermark could not be read";
  }
  return report;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

const num = (n: number) => n.toLocaleString("en-US");

/** A lag in words: 0.4 s, 42 s, 12 min 5 s, 3 h 20 min, 2 d 4 h. */
export function formatLag(seconds: number): string {
  if (seconds < 10) return `${+seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function unreadable(report: StatusReport, part: StatusPart): string {
  return `unreadable: ${report.errors[part] ?? "unknown error"}`;
}

/** The readable table: one `label  value` line each. */
export function renderStatusTable(report: StatusReport): string {
  const rows: [string, string][] = [["program", report.program]];
  const t = report.tracking;
  if (t === undefined) rows.push(["tracking row", unreadable(report, "tracking")]);
  else if (t === null) rows.push(["tracking row", "none yet (the program has never run)"]);
  else {
    rows.push(["watermark", t.watermark ? `${t.watermark.ts}  id ${t.watermark.id}` : "none (starts at publisher.start_from)"]);
    rows.push(["status", t.status ?? "-"]);
    rows.push(["last run", t.lastRunTime ?? "-"]);
    rows.push(["rows last run", t.recordsProcessed ?? "-"]);
    rows.push(["error", t.errorMessage ? t.errorMessage.replace(/\s+/g, " ") : "-"]);
  }
  const s = report.stream;
  if (s === undefined) rows.push(["stream", unreadable(report, "stream")]);
  else {
    rows.push(["stream", `${s.name}: ${num(s.messages)} messages, ${formatBytes(s.bytes)}`]);
    rows.push(["subjects", s.subjects.join(", ")]);
    rows.push(["dup window", `${num(s.duplicateWindowSeconds)} s`]);
  }
  const l = report.lag;
  if (l === undefined) rows.push(["lag", unreadable(report, "source")]);
  else {
    const waiting = `${l.atLeast ? "at least " : ""}${num(l.rowsWaiting)} row${l.rowsWaiting === 1 ? "" : "s"} waiting`;
    rows.push(["lag", `${l.seconds === null ? "unknown (no watermark yet)" : formatLag(l.seconds)}, ${waiting}`]);
  }
  const k = report.lock;
  if (k === undefined) rows.push(["lock", unreadable(report, "lock")]);
  else if (k.holder === null) rows.push(["lock", "free: no instance is running"]);
  else rows.push(["lock", `held by connection ${k.holder.connectionId}${k.holder.host ? ` from ${k.holder.host}` : ""}: an instance is running`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n");
}

/** The --json object (snake_case keys; ids as strings, exact at any size). */
export function statusJson(report: StatusReport): Record<string, unknown> {
  const t = report.tracking;
  return {
    program: report.program,
    watermark: t?.watermark ? { ts: t.watermark.ts, id: t.watermark.id } : null,
    status: t?.status ?? null,
    last_run: t?.lastRunTime ?? null,
    records_processed: t?.recordsProcessed ?? null,
    error: t?.errorMessage ?? null,
    tracking_row: t === undefined ? "unreadable" : t === null ? "absent" : "present",
    stream: report.stream
      ? {
          name: report.stream.name,
          messages: report.stream.messages,
          bytes: report.stream.bytes,
          subjects: report.stream.subjects,
          duplicate_window_s: report.stream.duplicateWindowSeconds,
        }
      : null,
    lag_s: report.lag ? report.lag.seconds : null,
    rows_waiting: report.lag ? report.lag.rowsWaiting : null,
    rows_waiting_at_least: report.lag ? report.lag.atLeast : null,
    db_now: report.lag?.dbNow ?? null,
    lock_held: report.lock ? report.lock.holder !== null : null,
    lock_holder: report.lock?.holder ? { connection_id: report.lock.holder.connectionId, host: report.lock.holder.host } : null,
    errors: report.errors,
  };
}

/** Runs `status`; returns the exit code (0 when every part could be read). */
export async function runStatus(deps: StatusDeps, options: { json: boolean }, output: Output): Promise<number> {
  const report = await gatherStatus(deps);
  if (options.json) output.out(JSON.stringify(statusJson(report)));
  else output.out(renderStatusTable(report));
  const failed = Object.keys(report.errors);
  if (failed.length > 0) {
    output.err(`status: could not read ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}
