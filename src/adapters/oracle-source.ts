/**
 * RowSource over an Oracle table (node-oracledb, Thin mode only: initOracleClient is never
 * called, so no Instant Client is needed).
 *
 *   read() ──_read()──► page query (FETCH FIRST n, keyset after the last row) ──► SourceRow[] chunk
 *                         ▲ one connection per read, held until end / error / destroy / close()
 *                         └ transient failure: drop that connection, back off, fresh connection, same page
 *
 * One query per page: each page is an independent keyset query from the last row emitted,
 * so a page can be retried on a fresh connection without duplicating or skipping a row, and
 * nothing is fetched until the consumer asks (highWaterMark 1: at most one page waits in the
 * buffer while the consumer works on the previous one).
 */
import { Readable } from "node:stream";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { SourceError } from "../errors";
import type { RetryPolicy } from "../pipeline/retry";
import { withRetry } from "../pipeline/retry";
import type { ReadOptions, RowSource, SourceRow, Watermark } from "../pipeline/types";
import type { OracleConnection, OracleDbType, OracleDriver, OracleMetaData, OraclePool } from "./oracle-driver";
import { isTransientOracleError, toSourceError } from "./oracle-errors";
import type { ColumnKinds, Statement, TimestampKind } from "./oracle-sql";
import { describeSql, latestStatement, normalizeZone, pageStatement, TS_TEXT, upperBoundStatement, validateTable } from "./oracle-sql";

export interface OracleSourceLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface OracleSourceOptions {
  user: string;
  password: string;
  /** Connect string: `host:port/service` or a TNS descriptor. */
  dsn: string;
  /** `TABLE` or `SCHEMA.TABLE`, unquoted identifiers; default `spc.TXLOG_EVENTS`. */
  table?: string;
  poolMin: number;
  poolMax: number;
  /** Seconds an idle pooled connection may live; driver default when absent. */
  poolTimeoutSeconds?: number;
  /** Rows per round trip within a page. */
  fetchArraySize: number;
  /** Rows returned with a query's first round trip. */
  prefetchRows: number;
  /** Longest a single database call may take, milliseconds; 0 = no limit. */
  callTimeoutMs: number;
  retry: RetryPolicy;
  /** Zone of the table's naive timestamps (`UTC`, `+09:00`, a region): the lag bound's clock and TIMESTAMP WITH TIME ZONE output use it. */
  timeZone: string;
  logger?: OracleSourceLogger;
  /** The oracledb module; tests inject a fake. */
  driver?: OracleDriver;
}

interface PageRow {
  ID: unknown;
  CASE_ID: unknown;
  EVENT_TYPE: unknown;
  EVENT_DATA: unknown;
  EVENT_TS: unknown;
  CREATED_TS: unknown;
}

export type {
  OracleConnection,
  OracleDbType,
  OracleDriver,
  OracleExecuteOptions,
  OracleMetaData,
  OraclePool,
  OraclePoolAttributes,
  OracleResult,
} from "./oracle-driver";

const SILENT: OracleSourceLogger = { warn() {}, info() {}, debug() {} };

export class OracleSource implements RowSource {
  readonly table: string;
  private readonly opts: OracleSourceOptions;
  private readonly driver: OracleDriver;
  private readonly zone: string;
  private readonly log: OracleSourceLogger;
  private pool: Promise<OraclePool> | null = null;
  private kinds: ColumnKinds | null = null;
  private readonly readers = new Set<OracleReader>();
  private closed = false;

