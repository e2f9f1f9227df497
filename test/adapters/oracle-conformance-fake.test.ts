/**
 * The shared source conformance suite run against OracleSource over the node-oracledb fake.
 * Not a database test (test/conformance/oracle.test.ts is, when ORACLE_TEST_DSN is set): it
 * checks the adapter against the whole RowSource contract wherever the tests run. The fake's
 * clock follows the machine's, its server OS zone is +09:00, and it stores '' as NULL as
 * Oracle does.
 */
import t from "tap";
import { OracleSource } from "../../src/adapters/oracle-source";
import { TS_FORMAT } from "../../src/adapters/oracle-sql";
import type { ConformanceRow, SourceHarness } from "../conformance/harness";
import { runSourceConformance } from "../conformance/source-conformance";
import { FakeOracle } from "../fakes/fake-oracledb";

const ZONE = "+09:00";

function fakeHarness(readMode: "cursor" | "pages"): SourceHarness {
  const fake = new FakeOracle();
  fake.useRealClock();
  fake.dbOsZone = ZONE;
  const table = "spc.TXLOG_CONF";
  const empty = (v: string | null) => (v === "" ? null : v);
  return {
    name: `oracle (fake driver, ${readMode})`,
    async setup() {
      fake.createTable(table);
    },
    async insert(rows: ConformanceRow[]) {
      fake.insert(
        table,
        rows.map((r) => ({
          ID: r.id,
          CASE_ID: empty(r.caseId),
          EVENT_TYPE: empty(r.eventType),
          EVENT_DATA: empty(r.eventData),
          EVENT_TIMESTAMP: r.eventTimestamp,
          CREATED_AT: r.createdAt,
        })),
      );
    },
    async dbNow() {
      const conn = await (await fake.driver.createPool({})).getConnection();
      const r = await conn.execute(
        `SELECT TO_CHAR(SYSTIMESTAMP AT TIME ZONE :zone, '${TS_FORMAT}') AS NOW_TEXT FROM DUAL`,
        { zone: ZONE },
        { outFormat: fake.driver.OUT_FORMAT_OBJECT },
      );
      await conn.close();
      return ((r.rows ?? [])[0] as { NOW_TEXT: string }).NOW_TEXT;
    },
    source() {
      return new OracleSource({
        user: "u",
        password: "p",
        dsn: "fake",
        table,
        poolMin: 0,
        poolMax: 2,
        fetchArraySize: 100,
        prefetchRows: 100,
        callTimeoutMs: 1000,
        retry: { maxRetries: 3, initialBackoff: 0.01, maxBackoff: 0.05, backoffMultiplier: 2 },
        timeZone: ZONE,
        driver: fake.driver,
        readMode,
      });
    },
    async killSourceSessions() {
      if (fake.connectionsOut === 0) throw new Error("no source session found to kill");
      fake.killSessions();
    },
    async teardown() {},
  };
}

for (const readMode of ["cursor", "pages"] as const) {
  t.test(`source conformance: oracle adapter over the fake driver, ${readMode} mode`, async (t) => runSourceConformance(t, fakeHarness(readMode)));
}
