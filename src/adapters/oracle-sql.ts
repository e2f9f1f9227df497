/**
 * The SQL the Oracle source issues, built from validated pieces only: the table name is the
 * one thing inlined (after `validateTable`), every value is a bind variable.
 *
 * Timestamps never travel as JS `Date` (millisecond precision, shifted by the process zone):
 * they leave the database as `TO_CHAR(..., 'YYYY-MM-DD HH24:MI:SS.FF6')` text and come back
 * as text bound through `TO_TIMESTAMP(:x, <same format>)`. The expressions depend on the
 * column's type, read once from the query metadata:
 *
 *   kind       column type                         selected as                              bound value
 *   date       DATE                                TO_CHAR(c,'...SS".000000"')              TO_DATE(SUBSTR(:x,1,19),'...SS')
 *   timestamp  TIMESTAMP(0..6)                     TO_CHAR(c, FMT)                          TO_TIMESTAMP(:x, FMT)
 *   zoned      TIMESTAMP WITH TIME ZONE            TO_CHAR((c AT TIME ZONE :zone), FMT)     FROM_TZ(TO_TIMESTAMP(:x, FMT), :zone)
 *   ltz        TIMESTAMP WITH LOCAL TIME ZONE      TO_CHAR((c AT TIME ZONE :zone), FMT)     CAST(FROM_TZ(...) AS TIMESTAMP WITH LOCAL TIME ZONE)
 *
 * Comparisons keep the bare column on the left, so the (EVENT_TIMESTAMP, ID) index serves
 * the predicate and the ORDER BY: the bound side always has the column's own type, since
 * Oracle converts the other side of a mixed comparison and a converted column cannot seek the
 * index. So for `date` the bound is a DATE (not a TIMESTAMP), for `zoned` an instant in
 * `:zone`, and for `ltz` that instant cast to TIMESTAMP WITH LOCAL TIME ZONE (compared with
 * a WITH TIME ZONE value, the LTZ column itself would be converted).
 */
import { IDENTIFIER_MAX_LENGTH, isTableName, UTC_OFFSET } from "../config/patterns";
import { SourceError } from "../errors";

/** Text form of every timestamp the source reads or binds (26 characters, microseconds). */
export const TS_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF6";
const DATE_FORMAT = "YYYY-MM-DD HH24:MI:SS";

/** The `Watermark.ts` shape: exactly what TO_CHAR(..., TS_FORMAT) produces. */
export const TS_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;

export type TimestampKind = "date" | "timestamp" | "zoned" | "ltz";

/**
 * How a text column is selected so that it arrives as a JS string (or, for `blob`, a Buffer
 * of UTF-8) whatever its Oracle type:
 *   text   VARCHAR2, CHAR, NUMBER (as STRING via the fetch type handler)
 *   clob   CLOB               as STRING via the fetch type handler
 *   ntext  NVARCHAR2, NCHAR   TO_CHAR(c): converted to the database character set by the
 *                             server; Thin decodes NCHAR data itself only in AL16UTF16 (NJS-100)
 *   nclob  NCLOB              TO_CLOB(c), for the same reason
 *   json   JSON (21c+)        JSON_SERIALIZE(c RETURNING CLOB): text made by the server, exact
 *                             (decoding OSON in the driver would turn big numbers into doubles)
 *   blob   BLOB               fetched as a Buffer and decoded as UTF-8 (Oracle's advice for
 *                             JSON before 21c is a BLOB with an IS JSON check)
 */
export type TextKind = "text" | "clob" | "ntext" | "nclob" | "json" | "blob";

/** Kinds whose length DBMS_LOB.GETLENGTH can tell before the value is fetched. */
const LOB_KINDS: ReadonlySet<TextKind | undefined> = new Set(["clob", "nclob", "blob"]);

/** How the columns of the configured table are typed (read once from the query metadata). */
export interface ColumnKinds {
  eventTimestamp: TimestampKind;
  createdAt: TimestampKind;
  caseId?: TextKind;
  eventType?: TextKind;
  eventData?: TextKind;
}

