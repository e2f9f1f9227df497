/**
 * MariaDB source: TXLOG_EVENTS read in keyset pages, one query per page, as a Readable of
 * row arrays. Used for tests, demos, benchmarks, and tables that live in MariaDB.
 *
 *   SELECT ... WHERE EVENT_TIMESTAMP >= ? AND (EVENT_TIMESTAMP > ? OR ID > ?)
 *            AND EVENT_TIMESTAMP <= ?  ORDER BY EVENT_TIMESTAMP, ID LIMIT ?
 *
 * - The seek form, not `(ts, id) > (?, ?)` (MariaDB 10.11 rescans the index from the start for
 *   every page with the row-value form) nor `ts > ? OR (ts = ? AND id > ?)` (no range start on
 *   the leading column): `ts >= ?` starts the index range scan at the watermark, the rest
 *   drops the rows at or before it. Needs an index on (EVENT_TIMESTAMP, ID).
 * - Values come back as text: ID via CAST (exact beyond 2^53), timestamps via DATE_FORMAT with
 *   microseconds (a `Date` would drop them and break ties), EVENT_DATA untouched.
 * - The upper bound (database now - lag) is read once per read(), from the database's clock.
 * - A page is fetched only when the consumer asks (`_read`), so only the consumer holds a
 *   page ahead. A page that fails with a transient error is re-run from the last row emitted, on a
 *   fresh connection, with the `retry` backoff: keyset pages make that exact.
 * - Every statement has a deadline (`queryTimeoutMs`), measured here: a socket that stops
 *   answering fails the page with a transient error instead of hanging the cycle, and the
 *   connection is destroyed. destroy() of the stream aborts the page in flight at once.
 */
import { Readable } from "node:stream";
import type * as mariadb from "mariadb";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { SourceError } from "../errors";
import { type Logger, logRetry } from "../log";
import { countAfterMariadb, countBetweenMariadb } from "../ops/lag";
import { type RetryPolicy, withRetry } from "../pipeline/retry";
import type { ReadOptions, RowSource, SourceRow, Watermark } from "../pipeline/types";
import { abandon, closeConnection, isAlive, type MariadbEndpoint, openConnection, queryWithin } from "./mariadb-connection";
import { isTransientMariadbError, quoteTable } from "./mariadb-errors";
import { mariadbSsl, type TlsFiles } from "./tls-files";

export interface MariadbSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  table: string;
  retry: RetryPolicy;
  connectTimeoutMs?: number;
  /** Deadline of every statement, ms (`mariadb.query_timeout`); 30 s when absent. */
  queryTimeoutMs?: number;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** `source.mariadb.ssl`: PEM file paths; present means TLS. */
  ssl?: TlsFiles;
}

const TS = "%Y-%m-%d %H:%i:%s.%f";
const COLUMNS = `CAST(ID AS CHAR), CAST(CASE_ID AS CHAR), EVENT_TYPE, EVENT_DATA, DATE_FORMAT(EVENT_TIMESTAMP, '${TS}'), DATE_FORMAT(CREATED_AT, '${TS}')`;

/** Where one read() stands: its connection, the last row emitted, what is left, its upper bound. */
interface Cursor {
  held: { conn: mariadb.Connection | null };
  after: Watermark | null;
  remaining: number;
  upper: string | null;
  /** Aborted by destroy(): the page in flight and its retries stop at once. */
  stop: AbortController;
}

function toRows(raw: (string | null)[][]): SourceRow[] {
  const rows = new Array<SourceRow>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i] as (string | null)[];
    rows[i] = {
      id: r[0] as string,
      caseId: r[1] ?? null,
      eventType: r[2] ?? null,
      eventData: r[3] ?? null,
      eventTimestamp: r[4] as string,
      createdAt: r[5] ?? null,
    };
  }
  return rows;
}

export class MariadbSource implements RowSource {
  readonly table: string;
  private readonly options: MariadbSourceOptions;
  private readonly quoted: string;
  private readonly open = new Set<mariadb.Connection>();

  constructor(options: MariadbSourceOptions) {
    this.options = options;
    this.table = options.table;
    try {
      this.quoted = quoteTable(options.table);
    } catch (err) {
      throw new SourceError((err as Error).message, false, { cause: err });
    }
  }

  private get endpoint(): MariadbEndpoint {
    const { host, port, user, password, database, ssl } = this.options;
    // TLS files are read at each connect, so renewed certificates are picked up.
    return { host, port, user, password, database, ...(ssl ? { ssl: mariadbSsl(ssl, "source.mariadb.ssl") } : {}) };
  }

