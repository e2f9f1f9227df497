/**
 * RowSource over an Oracle table (node-oracledb, Thin mode only: initOracleClient is never
 * called, so no Instant Client is needed).
 *
 *   read() ──► one cursor: execute(keyset query after the watermark, {resultSet: true})
 *                 └─ _read() ──► getRows(pageSize): one round trip ──► SourceRow[] chunk
 *              one connection held until end / error / destroy / close(); cursor closed on every path
 *              transient failure: drop cursor and connection, back off, fresh connection,
 *              new cursor after the last row emitted (exact: keyset order, same upper bound)
 *
 * Why a cursor and not a FETCH FIRST query per page: a page from an open cursor is one
 * round trip (Thin's getRows(n) asks for exactly the missing rows), while a page query is an
 * execute plus a fetch, and with a LOB column no prefetch at all, i.e. at least two round
 * trips and a new index descent per page. Nothing is fetched until the consumer asks
 * (highWaterMark 1: at most one page waits while the consumer works on the previous one).
 */
import type { Readable } from "node:stream";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { SourceError } from "../errors";
import type { RetryPolicy } from "../pipeline/retry";
import { withRetry } from "../pipeline/retry";
import type { ReadOptions, RowSource, SourceRow, Watermark } from "../pipeline/types";
import {
  type OracleConnection,
  type OracleDbType,
  type OracleDriver,
  type OracleMetaData,
  type OracleNetAttributes,
  type OraclePool,
  type OracleResultSet,
  oracleNetAttributes,
} from "./oracle-driver";
import { isTransientOracleError, toSourceError } from "./oracle-errors";
import { OracleReader } from "./oracle-reader";
import type { ColumnKinds, Statement, TextKind, TimestampKind } from "./oracle-sql";
import {
  clockStatement,
  countAfterStatement,
  countBetweenStatement,
  describeSql,
  latestStatement,
  normalizeZone,
  pageStatement,
  upperBoundStatement,
  validateTable,
} from "./oracle-sql";

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
  /**
   * Longest a single database call may take, milliseconds; 0 = no limit. Also the source's
   * own watchdog: a call still unanswered `watchdogGraceMs` later is abandoned with its
   * connection (Thin's callTimeout only sends a break and waits for the server's answer).
   */
  callTimeoutMs: number;
  /** Slack past callTimeoutMs before the watchdog abandons a call; also bounds close(). Default 5000. */
  watchdogGraceMs?: number;
  /**
   * Pool `expireTime`, minutes: TCP keepalive probes on idle and busy connections, so the OS
   * notices a peer that vanished without a FIN/RST. Default 1; 0 disables.
   */
  expireTimeMinutes?: number;
  retry: RetryPolicy;
  /** Zone of the table's naive timestamps (`UTC`, `+09:00`, a region): the lag bound's clock and TIMESTAMP WITH TIME ZONE output use it. */
  timeZone: string;
  logger?: OracleSourceLogger;
  /** TCPS/wallet and tnsnames settings, passed to createPool as they are. */
  net?: OracleNetAttributes;
  /**
   * EVENT_DATA LOBs longer than this (characters of a CLOB/NCLOB, bytes of a BLOB) are not
   * fetched: the row arrives with `eventData` null and `eventDataLength` set, to be
   * dead-lettered. Unset: every value is fetched whole.
   */
  maxEventDataLength?: number;
  /**
   * `cursor` (default): one resultSet per read, a getRows() round trip per page. `pages`: a
   * FETCH FIRST query per page (the earlier design; kept for the live suite's comparison).
   */
  readMode?: "cursor" | "pages";
  /** The oracledb module; tests inject a fake. */
  driver?: OracleDriver;
}

/**
 * A SourceRow, plus `eventDataLength` when EVENT_DATA was left in the database because it is
 * longer than `maxEventDataLength` (then `eventData` is null): the row must be dead-lettered,
 * not published.
 */
export interface OracleSourceRow extends SourceRow {
  eventDataLength?: number;
}