function textValue(column: string, kind: TextKind | undefined): string {
  switch (kind) {
    case "ntext":
      return `TO_CHAR(${column})`;
    case "nclob":
      return `TO_CLOB(${column})`;
    case "json":
      return `JSON_SERIALIZE(${column} RETURNING CLOB)`;
    default:
      return column;
  }
}

const textColumn = (column: string, kind: TextKind | undefined): string => {
  const value = textValue(column, kind);
  return value === column ? column : `${value} AS ${column}`;
};

/**
 * EVENT_DATA, and with a length limit its length: a LOB longer than `:maxlen` (characters of a
 * CLOB/NCLOB, bytes of a BLOB) comes back as NULL with EVENT_DATA_LENGTH set, so it is never
 * loaded into memory. A CLOB of at most `:maxlen` characters is at most 4 x `:maxlen` bytes.
 */
function eventDataColumns(kind: TextKind | undefined, guarded: boolean): string {
  if (!guarded || !LOB_KINDS.has(kind)) return textColumn("EVENT_DATA", kind);
  return `CASE WHEN DBMS_LOB.GETLENGTH(EVENT_DATA) <= :maxlen THEN ${textValue("EVENT_DATA", kind)} END AS EVENT_DATA, DBMS_LOB.GETLENGTH(EVENT_DATA) AS EVENT_DATA_LENGTH`;
}

/**
 * Accepts `IDENT` or `SCHEMA.IDENT` (unquoted Oracle identifiers) and returns it unchanged;
 * anything else could smuggle SQL into the one inlined name, so it is refused.
 */
export function validateTable(table: string): string {
  if (!isTableName(table, IDENTIFIER_MAX_LENGTH.oracle)) {
    throw new SourceError(
      `Oracle source table ${JSON.stringify(table)} is not a valid name: expected TABLE or SCHEMA.TABLE, each part a letter followed by up to 127 letters, digits, _, $ or #`,
      false,
    );
  }
  return table;
}

/**
 * The zone naive timestamps are in, as Oracle understands it: `UTC`/`Z` become `+00:00`
 * (a fixed offset needs no time-zone file), `+09:00` stays, a region name such as
 * `Asia/Tokyo` is passed on (the database resolves it; ORA-01882 if it does not know it).
 */
export function normalizeZone(zone: string): string {
  const z = zone.trim();
  if (/^(UTC|Z|GMT)$/i.test(z)) return "+00:00";
  if (UTC_OFFSET.test(z)) return z;
  if (/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(z)) return z;
  throw new SourceError(`Oracle source time zone ${JSON.stringify(zone)} is not UTC, an offset like +09:00, or a region like Asia/Tokyo`, false);
}

/** The column as `YYYY-MM-DD HH:MM:SS.ffffff` text in the configured zone. */
function asText(column: string, kind: TimestampKind): string {
  switch (kind) {
    case "date":
      // FF is not valid for DATE (ORA-01821); a DATE has no fraction, so the mask writes it
      // as a literal. Not `|| '.000000'`: in Oracle NULL || 'x' is 'x', so a NULL would
      // become ".000000" instead of staying NULL.
      return `TO_CHAR(${column}, '${DATE_FORMAT}".000000"')`;
    case "timestamp":
      return `TO_CHAR(${column}, '${TS_FORMAT}')`;
    case "zoned":
    case "ltz":
      return `TO_CHAR((${column} AT TIME ZONE :zone), '${TS_FORMAT}')`;
  }
}

