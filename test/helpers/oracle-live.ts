/**
 * What only a live Oracle database can show (run from test/conformance/oracle.test.ts when
 * ORACLE_TEST_DSN is set; never run on the development machines, which have no Oracle):
 *
 *  - plans: for each timestamp column type, on a 200,000-row table with an index on
 *    (EVENT_TIMESTAMP, ID) and fresh statistics, the page query (a page near the start, a page
 *    near the end) and the cursor query of a whole cycle (FETCH FIRST 100000) must be an
 *    INDEX RANGE SCAN of that index with no SORT ORDER BY; the buffer gets of the first page
 *    and of the page near the end are printed and must be of the same order;
 *  - round trips: 'SQL*Net roundtrips to/from client' of the source's own session per page,
 *    and rows/s, for both read modes (cursor and pages), printed side by side;
 *  - column types: DATE with NULLs, JSON (21c+), BLOB, NCLOB, NVARCHAR2 read as text.
 *
 * The statistics views need SELECT_CATALOG_ROLE (V$SQL, V$SQL_PLAN, V$SESSTAT, V$STATNAME,
 * V$SESSION); without it the plan and round-trip checks are skipped, naming the grant.
 */

import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { Test } from "tap";
import { OracleSource, type OracleSourceOptions } from "../../src/adapters/oracle-source";
import { type ColumnKinds, pageStatement, TS_FORMAT } from "../../src/adapters/oracle-sql";
import type { SourceRow } from "../../src/pipeline/types";

interface LiveConnection {
  execute(sql: string, binds?: Record<string, unknown>, options?: Record<string, unknown>): Promise<{ rows?: unknown[] }>;
  commit(): Promise<void>;
  close(): Promise<void>;
  readonly oracleServerVersion: number;
}
interface LiveDriver {
  getConnection(attrs: { user: string; password: string; connectString: string }): Promise<LiveConnection>;
  readonly OUT_FORMAT_OBJECT: number;
  readonly STRING: unknown;
}
export interface LiveCredentials {
  dsn: string;
  user: string;
  password: string;
}

const ROWS = 200_000;
const CYCLE = 100_000;

const TYPES: { column: string; kind: ColumnKinds["eventTimestamp"] }[] = [
  { column: "TIMESTAMP(6)", kind: "timestamp" },
  { column: "DATE", kind: "date" },
  { column: "TIMESTAMP(6) WITH TIME ZONE", kind: "zoned" },
  { column: "TIMESTAMP(6) WITH LOCAL TIME ZONE", kind: "ltz" },
];

const unique = (prefix: string) => `${prefix}_${randomBytes(4).toString("hex").toUpperCase()}`;

async function rowsOf<T>(conn: LiveConnection, driver: LiveDriver, sql: string, binds: Record<string, unknown> = {}): Promise<T[]> {
  return ((await conn.execute(sql, binds, { outFormat: driver.OUT_FORMAT_OBJECT })).rows ?? []) as T[];
}

/** Why the statistics views cannot be read, or null. */
async function statsGap(conn: LiveConnection): Promise<string | null> {
  try {
    await conn.execute("SELECT COUNT(*) FROM V$SQL_PLAN WHERE ROWNUM = 1");
    await conn.execute("SELECT COUNT(*) FROM V$SESSTAT S JOIN V$STATNAME N ON N.STATISTIC# = S.STATISTIC# WHERE ROWNUM = 1");
    return null;
  } catch (err) {
    return `ORACLE_TEST_USER cannot read V$SQL_PLAN/V$SESSTAT (${(err as Error).message.split("\n")[0]}): GRANT SELECT_CATALOG_ROLE TO <user> as SYS`;
  }
}

