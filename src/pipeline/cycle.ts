/**
 * One poll cycle, the heart of the service:
 *
 *   ETL_PRMREC watermark (ts, id)
 *        |
 *   RowSource.read()  --SourceRow[]-->  formatEvents  --EventBatch-->  serialize (inline | piscina)
 *        --EncodedBatch-->  JetStreamSink (PublishWindow of max_in_flight acks)  --acks-->  Checkpointer
 *        |
 *   checkpoint every checkpoint_interval, and at the end: sink.snapshot() -> ETL_PRMREC
 *
 * Stages are joined with stream.pipeline: backpressure runs from the sink's window back to the
 * database reads, and an error anywhere tears the whole cycle down. Whatever happens, the
 * watermark written is the last row of the fully acknowledged prefix, so a failed or killed
 * cycle re-reads only unacknowledged rows, whose replays the stream de-duplicates by msg id.
 *
 * Every cycle that began (store.begin) ends with store.finish, SUCCESS or FAILED with the
 * reason, whatever step failed; except a fenced one (this instance lost its lock), which
 * commits nothing after it notices.
 */
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { describeError, FencedError, PublisherError } from "../errors";
import type { FormatOptions } from "../event/txlog-event";
import { formatEvents } from "./format-events";
import { JetStreamSink } from "./jetstream-sink";
import { isAfter } from "./position";
import type { RetryPolicy } from "./retry";
import { startPosition } from "./start-position";
import type { Checkpoint, EventPublisher, PipelineObserver, RowSource, SourceRow, StreamLedger, Watermark, WatermarkStore } from "./types";

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
  /**
   * Aborts when this instance has lost its program lock (hot standby). The cycle then stops
   * at once, like `kill` (no publish is sent after the abort is seen, the source is
   * destroyed), commits nothing more (no checkpoint, no finish) and rejects with FencedError.
   */
  fence?: AbortSignal;
  /** Metrics hook; without one nothing is measured. */
  observer?: PipelineObserver;
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
  throwIfFenced(deps.fence);
  const started = process.hrtime.bigint();
  await deps.store.begin();
  let run: CycleRun | null = null;
  let failure: { err: unknown } | null = null;
  try {
    const plan = await prepare(deps);
    run = new CycleRun(deps, plan);
    await run.execute(stop, kill);
  } catch (err) {
    failure = { err };
  } finally {
    await run?.teardown();
  }
  // Fenced: another instance may own the program now; whatever it says must stand.
  throwIfFenced(deps.fence);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = run ? run.result(seconds) : emptyResult(seconds);
  const checkpoint = run ? run.checkpoint() : null;
  if (!failure) {
    await deps.store.finish({ checkpoint, rows: result.rows });
    return result;
  }
  const message = describeError(failure.err);
  try {
    await deps.store.finish({ checkpoint, rows: result.rows, error: message });
  } catch (storeErr) {
    deps.log.error({ err: describeError(storeErr) }, "could not record the failed run in the tracking table");
  }
  throw new CycleError(message, result, failure.err);
}

function throwIfFenced(fence: AbortSignal | undefined): void {
  if (fence?.aborted) throw new FencedError(undefined, { cause: fence.reason });
}

function emptyResult(seconds: number): CycleResult {
  return { rows: 0, read: 0, full: false, watermark: null, seconds, duplicates: 0, recovered: 0, deadLettered: 0, retries: 0 };
}

/** Where a cycle starts and what the stream already holds past it. */
interface CyclePlan {
  start: Watermark | null;
  /** Nats-Msg-Id -> stream sequence of our messages stored past `start`. */
  alreadyStored?: Map<string, number>;
  /** The stream's last sequence before this cycle publishes anything. */
  streamSeqFloor: number;
}

