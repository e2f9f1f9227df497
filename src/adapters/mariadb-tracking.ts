/**
 * The tracking store: V7's ETL_PRMREC table in MariaDB, plus LAST_SUCCESSFUL_ID, and the lock
 * that keeps one active instance per PROGRAM_NAME.
 *
 * The watermark is (LAST_SUCCESSFUL_TIME, LAST_SUCCESSFUL_ID). A V7 row has no
 * LAST_SUCCESSFUL_ID: it resumes with rows strictly after LAST_SUCCESSFUL_TIME, which is what
 * V7's own next run would have read, so rows stamped exactly at that time are not sent again.
 * An existing V7 table is migrated in place, only by widening: LAST_SUCCESSFUL_ID and
 * RESUME_STREAM_SEQ (where a restart scans the stream from, see JetStreamLedger) are added,
 * and a LAST_SUCCESSFUL_TIME of less than microsecond precision becomes DATETIME(6).
 *
 * The lock (hot standby and fencing):
 *
 *   tryAcquire() --acquired--> held: IS_USED_LOCK checked every lock_check_interval
 *        |                      |   load / begin / checkpoint / finish run on the lock's own
 *        | holder's id          |   connection, each write guarded in SQL by
 *        v                      |   `IS_USED_LOCK(name) = CONNECTION_ID()`
 *     standby (caller retries)  +--> connection error, failed check, other holder:
 *                                    `lockLost` aborts, every later write throws FencedError
 *
 * A MariaDB user lock (GET_LOCK) belongs to the connection that took it, and lives exactly as
 * long as that connection does; a pooled connection returned to its pool would keep holding
 * it. So the store keeps one connection of its own, and a write that the server runs on that
 * connection, guarded by the lock, can never come from a stale instance: once the connection
 * is gone, so is the lock, and a new connection does not hold it.
 */
import { createHash } from "node:crypto";
import type * as mariadb from "mariadb";
import { IDENTIFIER_MAX_LENGTH, isIdentifier } from "../config/patterns";
import { retryPolicy } from "../config/retry-policy";
import type { Config } from "../config/schema";
import { FencedError, LockError, TrackingError } from "../errors";
import { type Logger, logRetry } from "../log";
import { type RetryPolicy, sleep, withRetry } from "../pipeline/retry";
import type { Checkpoint, WatermarkStore } from "../pipeline/types";
import { abandon, closeConnection, isAlive, type MariadbEndpoint, openConnection, queryWithin } from "./mariadb-connection";
import { isTransientMariadbError } from "./mariadb-errors";
import { mariadbSsl, type TlsFiles } from "./tls-files";

export interface TrackingOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  connectTimeoutMs: number;
  programName: string;
  retry: RetryPolicy;
  /** Deadline of every statement, ms (`mariadb.query_timeout`); 30 s when absent. */
  queryTimeoutMs?: number;
  /** How often a held lock is checked, ms (`mariadb.lock_check_interval`); 1 s when absent. */
  lockCheckIntervalMs?: number;
  /** The partition this store's lock stands for, when a program runs one lock per partition. */
  partition?: string;
  /** Table name; ETL_PRMREC unless a test wants its own. */
  table?: string;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** `mariadb.ssl`: PEM file paths; present means TLS. */
  ssl?: TlsFiles;
}

/** Who holds a lock: the holder's MariaDB connection id (what an operator KILLs), and where from. */
export interface LockHolder {
  connectionId: number;
  /** `host:port` of the holder's client, when information_schema.PROCESSLIST shows it to us. */
  host: string | null;
  user: string | null;
}

export type LockAttempt = { acquired: true } | { acquired: false; holder: LockHolder | null };

/** close() waits at most this long for RELEASE_LOCK before it destroys the connection instead. */
const CLOSE_RELEASE_MS = 2_000;

/** Sorts after any real ID (38 digits, Oracle NUMBER's limit): "every row at this time is done". */
export const AFTER_ALL_IDS = "9".repeat(38);

