/**
 * The tracking store: V7's ETL_PRMREC table in MariaDB, plus LAST_SUCCESSFUL_ID, and the lock
 * that keeps one running instance per PROGRAM_NAME.
 *
 * The watermark is (LAST_SUCCESSFUL_TIME, LAST_SUCCESSFUL_ID). A V7 row has no
 * LAST_SUCCESSFUL_ID: it resumes with rows strictly after LAST_SUCCESSFUL_TIME, which is what
 * V7's own next run would have read, so rows stamped exactly at that time are not sent again.
 * An existing V7 table is migrated in place, only by widening: LAST_SUCCESSFUL_ID and
 * RESUME_STREAM_SEQ (where a restart scans the stream from, see JetStreamLedger) are added,
 * and a LAST_SUCCESSFUL_TIME of less than microsecond precision becomes DATETIME(6).
 */
import * as mariadb from "mariadb";
import { IDENTIFIER_MAX_LENGTH, isIdentifier } from "../config/patterns";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { LockError, TrackingError } from "../errors";
import { type Logger, logRetry } from "../log";
import { type RetryPolicy, withRetry } from "../pipeline/retry";
import type { Checkpoint, WatermarkStore } from "../pipeline/types";
import { isTransientMariadbError } from "./mariadb-errors";

export interface TrackingOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  connectTimeoutMs: number;
  programName: string;
  retry: RetryPolicy;
  /** Table name; ETL_PRMREC unless a test wants its own. */
  table?: string;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

/** Sorts after any real ID (38 digits, Oracle NUMBER's limit): "every row at this time is done". */
export const AFTER_ALL_IDS = "9".repeat(38);

const TS = "%Y-%m-%d %H:%i:%s.%f";
const V7_COLUMNS = ["PROGRAM_NAME", "LAST_SUCCESSFUL_TIME", "LAST_RUN_TIME", "STATUS", "RECORDS_PROCESSED", "ERROR_MESSAGE", "CREATED_AT", "UPDATED_AT"];

export class MariadbTracking implements WatermarkStore {
  private readonly options: TrackingOptions;
  private readonly table: string;
  /**
   * One connection, not a pool: a pool reports bad credentials as a generic "could not get a
   * connection" timeout (transient), which would hide the cause behind a retry storm.
   */
  private conn: mariadb.Connection | null = null;
  private lockConn: mariadb.Connection | null = null;

  constructor(options: TrackingOptions) {
    this.options = options;
    this.table = options.table ?? "ETL_PRMREC";
    if (!isIdentifier(this.table, IDENTIFIER_MAX_LENGTH.mariadb)) throw new TrackingError(`invalid tracking table name ${JSON.stringify(this.table)}`, false);
  }

  private get lockName(): string {
    return `oracle-nats-publisher:${this.options.database}:${this.options.programName}`.slice(0, 64);
  }

  private connectionConfig() {
    const { host, port, user, password, database, connectTimeoutMs } = this.options;
    return { host, port, user, password, database, connectTimeout: connectTimeoutMs, autoJsonMap: false, bigIntAsNumber: false };
  }

  private describe(err: unknown, what: string): TrackingError {
    if (err instanceof TrackingError || err instanceof LockError) return err as TrackingError;
    const e = err as { code?: string; sqlMessage?: string; message?: string };
    return new TrackingError(
      `${what} (${this.table} on MariaDB ${this.options.host}:${this.options.port}/${this.options.database}) failed: ${e.code ? `${e.code}: ` : ""}${e.sqlMessage ?? e.message ?? String(err)}`,
      isTransientMariadbError(err),
      { cause: err },
    );
  }

  private async query<T>(what: string, sql: string, params: unknown[] = []): Promise<T> {
    try {
      return await withRetry(
        async () => {
          if (!this.conn?.isValid()) {
            this.conn?.destroy();
            this.conn = await mariadb.createConnection(this.connectionConfig());
            this.conn.on("error", () => undefined); // surfaces at the next query, which reconnects
          }
          try {
            return (await this.conn.query(sql, params)) as T;
          } catch (err) {
            if (isTransientMariadbError(err)) {
              this.conn?.destroy();
              this.conn = null;
            }
            throw err;
          }
        },
        this.options.retry,
        isTransientMariadbError,
        this.options.onRetry,
      );
    } catch (err) {
      throw this.describe(err, what);
    }
  }