  private async connect(signal?: AbortSignal): Promise<mariadb.Connection> {
    // A connection killed while idle reports it as an event (the listener keeps it from being
    // an uncaught exception); the next query on it then fails and is retried on a fresh one.
    const conn = await openConnection(this.endpoint, this.options.connectTimeoutMs ?? 10_000, signal, (c) => this.open.delete(c));
    this.open.add(conn);
    return conn;
  }

  /** One statement within the deadline; a miss destroys the connection (a transient error). */
  private q<T>(conn: mariadb.Connection, what: string, sql: string | mariadb.QueryOptions, params: unknown[], signal?: AbortSignal): Promise<T> {
    return queryWithin<T>(conn, this.options, `${what} ${this.table}`, this.options.queryTimeoutMs ?? 30_000, signal, sql, params);
  }

  private fail(err: unknown, what: string): SourceError {
    if (err instanceof SourceError) return err;
    const e = err as { code?: string; message?: string; sqlMessage?: string };
    const detail = e.sqlMessage ?? e.message ?? String(err);
    return new SourceError(
      `${what} ${this.table} on MariaDB ${this.options.host}:${this.options.port}/${this.options.database} failed: ${e.code ? `${e.code}: ` : ""}${detail}`,
      isTransientMariadbError(err),
      { cause: err },
    );
  }

  /** Runs `fn` on a connection, retrying transient failures on a fresh one. */
  private async withConnection<T>(
    what: string,
    fn: (conn: mariadb.Connection) => Promise<T>,
    reuse?: { conn: mariadb.Connection | null },
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await withRetry(
        async () => {
          let conn = reuse?.conn ?? null;
          if (!conn || !isAlive(conn)) {
            conn = await this.connect(signal);
            if (reuse) reuse.conn = conn;
          }
          try {
            return await fn(conn);
          } catch (err) {
            if (reuse) reuse.conn = null;
            abandon(conn);
            this.open.delete(conn);
            throw err;
          } finally {
            if (!reuse) await closeConnection(conn);
          }
        },
        this.options.retry,
        isTransientMariadbError,
        this.options.onRetry,
        signal,
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.fail(err, what);
    }
  }

  private async upperBound(conn: mariadb.Connection, lagSeconds: number, signal?: AbortSignal): Promise<string> {
    const sql = { sql: `SELECT DATE_FORMAT(NOW(6) - INTERVAL ? MICROSECOND, '${TS}')`, rowsAsArray: true };
    const rows = await this.q(conn, "reading the clock for", sql, [Math.round(lagSeconds * 1e6)], signal);
    return (rows as string[][])[0]?.[0] as string;
  }

  async latest(safetyLagSeconds: number, signal?: AbortSignal): Promise<Watermark | null> {
    return this.withConnection(
      "reading the newest row of",
      async (conn) => {
        const upper = await this.upperBound(conn, safetyLagSeconds, signal);
        const rows = (await this.q(
          conn,
          "reading the newest row of",
          {
            sql: `SELECT DATE_FORMAT(EVENT_TIMESTAMP, '${TS}'), CAST(ID AS CHAR) FROM ${this.quoted} WHERE EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP DESC, ID DESC LIMIT 1`,
            rowsAsArray: true,
          },
          [upper],
          signal,
        )) as string[][];
        const row = rows[0];
        return row ? { ts: row[0] as string, id: row[1] as string } : null;
      },
      undefined,
      signal,
    );
  }

  /**
   * Rows strictly after `after` (all when null) stamped at or before database now -
   * `upperLagSeconds`, counted up to `limit`, and the database clock (wall-clock text), in one
   * statement (`countAfterMariadb`).
   */
  async countAfter(after: Watermark | null, upperLagSeconds: number, limit: number, signal?: AbortSignal): Promise<{ rows: number; dbNow: string }> {
    const st = countAfterMariadb(this.quoted, after, upperLagSeconds, limit);
    return this.withConnection(
      "counting the rows waiting in",
      async (conn) => {
        const rows = (await this.q(conn, "counting the rows waiting in", { sql: st.sql, rowsAsArray: true }, st.params, signal)) as unknown[][];
        const row = rows[0] ?? [];
        return { rows: Number(row[1] ?? 0), dbNow: String(row[0]) };
      },
      undefined,
      signal,
    );
  }