const TS = "%Y-%m-%d %H:%i:%s.%f";
const V7_COLUMNS = ["PROGRAM_NAME", "LAST_SUCCESSFUL_TIME", "LAST_RUN_TIME", "STATUS", "RECORDS_PROCESSED", "ERROR_MESSAGE", "CREATED_AT", "UPDATED_AT"];
const HELD = "IS_USED_LOCK(?) = CONNECTION_ID()";

/**
 * The MariaDB lock name for a program (and partition): a hash of the full
 * `oracle-nats-publisher:<database>:<program>[:<partition>]`, because MariaDB limits lock names
 * to 64 characters and a cut name would let two programs with a long common prefix share one.
 * 160 bits of SHA-256 in hex: 62 characters in all. A partitioned mode holds one lock per
 * partition under the same program.
 */
export function lockName(database: string, programName: string, partition?: string): string {
  // ':' inside a part is escaped, so that program "p:1" and program "p" partition "1" differ.
  const part = (text: string) => text.replace(/%/g, "%25").replace(/:/g, "%3A");
  const full = `oracle-nats-publisher:${part(database)}:${part(programName)}${partition === undefined ? "" : `:${part(partition)}`}`;
  return `oracle-nats-publisher:${createHash("sha256").update(full).digest("hex").slice(0, 40)}`;
}

function notHeld(reason: string): AbortController {
  const c = new AbortController();
  c.abort(new FencedError(reason));
  return c;
}

export class MariadbTracking implements WatermarkStore {
  readonly lockName: string;
  private readonly options: TrackingOptions;
  private readonly table: string;

  private readonly queryTimeoutMs: number;
  private readonly lockCheckIntervalMs: number;
  /**
   * One connection, not a pool: the lock lives on it, and a pool reports bad credentials as a
   * generic "could not get a connection" timeout (transient), which would hide the cause
   * behind a retry storm.
   */
  private conn: mariadb.Connection | null = null;
  private held = false;
  private tenure: AbortController = notHeld("the program lock has not been taken yet");
  private monitor: NodeJS.Timeout | null = null;
  private checking = false;
  /**
   * Server-side ids of this store's connections that it gave up on (deadline, abort, reset)
   * while the server may still see them alive, and so still hold the lock there.
   */
  private readonly abandoned = new Set<number>();

  constructor(options: TrackingOptions) {
    this.options = options;
    this.table = options.table ?? "ETL_PRMREC";
    if (!isIdentifier(this.table, IDENTIFIER_MAX_LENGTH.mariadb)) throw new TrackingError(`invalid tracking table name ${JSON.stringify(this.table)}`, false);
    this.queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
    this.lockCheckIntervalMs = options.lockCheckIntervalMs ?? 1_000;
    this.lockName = lockName(options.database, options.programName, options.partition);
  }

  /**
   * The session's wait_timeout: the server ends a session idle this long, and with it the lock.
   * A live holder checks its lock every lock_check_interval, so only a holder that vanished
   * without closing TCP (host down, network cut) goes idle: its lock is then freed for a
   * standby after this many seconds instead of the server default of 8 hours. A check may take
   * up to query_timeout, hence the margin.
   */
  get sessionIdleSeconds(): number {
    return Math.ceil((this.queryTimeoutMs + 10 * this.lockCheckIntervalMs) / 1000);
  }

  /** Where to connect; TLS files are read at each connect, so renewed certificates are picked up. */
  private get endpoint(): MariadbEndpoint {
    const { host, port, user, password, database, ssl } = this.options;
    return { host, port, user, password, database, ...(ssl ? { ssl: mariadbSsl(ssl, "mariadb.ssl") } : {}) };
  }

  /** Aborts (with a FencedError as reason) the moment the lock is lost, released or not held. */
  get lockLost(): AbortSignal {
    return this.tenure.signal;
  }

  get holdsLock(): boolean {
    return this.held;
  }

  private get where(): string {
    return `${this.table} on MariaDB ${this.options.host}:${this.options.port}/${this.options.database}`;
  }

  private describe(err: unknown, what: string): Error {
    if (err instanceof TrackingError || err instanceof LockError || err instanceof FencedError) return err;
    const e = err as { code?: string; sqlMessage?: string; message?: string };
    return new TrackingError(
      `${what} (${this.where}) failed: ${e.code ? `${e.code}: ` : ""}${e.sqlMessage ?? e.message ?? String(err)}`,
      isTransientMariadbError(err),
      {
        cause: err,
      },
    );
  }

