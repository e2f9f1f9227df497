/**
 * How far behind the publisher is.
 *
 * Lag = the database clock minus the watermark's EVENT_TIMESTAMP, but only while rows are
 * waiting past the watermark: an idle table (nothing newer than the last row published) has
 * lag 0, so a quiet night is not an alarm. The waiting rows are counted each cycle with a
 * bounded count (so a huge backlog costs at most `limit` index entries):
 *
 *   RowSource.countAfter(after: Watermark | null, upperLagSeconds: number, limit: number)
 *     : Promise<{ rows: number; dbNow: string }>
 *
 *   rows:  rows strictly after `after` (all rows when null) with EVENT_TIMESTAMP <= database
 *          now - upperLagSeconds (the same bound a read uses: publisher.safety_lag_seconds),
 *          counted up to `limit` (a result equal to `limit` means "at least").
 *   dbNow: the database clock when counting, as `YYYY-MM-DD HH:MM:SS.ffffff` wall-clock text in
 *          source.time_zone (the zone the table's naive timestamps are in).
 *
 * MariaDB: `countAfterMariadb()` below. Oracle (for the adapter's owner, in oracle-sql.ts's
 * style): the clock and the bound in one round trip,
 *   SELECT TO_CHAR(SYSTIMESTAMP AT TIME ZONE :zone, 'YYYY-MM-DD HH24:MI:SS.FF6'),
 *          TO_CHAR((SYSTIMESTAMP AT TIME ZONE :zone) - NUMTODSINTERVAL(:lag, 'SECOND'), '...FF6')
 *   FROM DUAL
 * then the count with pageStatement's WHERE clause (the same `after` predicate and
 * `EVENT_TIMESTAMP <= upper`, same binds) and no ORDER BY:
 *   SELECT COUNT(*) FROM (SELECT 1 FROM t WHERE <pageStatement's where> FETCH FIRST :n ROWS ONLY)
 */
import { wallClock } from "../pipeline/start-position";
import type { Watermark } from "../pipeline/types";

/** Default bound of the waiting-rows count: cheap, and far beyond any alert threshold. */
export const WAITING_ROWS_LIMIT = 1_000_000;

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/**
 * Seconds since the Unix epoch of a wall-clock text (`YYYY-MM-DD HH:MM:SS[.ffffff]`) read in
 * `timeZone` (UTC or a fixed offset like +09:00), or of an ISO-8601 timestamp with its own zone.
 * Microseconds are kept (as a float).
 */
export function epochSeconds(text: string, timeZone: string): number {
  const trimmed = text.trim();
  const w = WALL_CLOCK.exec(trimmed) ?? WALL_CLOCK.exec(wallClock(trimmed, timeZone));
  if (!w) throw new RangeError(`not a timestamp: ${text}`);
  const [, y, mo, d, h, mi, s, frac = ""] = w;
  const utcMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(utcMs)) throw new RangeError(`not a timestamp: ${text}`);
  const offsetMinutes = timeZone === "UTC" ? 0 : (timeZone[0] === "-" ? -1 : 1) * (Number(timeZone.slice(1, 3)) * 60 + Number(timeZone.slice(-2)));
  return utcMs / 1000 - offsetMinutes * 60 + Number(`0.${frac || "0"}`);
}

/**
 * The lag in seconds: `dbNow - watermarkTs`, both wall-clock text in `timeZone`; 0 when no row
 * is waiting; never negative (a watermark stamped ahead of the database clock counts as 0).
 * null when rows are waiting but no watermark exists yet (a program that never published:
 * its lag is not defined; the waiting count says how much is to do).
 */
export function lagSeconds(input: { dbNow: string; watermarkTs: string | null; timeZone: string; waitingRows: number }): number | null {
  if (input.waitingRows <= 0) return 0;
  if (input.watermarkTs === null) return null;
  const lag = epochSeconds(input.dbNow, input.timeZone) - epochSeconds(input.watermarkTs, input.timeZone);
  // Round to microseconds: the float subtraction of two epoch values leaves noise below that.
  return Math.max(0, Math.round(lag * 1e6) / 1e6);
}

/** A statement with its parameters, for the mariadb connector's `query({sql, rowsAsArray: true}, params)`. */
export interface CountStatement {
  sql: string;
  params: unknown[];
}

/**
 * MariaDB statement of `RowSource.countAfter`. `quotedTable` is the table name already quoted
 * (mariadb-errors' quoteTable). One row comes back: [dbNow text, count]. NOW(6) is fixed for
 * the whole statement, so the count's bound and the reported clock agree. The predicate is the
 * keyset OR form the reads use (the row-value form rescans the index on 10.11), served by the
 * (EVENT_TIMESTAMP, ID) index; the inner LIMIT bounds the work. The ID is bound as a BigInt so
 * it is compared exactly. The count comes back as a BigInt (or a string): `Number()` it.
 */
export function countAfterMariadb(quotedTable: string, after: Watermark | null, upperLagSeconds: number, limit: number): CountStatement {
  const now = "DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')";
  const upper = "NOW(6) - INTERVAL ? MICROSECOND";
  const lagMicros = Math.round(upperLagSeconds * 1e6);
  if (after === null) {
    return {
      sql: `SELECT ${now}, (SELECT COUNT(*) FROM (SELECT 1 FROM ${quotedTable} WHERE EVENT_TIMESTAMP <= ${upper} LIMIT ?) AS waiting)`,
      params: [lagMicros, limit],
    };
  }
  return {
    sql: `SELECT ${now}, (SELECT COUNT(*) FROM (SELECT 1 FROM ${quotedTable} WHERE (EVENT_TIMESTAMP > ? OR (EVENT_TIMESTAMP = ? AND ID > ?)) AND EVENT_TIMESTAMP <= ${upper} LIMIT ?) AS waiting)`,
    params: [after.ts, after.ts, BigInt(after.id), lagMicros, limit],
  };
}

/**
 * MariaDB statement of `countBetween` (the rewind's estimate): rows with
 * `after` < (EVENT_TIMESTAMP, ID) <= `through`, up to `limit`. One row: [count].
 */
export function countBetweenMariadb(quotedTable: string, after: Watermark, through: Watermark, limit: number): CountStatement {
  return {
    sql: `SELECT COUNT(*) FROM (SELECT 1 FROM ${quotedTable} WHERE (EVENT_TIMESTAMP > ? OR (EVENT_TIMESTAMP = ? AND ID > ?)) AND (EVENT_TIMESTAMP < ? OR (EVENT_TIMESTAMP = ? AND ID <= ?)) LIMIT ?) AS r`,
    params: [after.ts, after.ts, BigInt(after.id), through.ts, through.ts, BigInt(through.id), limit],
  };
}