  /** Creates ETL_PRMREC if missing, or widens a V7 table; takes this program's lock. */
  async open(): Promise<void> {
    await this.migrate();
    await this.lock();
  }

  private async migrate(): Promise<void> {
    const columns = await this.query<Array<{ COLUMN_NAME: string; DATA_TYPE: string; DATETIME_PRECISION: number | null; IS_NULLABLE: string }>>(
      "reading the columns",
      "SELECT COLUMN_NAME, DATA_TYPE, DATETIME_PRECISION, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
      [this.table],
    );
    if (columns.length === 0) {
      await this.query(
        "creating the table",
        `CREATE TABLE IF NOT EXISTS \`${this.table}\` (
          PROGRAM_NAME VARCHAR(100) NOT NULL PRIMARY KEY,
          LAST_SUCCESSFUL_TIME DATETIME(6) NULL,
          LAST_RUN_TIME DATETIME(6) NULL,
          STATUS VARCHAR(20) NULL,
          RECORDS_PROCESSED BIGINT NULL,
          ERROR_MESSAGE TEXT NULL,
          CREATED_AT DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
          UPDATED_AT DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
          LAST_SUCCESSFUL_ID DECIMAL(38,0) NULL,
          RESUME_STREAM_SEQ BIGINT UNSIGNED NULL
        )`,
      );
      return;
    }
    const byName = new Map(columns.map((c) => [c.COLUMN_NAME.toUpperCase(), c]));
    const missing = V7_COLUMNS.filter((c) => !byName.has(c));
    if (missing.length > 0) throw new TrackingError(`table ${this.table} exists but lacks the V7 column(s) ${missing.join(", ")}`, false);
    if (!byName.has("LAST_SUCCESSFUL_ID")) {
      await this.query("adding LAST_SUCCESSFUL_ID", `ALTER TABLE \`${this.table}\` ADD COLUMN LAST_SUCCESSFUL_ID DECIMAL(38,0) NULL`);
    }
    if (!byName.has("RESUME_STREAM_SEQ")) {
      await this.query("adding RESUME_STREAM_SEQ", `ALTER TABLE \`${this.table}\` ADD COLUMN RESUME_STREAM_SEQ BIGINT UNSIGNED NULL`);
    }
    const time = byName.get("LAST_SUCCESSFUL_TIME");
    if (time && time.DATA_TYPE.toLowerCase() === "datetime" && (time.DATETIME_PRECISION ?? 0) < 6) {
      await this.query(
        "widening LAST_SUCCESSFUL_TIME to DATETIME(6)",
        `ALTER TABLE \`${this.table}\` MODIFY LAST_SUCCESSFUL_TIME DATETIME(6) ${time.IS_NULLABLE === "NO" ? "NOT NULL" : "NULL"}`,
      );
    }
  }

  /**
   * GET_LOCK on a connection of its own (a pooled connection returned to the pool would keep
   * holding it, FIELD-NOTES). Re-checked at every cycle: if MariaDB restarted, the lock is
   * taken again on a new connection.
   */
  async lock(): Promise<void> {
    try {
      if (this.lockConn?.isValid()) {
        const rows = (await this.lockConn.query({ sql: "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", rowsAsArray: true }, [this.lockName])) as unknown[][];
        if (Number(rows[0]?.[0]) === 1) return;
      }
      this.lockConn?.destroy();
      this.lockConn = await withRetry(
        () => mariadb.createConnection(this.connectionConfig()),
        this.options.retry,
        isTransientMariadbError,
        this.options.onRetry,
      );
      const rows = (await this.lockConn.query({ sql: "SELECT GET_LOCK(?, 0)", rowsAsArray: true }, [this.lockName])) as unknown[][];
      if (Number(rows[0]?.[0]) !== 1) {
        this.lockConn.destroy();
        this.lockConn = null;
        throw new LockError(`another instance is already running program ${this.options.programName} (MariaDB lock ${this.lockName} is held); stop it first`);
      }
    } catch (err) {
      if (err instanceof LockError) throw err;
      throw this.describe(err, "taking the program lock");
    }
  }

