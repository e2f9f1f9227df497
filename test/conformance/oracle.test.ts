/**
 * The source conformance suite against a real Oracle database, when one is given:
 *
 *   ORACLE_TEST_DSN=localhost:1521/FREEPDB1 ORACLE_TEST_USER=... ORACLE_TEST_PASSWORD=... \
 *     npx tap test/conformance/oracle.test.ts
 *
 * Without all three variables the file reports a skip (no Oracle server can run on the
 * development machines). Each run creates its own TXLOG_CONF_<random> table and drops it.
 * The connection-loss case kills the source's sessions with ALTER SYSTEM KILL SESSION,
 * which needs ALTER SYSTEM and SELECT on V$SESSION; without them that case is skipped with
 * the reason. Like the MariaDB runner, the suite runs under two process time zones, and once
 * more with TIMESTAMP WITH LOCAL TIME ZONE columns and an IANA source zone (Europe/Berlin).
 *
 * Then what no fake can check (test/helpers/oracle-live.ts): the page query's plan on
 * 200,000-row tables of each timestamp type (INDEX RANGE SCAN, no SORT ORDER BY) with the
 * buffer gets of the first page and of a page near the end; round trips per page and rows/s
 * of both read modes (cursor, the default, and pages); and the column types of issue 10
 * (DATE with NULLs, JSON, BLOB, NCLOB, NVARCHAR2). Those need SELECT_CATALOG_ROLE (V$SQL,
 * V$SQL_PLAN, V$SESSTAT, V$STATNAME, V$SESSION); without it they are skipped with the reason.
 */

import { randomBytes } from "node:crypto";
import type { Test } from "tap";
import t from "tap";
import { OracleSource } from "../../src/adapters/oracle-source";
import { TS_FORMAT } from "../../src/adapters/oracle-sql";
import { runLiveChecks } from "../helpers/oracle-live";
import type { ConformanceRow, SourceHarness } from "./harness";
import { runSourceConformance } from "./source-conformance";

/** The slice of node-oracledb the harness uses (the package ships no typings). */
interface HarnessConnection {
  execute(sql: string, binds?: Record<string, unknown>, options?: Record<string, unknown>): Promise<{ rows?: unknown[] }>;
  executeMany(sql: string, binds: Record<string, unknown>[], options: Record<string, unknown>): Promise<unknown>;
  commit(): Promise<void>;
  close(): Promise<void>;
}
interface HarnessDriver {
  getConnection(attrs: { user: string; password: string; connectString: string }): Promise<HarnessConnection>;
  readonly OUT_FORMAT_OBJECT: number;
  readonly STRING: unknown;
  readonly DB_TYPE_CLOB: unknown;
}

interface Credentials {
  dsn: string;
  user: string;
  password: string;
}

const KILL_CASE = /losing the connection/;
const OBJ = (d: HarnessDriver) => ({ outFormat: d.OUT_FORMAT_OBJECT });

