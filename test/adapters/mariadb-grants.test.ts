/**
 * The README's least-privilege grants for MariaDB, checked on the real server with accounts
 * made for the test: the tracking store migrates with CREATE/ALTER and runs with SELECT,
 * INSERT, UPDATE only; the MariaDB source reads with SELECT on its table.
 */
import type * as mariadb from "mariadb";
import t, { type Test } from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { MariadbSource } from "../../src/adapters/mariadb-source";
import { MariadbTracking } from "../../src/adapters/mariadb-tracking";
import { uniqueName } from "../helpers/services";

const noRetry = { maxRetries: 0, initialBackoff: 0.01, maxBackoff: 0.01, backoffMultiplier: 1 };

async function account(t: Test, root: mariadb.Connection, grants: string[]): Promise<{ user: string; password: string }> {
  const user = uniqueName("onp").toLowerCase();
  const password = uniqueName("Pw");
  await root.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
  t.teardown(() => root.query(`DROP USER IF EXISTS '${user}'@'%'`).then(() => undefined));
  for (const grant of grants) await root.query(`GRANT ${grant} TO '${user}'@'%'`);
  return { user, password };
}

function tracking(table: string, who: { user: string; password: string }, programName: string): MariadbTracking {
  return new MariadbTracking({
    host: "127.0.0.1",
    port: 3306,
    database: "test",
    ...who,
    connectTimeoutMs: 5000,
    programName,
    retry: noRetry,
    table,
  });
}

/** One cycle's writes: the run start, a checkpoint, the end. */
async function oneRun(store: MariadbTracking): Promise<void> {
  await store.open();
  await store.load();
  await store.begin();
  const checkpoint = { watermark: { ts: "2026-01-01 00:00:00.000001", id: "7" }, resumeSeq: 3 };
  await store.checkpoint(checkpoint, 1);
  await store.finish({ checkpoint, rows: 1 });
  await store.close();
}

t.test("tracking: CREATE, ALTER, SELECT, INSERT, UPDATE for the first run; SELECT, INSERT, UPDATE after it", async (t) => {
  const root = await connectLocal();
  t.teardown(() => root.end());
  const table = uniqueName("ONPGRANT");
  t.teardown(() => root.query(`DROP TABLE IF EXISTS \`${table}\``).then(() => undefined));
  const program = uniqueName("grants_prog");

  // A table-level grant on a table that does not exist yet is refused unless it includes CREATE.
  const migrator = await account(t, root, [`CREATE, ALTER, SELECT, INSERT, UPDATE ON test.\`${table}\``]);
  await oneRun(tracking(table, migrator, program));

  await root.query(`REVOKE CREATE, ALTER ON test.\`${table}\` FROM '${migrator.user}'@'%'`);
  await oneRun(tracking(table, migrator, program));
  const runOnly = await account(t, root, [`SELECT, INSERT, UPDATE ON test.\`${table}\``]);
  await oneRun(tracking(table, runOnly, program));
  const rows = (await root.query(`SELECT STATUS, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id FROM \`${table}\` WHERE PROGRAM_NAME = ?`, [program])) as Array<{
    STATUS: string;
    id: string;
  }>;
  t.same(rows, [{ STATUS: "SUCCESS", id: "7" }], "the run-time account committed its run");
});

t.test("tracking: widening a V7 table needs ALTER", async (t) => {
  const root = await connectLocal();
  t.teardown(() => root.end());
  const table = uniqueName("ONPV7");
  t.teardown(() => root.query(`DROP TABLE IF EXISTS \`${table}\``).then(() => undefined));
  await root.query(`CREATE TABLE \`${table}\` (
    PROGRAM_NAME VARCHAR(100) NOT NULL PRIMARY KEY, LAST_SUCCESSFUL_TIME DATETIME NULL, LAST_RUN_TIME DATETIME NULL,
    STATUS VARCHAR(20) NULL, RECORDS_PROCESSED BIGINT NULL, ERROR_MESSAGE TEXT NULL,
    CREATED_AT DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, UPDATED_AT DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)`);
  const program = uniqueName("v7_prog");
  const runOnly = await account(t, root, [`SELECT, INSERT, UPDATE ON test.\`${table}\``]);
  const refused = tracking(table, runOnly, program);
  await t.rejects(refused.open(), /ALTER command denied/, "a run-time account cannot widen the table");
  await refused.close();
  const migrator = await account(t, root, [`ALTER, SELECT, INSERT, UPDATE ON test.\`${table}\``]);
  await oneRun(tracking(table, migrator, program));
  await oneRun(tracking(table, runOnly, program));
});

t.test("source: SELECT on the table is enough to read it", async (t) => {
  const root = await connectLocal();
  t.teardown(() => root.end());
  const table = uniqueName("ONPSRC");
  await createTxlogTable(root, table);
  t.teardown(() => root.query(`DROP TABLE IF EXISTS \`${table}\``).then(() => undefined));
  await insertTxlogRows(root, table, sampleRows(3));
  const reader = await account(t, root, [`SELECT ON test.\`${table}\``]);
  const source = new MariadbSource({ host: "127.0.0.1", port: 3306, database: "test", ...reader, table, retry: noRetry });
  t.teardown(() => source.close());
  t.match(await source.latest(0), { id: "3" });
  let rows = 0;
  for await (const chunk of source.read({ after: null, limit: 10, pageSize: 2, safetyLagSeconds: 0 })) rows += (chunk as unknown[]).length;
  t.equal(rows, 3);
});
