/**
 * The composition root: builds the adapters named by the configuration and hands the poll
 * loop (src/service/poll-loop.ts) a cycle to run. Each adapter reads its own options from the
 * config through the builder beside it (`trackingOptions`, `natsOptions`, `mariadbSourceOptions`,
 * `oracleSourceOptions`, `cycleSettings`), so nothing here renames keys.
 *
 *   config.yaml -> { RowSource (oracle | mariadb), EventPublisher (inbox | stock acks),
 *                    WatermarkStore (ETL_PRMREC), serializer (inline | piscina) }
 *   pollLoop: leadership (hot standby: wait for the program lock; its lockLost is the cycle's
 *             fence) -> stream re-check (after a failure, on take-over) -> runCycle
 *             -> log one line -> sleep polling_interval (none when the cycle was full)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Transform } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import Piscina from "piscina";
import { InboxPublisher } from "./adapters/inbox-publisher";
import { connectNats, ensureStream, isStreamNotFound, isTransientNatsError, natsOptions, redactUrl } from "./adapters/jetstream";
import { JetStreamLedger } from "./adapters/jetstream-ledger";
import { MariadbSource, mariadbSourceOptions } from "./adapters/mariadb-source";
import { MariadbTracking, trackingOptions } from "./adapters/mariadb-tracking";
import { watchNatsStatus } from "./adapters/nats-status";
import { StockPublisher } from "./adapters/stock-publisher";
import { retryPolicy } from "./config/retry-policy";
import type { Config } from "./config/schema";
import { describeError, TrackingError } from "./errors";
import { type Logger, logRetry } from "./log";
import type { ProgressLine, ProgressStream } from "./ops/progress";
import { instrumentCycle, instrumentDeps, onceProgress, type ServiceOps, tickingSleep } from "./ops/wiring";
import { type CycleDeps, type CycleResult, cycleSettings, runCycle } from "./pipeline/cycle";
import { withRetry } from "./pipeline/retry";
import { serializeInline, serializeInPool } from "./pipeline/serialize-events";
import type { RowSource, WatermarkStore } from "./pipeline/types";
import { Leadership } from "./service/leadership";
import { type CycleSignals, type PollLoopHooks, pollLoop, pollLoopSettings } from "./service/poll-loop";

/** `promise`, or undefined once `ms` have passed. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts; a value that
 * arrives after that is handed to `discard` (a connection nobody will use).
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, discard: (value: T) => void): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) discard(value);
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/**
 * The configured source. `maxPayload` (the NATS server's max_payload, bytes) lets the Oracle
 * source leave an EVENT_DATA LOB longer than that unloaded: no such row can be published (a
 * character or byte of it is at least a byte of the message), so it is dead-lettered without
 * ever being held in memory.
 */
export function createSource(config: Config, log: Logger, maxPayload?: number): RowSource {
  if (config.source.kind === "mariadb") return new MariadbSource(mariadbSourceOptions(config, log));
  // Loaded only when used, so a MariaDB-only deployment never touches the Oracle driver.
  const { OracleSource, oracleSourceOptions } = require("./adapters/oracle-source") as typeof import("./adapters/oracle-source");
  return new OracleSource({ ...oracleSourceOptions(config, log), ...(maxPayload ? { maxEventDataLength: maxPayload } : {}) });
}

/** The compiled worker next to this file (dist/), or the TypeScript one when run from src/. */
function workerFile(): string {
  const js = join(__dirname, "workers", "serialize-task.js");
  return existsSync(js) ? js : join(__dirname, "workers", "serialize-task.ts");
}

export function createSerializer(config: Config): { make: () => Transform; close: () => Promise<void> } {
  if (config.publisher.serialization === "inline") return { make: serializeInline, close: async () => undefined };
  const workers = config.publisher.workers;
  const pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers, maxQueue: workers * 4, idleTimeout: 60_000 });
  return { make: () => serializeInPool(pool, workers * 2), close: () => pool.destroy() };
}

/** Connects with the `nats.retry` backoff; `signal` (the stop request) ends the wait at once. */
export function openNats(config: Config, log: Logger, signal?: AbortSignal): Promise<NatsConnection> {
  const attempt = () => abortable(connectNats(natsOptions(config)), signal, (nc) => void nc.close().catch(() => undefined));
  return withRetry(attempt, retryPolicy(config.nats.retry), (err) => isTransientNatsError((err as Error).cause ?? err), logRetry(log, "nats"), signal);
}

/** Creates or checks the stream and says which, warning when its duplicate window is short. */
async function openStream(nc: NatsConnection, config: Config, log: Logger): Promise<void> {
  const events = config.intime_txlog_events;
  const { created, info } = await ensureStream(nc, events.stream_name, [events.subject, events.dead_letter_subject], config.nats.duplicate_window);
  const duplicateWindowSeconds = (info.config.duplicate_window ?? 0) / 1e9;
  const fields = { stream: events.stream_name, created, subjects: info.config.subjects, duplicate_window_s: duplicateWindowSeconds };
  log.info(fields, created ? "stream created" : "stream found");
  if (!created && duplicateWindowSeconds < 30) {
    log.warn({ duplicate_window_s: duplicateWindowSeconds }, "the stream's duplicate window is short: a replay after a crash is only de-duplicated within it");
  }
}

