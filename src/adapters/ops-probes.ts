/**
 * The live ports of the operator commands (status, check, rewind, dry run) that need the
 * MariaDB and NATS drivers: reading the program's ETL_PRMREC row without taking its lock,
 * asking who holds the lock, taking it to move the watermark, and looking at the stream.
 * Everything makes one attempt with a deadline (no retry backoff): an operator wants an
 * answer in seconds. Error messages name the service (host, port, database) and never a
 * password.
 */
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type * as mariadb from "mariadb";
import type { LockHolder, StreamSummary, TrackingRow } from "../cli/ports";
import { NatsSetupError, TrackingError } from "../errors";
import type { Checkpoint, Watermark } from "../pipeline/types";
import { connectNats, type NatsOptions, redactUrl } from "./jetstream";
import { closeConnection, type MariadbEndpoint, openConnection, queryWithin } from "./mariadb-connection";
import { AFTER_ALL_IDS, lockName, MariadbTracking, type TrackingOptions } from "./mariadb-tracking";

const TS = "%Y-%m-%d %H:%i:%s.%f";

/** One read-only MariaDB connection to the tracking database, opened on first use. */
export class TrackingProbe {
  private readonly options: TrackingOptions;
  private readonly table: string;
  private conn: mariadb.Connection | null = null;
  private readonly timeoutMs: number;
  readonly lockName: string;

  constructor(options: TrackingOptions, timeoutMs = 5000) {
    this.options = options;
    this.table = options.table ?? "ETL_PRMREC";
    this.timeoutMs = timeoutMs;
    this.lockName = lockName(options.database, options.programName, options.partition);
  }

  private get where(): string {
    return `${this.table} on MariaDB ${this.options.host}:${this.options.port}/${this.options.database}`;
  }

  private get endpoint(): MariadbEndpoint {
    const { host, port, user, password, database } = this.options;
    return { host, port, user, password, database };
  }

  private async query<T>(what: string, sql: string | mariadb.QueryOptions, params: unknown[], signal?: AbortSignal): Promise<T> {
    try {
      if (!this.conn) {
        this.conn = await openConnection(this.endpoint, Math.min(this.options.connectTimeoutMs, this.timeoutMs), signal, () => {
          this.conn = null;
        });
      }
      return await queryWithin<T>(this.conn, this.options, what, this.timeoutMs, signal, sql, params);
    } catch (err) {
      const e = err as { code?: string; sqlMessage?: string; message?: string };
      throw new TrackingError(`${what} (${this.where}) failed: ${e.code ? `${e.code}: ` : ""}${e.sqlMessage ?? e.message ?? String(err)}`, false, {
        cause: err,
      });
    }
  }

  /** Reachable, and whether the tracking table exists yet. */
  async check(signal?: AbortSignal): Promise<string> {
    const rows = await this.query<unknown[][]>(
      "reading the tracking table",
      { sql: "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", rowsAsArray: true },
      [this.table],
      signal,
    );
    const exists = Number(rows[0]?.[0]) > 0;
    return `${this.where} ${exists ? "readable" : "reachable (the table is created on the first run)"}`;
  }

  /** The program's row, or null (no row, or no table yet). Reads only. */
  async read(): Promise<TrackingRow | null> {
    let rows: Array<Record<string, string | null>>;
    const select = (id: string) =>
      this.query<Array<Record<string, string | null>>>(
        "reading the watermark",
        `SELECT PROGRAM_NAME AS program, DATE_FORMAT(LAST_SUCCESSFUL_TIME, '${TS}') AS ts, ${id} AS id, STATUS AS status, DATE_FORMAT(LAST_RUN_TIME, '${TS}') AS lastRun, CAST(RECORDS_PROCESSED AS CHAR) AS records, ERROR_MESSAGE AS error, DATE_FORMAT(UPDATED_AT, '${TS}') AS updated FROM \`${this.table}\` WHERE PROGRAM_NAME = ? ORDER BY LAST_SUCCESSFUL_TIME DESC LIMIT 1`,
        [this.options.programName],
      );
    try {
      rows = await select("CAST(LAST_SUCCESSFUL_ID AS CHAR)");
    } catch (err) {
      const errno = (err as { cause?: { errno?: number } }).cause?.errno;
      // No table yet: the program has never run.
      if (errno === 1146) return null;
      // A V7 table not migrated yet (no LAST_SUCCESSFUL_ID): every row at its time is done.
      if (errno !== 1054) throw err;
      rows = await select("NULL");
    }
    const r = rows[0];
    if (!r) return null;
    return {
      programName: String(r.program),
      watermark: r.ts === null || r.ts === undefined ? null : { ts: r.ts, id: r.id ?? AFTER_ALL_IDS },
      status: r.status ?? null,
      lastRunTime: r.lastRun ?? null,
      recordsProcessed: r.records ?? null,
      errorMessage: r.error ?? null,
      updatedAt: r.updated ?? null,
    };
  }