interface PageRow {
  EVENT_DATA_LENGTH?: unknown;
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
  OracleResultSet,
} from "./oracle-driver";

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True when `work` settled within `ms` (its outcome is the caller's business). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

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
  /** A connection has succeeded once: from then on an unknown service means a restart, not a typo. */
  private connectedBefore = false;
  private versionChecked = false;
  /** Connections given up on by the watchdog: closing them could wait forever, so it is never awaited. */
  private readonly abandoned = new WeakSet<OracleConnection>();
  /** Calls in flight under a watchdog; close() gives up on them at once. */
  private readonly pending = new Set<(err: SourceError) => void>();
  private readonly graceMs: number;

  constructor(options: OracleSourceOptions) {
    this.table = validateTable(options.table ?? "spc.TXLOG_EVENTS");
    this.zone = normalizeZone(options.timeZone);
    for (const key of ["poolMax", "fetchArraySize"] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 1) throw new SourceError(`Oracle source for ${this.table}: ${key} must be an integer >= 1`, false);
    }
    const max = options.maxEventDataLength;
    if (max !== undefined && (!Number.isInteger(max) || max < 1))
      throw new SourceError(`Oracle source for ${this.table}: maxEventDataLength must be an integer >= 1`, false);
    this.opts = options;
    this.graceMs = options.watchdogGraceMs ?? 5000;
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

  /**
   * Connects once and checks what the first read would otherwise find out: the server version
   * (12.1+, 30-byte names below 12.2) and every column's type. For the service to call at
   * start, so that a wrong setup fails in one line before the first cycle.
   */
  async check(): Promise<void> {
    await this.withConnection("start check", async (conn) => {
      await this.columnKinds(conn);
    });
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

  /** Rows waiting after `after` up to database now - `upperLagSeconds`, counted up to `limit`, and the database clock (RowSource.countAfter). */
  async countAfter(after: Watermark | null, upperLagSeconds: number, limit: number): Promise<{ rows: number; dbNow: string }> {
    return this.withConnection("waiting-rows count", async (conn) => {
      const kinds = await this.columnKinds(conn);
      const clock = (await this.run<{ DB_NOW: unknown; UPPER_BOUND: unknown }>(conn, clockStatement(this.zone, upperLagSeconds)))[0];
      const upper = this.text(clock?.UPPER_BOUND, "UPPER_BOUND");
      const rows = await this.run<{ N: unknown }>(conn, countAfterStatement(this.table, kinds, this.zone, after, upper, limit));
      return { rows: Number(rows[0]?.N ?? 0), dbNow: this.text(clock?.DB_NOW, "DB_NOW") };
    });
  }

  /** Rows with `after` < (EVENT_TIMESTAMP, ID) <= `through`, counted up to `limit` (RowSource.countBetween). */
  async countBetween(after: Watermark, through: Watermark, limit: number): Promise<number> {
    return this.withConnection("row count", async (conn) => {
      const kinds = await this.columnKinds(conn);
      const rows = await this.run<{ N: unknown }>(conn, countBetweenStatement(this.table, kinds, this.zone, after, through, limit));
      return Number(rows[0]?.N ?? 0);
    });
  }

  /**
   * Ends every read in progress (their connections go back first), then closes the pool.
   * Idempotent, and bounded: a read whose call hangs on a dead connection is given
   * `watchdogGraceMs` to end, and so is the pool, so shutdown never waits on Oracle.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = new SourceError(`Oracle source ${this.table} was closed during a read`, false);
    const reads = Promise.all([...this.readers].map((r) => r.abort(closing)));
    // Shutdown does not wait out a call: each one in flight is abandoned with its connection.
    for (const expire of [...this.pending]) expire(closing);
    if (!(await settlesWithin(reads, this.graceMs))) {
      this.log.warn({ table: this.table, grace_ms: this.graceMs }, "an Oracle read did not end in time on close; its connection is abandoned");
    }
    const pool = this.pool;
    this.pool = null;
    if (pool) {
      const closing = pool.then((p) => p.close(0));
      closing.catch((err: unknown) => this.log.warn({ table: this.table, err: String(err) }, "closing the Oracle pool failed"));
      if (!(await settlesWithin(closing, this.graceMs)))
        this.log.warn({ table: this.table, grace_ms: this.graceMs }, "the Oracle pool did not close in time; giving up on it");
    }
  }

  /**
   * `call`, or a transient SourceError once it has outlasted callTimeout + grace. Thin's
   * callTimeout sends a break and waits for the server's answer, which never comes over a
   * silently dropped connection; so past the grace the connection is abandoned (closed with
   * drop in the background, never awaited) and the caller retries on a fresh one.
   */
  guard<T>(conn: OracleConnection, what: string, call: Promise<T>): Promise<T> {
    const limit = this.opts.callTimeoutMs;
    if (limit <= 0) return call;
    const ms = limit + this.graceMs;
    return new Promise<T>((resolve, reject) => {
      const expire = (err: SourceError) => {
        settle();
        this.abandon(conn);
        reject(err);
      };
      const timer = setTimeout(
        () =>
          expire(
            new SourceError(`Oracle ${what} on ${this.table} did not answer within ${ms} ms (call_timeout + ${this.graceMs} ms); connection abandoned`, true),
          ),
        ms,
      );
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(expire);
      };
      this.pending.add(expire);
      call.then(
        (value) => {
          settle();
          resolve(value);
        },
        (err: unknown) => {
          settle();
          reject(err);
        },
      );
    });
  }

  /** Closes a cursor, bounded like every call (on an abandoned connection it could wait forever). */
  async closeCursor(cursor: OracleResultSet): Promise<void> {
    const closing = cursor.close();
    closing.catch((err: unknown) => this.log.debug({ table: this.table, err: String(err) }, "closing an Oracle cursor failed"));
    await settlesWithin(closing, this.graceMs);
  }

  private abandon(conn: OracleConnection): void {
    if (this.abandoned.has(conn)) return;
    this.abandoned.add(conn);
    conn.close({ drop: true }).catch(() => undefined);
  }

  // ---- Used by OracleReader ----

  /** A connection with the call timeout set; retried as the `retry` policy says by the caller. */
  async acquire(): Promise<OracleConnection> {
    if (this.closed) throw new SourceError(`Oracle source ${this.table} is closed`, false);
    const pool = await this.getPool();
    const conn = await pool.getConnection();
    this.connectedBefore = true;
    if (this.opts.callTimeoutMs > 0) conn.callTimeout = this.opts.callTimeoutMs;
    if (!this.versionChecked) {
      try {
        this.checkServerVersion(conn);
      } catch (err) {
        await this.release(conn, false);
        throw err;
      }
      this.versionChecked = true;
    }
    return conn;
  }

  /** Returns a connection to the pool; `broken` drops it instead so a dead session is never reused. */
  async release(conn: OracleConnection, broken: boolean): Promise<void> {
    if (this.abandoned.has(conn)) return;
    const closing = broken ? conn.close({ drop: true }) : conn.close();
    closing.catch((err: unknown) => this.log.debug({ table: this.table, err: String(err) }, "releasing an Oracle connection failed"));
    // Closing waits for a call in flight: bounded, like every call.
    if (!(await settlesWithin(closing, this.graceMs))) this.abandoned.add(conn);
  }

  retrying<T>(action: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw toSourceError(err, this.table, action, [this.opts.password, this.opts.net?.walletPassword ?? ""], {
            connectedBefore: this.connectedBefore,
          });
        }
      },
      this.opts.retry,
      (err) => isTransientOracleError(err, { connectedBefore: this.connectedBefore }),
      (err, attempt, waitMs) => this.log.warn({ table: this.table, attempt, waitMs, err: (err as Error).message }, `Oracle ${action} failed; retrying`),
      signal,
    );
  }

  async columnKinds(conn: OracleConnection): Promise<ColumnKinds> {
    if (this.kinds) return this.kinds;
    const result = await this.guard(
      conn,
      "column type query",
      conn.execute(describeSql(this.table), {}, { outFormat: this.driver.OUT_FORMAT_OBJECT, maxRows: 1 }),
    );
    const meta = new Map((result.metaData ?? []).map((m) => [m.name.toUpperCase(), m]));
    const id = meta.get("ID");
    if (id?.dbType !== this.driver.DB_TYPE_NUMBER) {
      throw new SourceError(`Oracle table ${this.table}: ID must be a NUMBER column for numeric keyset order, found ${id?.dbTypeName ?? "none"}`, false);
    }
    this.kinds = {
      eventTimestamp: this.kindOf(meta.get("EVENT_TIMESTAMP"), "EVENT_TIMESTAMP"),
      createdAt: this.kindOf(meta.get("CREATED_AT"), "CREATED_AT"),
      caseId: this.textKindOf(meta.get("CASE_ID"), "CASE_ID", false),
      eventType: this.textKindOf(meta.get("EVENT_TYPE"), "EVENT_TYPE", false),
      eventData: this.textKindOf(meta.get("EVENT_DATA"), "EVENT_DATA", true),
    };
    this.log.debug({ table: this.table, kinds: this.kinds }, "Oracle column types read");
    return this.kinds;
  }

  /**
   * Thin mode needs Oracle Database 12.1+ (it refuses older servers itself with NJS-138; this
   * catches them under any driver mode), and before 12.2 an identifier is at most 30 bytes,
   * which `validateTable` (128) cannot know without the version.
   */
  private checkServerVersion(conn: OracleConnection): void {
    const version = conn.oracleServerVersion;
    if (typeof version !== "number" || version <= 0) return;
    const shown = conn.oracleServerVersionString ?? String(version);
    this.log.info({ table: this.table, server_version: shown }, "Oracle server version");
    if (version < 1201000000) {
      throw new SourceError(`Oracle source ${this.table}: Oracle Database ${shown} is not supported; Thin mode needs Oracle Database 12.1 or later`, false);
    }
    if (version < 1202000000) {
      for (const part of this.table.split(".")) {
        const bytes = Buffer.byteLength(part);
        if (bytes > 30) {
          throw new SourceError(
            `Oracle source table ${this.table}: ${part} is ${bytes} bytes, but Oracle Database ${shown} (before 12.2) allows identifiers of at most 30 bytes; 12.1 is the oldest supported version`,
            false,
          );
        }
      }
    }
  }

  async upperBound(conn: OracleConnection, lagSeconds: number): Promise<string> {
    const rows = await this.run<{ UPPER_BOUND: unknown }>(conn, upperBoundStatement(this.zone, lagSeconds));
    return this.text(rows[0]?.UPPER_BOUND, "UPPER_BOUND");
  }

  /**
   * Opens the read's cursor: rows strictly after `after`, at or below `upper`, at most `n`
   * (the rows the read may still emit), in keyset order. Its rows are fetched with `rows()`.
   */
  async openCursor(conn: OracleConnection, after: Watermark | null, upper: string, n: number, pageSize: number): Promise<OracleResultSet> {
    const kinds = await this.columnKinds(conn);
    const stmt = pageStatement(this.table, kinds, this.zone, after, upper, n, this.opts.maxEventDataLength);
    const execute = conn.execute(stmt.sql, stmt.binds, {
      resultSet: true,
      outFormat: this.driver.OUT_FORMAT_OBJECT,
      fetchTypeHandler: this.fetchTypeHandler,
      // getRows(pageSize) asks for exactly the rows it lacks in one round trip; these only
      // size the first round trip (ignored with a LOB column, which never prefetches).
      fetchArraySize: Math.max(1, Math.min(this.opts.fetchArraySize, pageSize)),
      prefetchRows: Math.min(this.opts.prefetchRows, pageSize),
    });
    const result = await this.guard(conn, "page query", execute);
    if (!result.resultSet) throw new SourceError(`Oracle page query on ${this.table} returned no result set`, false);
    return result.resultSet;
  }

  /** The next `n` rows of a cursor (fewer only at its end), as SourceRows. */
  async rows(conn: OracleConnection, cursor: OracleResultSet, n: number): Promise<OracleSourceRow[]> {
    const raw = (await this.guard(conn, "fetch", cursor.getRows(n))) as PageRow[];
    const max = this.opts.maxEventDataLength;
    return raw.map((r) => {
      const row: OracleSourceRow = {
        id: this.text(r.ID, "ID"),
        caseId: this.textOrNull(r.CASE_ID, "CASE_ID"),
        eventType: this.textOrNull(r.EVENT_TYPE, "EVENT_TYPE"),
        eventData: Buffer.isBuffer(r.EVENT_DATA) ? this.utf8(r.EVENT_DATA, r.ID) : this.textOrNull(r.EVENT_DATA, "EVENT_DATA"),
        eventTimestamp: this.text(r.EVENT_TS, "EVENT_TIMESTAMP"),
        createdAt: this.textOrNull(r.CREATED_TS, "CREATED_AT"),
      };
      const length = r.EVENT_DATA_LENGTH === null || r.EVENT_DATA_LENGTH === undefined ? null : Number(r.EVENT_DATA_LENGTH);
      if (max !== undefined && length !== null && length > max) row.eventDataLength = length;
      return row;
    });
  }

  get readMode(): "cursor" | "pages" {
    return this.opts.readMode ?? "cursor";
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
        ...o.net,
        ...(o.poolTimeoutSeconds !== undefined ? { poolTimeout: o.poolTimeoutSeconds } : {}),
        expireTime: o.expireTimeMinutes ?? 1,
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
   * Every NUMBER as a string (exact past 2^53), every CLOB/NCLOB as a string and every BLOB
   * as a Buffer (no Lob objects); the timestamps are already TO_CHAR text.
   */
  private readonly fetchTypeHandler = (meta: OracleMetaData): { type: OracleDbType } | undefined => {
    const d = this.driver;
    if (meta.dbType === d.DB_TYPE_NUMBER || meta.dbType === d.DB_TYPE_CLOB || meta.dbType === d.DB_TYPE_NCLOB) return { type: d.STRING };
    if (meta.dbType === d.DB_TYPE_BLOB) return { type: d.DB_TYPE_RAW }; // a Buffer, not a Lob
    return undefined;
  };

  private async run<T>(conn: OracleConnection, stmt: Statement, n = 1): Promise<T[]> {
    const execute = conn.execute(stmt.sql, stmt.binds, {
      outFormat: this.driver.OUT_FORMAT_OBJECT,
      fetchTypeHandler: this.fetchTypeHandler,
      // maxRows guards memory even if the SQL's FETCH FIRST were ever lost.
      maxRows: n,
      fetchArraySize: Math.max(1, Math.min(this.opts.fetchArraySize, n)),
      prefetchRows: Math.min(this.opts.prefetchRows, n + 1),
    });
    const result = await this.guard(conn, "query", execute);
    return (result.rows ?? []) as T[];
  }

  /** Every text column's type is checked here, at start, rather than by the first non-NULL row. */
  private textKindOf(meta: OracleMetaData | undefined, column: string, lob: boolean): TextKind {
    const d = this.driver;
    const t = meta?.dbType;
    if (t === d.DB_TYPE_VARCHAR || t === d.DB_TYPE_CHAR || t === d.DB_TYPE_NUMBER) return "text";
    if (t === d.DB_TYPE_NVARCHAR || t === d.DB_TYPE_NCHAR) return "ntext";
    if (lob && t === d.DB_TYPE_CLOB) return "clob";
    if (lob && t === d.DB_TYPE_NCLOB) return "nclob";
    if (lob && t === d.DB_TYPE_JSON) return "json";
    if (lob && t === d.DB_TYPE_BLOB) return "blob";
    const allowed = lob ? "VARCHAR2, NVARCHAR2, CHAR, NCHAR, NUMBER, CLOB, NCLOB, JSON or BLOB (UTF-8 text)" : "VARCHAR2, NVARCHAR2, CHAR, NCHAR or NUMBER";
    throw new SourceError(
      `Oracle table ${this.table}: ${column} is ${meta?.dbTypeName ?? "missing"}; it must be ${allowed} (select it through a view that converts it, e.g. TO_CLOB or TO_CHAR)`,
      false,
    );
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
    if (t === d.DB_TYPE_TIMESTAMP_TZ) return "zoned";
    if (t === d.DB_TYPE_TIMESTAMP_LTZ) return "ltz";
    throw new SourceError(
      `Oracle table ${this.table}: ${column} must be DATE or TIMESTAMP [WITH [LOCAL] TIME ZONE], found ${meta?.dbTypeName ?? "no such column"}`,
      false,
    );
  }

  private text(v: unknown, column: string): string {
    if (typeof v === "string") return v;
    throw new SourceError(`Oracle table ${this.table}: ${column} arrived as ${v === null ? "NULL" : typeof v}, expected text`, false);
  }

  /** A BLOB's bytes as text; bytes that are not UTF-8 are refused rather than replaced. */
  private utf8(bytes: Buffer, id: unknown): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new SourceError(`Oracle table ${this.table}: EVENT_DATA of ID ${String(id)} is a BLOB that is not valid UTF-8 text`, false);
    }
  }

  private textOrNull(v: unknown, column: string): string | null {
    return v === null || v === undefined ? null : this.text(v, column);
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
    net: oracleNetAttributes(o),
    timeZone: config.source.time_zone,
    logger,
  };
}