/**
 * The stream set up again while running (after a failed cycle, and on taking the lock): a
 * stream deleted, or lost with a NATS store, is created as at start, loudly; and a stream whose
 * last sequence is below the stored RESUME_STREAM_SEQ (wiped or replaced) is reported. A failure
 * here is only logged: the cycle that follows fails with its own reason (and records it).
 */
async function recheckStream(nc: NatsConnection, store: MariadbTracking, config: Config, log: Logger, stop: AbortSignal): Promise<void> {
  const events = config.intime_txlog_events;
  const stream = events.stream_name;
  const server = nc.isClosed() ? undefined : redactUrl(nc.getServer());
  try {
    const { created, info } = await ensureStream(nc, stream, [events.subject, events.dead_letter_subject], config.nats.duplicate_window);
    if (created) log.warn({ stream, server, subjects: info.config.subjects }, `stream ${stream} was missing on NATS ${server}: created it again`);
    const resumeSeq = store.holdsLock ? (await store.load(stop))?.resumeSeq : null;
    if (resumeSeq !== null && resumeSeq !== undefined && info.state.last_seq + 1 < resumeSeq) {
      log.warn(
        { stream, server, stream_last_seq: info.state.last_seq, resume_stream_seq: resumeSeq },
        `stream ${stream} ends at sequence ${info.state.last_seq}, below the stored RESUME_STREAM_SEQ ${resumeSeq}: it was wiped or replaced; the restart scan can no longer see what was published before, so a replay of the last unacknowledged rows is de-duplicated only by the duplicate window`,
      );
    }
  } catch (err) {
    log.warn({ stream, server, err: describeError(err) }, "could not set the stream up again; the next cycle will tell");
  }
}

/** The open connections, closed in reverse order of opening; each part may be missing. */
interface Parts {
  store: MariadbTracking;
  nc?: NatsConnection;
  source?: RowSource;
  serializer?: ReturnType<typeof createSerializer>;
}

async function closeParts(parts: Parts): Promise<void> {
  await parts.serializer?.close().catch(() => undefined);
  await parts.source?.close().catch(() => undefined);
  // Every publish was acknowledged (or given up) before we get here, so nothing needs a
  // drain; close() does not wait on a server that stopped answering.
  if (parts.nc && !parts.nc.isClosed()) await withTimeout(parts.nc.close(), 5000).catch(() => undefined);
  await parts.store.close();
}

function cycleDeps(config: Config, log: Logger, parts: Required<Parts>): CycleDeps {
  const events = config.intime_txlog_events;
  const timeoutMs = config.nats.publish_timeout * 1000;
  return {
    source: parts.source,
    publisher: config.nats.ack_mode === "stock" ? new StockPublisher(parts.nc, timeoutMs) : new InboxPublisher(parts.nc, timeoutMs),
    store: parts.store,
    ledger: new JetStreamLedger(parts.nc, events.stream_name, [events.subject, events.dead_letter_subject], {
      retry: retryPolicy(config.nats.retry),
      onRetry: logRetry(log, "nats"),
    }),
    serializer: parts.serializer.make,
    log,
    settings: cycleSettings(config),
  };
}

/**
 * Once the stop request came, a tracking-store statement gets at most this long: a commit that
 * a dead or black-holed MariaDB will not answer must not hold SIGTERM for query_timeout. An
 * uncommitted end costs nothing but a re-read: the restart's stream scan keeps it exactly once.
 */
export const STOP_WRITE_GRACE_MS = 2000;

/** The store as the cycle sees it: every call bounded by STOP_WRITE_GRACE_MS after a stop request. */
function stopBoundedStore(store: MariadbTracking, stop: AbortSignal): WatermarkStore {
  const bounded = <T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      timer = setTimeout(
        () => deadline.abort(new TrackingError(`the tracking store did not answer within ${STOP_WRITE_GRACE_MS} ms of the stop request`, true)),
        STOP_WRITE_GRACE_MS,
      );
    };
    if (stop.aborted) arm();
    else stop.addEventListener("abort", arm, { once: true });
    return call(deadline.signal).finally(() => {
      clearTimeout(timer);
      stop.removeEventListener("abort", arm);
    });
  };
  return {
    load: () => bounded((signal) => store.load(signal)),
    begin: () => bounded((signal) => store.begin(signal)),
    checkpoint: (checkpoint, rows) => bounded((signal) => store.checkpoint(checkpoint, rows, signal)),
    finish: (result) => bounded((signal) => store.finish(result, signal)),
  };
}