  constructor(options: OracleSourceOptions) {
    this.table = validateTable(options.table ?? "spc.TXLOG_EVENTS");
    this.zone = normalizeZone(options.timeZone);
    for (const key of ["poolMax", "fetchArraySize"] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 1) throw new SourceError(`Oracle source for ${this.table}: ${key} must be an integer >= 1`, false);
    }
    this.opts = options;
    this.log = options.logger ?? SILENT;
    // Loaded lazily so a MariaDB-only deployment never loads the driver.
    this.driver = options.driver ?? (require("oracledb") as OracleDriver);
  }

  read(options: ReadOptions): Readable {
    const reader = new OracleReader(this, options);
    this.readers.add(reader);
    reader.once("close", () => this.readers.delete(reader));
    return reader;
  }

  async latest(safetyLagSeconds: number): Promise<Watermark | null> {
    return this.withConnection("latest-position query", async (conn) => {
      const kinds = await this.columnKinds(conn);
      const upper = await this.upperBound(conn, safetyLagSeconds);
      const rows = await this.run<{ ID: unknown; EVENT_TS: unknown }>(conn, latestStatement(this.table, kinds, this.zone, upper));
      const row = rows[0];
      return row === undefined ? null : { ts: this.text(row.EVENT_TS, "EVENT_TIMESTAMP"), id: this.text(row.ID, "ID") };
    });
  }

  /** Ends every read in progress (their connections go back first), then closes the pool. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.readers].map((r) => r.abort(new SourceError(`Oracle source ${this.table} was closed during a read`, false))));
    const pool = this.pool;
    this.pool = null;
    if (pool) {
      try {
        await (await pool).close(0);
      } catch (err) {
        this.log.warn({ table: this.table, err: String(err) }, "closing the Oracle pool failed");
      }
    }
  }

  // ---- Used by OracleReader ----

  /** A connection with the call timeout set; retried as the `retry` policy says by the caller. */
  async acquire(): Promise<OracleConnection> {
    if (this.closed) throw new SourceError(`Oracle source ${this.table} is closed`, false);
    const pool = await this.getPool();
    const conn = await pool.getConnection();
    if (this.opts.callTimeoutMs > 0) conn.callTimeout = this.opts.callTimeoutMs;
    return conn;
  }

  /** Returns a connection to the pool; `broken` drops it instead so a dead session is never reused. */
  async release(conn: OracleConnection, broken: boolean): Promise<void> {
    try {
      await (broken ? conn.close({ drop: true }) : conn.close());
    } catch (err) {
      this.log.debug({ table: this.table, err: String(err) }, "releasing an Oracle connection failed");
    }
  }

  retrying<T>(action: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw toSourceError(err, this.table, action, [this.opts.password]);
        }
      },
      this.opts.retry,
      isTransientOracleError,
      (err, attempt, waitMs) => this.log.warn({ table: this.table, attempt, waitMs, err: (err as Error).message }, `Oracle ${action} failed; retrying`),
      signal,
    );
  }

  async columnKinds(conn: OracleConnection): Promise<ColumnKinds> {
    if (this.kinds) return this.kinds;
    const result = await conn.execute(describeSql(this.table), {}, { outFormat: this.driver.OUT_FORMAT_OBJECT, maxRows: 1 });
    const meta = new Map((result.metaData ?? []).map((m) => [m.name.toUpperCase(), m]));
    const id = meta.get("ID");
    if (id?.dbType !== this.driver.DB_TYPE_NUMBER) {
      throw new SourceError(`Oracle table ${this.table}: ID must be a NUMBER column for numeric keyset order, found ${id?.dbTypeName ?? "none"}`, false);
    }
    this.kinds = { eventTimestamp: this.kindOf(meta.get("EVENT_TIMESTAMP"), "EVENT_TIMESTAMP"), createdAt: this.kindOf(meta.get("CREATED_AT"), "CREATED_AT") };
    this.log.debug({ table: this.table, kinds: this.kinds }, "Oracle column types read");
    return this.kinds;
  }

  async upperBound(conn: OracleConnection, lagSeconds: number): Promise<string> {
    const rows = await this.run<{ UPPER_BOUND: unknown }>(conn, upperBoundStatement(this.zone, lagSeconds));
    return this.text(rows[0]?.UPPER_BOUND, "UPPER_BOUND");
  }

  async page(conn: OracleConnection, after: Watermark | null, upper: string, n: number): Promise<SourceRow[]> {
    const kinds = await this.columnKinds(conn);
    const rows = await this.run<PageRow>(conn, pageStatement(this.table, kinds, this.zone, after, upper, n), n);
    return rows.map((r) => ({
      id: this.text(r.ID, "ID"),
      caseId: this.textOrNull(r.CASE_ID, "CASE_ID"),
      eventType: this.textOrNull(r.EVENT_TYPE, "EVENT_TYPE"),
      eventData: this.textOrNull(r.EVENT_DATA, "EVENT_DATA"),
      eventTimestamp: this.text(r.EVENT_TS, "EVENT_TIMESTAMP"),
      createdAt: this.textOrNull(r.CREATED_TS, "CREATED_AT"),
    }));
  }

  // ---- Internals ----

  private getPool(): Promise<OraclePool> {
    if (!this.pool) {
      const o = this.opts;
      const attempt = this.driver.createPool({
        user: o.user,
        password: o.password,
        connectString: o.dsn,
        poolMin: o.poolMin,
        poolMax: o.poolMax,
        poolIncrement: 1,
        ...(o.poolTimeoutSeconds !== undefined ? { poolTimeout: o.poolTimeoutSeconds } : {}),
      });
      this.pool = attempt;
      // A failed creation must not stick: the next attempt creates the pool again.
      attempt.catch(() => {
        if (this.pool === attempt) this.pool = null;
      });
    }
    return this.pool;
  }

  private async withConnection<T>(action: string, fn: (conn: OracleConnection) => Promise<T>): Promise<T> {
    return this.retrying(action, async () => {
      const conn = await this.acquire();
      let broken = false;
      try {
        return await fn(conn);
      } catch (err) {
        broken = isTransientOracleError(err);
        throw err;
      } finally {
        await this.release(conn, broken);
      }
    });
  }

  /**
   * Every NUMBER as a string (exact past 2^53) and every CLOB/NCLOB as a string (no Lob
   * objects); the timestamps are already TO_CHAR text.
   */
  private readonly fetchTypeHandler = (meta: OracleMetaData): { type: OracleDbType } | undefined => {
    const d = this.driver;
    if (meta.dbType === d.DB_TYPE_NUMBER || meta.dbType === d.DB_TYPE_CLOB || meta.dbType === d.DB_TYPE_NCLOB) return { type: d.STRING };
    return undefined;
  };

  private async run<T>(conn: OracleConnection, stmt: Statement, n = 1): Promise<T[]> {
    const result = await conn.execute(stmt.sql, stmt.binds, {
      outFormat: this.driver.OUT_FORMAT_OBJECT,
      fetchTypeHandler: this.fetchTypeHandler,
      // maxRows guards memory even if the SQL's FETCH FIRST were ever lost.
      maxRows: n,
      fetchArraySize: Math.max(1, Math.min(this.opts.fetchArraySize, n)),
      prefetchRows: Math.min(this.opts.prefetchRows, n + 1),
    });
    return (result.rows ?? []) as T[];
  }

  private kindOf(meta: OracleMetaData | undefined, column: string): TimestampKind {
    const d = this.driver;
    const t = meta?.dbType;
    // TO_CHAR(..., FF6) keeps six digits; a finer column could never be matched by its watermark.
    if (t !== d.DB_TYPE_DATE && (meta?.precision ?? 0) > 6) {
      throw new SourceError(`Oracle table ${this.table}: ${column} has fractional precision ${meta?.precision}; at most 6 is supported`, false);
    }
    if (t === d.DB_TYPE_DATE) return "date";
    if (t === d.DB_TYPE_TIMESTAMP) return "timestamp";
    if (t === d.DB_TYPE_TIMESTAMP_TZ || t === d.DB_TYPE_TIMESTAMP_LTZ) return "zoned";
    throw new SourceError(
      `Oracle table ${this.table}: ${column} must be DATE or TIMESTAMP [WITH [LOCAL] TIME ZONE], found ${meta?.dbTypeName ?? "no such column"}`,
      false,
    );
  }

  private text(v: unknown, column: string): string {
    if (typeof v === "string") return v;
    throw new SourceError(`Oracle table ${this.table}: ${column} arrived as ${v === null ? "NULL" : typeof v}, expected text`, false);
  }

  private textOrNull(v: unknown, column: string): string | null {
    return v === null || v === undefined ? null : this.text(v, column);
  }
}

