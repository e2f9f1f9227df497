/**
 * An in-memory stand-in for the node-oracledb module (Thin mode), for unit tests of the
 * Oracle source. Shapes follow node-oracledb 26 (node_modules/oracledb/lib):
 *  - createPool(attrs) -> Pool {getConnection(), close(drainTime?)}: close() with busy
 *    connections fails NJS-104, close(n) waits up to n s then force-closes (lib/pool.js);
 *  - Connection {callTimeout, execute(sql, binds, options), close({drop}), release()} with
 *    release an alias of close (lib/connection.js); a closed connection fails NJS-003;
 *  - execute() returns {rows, metaData}; honours outFormat (OUT_FORMAT_ARRAY 4001 /
 *    OUT_FORMAT_OBJECT 4002), maxRows, and fetchTypeHandler(metaData) whose {type} must be a
 *    DbType with a supported conversion, else NJS-119 (lib/impl/resultset.js);
 *    default fetch types are lossy exactly like the driver: NUMBER -> JS number,
 *    CLOB -> Lob object, DATE/TIMESTAMP -> JS Date in the process's local zone;
 *  - DbType constants carry the driver's num/name/columnTypeName (lib/types.js);
 *  - errors: Error("ORA-00942: ...") with code "ORA-00942", errorNum 942; ORA codes that thin
 *    maps to a dead connection become code NJS-500 with the ORA text on the next line
 *    (lib/errors.js transformErr); NJS errors carry code and isRecoverable.
 *  - the session time zone is the process's UTC offset at connect time, as Thin's
 *    auth message sets it (lib/thin/protocol/messages/auth.js), so LOCALTIMESTAMP and naive
 *    vs zoned comparisons depend on TZ here as they do against a real database.
 * SQL is really evaluated by a small interpreter (SELECT list, WHERE with AND/OR/comparisons,
 * ORDER BY with select-alias resolution, FETCH FIRST, and the datetime functions the source
 * uses); anything it does not understand throws, so a test can never pass on unparsed SQL.
 */

export class FakeDbType {
  constructor(
    readonly num: number,
    readonly name: string,
    readonly columnTypeName: string,
  ) {}
  toString(): string {
    return `[DbType ${this.name}]`;
  }
}

const T = (num: number, name: string, col: string) => new FakeDbType(num, name, col);
export const DB_TYPE_VARCHAR = T(2001, "DB_TYPE_VARCHAR", "VARCHAR2");
export const DB_TYPE_NVARCHAR = T(2002, "DB_TYPE_NVARCHAR", "NVARCHAR2");
export const DB_TYPE_CHAR = T(2003, "DB_TYPE_CHAR", "CHAR");
export const DB_TYPE_NCHAR = T(2004, "DB_TYPE_NCHAR", "NCHAR");
export const DB_TYPE_NUMBER = T(2010, "DB_TYPE_NUMBER", "NUMBER");
export const DB_TYPE_DATE = T(2011, "DB_TYPE_DATE", "DATE");
export const DB_TYPE_TIMESTAMP = T(2012, "DB_TYPE_TIMESTAMP", "TIMESTAMP");
export const DB_TYPE_TIMESTAMP_TZ = T(2013, "DB_TYPE_TIMESTAMP_TZ", "TIMESTAMP WITH TIME ZONE");
export const DB_TYPE_TIMESTAMP_LTZ = T(2014, "DB_TYPE_TIMESTAMP_LTZ", "TIMESTAMP WITH LOCAL TIME ZONE");
export const DB_TYPE_CLOB = T(2017, "DB_TYPE_CLOB", "CLOB");
export const DB_TYPE_NCLOB = T(2018, "DB_TYPE_NCLOB", "NCLOB");
export const DB_TYPE_BLOB = T(2019, "DB_TYPE_BLOB", "BLOB");
export const DB_TYPE_LONG = T(2024, "DB_TYPE_LONG", "LONG");
export const DB_TYPE_RAW = T(2006, "DB_TYPE_RAW", "RAW");
export const DB_TYPE_LONG_RAW = T(2025, "DB_TYPE_LONG_RAW", "LONG RAW");
export const DB_TYPE_JSON = T(2027, "DB_TYPE_JSON", "JSON");
export const DB_TYPE_LONG_NVARCHAR = T(2031, "DB_TYPE_LONG_NVARCHAR", "LONG");

/** lib/types.js DB_TYPE_CONVERSION_MAP, the entries reachable from this table's types. */
const CONVERSIONS = new Map<FakeDbType, Map<FakeDbType, FakeDbType>>([
  [DB_TYPE_NUMBER, new Map([[DB_TYPE_VARCHAR, DB_TYPE_VARCHAR]])],
  [
    DB_TYPE_CLOB,
    new Map([
      [DB_TYPE_VARCHAR, DB_TYPE_LONG],
      [DB_TYPE_LONG, DB_TYPE_LONG],
    ]),
  ],
  [
    DB_TYPE_NCLOB,
    new Map([
      [DB_TYPE_VARCHAR, DB_TYPE_LONG_NVARCHAR],
      [DB_TYPE_NVARCHAR, DB_TYPE_LONG_NVARCHAR],
    ]),
  ],
  [DB_TYPE_CHAR, new Map([[DB_TYPE_VARCHAR, DB_TYPE_VARCHAR]])],
  [
    DB_TYPE_BLOB,
    new Map([
      [DB_TYPE_RAW, DB_TYPE_LONG_RAW],
      [DB_TYPE_LONG_RAW, DB_TYPE_LONG_RAW],
    ]),
  ],
  [DB_TYPE_JSON, new Map([[DB_TYPE_VARCHAR, DB_TYPE_VARCHAR]])],
  [DB_TYPE_NVARCHAR, new Map([[DB_TYPE_VARCHAR, DB_TYPE_NVARCHAR]])],
]);

export const OUT_FORMAT_ARRAY = 4001;
export const OUT_FORMAT_OBJECT = 4002;

// ---- Errors shaped like the driver's ----

const TEXT: Record<string, string> = {
  "ORA-00028": "your session has been killed",
  "ORA-00060": "deadlock detected while waiting for resource",
  "ORA-00904": "invalid identifier",
  "ORA-00942": "table or view does not exist",
  "ORA-01017": "invalid credential or not authorized; logon denied",
  "ORA-01031": "insufficient privileges",
  "ORA-01033": "ORACLE initialization or shutdown in progress",
  "ORA-01089": "immediate shutdown or close in progress - no operations are permitted",
  "ORA-03113": "end-of-file on communication channel",
  "NJS-003": "invalid or closed connection",
  "NJS-040": 'connection request timeout. Request exceeded "queueTimeout" of 60000',
  "NJS-065": "connection pool was closed",
  "NJS-104": "connection pool cannot be closed because connections are busy",
  "NJS-500": "connection to Oracle Database was closed or broken",
  "NJS-503": "connection to host db port 1521 could not be established. (CONNECTION_ID=x)",
};
/** ORA codes thin rewrites to NJS-500 (a subset of lib/errors.js adjustErrorXref). */
const DEAD_CONNECTION_ORA = new Set(["ORA-00028", "ORA-01012", "ORA-01089", "ORA-03113", "ORA-03114", "ORA-03135", "ORA-12537"]);

export type DriverError = Error & { code: string; errorNum?: number; offset?: number; isRecoverable?: boolean };

