/**
 * What the source conformance suite needs from a database to test a source adapter against
 * it. One harness per database (MariaDB always; Oracle when ORACLE_TEST_DSN is set).
 */
import type { RowSource, SourceRow } from "../../src/pipeline/types";

/** A row to insert, shaped as the source hands it back; timestamps in the database's own zone. */
export type ConformanceRow = SourceRow;

export interface SourceHarness {
  /** Shown in test names, e.g. "mariadb" or "oracle". */
  readonly name: string;
  /** Creates an empty TXLOG_EVENTS-shaped table under a name unique to this run. */
  setup(): Promise<void>;
  /** Inserts and commits rows. */
  insert(rows: ConformanceRow[]): Promise<void>;
  /** Database "now" as `YYYY-MM-DD HH:MM:SS.ffffff`, the clock the source's lag bound uses. */
  dbNow(): Promise<string>;
  /** A new source adapter reading the harness table. */
  source(): RowSource;
  /** Kills the database sessions the source currently holds (connection loss mid-stream). */
  killSourceSessions(): Promise<void>;
  /** Drops the table and closes the harness's own connections. */
  teardown(): Promise<void>;
}