/** A bound timestamp text as a value comparable with the column without converting the column. */
function asValue(bind: string, kind: TimestampKind): string {
  switch (kind) {
    case "date":
      // Whole seconds: exact for the `<=` upper bound, and watermarks read from a DATE
      // column always end in .000000.
      return `TO_DATE(SUBSTR(:${bind}, 1, 19), '${DATE_FORMAT}')`;
    case "timestamp":
      return `TO_TIMESTAMP(:${bind}, '${TS_FORMAT}')`;
    case "zoned":
      return `FROM_TZ(TO_TIMESTAMP(:${bind}, '${TS_FORMAT}'), :zone)`;
    case "ltz":
      return `CAST(FROM_TZ(TO_TIMESTAMP(:${bind}, '${TS_FORMAT}'), :zone) AS TIMESTAMP WITH LOCAL TIME ZONE)`;
  }
}

const usesZone = (kinds: ColumnKinds, ...which: (keyof ColumnKinds)[]): boolean => which.some((k) => kinds[k] === "zoned" || kinds[k] === "ltz");

export interface Statement {
  sql: string;
  binds: Record<string, string | number>;
}

/** Zero rows; its metadata says how the columns are typed (and it fails fast on a missing table or column). */
export function describeSql(table: string): string {
  return `SELECT ID, CASE_ID, EVENT_TYPE, EVENT_DATA, EVENT_TIMESTAMP, CREATED_AT FROM ${table} WHERE 1 = 0`;
}

/**
 * The read's upper bound: the database clock minus the lag, as wall-clock text in the
 * configured zone. SYSTIMESTAMP is the database server's clock with its offset, so
 * `AT TIME ZONE :zone` expresses it in the zone the rows' naive timestamps are in.
 * LOCALTIMESTAMP/CURRENT_TIMESTAMP are avoided on purpose: they use the session time zone,
 * which Thin mode sets from the Node process's TZ (lib/thin/protocol/messages/auth.js).
 */
export function upperBoundStatement(zone: string, lagSeconds: number): Statement {
  return {
    sql: `SELECT TO_CHAR((SYSTIMESTAMP AT TIME ZONE :zone) - NUMTODSINTERVAL(:lag, 'SECOND'), '${TS_FORMAT}') AS UPPER_BOUND FROM DUAL`,
    binds: { zone, lag: lagSeconds },
  };
}

// Aliases differ from the column names: Oracle resolves ORDER BY names against select-list
// aliases first, and ordering by the TO_CHAR text would defeat the index.
const SELECT_LIST = (k: ColumnKinds, guarded: boolean): string =>
  `SELECT ID, ${textColumn("CASE_ID", k.caseId)}, ${textColumn("EVENT_TYPE", k.eventType)}, ${eventDataColumns(k.eventData, guarded)}, ${asText("EVENT_TIMESTAMP", k.eventTimestamp)} AS EVENT_TS, ${asText("CREATED_AT", k.createdAt)} AS CREATED_TS`;

/**
 * One page in keyset order: rows strictly after (t, id), at or below `upper`, at most `n`.
 * Oracle has no row-value comparison. The seek form `TS >= :t AND (TS > :t OR ID > :id)`
 * selects the same rows as `TS > :t OR (TS = :t AND ID > :id)` but gives the optimizer a
 * range start on the leading index column: the index range scan begins at the watermark
 * instead of at the index's first entry, so a page costs O(page), not O(backlog).
 */
export function pageStatement(
  table: string,
  kinds: ColumnKinds,
  zone: string,
  after: { ts: string; id: string } | null,
  upper: string,
  n: number,
  maxEventDataLength?: number,
): Statement {
  const guarded = maxEventDataLength !== undefined && LOB_KINDS.has(kinds.eventData);
  const ts = kinds.eventTimestamp;
  const where = [
    ...(after ? [`EVENT_TIMESTAMP >= ${asValue("t", ts)}`, `(EVENT_TIMESTAMP > ${asValue("t", ts)} OR ID > :id)`] : []),
    `EVENT_TIMESTAMP <= ${asValue("upper", ts)}`,
  ].join(" AND ");
  const binds: Record<string, string | number> = {
    ...(after ? { t: after.ts, id: after.id } : {}),
    upper,
    n,
    ...(usesZone(kinds, "eventTimestamp", "createdAt") ? { zone } : {}),
    ...(guarded ? { maxlen: maxEventDataLength } : {}),
  };
  return {
    sql: `${SELECT_LIST(kinds, guarded)} FROM ${table} WHERE ${where} ORDER BY EVENT_TIMESTAMP, ID FETCH FIRST :n ROWS ONLY`,
    binds,
  };
}

