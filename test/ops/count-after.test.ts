/** The MariaDB count of rows waiting past the watermark, against the real MariaDB. */
import t from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { AFTER_ALL_IDS } from "../../src/adapters/mariadb-tracking";
import { countAfterMariadb, countBetweenMariadb, lagSeconds } from "../../src/ops/lag";
import { BEFORE_ALL_IDS } from "../../src/pipeline/start-position";
import { uniqueName } from "../helpers/services";

t.test("counts rows after the watermark up to the read bound, bounded by the limit, with the database clock", async (t) => {
  const db = await connectLocal();
  const table = uniqueName("ONP_COUNT");
  t.teardown(async () => {
    await db.query(`DROP TABLE IF EXISTS \`${table}\``);
    await db.end();
  });
  await createTxlogTable(db, table);
  // 30 rows, three per timestamp, in 2026-01-01; and 4 rows stamped an hour in the future.
  await insertTxlogRows(db, table, sampleRows(30, { perTimestamp: 3 }));
  const [[now]] = (await db.query({ sql: "SELECT DATE_FORMAT(NOW(6) + INTERVAL 1 HOUR, '%Y-%m-%d %H:%i:%s.%f')", rowsAsArray: true })) as string[][];
  await insertTxlogRows(db, table, sampleRows(4, { firstId: 1000n, start: now as string }));

  const count = async (after: { ts: string; id: string } | null, lag: number, limit: number) => {
    const st = countAfterMariadb(`\`${table}\``, after, lag, limit);
    const result = (await db.query({ sql: st.sql, rowsAsArray: true }, st.params)) as [string, bigint | string][];
    const [dbNow, rows] = result[0] as [string, bigint | string];
    return { rows: Number(rows), dbNow };
  };

  const all = await count(null, 5, 1_000_000);
  t.equal(all.rows, 30, "rows stamped after now - lag are not counted");
  t.match(all.dbNow, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);

  t.equal((await count({ ts: "2026-01-01 00:00:00.001000", id: "4" }, 5, 1_000_000)).rows, 26, "rows tied on the timestamp past the id count");
  t.equal((await count({ ts: "2026-01-01 00:00:00.001000", id: BEFORE_ALL_IDS }, 5, 1_000_000)).rows, 27, "just before a timestamp");
  t.equal((await count({ ts: "2026-01-01 00:00:00.009000", id: "30" }, 5, 1_000_000)).rows, 0, "nothing after the last row");
  t.equal((await count(null, 5, 10)).rows, 10, "bounded by the limit");
  t.equal((await count(null, -7200, 1_000_000)).rows, 34, "a negative lag reaches into the future: the bound is applied in SQL");

  const caughtUp = await count({ ts: "2026-01-01 00:00:00.009000", id: "30" }, 5, 1_000_000);
  t.equal(lagSeconds({ dbNow: caughtUp.dbNow, watermarkTs: "2026-01-01 00:00:00.009000", timeZone: "UTC", waitingRows: caughtUp.rows }), 0, "idle: lag 0");
  const behind = await count({ ts: "2026-01-01 00:00:00.001000", id: "4" }, 5, 1_000_000);
  const lag = lagSeconds({ dbNow: behind.dbNow, watermarkTs: "2026-01-01 00:00:00.001000", timeZone: "UTC", waitingRows: behind.rows });
  t.ok(lag !== null && lag > 86400, `behind since 2026-01-01: ${lag} s`);

  const between = async (after: { ts: string; id: string }, through: { ts: string; id: string }, limit = 1_000_000) => {
    const st = countBetweenMariadb(`\`${table}\``, after, through, limit);
    const result = (await db.query({ sql: st.sql, rowsAsArray: true }, st.params)) as [bigint | string][];
    return Number((result[0] as [bigint | string])[0]);
  };
  const earliest = { ts: "1000-01-01 00:00:00.000000", id: BEFORE_ALL_IDS };
  t.equal(await between(earliest, { ts: "2026-01-01 00:00:00.009000", id: "30" }), 30, "everything up to the last row");
  t.equal(await between({ ts: "2026-01-01 00:00:00.001000", id: "4" }, { ts: "2026-01-01 00:00:00.002000", id: "8" }), 4, "ids 5..8");
  t.equal(
    await between({ ts: "2026-01-01 00:00:00.001000", id: BEFORE_ALL_IDS }, { ts: "2026-01-01 00:00:00.002000", id: AFTER_ALL_IDS }),
    6,
    "two whole timestamps",
  );
  t.equal(await between(earliest, { ts: "2026-01-01 00:00:00.009000", id: "30" }, 7), 7, "bounded by the limit");
});
