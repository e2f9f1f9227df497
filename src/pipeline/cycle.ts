/**
 * One poll cycle, the heart of the service:
 *
 *   ETL_PRMREC watermark (ts, id)
 *        |
 *   RowSource.read()  --SourceRow[]-->  formatEvents  --EventBatch-->  serialize (inline | piscina)
 *        --EncodedBatch-->  JetStreamSink (window of max_in_flight acks)  --acks-->  AckTracker
 *        |
 *   checkpoint every checkpoint_interval, and at the end: the acknowledged prefix -> ETL_PRMREC
 *
 * Stages are joined with stream.pipeline: backpressure runs from the sink's window back to the
 * database reads, and an error anywhere tears the whole cycle down. Whatever happens, the
 * watermark written is the last row of the fully acknowledged prefix, so a failed or killed
 * cycle re-reads only unacknowledged rows, whose replays the stream de-duplicates by msg id.
 */
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { describeError, PublisherError } from "../errors";
import type { FormatOptions } from "../event/txlog-event";
import { formatEvents } from "./format-events";
import { JetStreamSink } from "./jetstream-sink";
import { isAfter } from "./position";
import type { RetryPolicy } from "./retry";
import { startPosition } from "./start-position";
import type { Checkpoint, EventPublisher, RowSource, SourceRow, StreamLedger, Watermark, WatermarkStore } from "./types";

export interface CycleSettings {
  batchSize: number;
  maxRecordsPerRun: number;
  safetyLagSeconds: number;
  startFrom: string;
  checkpointIntervalMs: number;
  maxInFlight: number;
  subject: string;
  deadLetterSubject: string;
  onUnpublishable: "dead_letter" | "fail";
  publishRetry: RetryPolicy;
  format: FormatOptions;
}

/** The few logger methods the pipeline uses (pino's signature). */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface CycleDeps {
  source: RowSource;
  publisher: EventPublisher;
  store: WatermarkStore;
  /** The stream's own record; without it a replay relies on the duplicate window alone. */
  ledger?: StreamLedger;
  /** A fresh serialize stage (inline, or over the shared worker pool). */
  serializer: () => Transform;
  settings: CycleSettings;
  log: Log;
}

export interface CycleResult {
  /** Rows acknowledged in order this cycle (dead letters included). */
  rows: number;
  /** Rows read; equal to max_records_per_run means there may be more (catch up at once). */
  read: number;
  full: boolean;
  watermark: Watermark | null;
  seconds: number;
  duplicates: number;
  /** Rows found already stored by a restart's stream scan, and not published again. */
  recovered: number;
  deadLettered: number;
  retries: number;
}

export class ShutdownError extends PublisherError {
  constructor(message: string) {
    super("E_SHUTDOWN", message);
  }
}

export class CycleError extends PublisherError {
  readonly result: CycleResult;
  constructor(message: string, result: CycleResult, cause: unknown) {
    super("E_CYCLE", message, { cause });
    this.result = result;
  }
}

/**
 * The source, cut short when `stop` aborts: no further page is fetched, what was read
 * drains through the pipeline, and the source (and its connection) is released.
 */
function stoppable(source: Readable, stop: AbortSignal, onRows: (n: number) => void): Readable {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stop.removeEventListener("abort", onAbort);
    out.push(null);
  };
  const onAbort = () => {
    source.destroy();
    end();
  };
  const out = new Readable({
    objectMode: true,
    highWaterMark: 1,
    read() {
      source.resume();
    },
    destroy(err, callback) {
      stop.removeEventListener("abort", onAbort);
      source.destroy();
      callback(err);
    },
  });
  source.pause();
  source.on("data", (rows: SourceRow[]) => {
    if (ended) return;
    onRows(rows.length);
    if (!out.push(rows)) source.pause();
  });
  source.on("end", end);
  source.on("error", (err) => out.destroy(err));
  if (stop.aborted) onAbort();
  else stop.addEventListener("abort", onAbort, { once: true });
  return out;
}

