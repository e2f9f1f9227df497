/**
 * The composition root: builds the adapters named by the configuration and hands the poll
 * loop (src/service/poll-loop.ts) a cycle to run. Each adapter reads its own options from the
 * config through the builder beside it (`trackingOptions`, `natsOptions`, `mariadbSourceOptions`,
 * `oracleSourceOptions`, `cycleSettings`), so nothing here renames keys.
 *
 *   config.yaml -> { RowSource (oracle | mariadb), EventPublisher (inbox | stock acks),
 *                    WatermarkStore (ETL_PRMREC), serializer (inline | piscina) }
 *   pollLoop: runCycle -> log one line -> sleep polling_interval (none when the cycle was full)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Transform } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import Piscina from "piscina";
import { InboxPublisher } from "./adapters/inbox-publisher";
import { connectNats, ensureStream, isTransientNatsError, natsOptions } from "./adapters/jetstream";
import { JetStreamLedger } from "./adapters/jetstream-ledger";
import { MariadbSource, mariadbSourceOptions } from "./adapters/mariadb-source";
import { MariadbTracking, trackingOptions } from "./adapters/mariadb-tracking";
import { watchNatsStatus } from "./adapters/nats-status";
import { StockPublisher } from "./adapters/stock-publisher";
import { retryPolicy } from "./config/retry-policy";
import type { Config } from "./config/schema";
import { type Logger, logRetry } from "./log";
import type { ProgressStream } from "./ops/progress";
import { instrumentCycle, instrumentDeps, onceProgress, type ServiceOps, tickingSleep } from "./ops/wiring";
import { type CycleDeps, type CycleResult, cycleSettings, runCycle } from "./pipeline/cycle";
import { withRetry } from "./pipeline/retry";
import { serializeInline, serializeInPool } from "./pipeline/serialize-events";
import type { RowSource } from "./pipeline/types";
import { type PollLoopHooks, pollLoop, pollLoopSettings } from "./service/poll-loop";

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

export function createSource(config: Config, log: Logger): RowSource {
  if (config.source.kind === "mariadb") return new MariadbSource(mariadbSourceOptions(config, log));
  // Loaded only when used, so a MariaDB-only deployment never touches the Oracle driver.
  const { OracleSource, oracleSourceOptions } = require("./adapters/oracle-source") as typeof import("./adapters/oracle-source");
  return new OracleSource(oracleSourceOptions(config, log));
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
    ledger: new JetStreamLedger(parts.nc, events.stream_name, [events.subject, events.dead_letter_subject]),
    serializer: parts.serializer.make,
    log,
    settings: cycleSettings(config),
  };
}

export interface RunOptions {
  once: boolean;
  stop: AbortSignal;
  kill: AbortSignal;
  /** Runs before each cycle and returns its fence (hot standby: acquire or confirm the lock). */
  beforeCycle?: PollLoopHooks["beforeCycle"];
  /** With `once`: where the progress line goes (drawn only when it is a TTY). */
  progress?: ProgressStream;
}

export interface Service {
  /** Runs cycles until `stop` aborts (or once). Resolves with the last cycle's result. */
  run(opts: RunOptions): Promise<CycleResult | null>;
  close(): Promise<void>;
}

/**
 * Opens the tracking store, NATS (with its stream), the source and the serializer, closing
 * whatever was opened if a later step fails. `signal` (the stop request) ends a start-up that
 * is still waiting for a service.
 */
export async function createService(config: Config, log: Logger, signal?: AbortSignal, ops?: ServiceOps): Promise<Service> {
  const parts: Parts = { store: new MariadbTracking(trackingOptions(config, log)) };
  // Typed as the signal-taking call so that the store's open(signal), where it exists, gets it.
  const openStore: (signal?: AbortSignal) => Promise<void> = parts.store.open.bind(parts.store);
  try {
    await openStore(signal);
    parts.nc = await openNats(config, log, signal);
    await openStream(parts.nc, config, log);
    parts.source = createSource(config, log);
    parts.serializer = createSerializer(config);
  } catch (err) {
    ops?.failed(err);
    await closeParts(parts);
    throw err;
  }
  const deps = cycleDeps(config, log, { ...parts, nc: parts.nc, source: parts.source, serializer: parts.serializer });
  if (ops) {
    ops.dependency("tracking", true);
    ops.dependency("nats", true);
    ops.leadership(true);
    watchNatsStatus(parts.nc, (up, reason) => ops.dependency("nats", up, reason));
  }
  const source = parts.source;
  const store = parts.store;
  let last: CycleResult | null = null;
  return {
    run: async ({ once, stop, kill, beforeCycle, progress }) => {
      const line = once && ops && progress ? await onceProgress(progress, store, source, config) : undefined;
      const instrumented = ops ? instrumentDeps(ops, deps, line?.observer()) : deps;
      // A lost fence cuts the cycle short as the kill signal does (the standby work may make it commit nothing).
      const cycle = (s: { stop: AbortSignal; kill: AbortSignal; fence: AbortSignal }) => runCycle(instrumented, s.stop, AbortSignal.any([s.kill, s.fence]));
      const probe = { source, safetyLagSeconds: config.publisher.safety_lag_seconds, lastWatermark: () => last?.watermark ?? null };
      try {
        return await pollLoop(
          pollLoopSettings(config, once),
          ops
            ? {
                runCycle: async (s) => (last = await instrumentCycle(ops, probe, () => cycle(s))),
                beforeCycle,
                sleep: tickingSleep(ops),
              }
            : { runCycle: cycle, beforeCycle },
          { stop, kill },
          log,
        );
      } finally {
        line?.finish();
      }
    },
    close: () => closeParts(parts),
  };
}
