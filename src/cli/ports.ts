/**
 * What the subcommands (status, check, rewind, dry-run) need from the outside world, as small
 * interfaces: the real adapters (MariaDB tracking store and lock, JetStream, the row source)
 * implement them; the command logic and its tests only see these shapes.
 *
 * Every method makes one attempt (no retry backoff): these are operator tools, and an operator
 * wants an answer in seconds. Errors they throw should be PublisherErrors whose messages name
 * what failed without any secret: the commands print `describeError(err)`.
 */
import type { SourceRow, Watermark } from "../pipeline/types";

/** The program's ETL_PRMREC row, values as text (nothing rounded through a Date or a double). */
export interface TrackingRow {
  /** PROGRAM_NAME */
  programName: string;
  /**
   * (LAST_SUCCESSFUL_TIME, LAST_SUCCESSFUL_ID), the time as `YYYY-MM-DD HH:MM:SS.ffffff` in
   * source.time_zone's wall-clock; null when LAST_SUCCESSFUL_TIME is NULL. A V7 row without an
   * id reads as id AFTER_ALL_IDS (every row at that time is done), as the store itself does.
   */
  watermark: Watermark | null;
  /** STATUS: RUNNING, SUCCESS, FAILED (or V7 values), null when NULL. */
  status: string | null;
  /** LAST_RUN_TIME as `YYYY-MM-DD HH:MM:SS.ffffff` (the tracking database's clock), or null. */
  lastRunTime: string | null;
  /** RECORDS_PROCESSED (rows of the last cycle) in decimal digits, or null. */
  recordsProcessed: string | null;
  /** ERROR_MESSAGE of the last failed cycle, or null. */
  errorMessage: string | null;
  /** UPDATED_AT as `YYYY-MM-DD HH:MM:SS.ffffff`, or null. */
  updatedAt: string | null;
}

export interface TrackingReader {
  /** This program's row, or null when it has none yet (never ran). Reads only: no migration, no lock. */
  read(): Promise<TrackingRow | null>;
}

/** Who holds the program's lock. */
export interface LockHolder {
  /** MariaDB: IS_USED_LOCK(name), the holder's connection id, as text. */
  connectionId: string;
  /** The holder's client address (host:port) from information_schema.PROCESSLIST, when visible. */
  host: string | null;
}

/**
 * The program's single-instance lock (the one a running publisher holds; MariaDB GET_LOCK under
 * the name the tracking store uses).
 */
export interface ProgramLock {
  /** The holder, or null when no instance holds it. */
  holder(): Promise<LockHolder | null>;
  /** Takes the lock without waiting (GET_LOCK(name, 0) on a dedicated connection), or null when held elsewhere. */
  tryAcquire(): Promise<LockLease | null>;
}

/** The lock, held by this command; the only way a command writes the watermark. */
export interface LockLease {
  /**
   * Sets the program's watermark to `to` (creating the row when missing, STATUS untouched or
   * SUCCESS for a new row) AND clears RESUME_STREAM_SEQ: the rows after `to` are to be
   * published again, not recognised as "already stored" by the restart scan. Must fail, not
   * write, when the lease was lost (fenced).
   */
  setWatermark(to: Watermark): Promise<void>;
  release(): Promise<void>;
}

/** The JetStream stream, as `status` shows it. */
export interface StreamSummary {
  name: string;
  /** state.messages */
  messages: number;
  /** state.bytes */
  bytes: number;
  /** config.subjects */
  subjects: string[];
  /** config.duplicate_window (nanoseconds) / 1e9 */
  duplicateWindowSeconds: number;
}

export interface StreamProbe {
  /** jsm.streams.info(name); fails when the stream does not exist. */
  info(): Promise<StreamSummary>;
  /**
   * How many messages the stream stored in the last `seconds` (roughly: the rewind warning only
   * needs an estimate). On server 2.9: an ephemeral consumer with deliver_policy by_start_time,
   * opt_start_time = now - seconds; its num_pending is the answer (delete it afterwards).
   */
  storedWithin(seconds: number): Promise<number>;
}

/** The source table, counted (see src/ops/lag.ts for the SQL). */
export interface SourceCounter {
  /**
   * Rows strictly after `after` (all when null) stamped at or before database now -
   * upperLagSeconds, up to `limit`; and the database clock as wall-clock text in source.time_zone.
   */
  countAfter(after: Watermark | null, upperLagSeconds: number, limit: number): Promise<{ rows: number; dbNow: string }>;
  /** Rows with `after` < (EVENT_TIMESTAMP, ID) <= `through`, up to `limit` (`countBetweenMariadb`). */
  countBetween(after: Watermark, through: Watermark, limit: number): Promise<number>;
}

/** One formatted message, as the pipeline would publish it. */
export interface FormattedMessage {
  subject: string;
  msgId: string;
  /** The message body: JSON text, exactly as it would be published. */
  payload: string;
}

/** Where a command writes: one call per line, no newline. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export type { SourceRow, Watermark };
