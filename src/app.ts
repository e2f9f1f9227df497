/**
 * The composition root: builds the adapters named by the configuration and runs cycles.
 *
 *   config.yaml -> { RowSource (oracle | mariadb), EventPublisher (inbox | stock acks),
 *                    WatermarkStore (ETL_PRMREC), serializer (inline | piscina) }
 *   loop: runCycle -> log one line -> sleep polling_interval (none when the cycle was full)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Transform } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import Piscina from "piscina";
import { InboxPublisher } from "./adapters/inbox-publisher";
import { connectNats, ensureStream, isTransientNatsError } from "./adapters/jetstream";
import { JetStreamLedger } from "./adapters/jetstream-ledger";
import { MariadbSource } from "./adapters/mariadb-source";
import { MariadbTracking } from "./adapters/mariadb-tracking";
import { oracleNetAttributes } from "./adapters/oracle-driver";
import { StockPublisher } from "./adapters/stock-publisher";
import type { Config, RetryConfig } from "./config/schema";
import { describeError } from "./errors";
import type { Logger } from "./log";
import { type CycleDeps, CycleError, type CycleResult, runCycle } from "./pipeline/cycle";
import { type RetryPolicy, sleep, withRetry } from "./pipeline/retry";
import { serializeInline, serializeInPool } from "./pipeline/serialize-events";
import type { EventPublisher, RowSource } from "./pipeline/types";

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function retryPolicy(r: RetryConfig): RetryPolicy {
  return { maxRetries: r.max_retries, initialBackoff: r.initial_backoff, maxBackoff: r.max_backoff, backoffMultiplier: r.backoff_multiplier };
}

const onRetry = (log: Logger, client: string) => (err: unknown, attempt: number, waitMs: number) =>
  log.warn({ client, attempt, wait_ms: waitMs, err: describeError(err) }, "transient error: retrying");

export function createSource(config: Config, log: Logger): RowSource {
  const { source } = config;
  if (source.kind === "mariadb") {
    const m = source.mariadb ?? config.mariadb;
    return new MariadbSource({
      ...m,
      table: source.table,
      retry: retryPolicy(config.mariadb.retry),
      connectTimeoutMs: config.mariadb.connect_timeout * 1000,
      onRetry: onRetry(log, "source"),
    });
  }
  // Loaded only when used, so a MariaDB-only deployment never touches the Oracle driver.
  const { OracleSource } = require("./adapters/oracle-source") as typeof import("./adapters/oracle-source");
  const o = config.oracle_db;
  if (!o) throw new Error("oracle_db section missing"); // the schema already requires it
  return new OracleSource({
    user: o.user,
    password: o.password,
    dsn: o.dsn,
    table: source.table,
    poolMin: o.pool_min,
    poolMax: o.pool_max,
    fetchArraySize: o.fetch_array_size,
    prefetchRows: o.prefetch_rows,
    callTimeoutMs: o.call_timeout * 1000,
    retry: retryPolicy(o.retry),
    net: oracleNetAttributes(o),
    timeZone: source.time_zone,
    logger: log,
  });
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

export interface Service {
  /** Runs cycles until `stop` aborts (or once). Resolves with the last cycle's result. */
  run(opts: { once: boolean; stop: AbortSignal; kill: AbortSignal }): Promise<CycleResult | null>;
  close(): Promise<void>;
}