/** A TXLOG table of ROWS rows (3 per timestamp, 500-character CLOBs) built in SQL, with its index and statistics. */
async function bigTable(conn: LiveConnection, name: string, column: string): Promise<void> {
  const value = /TIME ZONE/.test(column)
    ? "FROM_TZ(TIMESTAMP '2026-01-01 00:00:00' + NUMTODSINTERVAL(FLOOR(LEVEL / 3), 'SECOND'), '+00:00')"
    : column === "DATE"
      ? "DATE '2026-01-01' + FLOOR(LEVEL / 3) / 86400"
      : "TIMESTAMP '2026-01-01 00:00:00' + NUMTODSINTERVAL(FLOOR(LEVEL / 3) + MOD(LEVEL, 7) / 1000000, 'SECOND')";
  await conn.execute(
    `CREATE TABLE ${name} (ID NUMBER(38) NOT NULL, CASE_ID VARCHAR2(100), EVENT_TYPE VARCHAR2(100), EVENT_DATA CLOB, EVENT_TIMESTAMP ${column} NOT NULL, CREATED_AT ${column}, CONSTRAINT ${name}_PK PRIMARY KEY (ID))`,
  );
  await conn.execute(
    `INSERT /*+ APPEND */ INTO ${name} SELECT LEVEL, 'C' || MOD(LEVEL, 1000), 'CREATED', TO_CLOB(RPAD('x', 500, 'x')), ${value}, ${value} FROM DUAL CONNECT BY LEVEL <= ${ROWS}`,
  );
  await conn.commit();
  await conn.execute(`CREATE INDEX ${name}_TS ON ${name} (EVENT_TIMESTAMP, ID)`);
  await conn.execute(`BEGIN DBMS_STATS.GATHER_TABLE_STATS(USER, '${name}', cascade => TRUE); END;`);
}

/** Runs `sql` (tagged so that V$SQL finds it) to its end, then returns its plan lines and buffer gets. */
async function planOf(conn: LiveConnection, driver: LiveDriver, sql: string, binds: Record<string, unknown>) {
  const tag = unique("onp_plan");
  const tagged = sql.replace(/^SELECT /, `SELECT /*+ GATHER_PLAN_STATISTICS */ /* ${tag} */ `);
  await conn.execute(tagged, binds, { fetchInfo: { EVENT_DATA: { type: driver.STRING } }, maxRows: 1_000_000 });
  const [cursor] = await rowsOf<{ SQL_ID: string; CHILD_NUMBER: number; BUFFER_GETS: number }>(
    conn,
    driver,
    `SELECT SQL_ID, CHILD_NUMBER, BUFFER_GETS FROM V$SQL WHERE SQL_TEXT LIKE '%${tag}%' AND SQL_TEXT NOT LIKE '%V$SQL%'`,
  );
  if (!cursor) throw new Error(`the tagged query ${tag} is not in V$SQL`);
  const steps = await rowsOf<{ OPERATION: string; OPTIONS: string | null; OBJECT_NAME: string | null }>(
    conn,
    driver,
    "SELECT OPERATION, OPTIONS, OBJECT_NAME FROM V$SQL_PLAN WHERE SQL_ID = :id AND CHILD_NUMBER = :child ORDER BY ID",
    { id: cursor.SQL_ID, child: cursor.CHILD_NUMBER },
  );
  const text = await rowsOf<{ PLAN_TABLE_OUTPUT: string }>(
    conn,
    driver,
    "SELECT PLAN_TABLE_OUTPUT FROM TABLE(DBMS_XPLAN.DISPLAY_CURSOR(:id, :child, 'ALLSTATS LAST'))",
    { id: cursor.SQL_ID, child: cursor.CHILD_NUMBER },
  );
  return { steps, bufferGets: cursor.BUFFER_GETS, text: text.map((r) => r.PLAN_TABLE_OUTPUT).join("\n") };
}

async function drain(stream: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as SourceRow[]).length;
  return n;
}

/** Round trips of this process's source sessions (Thin sends process.pid as V$SESSION.PROCESS), the harness's own excluded. */
async function sourceRoundTrips(conn: LiveConnection, driver: LiveDriver): Promise<number> {
  const [r] = await rowsOf<{ N: number | null }>(
    conn,
    driver,
    `SELECT SUM(S.VALUE) AS N FROM V$SESSTAT S JOIN V$STATNAME N ON N.STATISTIC# = S.STATISTIC# JOIN V$SESSION E ON E.SID = S.SID
     WHERE N.NAME = 'SQL*Net roundtrips to/from client' AND E.USERNAME = USER AND E.PROCESS = :pid AND E.SID <> TO_NUMBER(SYS_CONTEXT('USERENV', 'SID'))`,
    { pid: String(process.pid) },
  );
  return Number(r?.N ?? 0);
}