async function prepare(deps: CycleDeps): Promise<CyclePlan> {
  const committed = await deps.store.load();
  throwIfFenced(deps.fence);
  // Taken before this cycle publishes anything: everything it publishes lands above it.
  const streamSeqFloor = deps.ledger ? await deps.ledger.lastSeq() : 0;
  throwIfFenced(deps.fence);
  // A program with a committed checkpoint has chosen its start already (a null watermark
  // there means "from the oldest row", e.g. `latest` on a table that was empty).
  const start = committed ? committed.watermark : await chooseStart(deps);
  throwIfFenced(deps.fence);
  await commitStart(deps, committed, start, streamSeqFloor);
  return { start, ...(await scanLedger(deps, committed?.resumeSeq ?? null, start, streamSeqFloor)) };
}

/** No checkpoint yet: the position `start_from` says. */
async function chooseStart(deps: CycleDeps): Promise<Watermark | null> {
  const { settings, log } = deps;
  const start = await startPosition(settings.startFrom, deps.source, settings.safetyLagSeconds, settings.format.timeZone);
  if (start) log.info({ start_from: settings.startFrom, watermark: start }, "no watermark yet: starting position chosen");
  return start;
}

/**
 * Commits, before the first publish, what a restart needs if this cycle dies before its first
 * periodic checkpoint: the start position just chosen (so `latest` is chosen only once), and a
 * resume sequence when the committed checkpoint has none (a brand-new program, a V7 row) or one
 * past the stream's end (the stream was recreated). Without it a restart would not scan the
 * stream, and once the duplicate window has passed it would publish this cycle's rows again.
 */
async function commitStart(deps: CycleDeps, committed: Checkpoint | null, start: Watermark | null, streamSeqFloor: number): Promise<void> {
  const committedSeq = committed?.resumeSeq ?? null;
  const needsSeq = deps.ledger !== undefined && (committedSeq === null || committedSeq > streamSeqFloor + 1);
  if (!needsSeq && (committed !== null || start === null)) return;
  const resumeSeq = deps.ledger ? (needsSeq ? streamSeqFloor + 1 : committedSeq) : null;
  await deps.store.checkpoint({ watermark: start, resumeSeq }, 0);
  throwIfFenced(deps.fence);
}

/**
 * Messages a crashed or failed cycle stored past the watermark: found in the stream itself,
 * so they are not published again even when the duplicate window has long passed.
 */
async function scanLedger(deps: CycleDeps, from: number | null, start: Watermark | null, streamSeqFloor: number): Promise<Omit<CyclePlan, "start">> {
  if (!deps.ledger || from === null || from > streamSeqFloor) return { streamSeqFloor };
  const alreadyStored = new Map<string, number>();
  for (const [msgId, entry] of await deps.ledger.storedSince(from)) {
    // Only what lies past the watermark matters; unreadable entries are kept to be safe.
    if (!entry.position || isAfter(entry.position, start)) alreadyStored.set(msgId, entry.seq);
  }
  deps.log.info(
    { from_seq: from, to_seq: streamSeqFloor, past_watermark: alreadyStored.size },
    "scanned the stream for messages already stored past the watermark",
  );
  return { alreadyStored, streamSeqFloor };
}

function createSink(deps: CycleDeps, plan: CyclePlan): JetStreamSink {
  const { settings, log } = deps;
  return new JetStreamSink({
    publisher: deps.publisher,
    table: deps.source.table,
    subject: settings.subject,
    deadLetterSubject: settings.deadLetterSubject,
    onUnpublishable: settings.onUnpublishable,
    maxInFlight: settings.maxInFlight,
    retry: settings.publishRetry,
    start: plan.start,
    alreadyStored: plan.alreadyStored,
    streamSeqFloor: plan.streamSeqFloor,
    observer: deps.observer,
    onDeadLetter: (row) =>
      log.warn({ id: row.id, event_timestamp: row.ts, reason: row.reason, subject: settings.deadLetterSubject }, "row sent to the dead-letter subject"),
    onRetry: (row) => log.warn({ id: row.id, attempt: row.attempt, wait_ms: row.waitMs }, "publish not acknowledged in time: retrying with the same msg id"),
  });
}

