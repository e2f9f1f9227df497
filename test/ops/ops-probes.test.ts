/** The read-only tracking probe of the commands, against the real MariaDB: a migrated row, a V7 row, no table. */
import t from "tap";
import { connectLocal } from "../../scripts/lib/txlog-table";
import { AFTER_ALL_IDS } from "../../src/adapters/mariadb-tracking";
import { TrackingProbe } from "../../src/adapters/ops-probes";
import { uniqueName } from "../helpers/services";

const options = (table: string, programName: string) => ({
  host: "127.0.0.1",
  port: 3306,
  user: "root",
  password: "",
  database: "test",
  connectTimeoutMs: 5000,
  programName,
  table,
  retry: { maxRetries: 0, initialBackoff: 0.01, maxBackoff: 0.01, backoffMultiplier: 1 },
});

t.test("reads a V7 row (no LAST_SUCCESSFUL_ID) and a missing table without migrating anything", async (t) => {
  const db = await connectLocal();
  const table = uniqueName("ONP_PRMREC");
  t.teardown(async () => {
    await db.query(`DROP TABLE IF EXISTS \`${table}\``);
    await db.end();
  });
  const absent = new TrackingProbe(options(table, "p"));
  t.equal(await absent.read(), null, "no table: never ran");
  t.match(await absent.check(), /reachable \(the table is created on the first run\)/);
  await absent.close();

  await db.query(`CREATE TABLE \`${table}\` (PROGRAM_NAME VARCHAR(100) NOT NULL, LAST_SUCCESSFUL_TIME DATETIME NULL, LAST_RUN_TIME DATETIME NULL,
    STATUS VARCHAR(20) NULL, RECORDS_PROCESSED INT NULL, ERROR_MESSAGE TEXT NULL, CREATED_AT DATETIME NULL, UPDATED_AT DATETIME NULL)`);
  await db.query(`INSERT INTO \`${table}\` VALUES ('p', '2026-01-02 03:04:05', '2026-01-02 03:05:00', 'SUCCESS', 12, NULL, NOW(), NOW())`);
  const probe = new TrackingProbe(options(table, "p"));
  t.teardown(() => probe.close());
  t.match(await probe.read(), {
    programName: "p",
    watermark: { ts: "2026-01-02 03:04:05.000000", id: AFTER_ALL_IDS },
    status: "SUCCESS",
    recordsProcessed: "12",
  });
  const columns = (await db.query(`SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'test' AND TABLE_NAME = ?`, [table])) as Array<{
    n: bigint;
  }>;
  t.equal(Number(columns[0]?.n), 8, "read only: the V7 table was not migrated");
  t.equal(await probe.holder(), null, "nobody holds the lock");
});
