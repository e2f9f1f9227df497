import t from "tap";
import { connectLocal, local } from "../../scripts/lib/txlog-table";
import { AFTER_ALL_IDS, lockName, MariadbTracking } from "../../src/adapters/mariadb-tracking";
import { uniqueName } from "../helpers/services";

const retry = { maxRetries: 1, initialBackoff: 0.05, maxBackoff: 0.1, backoffMultiplier: 2 };

function store(table: string, programName: string) {
  return new MariadbTracking({ ...local, connectTimeoutMs: 5000, programName, retry, table });
}

t.test("creates the table, records RUNNING / SUCCESS / FAILED, and round-trips an exact watermark", async (t) => {
  const table = uniqueName("PRMREC");
  const s = store(table, "prog_a");
  const conn = await connectLocal();
  t.teardown(async () => {
    await s.close();
    await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
    await conn.end();
  });
  await s.open();
  t.equal(await s.load(), null, "no row yet: no watermark");
  await s.begin();
  const [running] = (await conn.query(`SELECT STATUS, LAST_RUN_TIME IS NOT NULL AS ran FROM \`${table}\` WHERE PROGRAM_NAME = 'prog_a'`)) as Array<{
    STATUS: string;
    ran: number;
  }>;
  t.match(running, { STATUS: "RUNNING", ran: 1 });
  const wm = { ts: "2026-05-06 07:08:09.123456", id: "9223372036854775807" };
  await s.checkpoint({ watermark: wm, resumeSeq: 17 }, 10);
  t.same(await s.load(), { watermark: wm, resumeSeq: 17 }, "microseconds, a 64-bit id and the resume sequence survive");
  await s.finish({ checkpoint: { watermark: { ts: wm.ts, id: "12345678901234567890123456789012345678" }, resumeSeq: 18 }, rows: 42 });
  const [succeeded] = (await conn.query(`SELECT STATUS, RECORDS_PROCESSED, ERROR_MESSAGE FROM \`${table}\``)) as Array<{
    STATUS: string;
    RECORDS_PROCESSED: bigint;
    ERROR_MESSAGE: null;
  }>;
  t.match(succeeded, { STATUS: "SUCCESS", RECORDS_PROCESSED: 42n, ERROR_MESSAGE: null });
  t.same(await s.load(), { watermark: { ts: wm.ts, id: "12345678901234567890123456789012345678" }, resumeSeq: 18 }, "a 38-digit id survives");
  await s.begin();
  await s.finish({ checkpoint: null, rows: 0, error: "NATS down" });
  const [failed] = (await conn.query(`SELECT STATUS, ERROR_MESSAGE FROM \`${table}\``)) as Array<{ STATUS: string; ERROR_MESSAGE: string }>;
  t.match(failed, { STATUS: "FAILED", ERROR_MESSAGE: "NATS down" });
  t.same(
    await s.load(),
    { watermark: { ts: wm.ts, id: "12345678901234567890123456789012345678" }, resumeSeq: 18 },
    "a failure without progress keeps the watermark",
  );
  await s.finish({ checkpoint: { watermark: null, resumeSeq: 25 }, rows: 0, error: "again" });
  t.same(
    await s.load(),
    { watermark: { ts: wm.ts, id: "12345678901234567890123456789012345678" }, resumeSeq: 25 },
    "a resume sequence alone leaves the watermark",
  );
});

t.test("a V7 table is migrated in place and its row resumes after LAST_SUCCESSFUL_TIME", async (t) => {
  const table = uniqueName("PRMREC_V7");
  const conn = await connectLocal();
  await conn.query(`CREATE TABLE \`${table}\` (
    PROGRAM_NAME VARCHAR(100) NOT NULL,
    LAST_SUCCESSFUL_TIME DATETIME NULL,
    LAST_RUN_TIME DATETIME NULL,
    STATUS VARCHAR(20) NULL,
    RECORDS_PROCESSED INT NULL,
    ERROR_MESSAGE TEXT NULL,
    CREATED_AT DATETIME DEFAULT CURRENT_TIMESTAMP,
    UPDATED_AT DATETIME DEFAULT CURRENT_TIMESTAMP)`);
  await conn.query(
    `INSERT INTO \`${table}\` (PROGRAM_NAME, LAST_SUCCESSFUL_TIME, STATUS, RECORDS_PROCESSED) VALUES ('v7_prog', '2026-02-03 04:05:06', 'SUCCESS', 7)`,
  );
  const s = store(table, "v7_prog");
  t.teardown(async () => {
    await s.close();
    await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
    await conn.end();
  });
  await s.open();
  const columns = (await conn.query(
    "SELECT COLUMN_NAME, DATETIME_PRECISION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [table],
  )) as Array<{
    COLUMN_NAME: string;
    DATETIME_PRECISION: number | null;
  }>;
  t.ok(
    columns.some((c) => c.COLUMN_NAME === "LAST_SUCCESSFUL_ID"),
    "LAST_SUCCESSFUL_ID added",
  );
  t.equal(Number(columns.find((c) => c.COLUMN_NAME === "LAST_SUCCESSFUL_TIME")?.DATETIME_PRECISION), 6, "LAST_SUCCESSFUL_TIME widened to microseconds");
  t.ok(
    columns.some((c) => c.COLUMN_NAME === "RESUME_STREAM_SEQ"),
    "RESUME_STREAM_SEQ added",
  );
  t.same(
    await s.load(),
    { watermark: { ts: "2026-02-03 04:05:06.000000", id: AFTER_ALL_IDS }, resumeSeq: null },
    "rows at exactly LAST_SUCCESSFUL_TIME count as sent, as V7 would",
  );
  await s.begin();
  await s.finish({ checkpoint: { watermark: { ts: "2026-02-03 04:05:07.000001", id: "5" }, resumeSeq: null }, rows: 1 });
  const rows = (await conn.query(`SELECT COUNT(*) AS n FROM \`${table}\``)) as Array<{ n: bigint }>;
  t.equal(rows[0]?.n, 1n, "the V7 row is updated, not duplicated");
  const again = store(table, "v7_prog");
  await s.close();
  await again.open();
  t.same(await again.load(), { watermark: { ts: "2026-02-03 04:05:07.000001", id: "5" }, resumeSeq: null }, "a second start finds the migrated table as is");
  await again.close();
});