  /** Who holds the program's lock (IS_USED_LOCK), with the client address when visible. */
  async holder(): Promise<LockHolder | null> {
    const rows = await this.query<unknown[][]>("looking up the lock holder", { sql: "SELECT IS_USED_LOCK(?)", rowsAsArray: true }, [this.lockName]);
    const id = rows[0]?.[0];
    if (id === null || id === undefined) return null;
    const hosts = await this.query<unknown[][]>(
      "looking up the lock holder",
      { sql: "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = ?", rowsAsArray: true },
      [id],
    ).catch(() => []);
    const host = hosts[0]?.[0];
    return { connectionId: String(id), host: host === null || host === undefined ? null : String(host) };
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    await closeConnection(conn);
  }
}

/** The program's lock, taken by a command to move the watermark (one attempt, never waits). */
export interface WatermarkLease {
  setWatermark(to: Watermark): Promise<void>;
  release(): Promise<void>;
}

/**
 * Takes the lock with the tracking store itself (so the write is fenced exactly as the
 * service's are), or returns null when another connection holds it.
 */
export async function leaseWatermark(options: TrackingOptions, recordsProcessed: () => Promise<number>): Promise<WatermarkLease | null> {
  const store = new MariadbTracking({ ...options, retry: { ...options.retry, maxRetries: 0 } });
  try {
    await store.prepare();
    const attempt = await store.tryAcquire();
    if (!attempt.acquired) {
      await store.close();
      return null;
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    async setWatermark(to: Watermark) {
      // resumeSeq null: the restart scan must not treat the replayed rows as already stored.
      const checkpoint: Checkpoint = { watermark: to, resumeSeq: null };
      await store.checkpoint(checkpoint, await recordsProcessed());
    },
    release: () => store.close(),
  };
}

/** The stream, over one NATS connection opened on first use (one attempt). */
export class StreamProbe {
  private readonly nats: NatsOptions;
  private readonly name: string;
  private readonly filter: string | undefined;
  private nc: Promise<NatsConnection> | null = null;

  constructor(nats: NatsOptions, name: string, filterSubject?: string) {
    this.nats = nats;
    this.name = name;
    this.filter = filterSubject;
  }

  private connection(): Promise<NatsConnection> {
    this.nc ??= connectNats(this.nats);
    return this.nc;
  }

  async info(): Promise<StreamSummary> {
    const nc = await this.connection();
    try {
      const info = await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(this.name);
      return {
        name: this.name,
        messages: info.state.messages,
        bytes: info.state.bytes,
        subjects: info.config.subjects ?? [],
        duplicateWindowSeconds: (info.config.duplicate_window ?? 0) / 1e9,
      };
    } catch (err) {
      throw new NatsSetupError(`stream ${this.name} on NATS at ${this.nats.servers.map(redactUrl).join(", ")}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Messages stored in the last `seconds`: an ephemeral consumer starting at now - seconds, its num_pending (deleted afterwards). */
  async storedWithin(seconds: number): Promise<number> {
    const nc = await this.connection();
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const ci = await jsm.consumers.add(this.name, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(Date.now() - seconds * 1000).toISOString(),
      inactive_threshold: 30_000_000_000,
      ...(this.filter ? { filter_subject: this.filter } : {}),
    });
    await jsm.consumers.delete(this.name, ci.name).catch(() => undefined);
    return ci.num_pending;
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    if (!nc) return;
    const conn = await nc.catch(() => null);
    await conn?.close().catch(() => undefined);
  }
}

/** `check`'s NATS step: one connection attempt, closed at once; the detail names the server (no credentials). */
export async function probeNats(nats: NatsOptions, signal: AbortSignal): Promise<string> {
  const pending = connectNats(nats);
  signal.addEventListener("abort", () => void pending.then((nc) => nc.close()).catch(() => undefined), { once: true });
  const nc = await pending;
  const server = nc.getServer();
  const info = nc.info;
  await nc.close().catch(() => undefined);
  return `connected to ${redactUrl(server.startsWith("nats") || server.startsWith("tls") ? server : `nats://${server}`)}${info ? ` (server ${info.version}${info.jetstream ? ", JetStream" : ""})` : ""}`;
}