  /** Rows with `after` < (EVENT_TIMESTAMP, ID) <= `through`, up to `limit` (`countBetweenMariadb`). */
  async countBetween(after: Watermark, through: Watermark, limit: number, signal?: AbortSignal): Promise<number> {
    const st = countBetweenMariadb(this.quoted, after, through, limit);
    return this.withConnection(
      "counting rows in",
      async (conn) => {
        const rows = (await this.q(conn, "counting rows in", { sql: st.sql, rowsAsArray: true }, st.params, signal)) as unknown[][];
        return Number(rows[0]?.[0] ?? 0);
      },
      undefined,
      signal,
    );
  }

  /** The next page after `cursor.after` (null at the end), on the read's own connection. */
  private async nextPage(cursor: Cursor, options: ReadOptions): Promise<SourceRow[] | null> {
    const pageSize = Math.min(options.pageSize, cursor.remaining);
    const signal = cursor.stop.signal;
    const raw = await this.withConnection(
      "reading",
      async (conn) => {
        if (cursor.upper === null) cursor.upper = await this.upperBound(conn, options.safetyLagSeconds, signal);
        const { after, upper } = cursor;
        const sql = after
          ? `SELECT ${COLUMNS} FROM ${this.quoted} WHERE EVENT_TIMESTAMP >= ? AND (EVENT_TIMESTAMP > ? OR ID > ?) AND EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP, ID LIMIT ?`
          : `SELECT ${COLUMNS} FROM ${this.quoted} WHERE EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP, ID LIMIT ?`;
        // ID bound as a BigInt: a string would be compared as a double and lose exactness.
        const params = after ? [after.ts, after.ts, BigInt(after.id), upper, pageSize] : [upper, pageSize];
        return this.q<(string | null)[][]>(conn, "reading", { sql, rowsAsArray: true }, params, signal);
      },
      cursor.held,
      signal,
    );
    if (raw.length === 0) return null;
    const rows = toRows(raw);
    const last = rows[rows.length - 1] as SourceRow;
    cursor.after = { ts: last.eventTimestamp, id: last.id };
    cursor.remaining = raw.length < pageSize ? 0 : cursor.remaining - raw.length;
    return rows;
  }

  /** Lets the read's connection go: politely after the last page, at once when torn down. */
  private static release(cursor: Cursor, abort: boolean): void {
    const conn = cursor.held.conn;
    cursor.held.conn = null;
    if (abort) {
      cursor.stop.abort(new SourceError("read closed", false));
      if (conn) abandon(conn);
    } else void closeConnection(conn);
  }

  read(options: ReadOptions): Readable {
    const cursor: Cursor = { held: { conn: null }, after: options.after, remaining: options.limit, upper: null, stop: new AbortController() };
    const source = this;
    return new Readable({
      objectMode: true,
      // Nothing buffered here: a page is fetched when the consumer asks for one, and the
      // consumer (the cycle's stop wrapper) holds the page read ahead. Pages waiting in two
      // places cost garbage-collector time (rows are young objects that survive) for no speed.
      highWaterMark: 0,
      read() {
        if (cursor.remaining <= 0) {
          MariadbSource.release(cursor, false);
          this.push(null);
          return;
        }
        source.nextPage(cursor, options).then(
          (rows) => {
            if (this.destroyed) return;
            if (rows === null) cursor.remaining = 0;
            if (cursor.remaining <= 0) MariadbSource.release(cursor, false);
            this.push(rows);
          },
          (err: unknown) => this.destroy(err as Error),
        );
      },
      destroy(err, callback) {
        // After the end the connection is already released; before it, a page may be in flight.
        MariadbSource.release(cursor, cursor.held.conn !== null || cursor.remaining > 0);
        callback(err);
      },
    });
  }

  /** Closes every connection, each within about a second: never hangs on a dead socket. */
  async close(): Promise<void> {
    const conns = [...this.open];
    this.open.clear();
    await Promise.all(conns.map((conn) => closeConnection(conn)));
  }
}

/** The source's options from the config: `source.mariadb` (or the `mariadb` section's connection). */
export function mariadbSourceOptions(config: Config, log: Logger): MariadbSourceOptions {
  const { host, port, user, password, database, ssl } = config.source.mariadb ?? config.mariadb;
  return {
    host,
    port,
    user,
    password,
    database,
    ssl,
    table: config.source.table,
    retry: retryPolicy(config.mariadb.retry),
    connectTimeoutMs: config.mariadb.connect_timeout * 1000,
    queryTimeoutMs: config.mariadb.query_timeout * 1000,
    onRetry: logRetry(log, "source"),
  };
}