/** One read(): pages fetched on demand over one held connection. */
class OracleReader extends Readable {
  private conn: OracleConnection | null = null;
  private upper: string | null = null;
  private cursor: Watermark | null;
  private emitted = 0;
  private started = false;
  private inFlight: Promise<unknown> | null = null;
  private readonly stop = new AbortController();

  constructor(
    private readonly source: OracleSource,
    private readonly options: ReadOptions,
  ) {
    super({ objectMode: true, highWaterMark: 1 });
    this.cursor = options.after;
  }

  override _read(): void {
    const work = this.next();
    this.inFlight = work;
    work.then(
      () => {
        this.inFlight = null;
      },
      (err: unknown) => {
        this.inFlight = null;
        this.destroy(err as Error);
      },
    );
  }

  /** Destroys the read and resolves once its connection is back. */
  async abort(err: Error): Promise<void> {
    if (!this.destroyed) this.destroy(err);
    if (!this.closed) await new Promise((resolve) => this.once("close", resolve));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stop.abort(err ?? new Error("read destroyed"));
    // A call in flight cannot be taken back: let it settle (callTimeout bounds it), then release.
    const settled = this.inFlight ? this.inFlight.catch(() => undefined) : Promise.resolve();
    void settled.then(() => this.releaseConnection(false)).then(() => callback(err));
  }