  /** The connection died or was destroyed: forget it, and with it the lock. */
  private dropped(conn: mariadb.Connection, err: unknown): void {
    if (conn !== this.conn) return;
    this.conn = null;
    if (conn.threadId !== null && this.abandoned.size < 16) this.abandoned.add(conn.threadId);
    abandon(conn);
    if (this.held) this.lose(`the connection holding lock ${this.lockName} of program ${this.options.programName} was lost`, err);
  }

  private lose(message: string, cause?: unknown): void {
    this.held = false;
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = null;
    this.tenure.abort(new FencedError(message, { cause }));
  }

  private async connection(signal?: AbortSignal): Promise<mariadb.Connection> {
    if (this.conn && isAlive(this.conn)) return this.conn;
    if (this.conn) this.dropped(this.conn, new Error("connection no longer valid"));
    this.conn = await openConnection(this.endpoint, this.options.connectTimeoutMs, signal, (c, err) => this.dropped(c, err), {
      wait_timeout: this.sessionIdleSeconds,
    });
    return this.conn;
  }

  /** One statement on the store's connection within query_timeout; a dead connection is dropped. */
  private async run<T>(what: string, sql: string | mariadb.QueryOptions, params: unknown[], signal?: AbortSignal, reconnect = true): Promise<T> {
    if (!reconnect && !this.conn) throw new FencedError(`${what} refused: lock ${this.lockName} of program ${this.options.programName} is not held`);
    const conn = reconnect ? await this.connection(signal) : (this.conn as mariadb.Connection);
    try {
      return await queryWithin<T>(conn, this.options, what, this.queryTimeoutMs, signal, sql, params);
    } catch (err) {
      if (!isAlive(conn)) this.dropped(conn, err);
      throw err;
    }
  }