/** `columnType`: the two timestamp columns' type; `sourceZone`: the source's time zone (default: the server's offset). */
function oracleHarness(creds: Credentials, zone: string, columnType = "TIMESTAMP(6)", sourceZone?: string): SourceHarness {
  const driver = require("oracledb") as HarnessDriver;
  const table = `TXLOG_CONF_${randomBytes(5).toString("hex").toUpperCase()}`;
  const sources: OracleSource[] = [];
  let admin: HarnessConnection;
  let dbZone = "+00:00";

  return {
    name: `oracle (TZ=${zone}, ${columnType}${sourceZone ? `, ${sourceZone}` : ""})`,
    async setup() {
      process.env.TZ = zone; // Thin derives the session time zone from this; the source must not care
      admin = await driver.getConnection({ user: creds.user, password: creds.password, connectString: creds.dsn });
      // Naive timestamps are written in the database server's own zone: the one SYSTIMESTAMP carries.
      const z = await admin.execute("SELECT TO_CHAR(SYSTIMESTAMP, 'TZH:TZM') AS Z FROM DUAL", {}, OBJ(driver));
      dbZone = sourceZone ?? (z.rows?.[0] as { Z: string } | undefined)?.Z ?? "+00:00";
      await admin.execute(
        `CREATE TABLE ${table} (ID NUMBER(38) NOT NULL, CASE_ID VARCHAR2(100), EVENT_TYPE VARCHAR2(100), EVENT_DATA CLOB, EVENT_TIMESTAMP ${columnType} NOT NULL, CREATED_AT ${columnType}, CONSTRAINT ${table}_PK PRIMARY KEY (ID))`,
      );
      await admin.execute(`CREATE INDEX ${table}_TS ON ${table} (EVENT_TIMESTAMP, ID)`);
    },
    async insert(rows: ConformanceRow[]) {
      // Wall times in the source's zone; for a zoned column, the instant they name there.
      const value = (bind: string) =>
        /TIME ZONE/.test(columnType) ? `FROM_TZ(TO_TIMESTAMP(:${bind}, '${TS_FORMAT}'), :zone)` : `TO_TIMESTAMP(:${bind}, '${TS_FORMAT}')`;
      const zoned = /TIME ZONE/.test(columnType);
      const sql = `INSERT INTO ${table} (ID, CASE_ID, EVENT_TYPE, EVENT_DATA, EVENT_TIMESTAMP, CREATED_AT) VALUES (:id, :caseId, :eventType, :eventData, ${value("ts")}, ${value("createdAt")})`;
      const binds = (r: ConformanceRow) => ({
        id: r.id,
        caseId: r.caseId,
        eventType: r.eventType,
        ts: r.eventTimestamp,
        createdAt: r.createdAt,
        ...(zoned ? { zone: dbZone } : {}),
      });
      const small = rows.filter((r) => Buffer.byteLength(r.eventData ?? "") <= 4000);
      if (small.length > 0) {
        await admin.executeMany(
          sql,
          small.map((r) => ({ ...binds(r), eventData: r.eventData })),
          {
            bindDefs: {
              id: { type: driver.STRING, maxSize: 40 }, // text, so NUMBER(38) gets every digit
              caseId: { type: driver.STRING, maxSize: 400 },
              eventType: { type: driver.STRING, maxSize: 400 },
              eventData: { type: driver.STRING, maxSize: 4000 },
              ts: { type: driver.STRING, maxSize: 26 },
              createdAt: { type: driver.STRING, maxSize: 26 },
              ...(zoned ? { zone: { type: driver.STRING, maxSize: 64 } } : {}),
            },
          },
        );
      }
      for (const r of rows.filter((x) => !small.includes(x))) {
        await admin.execute(sql, { ...binds(r), eventData: { val: r.eventData, type: driver.DB_TYPE_CLOB } });
      }
      await admin.commit();
    },
    async dbNow() {
      const r = await admin.execute(`SELECT TO_CHAR(SYSTIMESTAMP AT TIME ZONE :zone, '${TS_FORMAT}') AS NOW_TEXT FROM DUAL`, { zone: dbZone }, OBJ(driver));
      const now = (r.rows?.[0] as { NOW_TEXT?: string } | undefined)?.NOW_TEXT;
      if (!now) throw new Error("the database returned no time");
      return now;
    },
    source() {
      const source = new OracleSource({
        user: creds.user,
        password: creds.password,
        dsn: creds.dsn,
        table,
        poolMin: 0,
        poolMax: 2,
        fetchArraySize: 500,
        prefetchRows: 500,
        callTimeoutMs: 30_000,
        retry: { maxRetries: 3, initialBackoff: 0.2, maxBackoff: 1, backoffMultiplier: 2 },
        timeZone: dbZone,
      });
      sources.push(source);
      return source;
    },
    async killSourceSessions() {
      // The source's sessions: this process (Thin sends process.pid as V$SESSION.PROCESS), not the harness's own.
      const r = await admin.execute(
        "SELECT SID, SERIAL# AS SERIAL FROM V$SESSION WHERE USERNAME = USER AND PROCESS = :pid AND SID <> TO_NUMBER(SYS_CONTEXT('USERENV', 'SID'))",
        { pid: String(process.pid) },
        OBJ(driver),
      );
      const sessions = (r.rows ?? []) as { SID: number; SERIAL: number }[];
      if (sessions.length === 0) throw new Error("no source session found to kill");
      for (const s of sessions) {
        if (!Number.isInteger(s.SID) || !Number.isInteger(s.SERIAL)) throw new Error(`unexpected session id ${JSON.stringify(s)}`);
        // ALTER SYSTEM takes no binds; both values are integers checked above.
        await admin.execute(`ALTER SYSTEM KILL SESSION '${s.SID},${s.SERIAL}' IMMEDIATE`).catch(() => undefined);
      }
    },
    async teardown() {
      await Promise.all(sources.map((s) => s.close()));
      if (admin) {
        await admin.execute(`DROP TABLE ${table} PURGE`).catch(() => undefined);
        await admin.close();
      }
    },
  };
}