/** An error as node-oracledb 26 Thin would raise it for `code`. */
export function driverError(code: string, text = TEXT[code] ?? "simulated failure"): DriverError {
  const err = new Error(`${code}: ${text}`) as DriverError;
  err.code = code;
  if (code.startsWith("ORA-")) {
    err.errorNum = Number(code.slice(4));
    err.offset = 0;
    err.message += `\nHelp: https://docs.oracle.com/error-help/db/ora-${code.slice(4)}/`;
    if (DEAD_CONNECTION_ORA.has(code)) {
      err.code = "NJS-500";
      err.message = `NJS-500: ${TEXT["NJS-500"]}\n${err.message}`;
    }
  }
  err.isRecoverable = err.code === "NJS-500";
  return err;
}

/** What node-oracledb hands back for a CLOB/NCLOB/BLOB fetched without a string or buffer fetch type. */
export class FakeLob {
  constructor(
    private readonly text: string,
    readonly type: FakeDbType = DB_TYPE_CLOB,
  ) {}
  async getData(): Promise<string> {
    return this.text;
  }
}

// ---- Pool and connection ----

export interface ExecuteRecord {
  connectionId: number;
  sql: string;
  binds: Record<string, unknown>;
  options: Record<string, unknown>;
  /** Rows fetched from the server so far (for a cursor: prefetched and fetched by getRows). */
  rowsReturned: number;
  /** How the (EVENT_TIMESTAMP, ID) index served the query, and how many entries it visited. */
  plan: Plan;
}
/**
 * The access path Oracle's optimizer would take with an index on (EVENT_TIMESTAMP, ID):
 * a range start only from a top-level `EVENT_TIMESTAMP >=|>|= <value>` conjunct whose value
 * has the column's own type (otherwise the column is converted and the index cannot seek);
 * no sort when ORDER BY follows the index; a COUNT STOPKEY (FETCH FIRST) ends the walk.
 */
export interface Plan {
  rangeStart: boolean;
  sort: boolean;
  rowsExamined: number;
}
export interface InjectRule {
  on: "getConnection" | "execute" | "getRows" | "createPool";
  /** Driver code (made into a driver-shaped error) or a factory. */
  error: string | (() => Error);
  /** Only calls whose SQL matches (execute only). */
  match?: RegExp;
  /** Matching calls to let through first. */
  skip?: number;
  /** How many matching calls fail (default 1). */
  times?: number;
}
type FetchTypeHandler = (meta: FakeMetaData) => { type?: FakeDbType; converter?: (v: unknown) => unknown } | undefined;
export interface FakeMetaData {
  name: string;
  dbType: FakeDbType;
  dbTypeName: string;
  fetchType?: FakeDbType;
  nullable: boolean;
  precision?: number;
  scale?: number;
}
export interface FakeExecuteOptions {
  outFormat?: number;
  fetchTypeHandler?: FetchTypeHandler;
  maxRows?: number;
  fetchArraySize?: number;
  prefetchRows?: number;
  resultSet?: boolean;
}

export class FakeConnection {
  callTimeout = 0;
  readonly oracleServerVersion: number;
  readonly oracleServerVersionString: string;
  state: "open" | "released" | "dropped" | "killed" | "forceClosed" = "open";
  readonly sessionTimeZone: string;
  constructor(
    readonly id: number,
    readonly db: FakeOracle,
    private readonly pool: FakePool,
  ) {
    this.sessionTimeZone = processSessionZone();
    this.oracleServerVersion = db.serverVersion;
    const v = String(db.serverVersion).padStart(10, "0");
    this.oracleServerVersionString = [v.slice(0, 2), v.slice(2, 4), v.slice(4, 6), v.slice(6, 8), v.slice(8)].map(Number).join(".");
  }

  /** SQL texts whose LOB columns already have their define (Thin's statement cache). */
  private readonly defined = new Set<string>();
  private inFlight: Promise<unknown> | null = null;
  /** `silent`: the network drops every packet of this session; `stalled`: the server does not answer but honours a break. */
  link: "ok" | "silent" | "stalled" = "ok";

  /**
   * One call to the database. With the network silently gone it never settles, callTimeout
   * or not (Thin sends a break and waits for an answer that never comes); with a stalled but
   * reachable server, callTimeout ends it with NJS-123 (lib/thin/protocol/protocol.js).
   */
  call<T>(work: () => T): Promise<T> {
    if (this.state === "released" || this.state === "dropped") return Promise.reject(driverError("NJS-003"));
    const run = (async () => {
      await this.db.gate;
      if (this.link === "silent") await NEVER;
      if (this.link === "stalled") {
        if (this.callTimeout <= 0) await NEVER;
        await new Promise((resolve) => setTimeout(resolve, this.callTimeout));
        throw driverError("NJS-123", `call timeout of ${this.callTimeout} ms exceeded`);
      }
      if (this.state === "killed" || this.state === "forceClosed") throw driverError("ORA-00028");
      return work();
    })();
    this.inFlight = run;
    const clear = () => {
      if (this.inFlight === run) this.inFlight = null;
    };
    run.then(clear, clear);
    return run;
  }

  async execute(
    sql: string,
    binds: Record<string, unknown> = {},
    options: FakeExecuteOptions = {},
  ): Promise<{ rows?: unknown[]; resultSet?: FakeResultSet; metaData: FakeMetaData[] }> {
    const record: ExecuteRecord = { connectionId: this.id, sql, binds: { ...binds }, options: { ...options }, rowsReturned: 0, plan: NO_PLAN };
    this.db.executes.push(record);
    return this.call(() => {
      this.db.takeInjected("execute", sql);
      const env: SqlEnv = {
        binds,
        tables: this.db.tables,
        nowUtc: this.db.nowUtc,
        dbOsZone: this.db.dbOsZone,
        sessionZone: this.sessionTimeZone,
        serverVersion: this.oracleServerVersion,
        error: driverError,
      };
      const result = evaluateSelect(sql, env);
      record.plan = result.plan;
      const meta = result.columns.map((c) => this.fetchMeta(c, options.fetchTypeHandler));
      const rows = result.rows.map((r) => r.map((v, i) => convertOut(v, meta[i] as FakeMetaData, this.db)));
      const shaped = options.outFormat === OUT_FORMAT_OBJECT ? rows.map((r) => Object.fromEntries(meta.map((m, i) => [m.name, r[i]]))) : rows;
      // Round trips as Thin makes them (lib/thin/protocol/messages/withData.js, execute.js):
      // a query with a LOB/JSON column needs a define round trip the first time the statement
      // runs on a connection, and never prefetches; others prefetch `prefetchRows` (default 2).
      const lob = meta.some((m) => LOB_TYPES.has(m.dbType));
      this.db.roundTrips += lob && !this.defined.has(sql) ? 2 : 1;
      if (lob) this.defined.add(sql);
      const cursor = new FakeResultSet(this, shaped, lob ? 0 : (options.prefetchRows ?? 2), meta, record);
      if (options.resultSet) {
        this.db.resultSetsOpen++;
        return { resultSet: cursor, metaData: meta };
      }
      return { rows: cursor.allRows(options.fetchArraySize ?? 100, options.maxRows ?? 0), metaData: meta };
    });
  }

  async close(options?: { drop?: boolean }): Promise<void> {
    if (this.state === "released" || this.state === "dropped") throw driverError("NJS-003");
    // Closing waits for the call in flight: on a dead network, forever.
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    this.state = options?.drop ? "dropped" : "released";
    this.pool.checkIn(this);
  }

  release(options?: { drop?: boolean }): Promise<void> {
    return this.close(options);
  }