  /** `run` with the retry policy (fresh connections) for statements that need no lock. */
  private async query<T>(what: string, sql: string | mariadb.QueryOptions, params: unknown[] = [], signal?: AbortSignal): Promise<T> {
    try {
      return await withRetry(() => this.run<T>(what, sql, params, signal), this.options.retry, isTransientMariadbError, this.options.onRetry, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.describe(err, what);
    }
  }

  /**
   * A statement that needs the lock, on the lock's connection. A server-side transient error
   * (deadlock, lock wait) is retried on the same connection; once the connection is gone the
   * lock is gone with it and the statement is refused.
   */
  private async locked<T>(what: string, sql: string, params: unknown[], signal?: AbortSignal): Promise<T> {
    const refuse = () => new FencedError(`${what} refused: this instance no longer holds lock ${this.lockName} of program ${this.options.programName}`);
    if (!this.held) throw refuse();
    try {
      return await withRetry(
        () => (this.held ? this.run<T>(what, sql, params, signal, false) : Promise.reject(refuse())),
        this.options.retry,
        (err) => this.held && isTransientMariadbError(err),
        this.options.onRetry,
        signal,
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.describe(err, what);
    }
  }

  /**
   * Connects, creates ETL_PRMREC if missing (or widens a V7 table), and takes this program's
   * lock; throws a LockError naming the holder when another instance has it.
   */
  async open(signal?: AbortSignal): Promise<void> {
    await this.prepare(signal);
    const attempt = await this.tryAcquire(signal);
    if (!attempt.acquired) throw this.lockedOut(attempt.holder);
  }

  /** Connects and migrates the table without taking the lock (what a standby does first). */
  async prepare(signal?: AbortSignal): Promise<void> {
    await this.migrate(signal);
  }

  private lockedOut(holder: LockHolder | null): LockError {
    const who = holder ? ` by MariaDB connection ${holder.connectionId}${holder.host ? ` from ${holder.host}` : ""}` : "";
    return new LockError(
      `another instance is already running program ${this.options.programName} (MariaDB lock ${this.lockName} is held${who}); stop it first`,
    );
  }

  /**
   * Takes the lock if it is free (never waits). When another connection holds it, says which:
   * the holder's connection id from IS_USED_LOCK, and its client host and user when
   * information_schema.PROCESSLIST shows them (it shows other users' sessions only with the
   * PROCESS privilege). Holding it already is success.
   */
  async tryAcquire(signal?: AbortSignal): Promise<LockAttempt> {
    if (this.held && this.conn && isAlive(this.conn)) return { acquired: true };
    for (let attempt = 0; ; attempt++) {
      const rows = await this.query<unknown[][]>(
        "taking the program lock",
        { sql: "SELECT GET_LOCK(?, 0), IS_USED_LOCK(?)", rowsAsArray: true },
        [this.lockName, this.lockName],
        signal,
      );
      if (Number(rows[0]?.[0]) === 1) {
        this.held = true;
        this.tenure = new AbortController();
        this.monitor = setInterval(() => void this.check(), this.lockCheckIntervalMs);
        this.monitor.unref();
        return { acquired: true };
      }
      const id = rows[0]?.[1];
      // Released between GET_LOCK and IS_USED_LOCK: try again, a few times.
      if ((id === null || id === undefined) && attempt < 3) continue;
      if (id !== null && id !== undefined && attempt < 3 && (await this.endAbandoned(Number(id), signal))) continue;
      return { acquired: false, holder: id === null || id === undefined ? null : await this.holder(Number(id), signal) };
    }
  }

  /**
   * When the holder is a connection this store itself gave up on (its socket destroyed here,
   * but the server has not noticed: a black-holed network keeps a session alive on the server
   * until wait_timeout or TCP keepalive ends it), KILL it, which any user may do to its own
   * sessions, and wait until the server has released its lock. Nothing can write through it
   * any more, so this is safe, and it spares a restart hours of waiting for an orphan of our own.
   */
  private async endAbandoned(holderId: number, signal?: AbortSignal): Promise<boolean> {
    if (!this.abandoned.has(holderId)) return false;
    this.abandoned.delete(holderId);
    try {
      await this.query("ending an abandoned connection", `KILL CONNECTION ${holderId}`, [], signal);
    } catch (err) {
      // "Unknown thread id" (1094): the session is ending by itself and releases the lock in a
      // moment. Anything else (not allowed): the caller reports the holder.
      if ((err as { cause?: { errno?: number } }).cause?.errno !== 1094) return false;
    }
    const deadline = Date.now() + this.queryTimeoutMs;
    while (Date.now() < deadline) {
      const rows = await this.query<unknown[][]>("waiting for the lock release", { sql: "SELECT IS_USED_LOCK(?)", rowsAsArray: true }, [this.lockName], signal);
      if (Number(rows[0]?.[0] ?? 0) !== holderId) return true;
      await sleep(50, signal);
    }
    return true;
  }

  private async holder(connectionId: number, signal?: AbortSignal): Promise<LockHolder> {
    const rows = await this.query<Array<{ HOST: string; USER: string }>>(
      "looking up the lock holder",
      "SELECT HOST, USER FROM information_schema.PROCESSLIST WHERE ID = ?",
      [connectionId],
      signal,
    ).catch(() => []);
    return { connectionId, host: rows[0]?.HOST ?? null, user: rows[0]?.USER ?? null };
  }

  /**
   * Waits as a hot standby until the lock is ours: tries every lock_check_interval, and calls
   * `onWait` with the holder whenever it changes. Rejects with the signal's reason on abort.
   */
  async acquire(signal?: AbortSignal, onWait?: (holder: LockHolder | null) => void): Promise<void> {
    let last: string | undefined;
    for (;;) {
      const attempt = await this.tryAcquire(signal);
      if (attempt.acquired) return;
      const key = JSON.stringify(attempt.holder);
      if (key !== last) onWait?.(attempt.holder);
      last = key;
      await sleep(this.lockCheckIntervalMs, signal);
    }
  }

  /** Gives the lock up (back to standby): `lockLost` aborts; the connection stays open. */
  async release(signal?: AbortSignal): Promise<void> {
    if (!this.held) return;
    this.lose(`lock ${this.lockName} of program ${this.options.programName} was released`);
    const conn = this.conn;
    if (!conn) return;
    await queryWithin(conn, this.options, "releasing the program lock", this.queryTimeoutMs, signal, "SELECT RELEASE_LOCK(?)", [this.lockName]).catch(
      (err: unknown) =>
        // A connection that cannot say RELEASE_LOCK is destroyed, which releases the lock too.
        this.dropped(conn, err),
    );
  }

  /** The monitor: the lock is lost when the check fails, times out, or names another holder. */
  private async check(): Promise<void> {
    const conn = this.conn;
    if (this.checking || !this.held || !conn) return;
    this.checking = true;
    try {
      const rows = await queryWithin<unknown[][]>(
        conn,
        this.options,
        "checking the program lock",
        this.queryTimeoutMs,
        undefined,
        { sql: `SELECT ${HELD}`, rowsAsArray: true },
        [this.lockName],
      );
      if (Number(rows[0]?.[0]) !== 1 && this.held && conn === this.conn) {
        this.lose(`lock ${this.lockName} of program ${this.options.programName} is no longer held by this instance's connection`);
        this.dropped(conn, null);
      }
    } catch (err) {
      this.dropped(conn, err);
    } finally {
      this.checking = false;
    }
  }

  private async migrate(signal?: AbortSignal): Promise<void> {
    const columns = await this.query<Array<{ COLUMN_NAME: string; DATA_TYPE: string; DATETIME_PRECISION: number | null; IS_NULLABLE: string }>>(
      "reading the columns",
      "SELECT COLUMN_NAME, DATA_TYPE, DATETIME_PRECISION, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
      [this.table],
      signal,
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
        [],
        signal,
      );
      return;
    }
    const byName = new Map(columns.map((c) => [c.COLUMN_NAME.toUpperCase(), c]));
    const missing = V7_COLUMNS.filter((c) => !byName.has(c));
    if (missing.length > 0) throw new TrackingError(`table ${this.table} exists but lacks the V7 column(s) ${missing.join(", ")}`, false);
    if (!byName.has("LAST_SUCCESSFUL_ID")) {
      await this.query("adding LAST_SUCCESSFUL_ID", `ALTER TABLE \`${this.table}\` ADD COLUMN LAST_SUCCESSFUL_ID DECIMAL(38,0) NULL`, [], signal);
    }
    if (!byName.has("RESUME_STREAM_SEQ")) {
      await this.query("adding RESUME_STREAM_SEQ", `ALTER TABLE \`${this.table}\` ADD COLUMN RESUME_STREAM_SEQ BIGINT UNSIGNED NULL`, [], signal);
    }
    const time = byName.get("LAST_SUCCESSFUL_TIME");
    if (time && time.DATA_TYPE.toLowerCase() === "datetime" && (time.DATETIME_PRECISION ?? 0) < 6) {
      await this.query(
        "widening LAST_SUCCESSFUL_TIME to DATETIME(6)",
        `ALTER TABLE \`${this.table}\` MODIFY LAST_SUCCESSFUL_TIME DATETIME(6) ${time.IS_NULLABLE === "NO" ? "NOT NULL" : "NULL"}`,
        [],
        signal,
      );
    }
  }

  /** The committed checkpoint; read on the lock's connection, so only while the lock is held. */
  async load(signal?: AbortSignal): Promise<Checkpoint | null> {
    const rows = await this.locked<Array<{ ts: string | null; id: string | null; resume: string | null }>>(
      "reading the watermark",
      `SELECT DATE_FORMAT(LAST_SUCCESSFUL_TIME, '${TS}') AS ts, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id, CAST(RESUME_STREAM_SEQ AS CHAR) AS resume FROM \`${this.table}\` WHERE PROGRAM_NAME = ? ORDER BY LAST_SUCCESSFUL_TIME DESC, LAST_SUCCESSFUL_ID DESC LIMIT 1`,
      [this.options.programName],
      signal,
    );
    const row = rows[0];
    if (!row || (row.ts === null && row.resume === null)) return null;
    return { watermark: row.ts === null ? null : { ts: row.ts, id: row.id ?? AFTER_ALL_IDS }, resumeSeq: row.resume === null ? null : Number(row.resume) };
  }

  /**
   * Updates this program's row, inserting it the first time (V7 tables may lack a unique key).
   * Every statement is guarded by the lock in SQL: a write the server runs for a connection
   * that does not hold the lock matches nothing, and is refused with a FencedError.
   */
  private async upsert(what: string, assignments: string, params: unknown[], signal?: AbortSignal): Promise<void> {
    const guarded = `UPDATE \`${this.table}\` SET ${assignments}, UPDATED_AT = NOW() WHERE PROGRAM_NAME = ? AND ${HELD}`;
    const args = [...params, this.options.programName, this.lockName];
    if ((await this.locked<{ affectedRows: number }>(what, guarded, args, signal)).affectedRows > 0) return;
    const inserted = await this.locked<{ affectedRows: number }>(
      what,
      `INSERT INTO \`${this.table}\` (PROGRAM_NAME, CREATED_AT, UPDATED_AT) SELECT ?, NOW(), NOW() FROM DUAL WHERE ${HELD}`,
      [this.options.programName, this.lockName],
      signal,
    );
    if (inserted.affectedRows > 0 && (await this.locked<{ affectedRows: number }>(what, guarded, args, signal)).affectedRows > 0) return;
    const message = `${what} refused: MariaDB says this instance's connection no longer holds lock ${this.lockName} of program ${this.options.programName}`;
    if (this.held) this.lose(message);
    throw new FencedError(message);
  }

  /** A cycle starts: takes the lock if it is not held (LockError if another instance has it). */
  async begin(signal?: AbortSignal): Promise<void> {
    if (!this.held) {
      const attempt = await this.tryAcquire(signal);
      if (!attempt.acquired) throw this.lockedOut(attempt.holder);
    }
    await this.upsert("recording the run start", "STATUS = 'RUNNING', LAST_RUN_TIME = NOW(6), ERROR_MESSAGE = NULL", [], signal);
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

  async checkpoint(checkpoint: Checkpoint, rows: number, signal?: AbortSignal): Promise<void> {
    const [sets, values] = MariadbTracking.checkpointColumns(checkpoint);
    await this.upsert("committing a checkpoint", `${sets}, RECORDS_PROCESSED = ?`, [...values, rows], signal);
  }

  async finish(result: { checkpoint: Checkpoint | null; rows: number; error?: string }, signal?: AbortSignal): Promise<void> {
    const status = result.error === undefined ? "SUCCESS" : "FAILED";
    const error = result.error === undefined ? null : result.error.slice(0, 4000);
    const [sets, values] = result.checkpoint ? MariadbTracking.checkpointColumns(result.checkpoint) : ["", []];
    await this.upsert(
      "recording the run result",
      `STATUS = ?, ERROR_MESSAGE = ?, RECORDS_PROCESSED = ?${sets ? `, ${sets}` : ""}`,
      [status, error, result.rows, ...values],
      signal,
    );
  }

  /** Closes the connection (which releases the lock) within about a second, whatever its state. */
  async close(): Promise<void> {
    // Released explicitly, not by ending the session: the server drops a closed session's locks
    // only when its thread finishes, so a successor started right after close() could still
    // find the lock held. Bounded: a server that does not answer gets its connection destroyed.
    if (this.held && this.conn) await this.release(AbortSignal.timeout(Math.min(this.queryTimeoutMs, CLOSE_RELEASE_MS)));
    if (this.held) this.lose(`the tracking store of program ${this.options.programName} was closed`);
    const conn = this.conn;
    this.conn = null;
    await closeConnection(conn);
  }
}

/** The store's options from the config's `mariadb` and `publisher.program_name` keys. */
export function trackingOptions(config: Config, log: Logger): TrackingOptions {
  const { host, port, user, password, database, ssl, connect_timeout, query_timeout, lock_check_interval, retry } = config.mariadb;
  return {
    host,
    port,
    user,
    password,
    database,
    ssl,
    connectTimeoutMs: connect_timeout * 1000,
    queryTimeoutMs: query_timeout * 1000,
    lockCheckIntervalMs: lock_check_interval * 1000,
    programName: config.publisher.program_name,
    retry: retryPolicy(retry),
    onRetry: logRetry(log, "mariadb"),
  };
}