export async function runLiveChecks(t: Test, creds: LiveCredentials): Promise<void> {
  const driver = require("oracledb") as LiveDriver;
  const conn = await driver.getConnection({ user: creds.user, password: creds.password, connectString: creds.dsn });
  const dropped: string[] = [];
  t.teardown(async () => {
    for (const name of dropped) await conn.execute(`DROP TABLE ${name} PURGE`).catch(() => undefined);
    await conn.close();
  });
  const gap = await statsGap(conn);
  const options = (table: string, extra: Partial<OracleSourceOptions> = {}): OracleSourceOptions => ({
    user: creds.user,
    password: creds.password,
    dsn: creds.dsn,
    table,
    poolMin: 0,
    poolMax: 2,
    fetchArraySize: 1000,
    prefetchRows: 1000,
    callTimeoutMs: 60_000,
    retry: { maxRetries: 2, initialBackoff: 0.2, maxBackoff: 1, backoffMultiplier: 2 },
    timeZone: "UTC",
    ...extra,
  });

  t.test("the page and cycle queries are index range scans without a sort, and a late page costs what an early one does", { skip: gap ?? false }, async (t) => {
    for (const { column, kind } of TYPES) {
      const name = unique("TXLOG_PLAN");
      dropped.push(name);
      await bigTable(conn, name, column);
      const kinds: ColumnKinds = { eventTimestamp: kind, createdAt: kind, caseId: "text", eventType: "text", eventData: "clob" };
      const upper = "2026-12-31 00:00:00.000000";
      const [near] = await rowsOf<{ TS: string; ID: string }>(
        conn,
        driver,
        `SELECT TO_CHAR(EVENT_TIMESTAMP${kind === "zoned" || kind === "ltz" ? " AT TIME ZONE '+00:00'" : ""}, '${kind === "date" ? 'YYYY-MM-DD HH24:MI:SS".000000"' : TS_FORMAT}') AS TS, TO_CHAR(ID) AS ID FROM ${name} WHERE ID = ${ROWS - 3000}`,
      );
      const cases = [
        { label: "first page", stmt: pageStatement(name, kinds, "+00:00", null, upper, 1000) },
        { label: "page near the end", stmt: pageStatement(name, kinds, "+00:00", { ts: near?.TS ?? "", id: near?.ID ?? "" }, upper, 1000) },
        { label: "cycle cursor (FETCH FIRST 100000)", stmt: pageStatement(name, kinds, "+00:00", { ts: near?.TS ?? "", id: near?.ID ?? "" }, upper, CYCLE) },
      ];
      const gets: number[] = [];
      for (const c of cases) {
        const plan = await planOf(conn, driver, c.stmt.sql, c.stmt.binds);
        t.comment(`${column}, ${c.label}: ${plan.bufferGets} buffer gets\n${plan.text}`);
        const onIndex = plan.steps.some((s) => s.OPERATION === "INDEX" && /^RANGE SCAN/.test(s.OPTIONS ?? "") && s.OBJECT_NAME === `${name}_TS`);
        t.ok(onIndex, `${column}, ${c.label}: INDEX RANGE SCAN of ${name}_TS`);
        t.notOk(
          plan.steps.some((s) => s.OPERATION === "SORT" && s.OPTIONS === "ORDER BY"),
          `${column}, ${c.label}: no SORT ORDER BY`,
        );
        gets.push(plan.bufferGets);
      }
      const [first = 0, late = 0] = gets;
      t.ok(late <= first * 5 + 200, `${column}: buffer gets of a page near the end (${late}) are of the order of the first page's (${first})`);
    }
  });

  t.test("round trips per page and rows/s, cursor mode against pages mode", { skip: gap ?? false }, async (t) => {
    const name = unique("TXLOG_TRIPS");
    dropped.push(name);
    await bigTable(conn, name, "TIMESTAMP(6)");
    const pageSize = 1000;
    const rows = 20_000;
    const perMode: Record<string, number> = {};
    for (const readMode of ["cursor", "pages", "cursor", "pages"] as const) {
      const source = new OracleSource(options(name, { readMode }));
      try {
        await source.latest(0); // pool, session and column types ready before measuring
        const before = await sourceRoundTrips(conn, driver);
        const started = process.hrtime.bigint();
        const n = await drain(source.read({ after: null, limit: rows, pageSize, safetyLagSeconds: 0 }));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const trips = (await sourceRoundTrips(conn, driver)) - before;
        t.equal(n, rows);
        perMode[readMode] = trips / (rows / pageSize);
        t.comment(
          `${readMode}: ${n} rows in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} rows/s, ${trips} round trips = ${(trips / (rows / pageSize)).toFixed(2)} per page of ${pageSize}`,
        );
      } finally {
        await source.close();
      }
    }
    t.ok((perMode.cursor ?? 99) <= 1.5, `cursor mode: about one round trip per page (${perMode.cursor})`);
    t.ok((perMode.cursor ?? 99) <= (perMode.pages ?? 0), "no more round trips than pages mode");
  });

  t.test("column types: DATE with NULLs, JSON, BLOB, NCLOB, NVARCHAR2 arrive as text", async (t) => {
    const text = '{"amount":12.5,"note":"ünï ✓","big":9007199254740993}';
    const variants: { data: string; ts: string; insert: string; minVersion?: number }[] = [
      { data: "CLOB", ts: "DATE", insert: "TO_CLOB(:d)" },
      { data: "JSON", ts: "TIMESTAMP(6)", insert: "JSON(:d)", minVersion: 2100000000 },
      { data: "BLOB", ts: "TIMESTAMP(6)", insert: "UTL_RAW.CAST_TO_RAW(:d)" },
      { data: "NCLOB", ts: "TIMESTAMP(6)", insert: "TO_NCLOB(:d)" },
      { data: "NVARCHAR2(2000)", ts: "TIMESTAMP(6)", insert: "TO_NCHAR(:d)" },
    ];
    for (const v of variants) {
      if (v.minVersion && conn.oracleServerVersion < v.minVersion) {
        t.comment(`${v.data}: skipped, needs Oracle Database ${v.minVersion / 1e8}+`);
        continue;
      }
      const name = unique("TXLOG_TYPES");
      dropped.push(name);
      await conn.execute(
        `CREATE TABLE ${name} (ID NUMBER(38) NOT NULL, CASE_ID VARCHAR2(100), EVENT_TYPE VARCHAR2(100), EVENT_DATA ${v.data}, EVENT_TIMESTAMP ${v.ts} NOT NULL, CREATED_AT ${v.ts})`,
      );
      await conn.execute(`INSERT INTO ${name} VALUES (1, 'C', 'E', ${v.insert}, TIMESTAMP '2026-01-01 00:00:01', NULL)`, { d: text });
      await conn.execute(`INSERT INTO ${name} VALUES (2, NULL, NULL, NULL, TIMESTAMP '2026-01-01 00:00:02', NULL)`);
      await conn.commit();
      const source = new OracleSource(options(name, { maxEventDataLength: 1_000_000 }));
      try {
        const got: SourceRow[] = [];
        for await (const chunk of source.read({ after: null, limit: 10, pageSize: 10, safetyLagSeconds: 0 })) got.push(...(chunk as SourceRow[]));
        t.same(
          got.map((r) => [r.id, r.caseId, r.eventData, r.createdAt]),
          [
            ["1", "C", text, null], // JSON_SERIALIZE writes JSON minified, as `text` already is
            ["2", null, null, null],
          ],
          `${v.data} with ${v.ts} timestamps`,
        );
      } finally {
        await source.close();
      }
    }
  });
}