  private fetchMeta(col: { name: string; dbType: FakeDbType; precision?: number }, handler?: FetchTypeHandler): FakeMetaData {
    const meta: FakeMetaData = { name: col.name, dbType: col.dbType, dbTypeName: col.dbType.columnTypeName, nullable: true };
    if (col.precision !== undefined) meta.precision = col.precision;
    const wanted = handler?.({ ...meta });
    let fetchType = col.dbType;
    if (wanted?.type !== undefined) {
      if (!(wanted.type instanceof FakeDbType)) throw driverError("NJS-121", 'fetchTypeHandler return value attribute "type" should be a valid database type');
      if (wanted.type !== col.dbType) {
        const actual = CONVERSIONS.get(col.dbType)?.get(wanted.type);
        if (!actual) throw driverError("NJS-119", `conversion from type ${col.dbType.name} to type ${wanted.type.name} is not supported`);
        fetchType = actual;
      }
    }
    return { ...meta, fetchType };
  }
}

/** Converts a stored value the way the driver would for the column's fetch type. */
function convertOut(v: unknown, meta: FakeMetaData, db: FakeOracle): unknown {
  if (v === null) return null;
  const nationalCharset = db.nationalCharset;
  if (LOB_TYPES.has(meta.dbType)) db.lobBytesFetched += Buffer.byteLength(String(v));
  // Thin decodes NCHAR data only in AL16UTF16 (lib/thin/protocol/capabilities.js checkNCharsetId).
  if ((meta.dbType === DB_TYPE_NCLOB || meta.dbType === DB_TYPE_NVARCHAR) && nationalCharset !== "AL16UTF16") {
    throw driverError("NJS-100", "national character set id 871 is not supported by node-oracledb in Thin mode");
  }
  const asText =
    meta.fetchType === DB_TYPE_VARCHAR || meta.fetchType === DB_TYPE_LONG || meta.fetchType === DB_TYPE_LONG_NVARCHAR || meta.fetchType === DB_TYPE_NVARCHAR;
  switch (meta.dbType) {
    case DB_TYPE_NUMBER:
      return asText ? String(v) : Number(v); // the driver's default: a JS number, lossy past 2^53
    case DB_TYPE_CLOB:
    case DB_TYPE_NCLOB:
      return asText ? String(v) : new FakeLob(String(v), meta.dbType);
    case DB_TYPE_BLOB: // stored as the text its bytes encode
      return meta.fetchType === DB_TYPE_LONG_RAW ? Buffer.from(String(v), "utf8") : new FakeLob(String(v), DB_TYPE_BLOB);
    case DB_TYPE_JSON: // the driver decodes OSON into a JS value unless asked for text
      return asText ? String(v) : JSON.parse(String(v));
    case DB_TYPE_DATE:
    case DB_TYPE_TIMESTAMP: {
      // Default: a Date in the process's local zone, milliseconds only.
      const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?/.exec(String(v));
      if (!m) return v;
      const ms = Math.floor(Number(`0.${m[7] ?? "0"}`) * 1000);
      return new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
    }
    default:
      return v;
  }
}

const NEVER = new Promise<never>(() => {});
const LOB_TYPES = new Set([DB_TYPE_CLOB, DB_TYPE_NCLOB, DB_TYPE_BLOB, DB_TYPE_JSON]);

/**
 * A query's cursor (lib/thin/resultSet.js): rows arrive in the execute's prefetch and then one
 * round trip per getRows(n) that finds fewer than n rows buffered, asking for the missing
 * ones. The server says "no more" only when a fetch returns fewer rows than asked.
 */
export class FakeResultSet {
  private delivered = 0;
  private buffered: number;
  private more: boolean;
  closed = false;
  constructor(
    private readonly conn: FakeConnection,
    private readonly rows: unknown[],
    prefetch: number,
    readonly metaData: FakeMetaData[],
    private readonly record: ExecuteRecord,
  ) {
    this.buffered = Math.min(prefetch, rows.length);
    record.rowsReturned = this.buffered;
    this.more = prefetch === 0 || rows.length >= prefetch;
  }

  private take(n: number): unknown[] {
    if (this.buffered - this.delivered < n && this.more) {
      const want = n - (this.buffered - this.delivered);
      const got = Math.min(want, this.rows.length - this.buffered);
      this.buffered += got;
      this.record.rowsReturned = this.buffered;
      this.more = got === want;
      this.conn.db.roundTrips++;
    }
    const out = this.rows.slice(this.delivered, Math.min(this.buffered, this.delivered + n));
    this.delivered += out.length;
    return out;
  }

  getRows(n: number): Promise<unknown[]> {
    if (this.closed) return Promise.reject(driverError("NJS-018", "invalid ResultSet"));
    const db = this.conn.db;
    return this.conn.call(() => {
      db.takeInjected("getRows");
      return this.take(n);
    });
  }

  /** Closing a cursor is piggybacked on the next call: no round trip of its own. */
  async close(): Promise<void> {
    if (this.closed) throw driverError("NJS-018", "invalid ResultSet");
    this.closed = true;
    this.conn.db.resultSetsOpen--;
  }

  /** execute() without resultSet: getRows(fetchArraySize) until maxRows or a short batch (lib/resultset.js _getAllRows). */
  allRows(fetchArraySize: number, maxRows: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const want = maxRows > 0 ? Math.min(fetchArraySize, maxRows - out.length) : fetchArraySize;
      const got = this.take(want);
      out.push(...got);
      if ((maxRows > 0 && out.length >= maxRows) || got.length < want) break;
    }
    return out;
  }
}

function processSessionZone(): string {
  if (process.env.ORA_SDTZ) return process.env.ORA_SDTZ;
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export class FakePool {
  status: "open" | "closed" = "open";
  private readonly out = new Set<FakeConnection>();
  private waiters: (() => void)[] = [];
  constructor(
    private readonly db: FakeOracle,
    readonly attributes: Record<string, unknown>,
  ) {}

  get connectionsInUse(): number {
    return this.out.size;
  }

  async getConnection(): Promise<FakeConnection> {
    this.db.getConnectionCalls++;
    if (this.status === "closed") throw driverError("NJS-065");
    this.db.takeInjected("getConnection");
    // Thin refuses servers older than 12.1 during the connect handshake.
    if (this.db.serverVersion < 1201000000)
      throw driverError("NJS-138", "connections to this database server version are not supported by node-oracledb in Thin mode");
    const max = Number(this.attributes.poolMax ?? 4);
    while (this.out.size >= max) {
      // The real pool queues for queueTimeout (60 s); tests use a short wait.
      const freed = await Promise.race([
        new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), this.db.queueTimeoutMs)),
      ]);
      if (!freed) throw driverError("NJS-040");
      if ((this.status as string) === "closed") throw driverError("NJS-065");
    }
    const conn = new FakeConnection(++this.db.connectionSeq, this.db, this);
    this.out.add(conn);
    this.db.connections.push(conn);
    return conn;
  }

  checkIn(conn: FakeConnection): void {
    this.out.delete(conn);
    this.waiters.shift()?.();
    if (this.out.size === 0) this.allIn?.();
  }

  private allIn: (() => void) | undefined;

  async close(drainTime?: number): Promise<void> {
    if (this.status === "closed") throw driverError("NJS-065");
    if (drainTime === undefined && this.out.size > 0) throw driverError("NJS-104");
    if (drainTime !== undefined && drainTime > 0 && this.out.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainTime * 1000);
        this.allIn = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const conn of this.out) conn.state = "forceClosed";
    this.out.clear();
    this.status = "closed";
    this.db.poolsClosed++;
  }
}

// ---- The database and the module object ----