export async function createService(config: Config, log: Logger): Promise<Service> {
  const natsRetry = retryPolicy(config.nats.retry);
  const events = config.intime_txlog_events;
  const store = new MariadbTracking({
    ...config.mariadb,
    connectTimeoutMs: config.mariadb.connect_timeout * 1000,
    programName: config.publisher.program_name,
    retry: retryPolicy(config.mariadb.retry),
    onRetry: onRetry(log, "mariadb"),
  });
  let nc: NatsConnection | null = null;
  let source: RowSource | null = null;
  let serializer: ReturnType<typeof createSerializer> | null = null;
  const close = async () => {
    await serializer?.close().catch(() => undefined);
    await source?.close().catch(() => undefined);
    // Every publish was acknowledged (or given up) before we get here, so nothing needs a
    // drain; close() does not wait on a server that stopped answering.
    if (nc && !nc.isClosed()) await withTimeout(nc.close(), 5000).catch(() => undefined);
    await store.close();
  };
  try {
    await store.open();
    nc = await withRetry(
      () =>
        connectNats({
          servers: config.nats.servers,
          user: config.nats.user,
          password: config.nats.password,
          token: config.nats.token,
          nkeySeed: config.nats.nkey_seed,
          creds: config.nats.creds,
          tls: config.nats.tls,
          name: config.nats.name,
          connectTimeoutMs: config.nats.connect_timeout * 1000,
        }),
      natsRetry,
      (err) => isTransientNatsError((err as Error).cause ?? err),
      onRetry(log, "nats"),
    );
    const stream = await ensureStream(nc, events.stream_name, [events.subject, events.dead_letter_subject], config.nats.duplicate_window);
    log.info(
      {
        stream: events.stream_name,
        created: stream.created,
        subjects: stream.info.config.subjects,
        duplicate_window_s: (stream.info.config.duplicate_window ?? 0) / 1e9,
      },
      stream.created ? "stream created" : "stream found",
    );
    if (!stream.created && (stream.info.config.duplicate_window ?? 0) < 30e9) {
      log.warn(
        { duplicate_window_s: (stream.info.config.duplicate_window ?? 0) / 1e9 },
        "the stream's duplicate window is short: a replay after a crash is only de-duplicated within it",
      );
    }
    source = createSource(config, log);
    serializer = createSerializer(config);
  } catch (err) {
    await close();
    throw err;
  }
  const timeoutMs = config.nats.publish_timeout * 1000;
  const publisher: EventPublisher = config.nats.ack_mode === "stock" ? new StockPublisher(nc, timeoutMs) : new InboxPublisher(nc, timeoutMs);
  const p = config.publisher;
  const deps: CycleDeps = {
    source,
    publisher,
    store,
    ledger: new JetStreamLedger(nc, events.stream_name, [events.subject, events.dead_letter_subject]),
    serializer: serializer.make,
    log,
    settings: {
      batchSize: p.batch_size,
      maxRecordsPerRun: p.max_records_per_run,
      safetyLagSeconds: p.safety_lag_seconds,
      startFrom: p.start_from,
      checkpointIntervalMs: p.checkpoint_interval * 1000,
      maxInFlight: p.max_in_flight,
      subject: events.subject,
      deadLetterSubject: events.dead_letter_subject,
      onUnpublishable: p.on_unpublishable,
      publishRetry: natsRetry,
      format: { timeZone: config.source.time_zone, dataType: events.data_type, traceId: events.trace_id, table: config.source.table },
    },
  };

  async function run({ once, stop, kill }: { once: boolean; stop: AbortSignal; kill: AbortSignal }): Promise<CycleResult | null> {
    let failures = 0;
    let last: CycleResult | null = null;
    while (!stop.aborted) {
      let wait = p.polling_interval * 1000;
      try {
        const r = await runCycle(deps, stop, kill);
        last = r;
        failures = 0;
        log.info(
          {
            rows: r.rows,
            seconds: +r.seconds.toFixed(3),
            rows_per_s: Math.round(r.rows / Math.max(r.seconds, 1e-6)),
            watermark: r.watermark,
            duplicates: r.duplicates,
            recovered: r.recovered,
            dead_lettered: r.deadLettered,
            retries: r.retries,
            full: r.full,
          },
          "cycle done",
        );
        if (once) return r;
        if (r.full) wait = 0; // catch up: more rows are waiting
      } catch (err) {
        failures++;
        const r = err instanceof CycleError ? err.result : null;
        log.error(
          { err: describeError(err), rows: r?.rows, watermark: r?.watermark, failures },
          "cycle failed; the watermark stays at the last acknowledged row",
        );
        if (once && failures > p.max_retries) throw err;
        if (stop.aborted) throw err;
        // After a failure wait with backoff, at most one polling interval.
        wait = Math.min(wait, 1000 * 2 ** Math.min(failures - 1, 10));
      }
      try {
        await sleep(wait, stop);
      } catch {
        break; // stop requested while waiting
      }
    }
    return last;
  }
  return { run, close };
}