/** Why the connection-loss case cannot run here, or null when the user may kill sessions. */
async function killPrivilegeGap(creds: Credentials): Promise<string | null> {
  const driver = require("oracledb") as HarnessDriver;
  const conn = await driver.getConnection({ user: creds.user, password: creds.password, connectString: creds.dsn });
  try {
    const privs = await conn.execute("SELECT COUNT(*) AS N FROM SESSION_PRIVS WHERE PRIVILEGE = 'ALTER SYSTEM'", {}, OBJ(driver));
    if (Number((privs.rows?.[0] as { N?: unknown } | undefined)?.N ?? 0) === 0)
      return "ORACLE_TEST_USER lacks ALTER SYSTEM, needed to kill the source's sessions (GRANT ALTER SYSTEM TO <user>)";
    try {
      await conn.execute("SELECT COUNT(*) AS N FROM V$SESSION WHERE ROWNUM = 1");
    } catch (err) {
      return `ORACLE_TEST_USER cannot read V$SESSION (${(err as Error).message.split("\n")[0]}); GRANT SELECT ON V_$SESSION TO <user> as SYS`;
    }
    return null;
  } finally {
    await conn.close();
  }
}

/** `t` with the connection-loss case turned into a skip carrying `reason`. */
function skippingKillCase(t: Test, reason: string | null): Test {
  if (reason === null) return t;
  return new Proxy(t, {
    get(target, prop) {
      if (prop === "test") {
        return (name: string, ...rest: unknown[]) =>
          KILL_CASE.test(name) ? target.test(name, { skip: reason }, () => {}) : (target.test as (...a: unknown[]) => unknown).call(target, name, ...rest);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

// The one place this test reads the environment: the database to test against.
const env = { dsn: process.env.ORACLE_TEST_DSN, user: process.env.ORACLE_TEST_USER, password: process.env.ORACLE_TEST_PASSWORD };
const missing = (["ORACLE_TEST_DSN", "ORACLE_TEST_USER", "ORACLE_TEST_PASSWORD"] as const).filter((_, i) => !Object.values(env)[i]);

if (missing.length > 0) {
  t.test(
    "source conformance: oracle",
    { skip: `${missing.map((n) => `${n} is not set`).join("; ")}: no Oracle database to test against (see docs/ORACLE.md)` },
    async () => {},
  );
} else {
  const creds = env as Credentials;
  for (const zone of ["Asia/Tokyo", "America/Los_Angeles"]) {
    t.test(`source conformance: oracle, ${zone}`, async (t) => {
      runSourceConformance(skippingKillCase(t, await killPrivilegeGap(creds)), oracleHarness(creds, zone));
    });
  }
  t.test("source conformance: oracle, TIMESTAMP WITH LOCAL TIME ZONE, source zone Europe/Berlin", async (t) => {
    runSourceConformance(
      skippingKillCase(t, await killPrivilegeGap(creds)),
      oracleHarness(creds, "America/Los_Angeles", "TIMESTAMP(6) WITH LOCAL TIME ZONE", "Europe/Berlin"),
    );
  });
  t.test("oracle live: plans, round trips and column types", async (t) => runLiveChecks(t, creds));
}