type Datetime = "TIMESTAMP" | "DATE" | "TIMESTAMP WITH TIME ZONE" | "TIMESTAMP WITH LOCAL TIME ZONE";
export interface FakeColumnTypes {
  ID: "NUMBER" | "VARCHAR2";
  CASE_ID: "VARCHAR2" | "NUMBER";
  EVENT_TYPE: "VARCHAR2";
  EVENT_DATA: "CLOB" | "NCLOB" | "VARCHAR2" | "NVARCHAR2" | "JSON" | "BLOB";
  EVENT_TIMESTAMP: Datetime;
  CREATED_AT: Datetime;
}
/** A row as stored: NUMBER as decimal text, TIMESTAMP/DATE as wall text, TIMESTAMP WITH [LOCAL] TIME ZONE as `wall +HH:MM`. */
export interface FakeRow {
  ID: string;
  CASE_ID: string | null;
  EVENT_TYPE: string | null;
  EVENT_DATA: string | null;
  EVENT_TIMESTAMP: string;
  CREATED_AT: string | null;
}

const TYPE_BY_NAME: Record<string, FakeDbType> = {
  NUMBER: DB_TYPE_NUMBER,
  VARCHAR2: DB_TYPE_VARCHAR,
  CLOB: DB_TYPE_CLOB,
  NCLOB: DB_TYPE_NCLOB,
  NVARCHAR2: DB_TYPE_NVARCHAR,
  JSON: DB_TYPE_JSON,
  BLOB: DB_TYPE_BLOB,
  DATE: DB_TYPE_DATE,
  TIMESTAMP: DB_TYPE_TIMESTAMP,
  "TIMESTAMP WITH TIME ZONE": DB_TYPE_TIMESTAMP_TZ,
  "TIMESTAMP WITH LOCAL TIME ZONE": DB_TYPE_TIMESTAMP_LTZ,
};

export class FakeOracle {
  readonly tables = new Map<string, FakeTable>();
  readonly executes: ExecuteRecord[] = [];
  readonly connections: FakeConnection[] = [];
  readonly pools: FakePool[] = [];
  getConnectionCalls = 0;
  poolsClosed = 0;
  initOracleClientCalls = 0;
  connectionSeq = 0;
  queueTimeoutMs = 200;
  /** The database server's clock (UTC wall text) and its OS zone (what SYSTIMESTAMP carries). */
  private fixedNow: string | null = "2026-03-01 12:00:00.000000";
  get nowUtc(): string {
    if (this.fixedNow !== null) return this.fixedNow;
    const iso = new Date().toISOString(); // UTC whatever TZ says
    return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
  }
  set nowUtc(text: string) {
    this.fixedNow = text;
  }
  /** From now on the database clock follows the machine's clock instead of a fixed instant. */
  useRealClock(): void {
    this.fixedNow = null;
  }
  dbOsZone = "+00:00";
  /** connection.oracleServerVersion: major*1e8 + minor*1e6 + update*1e4 + ... (lib/thin/connection.js). */
  serverVersion = 2307000000;
  /** NLS_NCHAR_CHARACTERSET; Thin can decode NCHAR/NVARCHAR2/NCLOB values only in AL16UTF16. */
  nationalCharset = "AL16UTF16";
  /** Resolved immediately unless a test holds executes with `holdExecutes()`. */
  gate: Promise<void> = Promise.resolve();
  /** Round trips to the database, counted as Thin makes them. */
  roundTrips = 0;
  resultSetsOpen = 0;
  /** Bytes of LOB values handed to the client (what a memory guard must keep small). */
  lobBytesFetched = 0;
  private rules: (InjectRule & { seen: number; failed: number })[] = [];

  /** The module object the adapter receives as `driver`. */
  readonly driver = {
    OUT_FORMAT_ARRAY,
    OUT_FORMAT_OBJECT,
    STRING: DB_TYPE_VARCHAR,
    NUMBER: DB_TYPE_NUMBER,
    DB_TYPE_VARCHAR,
    DB_TYPE_NVARCHAR,
    DB_TYPE_CHAR,
    DB_TYPE_NCHAR,
    DB_TYPE_NUMBER,
    DB_TYPE_RAW,
    DB_TYPE_BLOB,
    DB_TYPE_JSON,
    DB_TYPE_CLOB,
    DB_TYPE_NCLOB,
    DB_TYPE_DATE,
    DB_TYPE_TIMESTAMP,
    DB_TYPE_TIMESTAMP_TZ,
    DB_TYPE_TIMESTAMP_LTZ,
    createPool: async (attributes: object): Promise<FakePool> => {
      const attrs = attributes as Record<string, unknown>;
      for (const k of ["user", "password", "connectString"]) {
        if (attrs[k] !== undefined && typeof attrs[k] !== "string") throw driverError("NJS-007", `invalid value for "${k}" in parameter 1`);
      }
      for (const k of ["poolMin", "poolMax", "poolIncrement", "poolTimeout", "expireTime"]) {
        const v = attrs[k];
        if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)) throw driverError("NJS-007", `invalid value for "${k}" in parameter 1`);
      }
      this.takeInjected("createPool");
      const pool = new FakePool(this, { ...attrs });
      this.pools.push(pool);
      return pool;
    },
    initOracleClient: (): void => {
      this.initOracleClientCalls++;
    },
  };

  /** Creates (or replaces) a table; `name` as the SQL will spell it, matched case-insensitively. */
  createTable(name: string, rows: FakeRow[] = [], types: Partial<FakeColumnTypes> = {}, timestampPrecision = 6): void {
    const all: FakeColumnTypes = {
      ID: "NUMBER",
      CASE_ID: "VARCHAR2",
      EVENT_TYPE: "VARCHAR2",
      EVENT_DATA: "CLOB",
      EVENT_TIMESTAMP: "TIMESTAMP",
      CREATED_AT: "TIMESTAMP",
      ...types,
    };
    const columns = Object.entries(all).map(([col, type]) => ({
      name: col,
      dbType: TYPE_BY_NAME[type] as FakeDbType,
      ...(type.startsWith("TIMESTAMP") ? { precision: timestampPrecision } : {}),
    }));
    this.tables.set(name.toUpperCase(), { columns, rows: rows.map((r) => ({ ...r }) as Record<string, string | null>) });
  }

  insert(name: string, rows: FakeRow[]): void {
    const table = this.tables.get(name.toUpperCase());
    if (!table) throw new Error(`fake: no table ${name}`);
    table.rows.push(...rows.map((r) => ({ ...r }) as Record<string, string | null>));
  }

  inject(rule: InjectRule): void {
    this.rules.push({ ...rule, seen: 0, failed: 0 });
  }

  /** Called by the fake itself before each operation; throws when a rule says so. */
  takeInjected(on: InjectRule["on"], sql?: string): void {
    for (const rule of this.rules) {
      if (rule.on !== on || (rule.match && !(sql !== undefined && rule.match.test(sql)))) continue;
      rule.seen++;
      if (rule.seen <= (rule.skip ?? 0) || rule.failed >= (rule.times ?? 1)) continue;
      rule.failed++;
      throw typeof rule.error === "string" ? driverError(rule.error) : rule.error();
    }
  }

  /** The sessions checked out now lose their network silently (`silent`) or their server stalls (`stalled`); new ones are fine. */
  breakSessions(link: "silent" | "stalled"): void {
    for (const c of this.connections) if (c.state === "open") c.link = link;
  }

  /** Kills every session currently checked out (like ALTER SYSTEM KILL SESSION). */
  killSessions(): void {
    for (const c of this.connections) if (c.state === "open") c.state = "killed";
  }

  /** Makes every execute wait until the returned function is called. */
  holdExecutes(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return () => {
      this.gate = Promise.resolve();
      release();
    };
  }

  /** Connections checked out and not yet returned (or dropped) by the caller. */
  get connectionsOut(): number {
    return this.connections.filter((c) => c.state === "open" || c.state === "killed").length;
  }

  /** Executes whose SQL matches. */
  executed(match: RegExp): ExecuteRecord[] {
    return this.executes.filter((e) => match.test(e.sql));
  }
}