/** The newest (EVENT_TIMESTAMP, ID) at or below `upper`. */
export function latestStatement(table: string, kinds: ColumnKinds, zone: string, upper: string): Statement {
  const ts = kinds.eventTimestamp;
  return {
    sql: `SELECT ID, ${asText("EVENT_TIMESTAMP", ts)} AS EVENT_TS FROM ${table} WHERE EVENT_TIMESTAMP <= ${asValue("upper", ts)} ORDER BY EVENT_TIMESTAMP DESC, ID DESC FETCH FIRST 1 ROWS ONLY`,
    binds: { upper, ...(usesZone(kinds, "eventTimestamp") ? { zone } : {}) },
  };
}

/** The database clock and the read's upper bound (clock - lag), both as wall-clock text in the configured zone, in one round trip. */
export function clockStatement(zone: string, lagSeconds: number): Statement {
  return {
    sql: `SELECT TO_CHAR(SYSTIMESTAMP AT TIME ZONE :zone, '${TS_FORMAT}') AS DB_NOW, TO_CHAR((SYSTIMESTAMP AT TIME ZONE :zone) - NUMTODSINTERVAL(:lag, 'SECOND'), '${TS_FORMAT}') AS UPPER_BOUND FROM DUAL`,
    binds: { zone, lag: lagSeconds },
  };
}

/**
 * RowSource.countAfter: rows strictly after (t, id) (all when `after` is null), at or below
 * `upper`, counted up to `n`. pageStatement's WHERE clause (the same seek predicate and index
 * range start), no ORDER BY, and FETCH FIRST bounding the work. One row: N.
 */
export function countAfterStatement(
  table: string,
  kinds: ColumnKinds,
  zone: string,
  after: { ts: string; id: string } | null,
  upper: string,
  n: number,
): Statement {
  const ts = kinds.eventTimestamp;
  const where = [
    ...(after ? [`EVENT_TIMESTAMP >= ${asValue("t", ts)}`, `(EVENT_TIMESTAMP > ${asValue("t", ts)} OR ID > :id)`] : []),
    `EVENT_TIMESTAMP <= ${asValue("upper", ts)}`,
  ].join(" AND ");
  return {
    sql: `SELECT COUNT(*) AS N FROM (SELECT 1 FROM ${table} WHERE ${where} FETCH FIRST :n ROWS ONLY)`,
    binds: { ...(after ? { t: after.ts, id: after.id } : {}), upper, n, ...(usesZone(kinds, "eventTimestamp") ? { zone } : {}) },
  };
}

/** countBetween (the rewind's estimate): rows with (a, aid) < (EVENT_TIMESTAMP, ID) <= (b, bid), counted up to `n`. One row: N. */
export function countBetweenStatement(
  table: string,
  kinds: ColumnKinds,
  zone: string,
  after: { ts: string; id: string },
  through: { ts: string; id: string },
  n: number,
): Statement {
  const ts = kinds.eventTimestamp;
  const a = asValue("a", ts);
  const b = asValue("b", ts);
  return {
    sql: `SELECT COUNT(*) AS N FROM (SELECT 1 FROM ${table} WHERE EVENT_TIMESTAMP >= ${a} AND (EVENT_TIMESTAMP > ${a} OR ID > :aid) AND EVENT_TIMESTAMP <= ${b} AND (EVENT_TIMESTAMP < ${b} OR ID <= :bid) FETCH FIRST :n ROWS ONLY)`,
    binds: { a: after.ts, aid: after.id, b: through.ts, bid: through.id, n, ...(usesZone(kinds, "eventTimestamp") ? { zone } : {}) },
  };
}