  private async next(): Promise<void> {
    const { limit, pageSize } = this.options;
    if (!this.started) {
      this.started = true;
      this.validate();
    }
    const n = Math.min(pageSize, limit - this.emitted);
    if (n <= 0) return this.finish();
    const rows = await this.source.retrying("page query", () => this.fetch(n), this.stop.signal);
    if (this.destroyed) return;
    const last = rows[rows.length - 1];
    if (last !== undefined) {
      this.emitted += rows.length;
      this.cursor = { ts: last.eventTimestamp, id: last.id };
    }
    // A short page means nothing else is at or below the upper bound.
    if (rows.length < n || this.emitted >= limit) {
      await this.releaseConnection(false);
      if (rows.length > 0) this.push(rows);
      this.push(null);
      return;
    }
    this.push(rows);
  }

  private async fetch(n: number): Promise<SourceRow[]> {
    try {
      // Each step re-checks for destroy()/close(): a destroyed read must not start another call.
      const signal = this.stop.signal;
      signal.throwIfAborted();
      if (!this.conn) this.conn = await this.source.acquire();
      signal.throwIfAborted();
      // Taken once per read: later pages keep the same bound even across a reconnect.
      if (this.upper === null) this.upper = await this.source.upperBound(this.conn, this.options.safetyLagSeconds);
      signal.throwIfAborted();
      return await this.source.page(this.conn, this.cursor, this.upper, n);
    } catch (err) {
      // The next attempt gets a fresh connection; a possibly dead one is dropped from the pool.
      await this.releaseConnection(isTransientOracleError(err));
      throw err;
    }
  }

  private async finish(): Promise<void> {
    await this.releaseConnection(false);
    this.push(null);
  }

  private async releaseConnection(broken: boolean): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn) await this.source.release(conn, broken);
  }

  private validate(): void {
    const { after, limit, pageSize, safetyLagSeconds } = this.options;
    const bad = (what: string) => new SourceError(`Oracle read of ${this.source.table}: ${what}`, false);
    if (!Number.isInteger(pageSize) || pageSize < 1) throw bad(`pageSize must be an integer >= 1, got ${pageSize}`);
    if (!Number.isInteger(limit) || limit < 0) throw bad(`limit must be an integer >= 0, got ${limit}`);
    if (!Number.isFinite(safetyLagSeconds) || safetyLagSeconds < 0) throw bad(`safetyLagSeconds must be >= 0, got ${safetyLagSeconds}`);
    if (after && !TS_TEXT.test(after.ts)) throw bad(`watermark timestamp ${JSON.stringify(after.ts)} is not YYYY-MM-DD HH:MM:SS.ffffff`);
    if (after && !/^-?\d+$/.test(after.id)) throw bad(`watermark id ${JSON.stringify(after.id)} is not an integer`);
  }
}

/** The source's options from the config's `oracle_db` and `source` sections (seconds become milliseconds). */
export function oracleSourceOptions(config: Config, logger: OracleSourceLogger): OracleSourceOptions {
  const o = config.oracle_db;
  if (!o) throw new SourceError("the oracle_db section is required when source.kind is oracle", false); // the schema already requires it
  return {
    user: o.user,
    password: o.password,
    dsn: o.dsn,
    table: config.source.table,
    poolMin: o.pool_min,
    poolMax: o.pool_max,
    fetchArraySize: o.fetch_array_size,
    prefetchRows: o.prefetch_rows,
    callTimeoutMs: o.call_timeout * 1000,
    retry: retryPolicy(o.retry),
    timeZone: config.source.time_zone,
    logger,
  };
}