// ---- A small SQL interpreter: just the SELECT dialect the Oracle source speaks ----

interface FakeTable {
  columns: { name: string; dbType: FakeDbType; precision?: number }[];
  rows: Record<string, string | null>[];
}
interface SqlEnv {
  binds: Record<string, unknown>;
  tables: Map<string, FakeTable>;
  nowUtc: string;
  dbOsZone: string;
  sessionZone: string;
  serverVersion: number;
  error: (code: string, text?: string) => Error;
}
type Val =
  | { t: "null" }
  | { t: "num"; v: string }
  | { t: "str"; v: string }
  | { t: "ts"; us: bigint } // naive wall time
  | { t: "date"; us: bigint } // naive wall time, whole seconds
  | { t: "tstz"; us: bigint; zone: string } // us is the UTC instant
  | { t: "ltz"; us: bigint } // TIMESTAMP WITH LOCAL TIME ZONE: the UTC instant, shown in the session zone
  | { t: "ival"; us: bigint }
  | { t: "bool"; v: boolean | null };
type Node =
  | { k: "lit"; v: Val }
  | { k: "bind"; name: string }
  | { k: "id"; name: string }
  | { k: "fn"; name: string; args: Node[] }
  | { k: "cast"; e: Node; type: string }
  | { k: "atz"; e: Node; zone: Node }
  | { k: "case"; when: Node; then: Node; else?: Node }
  | { k: "bin"; op: string; l: Node; r: Node };
interface Tok {
  k: "id" | "bind" | "str" | "num" | "op";
  v: string;
}

const NULL: Val = { t: "null" };
const TOKEN = /\s+|'(?:[^']|'')*'|:[A-Za-z][A-Za-z0-9_]*|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_$#]*(?:\.[A-Za-z_][A-Za-z0-9_$#]*)?|<=|>=|<>|!=|\|\||[=<>(),+\-*]/y;

function tokenize(sql: string): Tok[] {
  const toks: Tok[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < sql.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(sql);
    if (!m) throw new Error(`fake-oracledb: cannot tokenize SQL at ${JSON.stringify(sql.slice(at, at + 20))}`);
    const s = m[0];
    if (/^\s/.test(s)) continue;
    if (s.startsWith("'")) toks.push({ k: "str", v: s.slice(1, -1).replace(/''/g, "'") });
    else if (s.startsWith(":")) toks.push({ k: "bind", v: s.slice(1).toUpperCase() });
    else if (/^\d/.test(s)) toks.push({ k: "num", v: s });
    else if (/^[A-Za-z_]/.test(s)) toks.push({ k: "id", v: s.toUpperCase() });
    else toks.push({ k: "op", v: s });
  }
  return toks;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  peek(v?: string): boolean {
    const t = this.toks[this.i];
    return t !== undefined && (v === undefined || ((t.k === "id" || t.k === "op") && t.v === v));
  }
  take(v?: string): Tok {
    const t = this.toks[this.i];
    if (!t || (v !== undefined && !this.peek(v))) throw new Error(`fake-oracledb: expected ${v ?? "a token"} at token ${this.i} (${t?.v ?? "end"})`);
    this.i++;
    return t;
  }
  accept(v: string): boolean {
    if (!this.peek(v)) return false;
    this.i++;
    return true;
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  expr(): Node {
    let l = this.and();
    while (this.accept("OR")) l = { k: "bin", op: "OR", l, r: this.and() };
    return l;
  }
  private and(): Node {
    let l = this.cmp();
    while (this.accept("AND")) l = { k: "bin", op: "AND", l, r: this.cmp() };
    return l;
  }
  private cmp(): Node {
    const l = this.add();
    for (const op of ["<=", ">=", "<>", "!=", "=", "<", ">"]) if (this.accept(op)) return { k: "bin", op, l, r: this.add() };
    return l;
  }
  private add(): Node {
    let l = this.atz();
    for (;;) {
      const op = ["-", "+", "||"].find((o) => this.peek(o));
      if (!op) return l;
      this.take();
      l = { k: "bin", op, l, r: this.atz() };
    }
  }
  private atz(): Node {
    const e = this.primary();
    if (this.peek("AT")) {
      this.take("AT");
      this.take("TIME");
      this.take("ZONE");
      return { k: "atz", e, zone: this.primary() };
    }
    return e;
  }
  private primary(): Node {
    const t = this.take();
    if (t.k === "num") return { k: "lit", v: { t: "num", v: t.v } };
    if (t.k === "str") return { k: "lit", v: { t: "str", v: t.v } };
    if (t.k === "bind") return { k: "bind", name: t.v };
    if (t.k === "op" && t.v === "(") {
      const e = this.expr();
      this.take(")");
      return e;
    }
    if (t.k === "id" && t.v === "NULL") return { k: "lit", v: NULL };
    if (t.k === "id" && t.v === "CASE") {
      this.take("WHEN");
      const when = this.expr();
      this.take("THEN");
      const then = this.expr();
      const node: Node = { k: "case", when, then, ...(this.accept("ELSE") ? { else: this.expr() } : {}) };
      this.take("END");
      return node;
    }
    if (t.k === "id" && t.v === "CAST") {
      this.take("(");
      const e = this.expr();
      this.take("AS");
      let type = this.take().v;
      while (!this.peek(")")) type += ` ${this.take().v}`;
      this.take(")");
      return { k: "cast", e, type };
    }
    if (t.k === "id" && this.accept("(")) {
      const args: Node[] = [];
      if (!this.peek(")"))
        do args.push(this.expr());
        while (this.accept(","));
      if (this.accept("RETURNING")) this.take(); // JSON_SERIALIZE(x RETURNING CLOB): the result type
      this.take(")");
      return { k: "fn", name: t.v, args };
    }
    if (t.k === "id") return { k: "id", name: t.v };
    throw new Error(`fake-oracledb: unexpected ${t.v}`);
  }
}

// Microsecond wall-clock arithmetic through Date.UTC only: nothing here depends on process TZ.
const WALL = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;
function parseWall(text: string): bigint | null {
  const m = WALL.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  return BigInt(ms) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"));
}
function formatWall(us: bigint, fraction: boolean): string {
  const micros = ((us % 1000000n) + 1000000n) % 1000000n;
  const d = new Date(Number((us - micros) / 1000n));
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return fraction ? `${base}.${String(micros).padStart(6, "0")}` : base;
}
function zoneOffsetUs(zone: string, utcUs: bigint, env: SqlEnv): bigint {
  const fixed = /^([+-])(\d\d):(\d\d)$/.exec(zone);
  if (fixed) return BigInt((fixed[1] === "-" ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3])) * 60) * 1000000n;
  if (/^(UTC|GMT|Z)$/i.test(zone)) return 0n;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  } catch {
    throw env.error("ORA-01882", "timezone region not found");
  }
  const seconds = utcUs / 1000000n;
  const parts = Object.fromEntries(fmt.formatToParts(new Date(Number(seconds) * 1000)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!);
  return (BigInt(wall) / 1000n - seconds) * 1000000n;
}
function wallToUtc(wallUs: bigint, zone: string, env: SqlEnv): bigint {
  const first = wallUs - zoneOffsetUs(zone, wallUs, env);
  return wallUs - zoneOffsetUs(zone, first, env);
}
function decimal(v: string, env: SqlEnv): { n: bigint; scale: number } {
  const m = /^\s*(-?)(\d+)(?:\.(\d+))?\s*$/.exec(v);
  if (!m) throw env.error("ORA-01722", "invalid number");
  const frac = m[3] ?? "";
  return { n: BigInt(`${m[1]}${m[2]}${frac}`), scale: frac.length };
}
function compareDecimal(a: string, b: string, env: SqlEnv): number {
  const x = decimal(a, env);
  const y = decimal(b, env);
  const s = Math.max(x.scale, y.scale);
  const xs = x.n * 10n ** BigInt(s - x.scale);
  const ys = y.n * 10n ** BigInt(s - y.scale);
  return xs < ys ? -1 : xs > ys ? 1 : 0;
}
const cmpBig = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** Three-way comparison with Oracle's implicit conversions; null when either side is NULL. */
function compare(a: Val, b: Val, env: SqlEnv): number | null {
  if (a.t === "null" || b.t === "null") return null;
  if (a.t === "num" && b.t === "num") return compareDecimal(a.v, b.v, env);
  if (a.t === "num" && b.t === "str") return compareDecimal(a.v, b.v, env); // the string side converts to NUMBER
  if (a.t === "str" && b.t === "num") return compareDecimal(a.v, b.v, env);
  if (a.t === "str" && b.t === "str") return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  const naive = (v: Val) => v.t === "ts" || v.t === "date";
  if (naive(a) && naive(b)) return cmpBig((a as { us: bigint }).us, (b as { us: bigint }).us);
  if ((a.t === "tstz" || a.t === "ltz") && (b.t === "tstz" || b.t === "ltz")) return cmpBig(a.us, b.us);
  // A naive datetime meets a zoned one: Oracle reads the naive one in the SESSION time zone.
  if ((a.t === "tstz" || a.t === "ltz") && naive(b)) return cmpBig(a.us, wallToUtc((b as { us: bigint }).us, env.sessionZone, env));
  if (naive(a) && (b.t === "tstz" || b.t === "ltz")) return cmpBig(wallToUtc((a as { us: bigint }).us, env.sessionZone, env), b.us);
  if ((naive(a) || a.t === "tstz") && b.t === "str") throw env.error("ORA-01843", "not a valid month"); // NLS format mismatch
  if (a.t === "str" && (naive(b) || b.t === "tstz")) throw env.error("ORA-01843", "not a valid month");
  throw env.error("ORA-00932", `inconsistent datatypes: expected ${a.t} got ${b.t}`);
}

