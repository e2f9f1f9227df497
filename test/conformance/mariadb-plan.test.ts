/**
 * The MariaDB source's page query on the real MariaDB: the keyset seek form
 * `TS >= ? AND (TS > ? OR ID > ?) AND TS <= ?` must stay an index range scan on
 * (EVENT_TIMESTAMP, ID) with no filesort, and a page deep into the table must visit about a
 * page of index entries (ANALYZE's r_rows), not the backlog before the watermark.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { uniqueName } from "../helpers/services";

// The page query exactly as src/adapters/mariadb-source.ts issues it (checked against the file below).
const WHERE = "WHERE EVENT_TIMESTAMP >= ? AND (EVENT_TIMESTAMP > ? OR ID > ?) AND EVENT_TIMESTAMP <= ? ORDER BY EVENT_TIMESTAMP, ID LIMIT ?";

interface TablePlan {
  access_type?: string;
  key?: string;
  r_rows?: number;
}

function findTable(node: unknown): TablePlan | null {
  if (node === null || typeof node !== "object") return null;
  const o = node as Record<string, unknown>;
  if (o.table && typeof o.table === "object" && "access_type" in (o.table as object)) return o.table as TablePlan;
  for (const v of Object.values(o)) {
    const found = findTable(v);
    if (found) return found;
  }
  return null;
}

t.test("the MariaDB source issues the seek form", async (t) => {
  const text = readFileSync(join(__dirname, "../../src/adapters/mariadb-source.ts"), "utf8");
  t.ok(text.includes(WHERE), "mariadb-source.ts carries the page query checked here");
});

t.test("the MariaDB page query is an index range scan starting at the watermark, without filesort", async (t) => {
  const table = uniqueName("TXLOG_PLAN");
  const conn = await connectLocal();
  t.teardown(async () => {
    await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
    await conn.end();
  });
  await createTxlogTable(conn, table);
  await insertTxlogRows(conn, table, sampleRows(20_000, { perTimestamp: 3, dataBytes: 100 }));
  await conn.query(`ANALYZE TABLE \`${table}\``);
  const rows = sampleRows(20_000, { perTimestamp: 3, dataBytes: 100 });
  const mark = rows[15_001]; // inside a group of rows sharing a timestamp
  const upper = rows[19_999]?.eventTimestamp;
  const sql = `SELECT ID FROM \`${table}\` ${WHERE}`;
  const params = [mark?.eventTimestamp, mark?.eventTimestamp, BigInt(mark?.id ?? 0), upper, 100];

  const explained = (await conn.query({ sql: `EXPLAIN FORMAT=JSON ${sql}`, rowsAsArray: true }, params)) as string[][];
  const plan = JSON.parse(explained[0]?.[0] ?? "{}") as unknown;
  const scan = findTable(plan);
  t.equal(scan?.access_type, "range", "an index range scan");
  t.equal(scan?.key, `IX_${table}_TS_ID`, "on (EVENT_TIMESTAMP, ID)");
  t.notMatch(JSON.stringify(plan), /filesort/, "no filesort");

  const analyzed = (await conn.query({ sql: `ANALYZE FORMAT=JSON ${sql}`, rowsAsArray: true }, params)) as string[][];
  const visited = findTable(JSON.parse(analyzed[0]?.[0] ?? "{}"))?.r_rows ?? Number.POSITIVE_INFINITY;
  t.ok(visited <= 200, `a page of 100 after row 15,002 visits ${visited} index entries, not the 15,000 before it`);

  const got = (await conn.query({ sql, rowsAsArray: true }, params)) as bigint[][];
  t.same(
    got.map((r) => String(r[0])),
    rows.slice(15_002, 15_102).map((r) => r.id),
    "the same rows as the OR form: strictly after the watermark, ties included",
  );
});