export async function runCycle(deps: CycleDeps, stop: AbortSignal, kill: AbortSignal): Promise<CycleResult> {
  const { source, publisher, store, settings, log } = deps;
  const started = process.hrtime.bigint();
  await store.begin();
  const committed = await store.load();
  let start = committed?.watermark ?? null;
  if (!start) {
    start = await startPosition(settings.startFrom, source, settings.safetyLagSeconds, settings.format.timeZone);
    if (start) {
      // Record the chosen start at once, so a later cycle does not choose again (start_from: latest).
      await store.checkpoint({ watermark: start, resumeSeq: committed?.resumeSeq ?? null }, 0);
      log.info({ start_from: settings.startFrom, watermark: start }, "no watermark yet: starting position chosen");
    }
  }

  // Messages a crashed or failed cycle stored past the watermark: found in the stream itself,
  // so they are not published again even when the duplicate window has long passed.
  let alreadyStored: Map<string, number> | undefined;
  let streamSeqFloor = 0;
  if (deps.ledger) {
    streamSeqFloor = await deps.ledger.lastSeq();
    const from = committed?.resumeSeq ?? null;
    if (from !== null && from <= streamSeqFloor) {
      alreadyStored = new Map();
      for (const [msgId, entry] of await deps.ledger.storedSince(from)) {
        // Only what lies past the watermark matters; unreadable entries are kept to be safe.
        if (!entry.position || isAfter(entry.position, start)) alreadyStored.set(msgId, entry.seq);
      }
      log.info(
        { from_seq: from, to_seq: streamSeqFloor, past_watermark: alreadyStored.size },
        "scanned the stream for messages already stored past the watermark",
      );
    }
  }

  let read = 0;
  const sink = new JetStreamSink({
    publisher,
    table: source.table,
    subject: settings.subject,
    deadLetterSubject: settings.deadLetterSubject,
    onUnpublishable: settings.onUnpublishable,
    maxInFlight: settings.maxInFlight,
    retry: settings.publishRetry,
    start,
    alreadyStored,
    streamSeqFloor,
    onDeadLetter: (row) =>
      log.warn({ id: row.id, event_timestamp: row.ts, reason: row.reason, subject: settings.deadLetterSubject }, "row sent to the dead-letter subject"),
    onRetry: (row) => log.warn({ id: row.id, attempt: row.attempt, wait_ms: row.waitMs }, "publish not acknowledged in time: retrying with the same msg id"),
  });

  // Periodic checkpoint of the acknowledged prefix; one write at a time.
  let lastCommitted: Watermark | null = start;
  let checkpointing: Promise<void> = Promise.resolve();
  const snapshot = (): Checkpoint => ({ watermark: sink.watermark, resumeSeq: deps.ledger ? sink.resumeSeq : null });
  const checkpoint = () => {
    const wm = sink.watermark;
    if (!wm || wm === lastCommitted) return;
    const cp = snapshot();
    checkpointing = checkpointing.then(async () => {
      try {
        await store.checkpoint(cp, sink.tracker.acknowledged);
        lastCommitted = wm;
        log.debug({ watermark: wm, rows: sink.tracker.acknowledged }, "checkpoint committed");
      } catch (err) {
        log.warn({ err: describeError(err) }, "checkpoint failed; will commit at the next one or at the end of the cycle");
      }
    });
  };
  const timer = setInterval(checkpoint, settings.checkpointIntervalMs);
  const onKill = () => sink.destroy(new ShutdownError("shutdown timeout: closed with acks still in flight; unacknowledged rows will be re-read"));
  kill.addEventListener("abort", onKill, { once: true });

  const result = (): CycleResult => ({
    rows: sink.tracker.acknowledged,
    read,
    full: read >= settings.maxRecordsPerRun,
    watermark: sink.watermark,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    duplicates: sink.stats.duplicates,
    recovered: sink.stats.recovered,
    deadLettered: sink.stats.deadLettered,
    retries: sink.stats.retries,
  });

  try {
    const rows = source.read({ after: start, limit: settings.maxRecordsPerRun, pageSize: settings.batchSize, safetyLagSeconds: settings.safetyLagSeconds });
    await pipeline(
      stoppable(rows, stop, (n) => {
        read += n;
      }),
      formatEvents(settings.format),
      deps.serializer(),
      sink,
    );
  } catch (err) {
    clearInterval(timer);
    kill.removeEventListener("abort", onKill);
    await checkpointing;
    const r = result();
    const message = describeError(err);
    try {
      await store.finish({ checkpoint: snapshot(), rows: r.rows, error: message });
    } catch (storeErr) {
      log.error({ err: describeError(storeErr) }, "could not record the failed run in the tracking table");
    }
    throw new CycleError(message, r, err);
  }
  clearInterval(timer);
  kill.removeEventListener("abort", onKill);
  await checkpointing;
  const r = result();
  await store.finish({ checkpoint: snapshot(), rows: r.rows });
  return r;
}

/** The cycle's settings from the config's `publisher`, `intime_txlog_events` and `source` sections. */
export function cycleSettings(config: Config): CycleSettings {
  const p = config.publisher;
  const events = config.intime_txlog_events;
  return {
    batchSize: p.batch_size,
    maxRecordsPerRun: p.max_records_per_run,
    safetyLagSeconds: p.safety_lag_seconds,
    startFrom: p.start_from,
    checkpointIntervalMs: p.checkpoint_interval * 1000,
    maxInFlight: p.max_in_flight,
    subject: events.subject,
    deadLetterSubject: events.dead_letter_subject,
    onUnpublishable: p.on_unpublishable,
    publishRetry: retryPolicy(config.nats.retry),
    format: { timeZone: config.source.time_zone, dataType: events.data_type, traceId: events.trace_id, table: config.source.table },
  };
}