function formatKind(fmt: string): "FF6" | "FF" | "SS" {
  const f = fmt.toUpperCase();
  if (f === "YYYY-MM-DD HH24:MI:SS.FF6") return "FF6";
  if (f === "YYYY-MM-DD HH24:MI:SS.FF") return "FF";
  if (f === "YYYY-MM-DD HH24:MI:SS") return "SS";
  throw new Error(`fake-oracledb: unsupported datetime format ${fmt}`);
}

interface RowCtx {
  table: FakeTable | null;
  row: Record<string, string | null>;
}

function colValue(table: FakeTable | null, row: Record<string, string | null>, name: string, env: SqlEnv): Val | undefined {
  const col = table?.columns.find((c) => c.name === name);
  if (!col) return undefined;
  const raw = row[name];
  if (raw === null || raw === undefined) return NULL;
  switch (col.dbType) {
    case DB_TYPE_NUMBER:
      return { t: "num", v: raw };
    case DB_TYPE_TIMESTAMP:
      return { t: "ts", us: parseWall(raw) as bigint };
    case DB_TYPE_DATE:
      return { t: "date", us: parseWall(raw) as bigint };
    case DB_TYPE_TIMESTAMP_TZ:
    case DB_TYPE_TIMESTAMP_LTZ: {
      const [d, t, zone] = raw.split(" ") as [string, string, string];
      const us = wallToUtc(parseWall(`${d} ${t}`) as bigint, zone, env);
      return col.dbType === DB_TYPE_TIMESTAMP_LTZ ? { t: "ltz", us } : { t: "tstz", us, zone };
    }
    default:
      return { t: "str", v: raw };
  }
}