  async load(): Promise<Checkpoint | null> {
    const rows = await this.query<Array<{ ts: string | null; id: string | null; resume: string | null }>>(
      "reading the watermark",
      `SELECT DATE_FORMAT(LAST_SUCCESSFUL_TIME, '${TS}') AS ts, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id, CAST(RESUME_STREAM_SEQ AS CHAR) AS resume FROM \`${this.table}\` WHERE PROGRAM_NAME = ? ORDER BY LAST_SUCCESSFUL_TIME DESC, LAST_SUCCESSFUL_ID DESC LIMIT 1`,
      [this.options.programName],
    );
    const row = rows[0];
    if (!row || (row.ts === null && row.resume === null)) return null;
    return { watermark: row.ts === null ? null : { ts: row.ts, id: row.id ?? AFTER_ALL_IDS }, resumeSeq: row.resume === null ? null : Number(row.resume) };
  }

  /** Updates this program's row, inserting it the first time (V7 tables may lack a unique key). */
  private async upsert(what: string, assignments: string, params: unknown[]): Promise<void> {
    const result = await this.query<{ affectedRows: number }>(what, `UPDATE \`${this.table}\` SET ${assignments}, UPDATED_AT = NOW() WHERE PROGRAM_NAME = ?`, [
      ...params,
      this.options.programName,
    ]);
    if (result.affectedRows > 0) return;
    await this.query(what, `INSERT INTO \`${this.table}\` (PROGRAM_NAME, CREATED_AT, UPDATED_AT) VALUES (?, NOW(), NOW())`, [this.options.programName]);
    await this.query(what, `UPDATE \`${this.table}\` SET ${assignments}, UPDATED_AT = NOW() WHERE PROGRAM_NAME = ?`, [...params, this.options.programName]);
  }

  async begin(): Promise<void> {
    await this.lock();
    await this.upsert("recording the run start", "STATUS = 'RUNNING', LAST_RUN_TIME = NOW(6), ERROR_MESSAGE = NULL", []);
  }

  /** SET clause and values for a checkpoint (a null watermark leaves the stored one alone). */
  private static checkpointColumns(checkpoint: Checkpoint): [string, unknown[]] {
    const sets = ["RESUME_STREAM_SEQ = ?"];
    const values: unknown[] = [checkpoint.resumeSeq];
    if (checkpoint.watermark) {
      sets.push("LAST_SUCCESSFUL_TIME = ?", "LAST_SUCCESSFUL_ID = ?");
      values.push(checkpoint.watermark.ts, checkpoint.watermark.id);
    }
    return [sets.join(", "), values];
  }

  async checkpoint(checkpoint: Checkpoint, rows: number): Promise<void> {
    const [sets, values] = MariadbTracking.checkpointColumns(checkpoint);
    await this.upsert("committing a checkpoint", `${sets}, RECORDS_PROCESSED = ?`, [...values, rows]);
  }

  async finish(result: { checkpoint: Checkpoint | null; rows: number; error?: string }): Promise<void> {
    const status = result.error === undefined ? "SUCCESS" : "FAILED";
    const error = result.error === undefined ? null : result.error.slice(0, 4000);
    const [sets, values] = result.checkpoint ? MariadbTracking.checkpointColumns(result.checkpoint) : ["", []];
    await this.upsert("recording the run result", `STATUS = ?, ERROR_MESSAGE = ?, RECORDS_PROCESSED = ?${sets ? `, ${sets}` : ""}`, [
      status,
      error,
      result.rows,
      ...values,
    ]);
  }

  async close(): Promise<void> {
    this.lockConn?.destroy();
    this.lockConn = null;
    const conn = this.conn;
    this.conn = null;
    await conn?.end().catch(() => conn.destroy());
  }
}

/** The store's options from the config's `mariadb` and `publisher.program_name` keys. */
export function trackingOptions(config: Config, log: Logger): TrackingOptions {
  const { host, port, user, password, database, connect_timeout, retry } = config.mariadb;
  return {
    host,
    port,
    user,
    password,
    database,
    connectTimeoutMs: connect_timeout * 1000,
    programName: config.publisher.program_name,
    retry: retryPolicy(retry),
    onRetry: logRetry(log, "mariadb"),
  };
}