t.test("a table missing V7 columns is refused with their names", async (t) => {
  const table = uniqueName("PRMREC_BAD");
  const conn = await connectLocal();
  await conn.query(`CREATE TABLE \`${table}\` (PROGRAM_NAME VARCHAR(100), STATUS VARCHAR(20))`);
  const s = store(table, "p");
  t.teardown(async () => {
    await s.close();
    await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
    await conn.end();
  });
  await t.rejects(s.open(), { name: "TrackingError", message: /lacks the V7 column\(s\) LAST_SUCCESSFUL_TIME, LAST_RUN_TIME, RECORDS_PROCESSED/ });
});

t.test("only one instance per program: the second is refused until the first closes", async (t) => {
  const table = uniqueName("PRMREC_LOCK");
  const program = uniqueName("prog");
  const first = store(table, program);
  const second = store(table, program);
  const other = store(table, `${program}_other`);
  const conn = await connectLocal();
  t.teardown(async () => {
    await Promise.all([first.close(), second.close(), other.close()]);
    await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
    await conn.end();
  });
  await first.open();
  await t.rejects(second.open(), { name: "LockError", message: /another instance is already running program/ });
  await other.open();
  t.pass("another program runs alongside");
  await first.begin();
  t.pass("the holder keeps its lock across cycles");
  await first.close();
  await second.open();
  t.pass("the lock is free once the first instance is gone");
});

t.test("two programs whose long names differ only at the end each hold their own lock at once", async (t) => {
  const table = uniqueName("PRMREC_LONG");
  // Past MariaDB's 64-character lock name limit long before the part that tells them apart.
  const prefix = `${uniqueName("txlog_events_publisher_for_the_customer_accounts_ledger").toLowerCase()}_partition_`;
  const first = store(table, `${prefix}01`);
  const second = store(table, `${prefix}02`);
  const conn = await connectLocal();
  t.teardown(async () => {
    await Promise.all([first.close(), second.close()]);
    await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
    await conn.end();
  });
  await first.open();
  await second.open();
  t.ok(first.holdsLock && second.holdsLock, "both hold their lock");
  t.not(first.lockName, second.lockName, "under different names");
  for (const name of [first.lockName, second.lockName]) {
    t.ok(name.length <= 64, `${name} fits MariaDB's 64 characters`);
    const [row] = (await conn.query({ sql: "SELECT IS_USED_LOCK(?) IS NOT NULL", rowsAsArray: true }, [name])) as unknown[][];
    t.equal(Number(row?.[0]), 1, "MariaDB sees the lock taken under that very name");
  }
  await first.begin();
  await second.begin();
  await first.checkpoint({ watermark: { ts: "2026-01-01 00:00:01.000000", id: "1" }, resumeSeq: null }, 1);
  await second.checkpoint({ watermark: { ts: "2026-01-01 00:00:02.000000", id: "2" }, resumeSeq: null }, 1);
  t.match(await first.load(), { watermark: { id: "1" } }, "each writes its own row");
  t.match(await second.load(), { watermark: { id: "2" } });
});

t.test("lock names: a hash of database, program and partition, always 62 characters", async (t) => {
  const names = [lockName("test", "p"), lockName("other", "p"), lockName("test", "p", "0"), lockName("test", "p", "1"), lockName("test", "p:1")];
  t.equal(new Set(names).size, names.length, "database, program and partition each make a distinct name");
  t.equal(lockName("test", "p", "1"), lockName("test", "p", "1"), "the same inputs give the same name");
  for (const name of [...names, lockName("d".repeat(64), "p".repeat(100), "9".repeat(20))]) t.match(name, /^oracle-nats-publisher:[0-9a-f]{40}$/);
});

t.test("bad credentials are a permanent TrackingError naming the server, without the password", async (t) => {
  const s = new MariadbTracking({
    ...local,
    user: "no_such_user",
    password: "pw-secret-123",
    connectTimeoutMs: 3000,
    programName: "p",
    retry,
    table: "ETL_PRMREC",
  });
  const err = await s.open().then(
    () => null,
    (e: unknown) => e,
  );
  await s.close();
  t.match(err, { name: "TrackingError", transient: false, message: /127\.0\.0\.1:3306/ });
  t.notMatch((err as Error).message, /pw-secret-123/);
});