function evaluate(n: Node, ctx: RowCtx, env: SqlEnv): Val {
  switch (n.k) {
    case "lit":
      return n.v;
    case "bind": {
      const key = Object.keys(env.binds).find((k) => k.toUpperCase() === n.name) as string;
      const v = env.binds[key];
      if (v === null || v === undefined) return NULL;
      if (typeof v === "string") return { t: "str", v };
      if (typeof v === "number") return { t: "num", v: String(v) }; // a JS number is already rounded past 2^53
      throw new Error(`fake-oracledb: unsupported bind value type ${typeof v}`);
    }
    case "id": {
      const col = colValue(ctx.table, ctx.row, n.name, env);
      if (col) return col;
      const now = parseWall(env.nowUtc) as bigint;
      switch (n.name) {
        case "SYSTIMESTAMP":
          return { t: "tstz", us: now, zone: env.dbOsZone };
        case "CURRENT_TIMESTAMP":
          return { t: "tstz", us: now, zone: env.sessionZone };
        case "LOCALTIMESTAMP":
          return { t: "ts", us: now + zoneOffsetUs(env.sessionZone, now, env) };
        case "SYSDATE": {
          const wall = now + zoneOffsetUs(env.dbOsZone, now, env);
          return { t: "date", us: wall - (((wall % 1000000n) + 1000000n) % 1000000n) };
        }
      }
      throw env.error("ORA-00904", `"${n.name}": invalid identifier`);
    }
    case "atz": {
      const v = evaluate(n.e, ctx, env);
      const z = evaluate(n.zone, ctx, env);
      if (v.t === "null") return NULL;
      if (z.t !== "str") throw env.error("ORA-01882", "timezone region not found");
      zoneOffsetUs(z.v, 0n, env); // validates the zone
      if (v.t === "tstz" || v.t === "ltz") return { t: "tstz", us: v.us, zone: z.v };
      if (v.t === "ts") return { t: "tstz", us: wallToUtc(v.us, env.sessionZone, env), zone: z.v };
      throw env.error("ORA-00932", "inconsistent datatypes: expected TIMESTAMP got DATE");
    }
    case "cast": {
      const v = evaluate(n.e, ctx, env);
      if (v.t === "null") return NULL;
      if (n.type === "TIMESTAMP WITH LOCAL TIME ZONE") {
        if (v.t === "tstz" || v.t === "ltz") return { t: "ltz", us: v.us };
        if (v.t === "ts" || v.t === "date") return { t: "ltz", us: wallToUtc(v.us, env.sessionZone, env) };
      }
      const wall =
        v.t === "tstz"
          ? v.us + zoneOffsetUs(v.zone, v.us, env)
          : v.t === "ltz"
            ? v.us + zoneOffsetUs(env.sessionZone, v.us, env)
            : v.t === "ts" || v.t === "date"
              ? v.us
              : null;
      if (wall === null) throw env.error("ORA-00932", "inconsistent datatypes");
      if (/^TIMESTAMP(\s*\(\s*\d\s*\))?$/.test(n.type)) return { t: "ts", us: wall };
      if (n.type === "DATE") return { t: "date", us: wall - (((wall % 1000000n) + 1000000n) % 1000000n) };
      throw new Error(`fake-oracledb: unsupported CAST to ${n.type}`);
    }
    case "case":
      return (evaluate(n.when, ctx, env) as { v: boolean | null }).v === true ? evaluate(n.then, ctx, env) : n.else ? evaluate(n.else, ctx, env) : NULL;
    case "fn":
      if (n.name === "DBMS_LOB.GETLENGTH") {
        // Characters of a CLOB (UTF-16 code units, as JS counts them), bytes of a BLOB.
        const arg = n.args[0];
        const col = arg?.k === "id" ? ctx.table?.columns.find((c) => c.name === arg.name) : undefined;
        const v = arg ? evaluate(arg, ctx, env) : NULL;
        if (v.t === "null") return NULL;
        if (v.t !== "str") throw env.error("ORA-06553", "PLS-306: wrong number or types of arguments in call to 'GETLENGTH'");
        return { t: "num", v: String(col?.dbType === DB_TYPE_BLOB ? Buffer.byteLength(v.v) : v.v.length) };
      }
      return callFunction(
        n.name,
        n.args.map((a) => evaluate(a, ctx, env)),
        env,
      );
    case "bin": {
      if (n.op === "AND" || n.op === "OR") {
        const l = evaluate(n.l, ctx, env) as { v: boolean | null };
        const r = evaluate(n.r, ctx, env) as { v: boolean | null };
        if (n.op === "AND") return { t: "bool", v: l.v === false || r.v === false ? false : l.v === null || r.v === null ? null : true };
        return { t: "bool", v: l.v === true || r.v === true ? true : l.v === null || r.v === null ? null : false };
      }
      const l = evaluate(n.l, ctx, env);
      const r = evaluate(n.r, ctx, env);
      if (n.op === "||") return { t: "str", v: (l.t === "str" ? l.v : "") + (r.t === "str" ? r.v : "") };
      if (n.op === "-" || n.op === "+") {
        if (l.t === "null" || r.t === "null") return NULL;
        if (r.t !== "ival" || !(l.t === "ts" || l.t === "tstz" || l.t === "date"))
          throw new Error(`fake-oracledb: unsupported arithmetic ${l.t} ${n.op} ${r.t}`);
        const us = n.op === "-" ? l.us - r.us : l.us + r.us;
        return { ...l, us };
      }
      const c = compare(l, r, env);
      if (c === null) return { t: "bool", v: null };
      const ok = { "=": c === 0, "<>": c !== 0, "!=": c !== 0, "<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0 }[n.op];
      if (ok === undefined) throw new Error(`fake-oracledb: unsupported operator ${n.op}`);
      return { t: "bool", v: ok };
    }
  }
}

function callFunction(name: string, args: Val[], env: SqlEnv): Val {
  const [a, b, c] = args as [Val, Val | undefined, Val | undefined];
  if (a.t === "null") return NULL;
  const str = (v: Val | undefined) => {
    if (v?.t !== "str") throw new Error(`fake-oracledb: ${name} expects a string argument`);
    return v.v;
  };
  switch (name) {
    case "TO_TIMESTAMP": {
      const kind = formatKind(str(b));
      const text = str(a);
      const ok = kind === "SS" ? /^[^.]*$/.test(text) : /\.\d{1,6}$/.test(text);
      const us = ok ? parseWall(text) : null;
      if (us === null) throw env.error("ORA-01861", "literal does not match format string");
      return { t: "ts", us };
    }
    case "TO_DATE": {
      if (formatKind(str(b)) !== "SS") throw env.error("ORA-01821", "date format not recognized");
      const text = str(a);
      if (text.length > 19) throw env.error("ORA-01830", "date format picture ends before converting entire input string");
      const us = parseWall(text);
      if (us === null) throw env.error("ORA-01861", "literal does not match format string");
      return { t: "date", us };
    }
    case "TO_CLOB": // NCLOB/NVARCHAR2 -> the database character set (AL32UTF8 under Thin)
      return { t: "str", v: str(a) };
    case "JSON_SERIALIZE": // the JSON text (Oracle writes it minified; the fake keeps it as stored)
      return { t: "str", v: str(a) };
    case "SUBSTR": {
      const start = Number((b as { v: string }).v);
      const len = c ? Number((c as { v: string }).v) : undefined;
      return { t: "str", v: str(a).substr(start - 1, len) };
    }
    case "FROM_TZ": {
      if (a.t !== "ts") throw env.error("ORA-00932", "inconsistent datatypes: expected TIMESTAMP");
      const zone = str(b);
      return { t: "tstz", us: wallToUtc(a.us, zone, env), zone };
    }
    case "NUMTODSINTERVAL": {
      if (a.t !== "num" || str(b).toUpperCase() !== "SECOND") throw new Error("fake-oracledb: NUMTODSINTERVAL(n, 'SECOND') only");
      return { t: "ival", us: BigInt(Math.round(Number(a.v) * 1e6)) };
    }
    case "TO_CHAR": {
      if (a.t === "num" || a.t === "str") return { t: "str", v: a.v };
      // A trailing "quoted" part of the mask is copied as is (Oracle's literal text in a mask).
      const [, mask = "", literal = ""] = /^(.*?)(?:"([^"]*)")?$/.exec(str(b)) ?? [];
      const kind = formatKind(mask);
      if (a.t === "date" && kind !== "SS") throw env.error("ORA-01821", "date format not recognized");
      const wall =
        a.t === "tstz" ? a.us + zoneOffsetUs(a.zone, a.us, env) : a.t === "ltz" ? a.us + zoneOffsetUs(env.sessionZone, a.us, env) : (a as { us: bigint }).us;
      return { t: "str", v: formatWall(wall, kind !== "SS") + literal };
    }
  }
  throw new Error(`fake-oracledb: unsupported function ${name}`);
}

interface Item {
  e: Node;
  alias: string;
}

function outType(item: Item, table: FakeTable | null, sample: Val | undefined): { name: string; dbType: FakeDbType; precision?: number } {
  if (item.e.k === "id") {
    const col = table?.columns.find((c) => c.name === (item.e as { name: string }).name);
    if (col) return { ...col, name: item.alias };
  }
  if (item.e.k === "case") return { ...outType({ e: item.e.then, alias: item.alias }, table, sample), name: item.alias };
  if (item.e.k === "fn" && (item.e.name === "TO_CLOB" || item.e.name === "JSON_SERIALIZE")) return { name: item.alias, dbType: DB_TYPE_CLOB };
  const byVal: Partial<Record<Val["t"], FakeDbType>> = { num: DB_TYPE_NUMBER, ts: DB_TYPE_TIMESTAMP, date: DB_TYPE_DATE, tstz: DB_TYPE_TIMESTAMP_TZ };
  return { name: item.alias, dbType: (sample && byVal[sample.t]) || DB_TYPE_VARCHAR };
}

function storedForm(v: Val, env: SqlEnv): unknown {
  switch (v.t) {
    case "null":
      return null;
    case "num":
    case "str":
      return v.v;
    case "ts":
    case "date":
      return formatWall(v.us, true);
    case "tstz":
      return `${formatWall(v.us + zoneOffsetUs(v.zone, v.us, env), true)} ${v.zone}`;
    default:
      throw new Error(`fake-oracledb: cannot return a ${v.t}`);
  }
}

