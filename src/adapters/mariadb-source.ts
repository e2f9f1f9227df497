/**
 * MariaDB source: TXLOG_EVENTS read in keyset pages, one query per page, as a Readable of
 * row arrays. Used for tests, demos, benchmarks, and tables that live in MariaDB.
 *
 *   SELECT ... WHERE (EVENT_TIMESTAMP > ? OR (EVENT_TIMESTAMP = ? AND ID > ?))
 *            AND EVENT_TIMESTAMP <= ?  ORDER BY EVENT_TIMESTAMP, ID LIMIT ?
 *
 * - The OR form, not `(ts, id) > (?, ?)`: MariaDB 10.11 rescans the index from the start for
 *   every page with the row-value form (FIELD-NOTES). Needs an index on (EVENT_TIMESTAMP, ID).
 * - Values come back as text: ID via CAST (exact beyond 2^53), timestamps via DATE_FORMAT with
 *   microseconds (a `Date` would drop them and break ties), EVENT_DATA untouched.
 * - The upper bound (database now - lag) is read once per read(), from the database's clock.
 * - A page is fetched only when the consumer asks (`_read`), so only the consumer holds a
 *   page ahead. A page that fails with a transient error is re-run from the last row emitted, on a
 *   fresh connection, with the `retry` backoff: keyset pages make that exact.
 */
import { Readable } from "node:stream";
import * as mariadb from "mariadb";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { SourceError } from "../errors";
import { type Logger, logRetry } from "../log";
import { type RetryPolicy, withRetry } from "../pipeline/retry";
import type { ReadOptions, RowSource, SourceRow, Watermark } from "../pipeline/types";
import { isTransientMariadbError, quoteTable } from "./mariadb-errors";

export interface MariadbSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  table: string;
  retry: RetryPolicy;
  connectTimeoutMs?: number;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

const TS = "%Y-%m-%d %H:%i:%s.%f";

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

  private async connect(): Promise<mariadb.Connection> {
    const { host, port, user, password, database, connectTimeoutMs } = this.options;
    const conn = await mariadb.createConnection({
      host,
      port,
      user,
      password,
      database,
      connectTimeout: connectTimeoutMs ?? 10_000,
      autoJsonMap: false,
      bigIntAsNumber: false,
    });
    this.open.add(conn);
    conn.on("end", () => this.open.delete(conn));
    // A connection killed while idle reports it as an event; the next query on it then fails
    // and is retried on a fresh connection, so the event itself needs no action.
    conn.on("error", () => this.open.delete(conn));
    return conn;
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
  private async withConnection<T>(what: string, fn: (conn: mariadb.Connection) => Promise<T>, reuse?: { conn: mariadb.Connection | null }): Promise<T> {
    try {
      return await withRetry(
        async () => {
          let conn = reuse?.conn ?? null;
          if (!conn?.isValid()) {
            conn = await this.connect();
            if (reuse) reuse.conn = conn;
          }
          try {
            return await fn(conn);
          } catch (err) {
            if (reuse) reuse.conn = null;
            conn.destroy();
            this.open.delete(conn);
            throw err;
          } finally {
            if (!reuse && conn.isValid()) await conn.end().catch(() => conn?.destroy());
          }
        },
        this.options.retry,
        isTransientMariadbError,
        this.options.onRetry,
      );
    } catch (err) {
      throw this.fail(err, what);
    }
  }

  private async upperBound(conn: mariadb.Connection, lagSeconds: number): Promise<string> {
    const rows = await conn.query({ sql: `SELECT DATE_FORMAT(NOW(6) - INTERVAL ? MICROSECOND, '${TS}')`, rowsAsArray: true }, [Math.round(lagSeconds * 1e6)]);
    return (rows as string[][])[0]?.[0] as string;
  }

  async latest(safetyLagSeconds: number): Promise<Watermark | null> {
    return this.withConnection("reading the newest row of", async (conn) => {
      const upper = await this.upperBound(conn, safetyLagSeconds);
      const rows = (await conn.query(
        {
          sql: `SELECT DATE_FORMAT(EVENT_TIMESTAMP, '${TS}'), CAST(ID AS CHAR) FROM ${this.quoted} WHERE EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP DESC, ID DESC LIMIT 1`,
          rowsAsArray: true,
        },
        [upper],
      )) as string[][];
      const row = rows[0];
      return row ? { ts: row[0] as string, id: row[1] as string } : null;
    });
  }

  read(options: ReadOptions): Readable {
    const source = this;
    const held: { conn: mariadb.Connection | null } = { conn: null };
    let after = options.after;
    let remaining = options.limit;
    let upper: string | null = null;
    const columns = `CAST(ID AS CHAR), CAST(CASE_ID AS CHAR), EVENT_TYPE, EVENT_DATA, DATE_FORMAT(EVENT_TIMESTAMP, '${TS}'), DATE_FORMAT(CREATED_AT, '${TS}')`;
    const release = () => {
      const conn = held.conn;
      held.conn = null;
      if (conn?.isValid()) conn.end().catch(() => conn.destroy());
    };

    return new Readable({
      objectMode: true,
      // Nothing buffered here: a page is fetched when the consumer asks for one, and the
      // consumer (the cycle's stop wrapper) holds the page read ahead. Pages waiting in two
      // places cost garbage-collector time (rows are young objects that survive) for no speed.
      highWaterMark: 0,
      read() {
        if (remaining <= 0) {
          release();
          this.push(null);
          return;
        }
        const pageSize = Math.min(options.pageSize, remaining);
        source
          .withConnection(
            "reading",
            async (conn) => {
              if (upper === null) upper = await source.upperBound(conn, options.safetyLagSeconds);
              const sql = after
                ? `SELECT ${columns} FROM ${source.quoted} WHERE (EVENT_TIMESTAMP > ? OR (EVENT_TIMESTAMP = ? AND ID > ?)) AND EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP, ID LIMIT ?`
                : `SELECT ${columns} FROM ${source.quoted} WHERE EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP, ID LIMIT ?`;
              // ID bound as a BigInt: a string would be compared as a double and lose exactness.
              const params = after ? [after.ts, after.ts, BigInt(after.id), upper, pageSize] : [upper, pageSize];
              return (await conn.query({ sql, rowsAsArray: true }, params)) as (string | null)[][];
            },
            held,
          )
          .then(
            (raw) => {
              if (this.destroyed) return;
              if (raw.length === 0) {
                remaining = 0;
                release();
                this.push(null);
                return;
              }
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
              const last = rows[rows.length - 1] as SourceRow;
              after = { ts: last.eventTimestamp, id: last.id };
              remaining -= rows.length;
              if (rows.length < pageSize) remaining = 0;
              this.push(rows);
            },
            (err: unknown) => {
              release();
              this.destroy(err as Error);
            },
          );
      },
      destroy(err, callback) {
        release();
        callback(err);
      },
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((conn) => conn.end().catch(() => conn.destroy())));
    this.open.clear();
  }
}

/** The source's options from the config: `source.mariadb` (or the `mariadb` section's connection). */
export function mariadbSourceOptions(config: Config, log: Logger): MariadbSourceOptions {
  const { host, port, user, password, database } = config.source.mariadb ?? config.mariadb;
  return {
    host,
    port,
    user,
    password,
    database,
    table: config.source.table,
    retry: retryPolicy(config.mariadb.retry),
    connectTimeoutMs: config.mariadb.connect_timeout * 1000,
    onRetry: logRetry(log, "source"),
  };
}