/** The pipeline of one cycle, its periodic checkpoints, and how kill and fence cut it short. */
class CycleRun {
  private readonly deps: CycleDeps;
  private readonly sink: JetStreamSink;
  private readonly start: Watermark | null;
  private read = 0;
  private lastCommitted: Watermark | null;
  /** Checkpoint writes, one at a time. */
  private checkpointing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private input: Readable | null = null;
  private kill: AbortSignal | null = null;

  constructor(deps: CycleDeps, plan: CyclePlan) {
    this.deps = deps;
    this.start = plan.start;
    this.lastCommitted = plan.start;
    this.sink = createSink(deps, plan);
  }

  private readonly onKill = () =>
    this.sink.destroy(new ShutdownError("shutdown timeout: closed with acks still in flight; unacknowledged rows will be re-read"));

  /** Lost the lock: nothing may be published or committed from now on. */
  private readonly onFence = () => {
    if (this.timer) clearInterval(this.timer);
    const err = new FencedError(undefined, { cause: this.deps.fence?.reason });
    this.sink.destroy(err);
    this.input?.destroy(err);
  };

  async execute(stop: AbortSignal, kill: AbortSignal): Promise<void> {
    const { settings, source, observer, fence } = this.deps;
    throwIfFenced(fence);
    this.timer = setInterval(() => this.commit(), settings.checkpointIntervalMs);
    this.kill = kill;
    kill.addEventListener("abort", this.onKill, { once: true });
    fence?.addEventListener("abort", this.onFence, { once: true });
    const rows = source.read({
      after: this.start,
      limit: settings.maxRecordsPerRun,
      pageSize: settings.batchSize,
      safetyLagSeconds: settings.safetyLagSeconds,
    });
    this.input = stoppable(rows, stop, (n) => {
      this.read += n;
      observer?.rowsRead(n);
    });
    await pipeline(this.input, formatEvents(settings.format), this.deps.serializer(), this.sink);
  }

  /** Stops the periodic checkpoints and waits for the one being written. */
  async teardown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.kill?.removeEventListener("abort", this.onKill);
    this.deps.fence?.removeEventListener("abort", this.onFence);
    await this.checkpointing;
  }

  /** What is committed: the acknowledged prefix and where a restart scans the stream from. */
  checkpoint(): Checkpoint {
    const s = this.sink.snapshot();
    return { watermark: s.watermark, resumeSeq: this.deps.ledger ? s.resumeSeq : null };
  }

  result(seconds: number): CycleResult {
    const { rows, watermark, stats } = this.sink.snapshot();
    const read = this.read;
    const full = read >= this.deps.settings.maxRecordsPerRun;
    return {
      rows,
      read,
      full,
      watermark,
      seconds,
      duplicates: stats.duplicates,
      recovered: stats.recovered,
      deadLettered: stats.deadLettered,
      retries: stats.retries,
    };
  }

  /** A periodic checkpoint of the acknowledged prefix, queued behind the previous one. */
  private commit(): void {
    const { store, log, fence } = this.deps;
    const wm = this.sink.watermark;
    if (!wm || wm === this.lastCommitted || fence?.aborted) return;
    const snap = this.sink.snapshot();
    const cp: Checkpoint = { watermark: wm, resumeSeq: this.deps.ledger ? snap.resumeSeq : null };
    this.checkpointing = this.checkpointing.then(async () => {
      if (fence?.aborted) return;
      try {
        await store.checkpoint(cp, snap.rows);
        this.lastCommitted = wm;
        log.debug({ watermark: wm, rows: snap.rows }, "checkpoint committed");
      } catch (err) {
        log.warn({ err: describeError(err) }, "checkpoint failed; will commit at the next one or at the end of the cycle");
      }
    });
  }
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