/** Parses and runs one SELECT; returns column descriptions and rows of stored-form values. */
function evaluateSelect(sql: string, env: SqlEnv): { columns: { name: string; dbType: FakeDbType; precision?: number }[]; rows: unknown[][]; plan: Plan } {
  const toks = tokenize(sql);
  // Bind names must match the placeholders exactly; Thin checks before sending anything
  // (lib/thin/connection.js: NJS-098 for a count mismatch, NJS-097 for an unknown name).
  const all = toks.filter((t) => t.k === "bind").map((t) => t.v);
  const placeholders = new Set(all);
  const given = new Set(Object.keys(env.binds).map((k) => k.toUpperCase()));
  if (given.size !== placeholders.size)
    throw env.error("NJS-098", `${all.length} bind placeholders were used in the SQL statement but ${given.size} bind values were provided`);
  for (const g of given) if (!placeholders.has(g)) throw env.error("NJS-097", `no bind placeholder named ":${g}" was found in the statement text`);

  const p = new Parser(toks);
  p.take("SELECT");
  const items: Item[] = [];
  do {
    const e = p.expr();
    let alias = e.k === "id" ? e.name : "EXPR";
    if (p.accept("AS")) alias = p.take().v;
    items.push({ e, alias });
  } while (p.accept(","));
  p.take("FROM");
  const from = p.take().v;
  // Before 12.2 an identifier is at most 30 bytes.
  if (env.serverVersion < 1202000000 && from.split(".").some((part) => Buffer.byteLength(part) > 30)) throw env.error("ORA-00972", "identifier is too long");
  let where: Node | undefined;
  const order: { e: Node; desc: boolean }[] = [];
  let fetch: Node | undefined;
  if (p.accept("WHERE")) where = p.expr();
  if (p.accept("ORDER")) {
    p.take("BY");
    do {
      const e = p.expr();
      const desc = p.accept("DESC");
      if (!desc) p.accept("ASC");
      order.push({ e, desc });
    } while (p.accept(","));
  }
  if (p.accept("FETCH")) {
    p.take("FIRST");
    fetch = p.expr();
    p.take("ROWS");
    p.take("ONLY");
  }
  if (!p.done()) throw new Error("fake-oracledb: trailing SQL not understood");

  const table = from === "DUAL" ? null : (env.tables.get(from) ?? null);
  if (from !== "DUAL" && !table) throw env.error("ORA-00942", "table or view does not exist");
  const source = table ? table.rows : [{}];
  const selected: { ctx: RowCtx; vals: Val[] }[] = [];
  for (const row of source) {
    const ctx: RowCtx = { table, row };
    if (where && (evaluate(where, ctx, env) as { v: boolean | null }).v !== true) continue;
    selected.push({ ctx, vals: items.map((it) => evaluate(it.e, ctx, env)) });
  }
  // ORDER BY names resolve to select-list aliases first, then to columns (Oracle's rule).
  const keyOf = (e: Node, r: { ctx: RowCtx; vals: Val[] }): Val => {
    if (e.k === "id") {
      const idx = items.findIndex((it) => it.alias === e.name);
      if (idx >= 0) return r.vals[idx] as Val;
    }
    return evaluate(e, r.ctx, env);
  };
  selected.sort((x, y) => {
    for (const o of order) {
      const a = keyOf(o.e, x);
      const b = keyOf(o.e, y);
      if (a.t === "null" || b.t === "null") {
        if (a.t === b.t) continue;
        return (a.t === "null" ? 1 : -1) * (o.desc ? -1 : 1); // NULLS LAST ascending, FIRST descending
      }
      const c = compare(a, b, env) as number;
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  });
  let rows = selected;
  if (fetch) {
    const n = evaluate(fetch, { table: null, row: {} }, env);
    if (n.t !== "num") throw env.error("ORA-01722", "invalid number");
    rows = rows.slice(0, Math.max(0, Number(n.v)));
  }
  const columns = items.map((it, i) => outType(it, table, rows[0]?.vals[i]));
  const plan = table ? planOf(table, where, order, rows, fetch !== undefined && rows.length === selected.length ? null : rows.length, env) : NO_PLAN;
  return { columns, rows: rows.map((r) => r.vals.map((v) => storedForm(v, env))), plan };
}

const NO_PLAN: Plan = { rangeStart: false, sort: false, rowsExamined: 0 };
/** The column types whose values an index on them can seek to without converting the column. */
const SEEKABLE: Partial<Record<string, Val["t"]>> = {
  DB_TYPE_TIMESTAMP: "ts",
  DB_TYPE_DATE: "date",
  DB_TYPE_TIMESTAMP_TZ: "tstz",
  DB_TYPE_TIMESTAMP_LTZ: "ltz",
};

function conjuncts(n: Node | undefined): Node[] {
  if (!n) return [];
  return n.k === "bin" && n.op === "AND" ? [...conjuncts(n.l), ...conjuncts(n.r)] : [n];
}
const hasColumn = (n: Node, table: FakeTable): boolean =>
  n.k === "id"
    ? table.columns.some((c) => c.name === n.name)
    : n.k === "fn"
      ? n.args.some((a) => hasColumn(a, table))
      : n.k === "cast" || n.k === "atz"
        ? hasColumn(n.e, table)
        : n.k === "bin"
          ? hasColumn(n.l, table) || hasColumn(n.r, table)
          : false;

/** `stoppedAfter`: rows a FETCH FIRST let through when it cut the result short, else null. */
function planOf(
  table: FakeTable,
  where: Node | undefined,
  order: { e: Node; desc: boolean }[],
  rows: { ctx: RowCtx }[],
  stoppedAfter: number | null,
  env: SqlEnv,
): Plan {
  const tsCol = table.columns.find((c) => c.name === "EVENT_TIMESTAMP");
  const want = tsCol && SEEKABLE[tsCol.dbType.name];
  const index = table.rows
    .map((row) => ({ row, ts: colValue(table, row, "EVENT_TIMESTAMP", env) as Val, id: colValue(table, row, "ID", env) as Val }))
    .filter((e) => e.ts.t !== "null")
    .sort((a, b) => (compare(a.ts, b.ts, env) as number) || (compare(a.id, b.id, env) as number));
  let start = 0;
  let end = index.length;
  let rangeStart = false;
  for (const c of conjuncts(where)) {
    if (c.k !== "bin" || c.l.k !== "id" || c.l.name !== "EVENT_TIMESTAMP" || hasColumn(c.r, table)) continue;
    const v = evaluate(c.r, { table: null, row: {} }, env);
    if (v.t !== want) continue; // the column would be converted: a filter, not an access predicate
    const at = (strict: boolean) => index.findIndex((e) => (compare(e.ts, v, env) as number) > (strict ? 0 : -1));
    const pos = (i: number) => (i < 0 ? index.length : i);
    if (c.op === ">=" || c.op === ">" || c.op === "=") {
      start = Math.max(start, pos(at(c.op === ">")));
      rangeStart = true;
    }
    if (c.op === "<=" || c.op === "<" || c.op === "=") end = Math.min(end, pos(at(c.op !== "<")));
  }
  const names = order.map((o) => (o.e.k === "id" ? o.e.name : ""));
  const follows =
    names[0] === "EVENT_TIMESTAMP" && (names.length === 1 || (names.length === 2 && names[1] === "ID")) && order.every((o) => o.desc === order[0]?.desc);
  if (!follows || stoppedAfter === null) return { rangeStart, sort: !follows && order.length > 0, rowsExamined: Math.max(0, end - start) };
  // The walk stops at the last row handed out (from the range's far end when descending).
  const last = rows[rows.length - 1]?.ctx.row;
  const at = index.findIndex((e) => e.row === last);
  return { rangeStart, sort: false, rowsExamined: order[0]?.desc ? end - at : at - start + 1 };
}