export interface RunOptions {
  once: boolean;
  stop: AbortSignal;
  kill: AbortSignal;
  /**
   * Runs before each cycle and returns its fence. Default: leadership over the program lock
   * (hot standby unless publisher.standby is false or `once`), see src/service/leadership.ts.
   */
  beforeCycle?: PollLoopHooks["beforeCycle"];
  /** With `once`: where the progress line goes (drawn only when it is a TTY). */
  progress?: ProgressStream;
  /** This instance became the active publisher (true) or a standby (false); for metrics. */
  onLeadership?(active: boolean): void;
}

export interface Service {
  /** Runs cycles until `stop` aborts (or once). Resolves with the last cycle's result. */
  run(opts: RunOptions): Promise<CycleResult | null>;
  close(): Promise<void>;
}

/** Sources that can check their setup before the first cycle (OracleSource: version, column types). */
function checkable(source: RowSource): source is RowSource & { check(): Promise<void> } {
  return typeof (source as { check?: unknown }).check === "function";
}

/**
 * Opens the tracking store (without its lock), NATS (with its stream), the source (checked at
 * once when it is Oracle) and the serializer, closing whatever was opened if a later step
 * fails. `signal` (the stop request) ends a start-up that is still waiting for a service.
 * The program lock is taken by `run` (see RunOptions.beforeCycle): a standby is connected and
 * checked, only not publishing.
 */
export async function createService(config: Config, log: Logger, signal?: AbortSignal, ops?: ServiceOps): Promise<Service> {
  const parts: Parts = { store: new MariadbTracking(trackingOptions(config, log)) };
  try {
    await parts.store.prepare(signal);
    parts.nc = await openNats(config, log, signal);
    await openStream(parts.nc, config, log);
    // The same max_payload (and fallback) the publishers use.
    parts.source = createSource(config, log, parts.nc.info?.max_payload ?? 1024 * 1024);
    const source = parts.source;
    if (checkable(source)) await abortable(source.check(), signal, () => undefined);
    parts.serializer = createSerializer(config);
  } catch (err) {
    ops?.failed(err);
    await closeParts(parts);
    throw err;
  }
  const { store, nc } = parts;
  const source = parts.source;
  const deps = cycleDeps(config, log, { ...parts, nc, source, serializer: parts.serializer });
  if (ops) {
    ops.dependency("tracking", true);
    ops.dependency("nats", true);
    watchNatsStatus(nc, (up, reason) => ops.dependency("nats", up, reason));
  }
  let last: CycleResult | null = null;
  return {
    run: async ({ once, stop, kill, beforeCycle, onLeadership, progress }) => {
      // Set after a failed cycle: the next one starts by setting the stream up again.
      let recheck = false;
      const leadership = new Leadership({
        lock: store,
        program: config.publisher.program_name,
        wait: config.publisher.standby && !once,
        retryMs: config.mariadb.lock_check_interval * 1000,
        log,
        // A standby's wait is the loop alive too (/healthz).
        ...(ops ? { sleep: tickingSleep(ops) } : {}),
        onLeadership: (active) => {
          ops?.leadership(active);
          onLeadership?.(active);
        },
        onActive: async () => {
          recheck = false;
          await recheckStream(nc, store, config, log, stop);
        },
      });
      const lead = async (s: AbortSignal) => {
        const fence = await leadership.beforeCycle(s);
        if (recheck && !fence.aborted) {
          recheck = false;
          await recheckStream(nc, store, config, log, stop);
        }
        return fence;
      };
      // The --once progress line: its total needs the committed watermark, readable only once
      // the lock is held, so it is made at the first cycle.
      let line: ProgressLine | undefined;
      let lineMade = !(once && ops && progress);
      const cycle = async (s: CycleSignals) => {
        if (!lineMade && ops && progress) {
          lineMade = true;
          line = await onceProgress(progress, store, source, config);
        }
        // The fence (lock lost) stops publishing at once and commits nothing more.
        const bounded: CycleDeps = { ...deps, store: stopBoundedStore(store, s.stop), fence: s.fence };
        try {
          return await runCycle(ops ? instrumentDeps(ops, bounded, line?.observer()) : bounded, s.stop, s.kill);
        } catch (err) {
          recheck = true;
          if (isStreamNotFound(err)) {
            const stream = config.intime_txlog_events.stream_name;
            log.warn(
              { stream, server: redactUrl(nc.getServer()) },
              `stream ${stream} not found on NATS ${redactUrl(nc.getServer())}: setting it up again before the next cycle`,
            );
          }
          throw err;
        }
      };
      const probe = { source, safetyLagSeconds: config.publisher.safety_lag_seconds, lastWatermark: () => last?.watermark ?? null };
      const hooks: PollLoopHooks = ops
        ? { runCycle: async (s) => (last = await instrumentCycle(ops, probe, () => cycle(s))), beforeCycle: beforeCycle ?? lead, sleep: tickingSleep(ops) }
        : { runCycle: cycle, beforeCycle: beforeCycle ?? lead };
      try {
        return await pollLoop(pollLoopSettings(config, once), hooks, { stop, kill }, log);
      } finally {
        line?.finish();
      }
    },
    close: () => closeParts(parts),
  };
}
