/**
 * OracleSource against the in-memory node-oracledb fake: the SQL it issues, the values it
 * hands over, keyset paging and the latest position.
 */

import type { Readable } from "node:stream";
import t from "tap";
import { OracleSource, type OracleSourceOptions } from "../../src/adapters/oracle-source";
import { SourceError } from "../../src/errors";
import type { SourceRow } from "../../src/pipeline/types";
import { type FakeColumnTypes, FakeOracle, type FakeRow } from "../fakes/fake-oracledb";
import { FAST_RETRY, fakeRow, oracleOptions, setupFake, TABLE } from "../helpers/oracle";

const FMT = "'YYYY-MM-DD HH24:MI:SS.FF6'";

const row = (id: string, ts: string, extra: Partial<FakeRow> = {}): FakeRow =>
  fakeRow(id, { CASE_ID: `case-${id}`, EVENT_TYPE: "created", EVENT_DATA: `{"id":${id}}`, EVENT_TIMESTAMP: ts, CREATED_AT: ts, ...extra });

const SOURCE: Partial<OracleSourceOptions> = { password: "pw-not-for-logs", retry: { ...FAST_RETRY, maxRetries: 2 } };

const baseOptions = (fake: FakeOracle, options: Partial<OracleSourceOptions> = {}) => oracleOptions(fake, { ...SOURCE, ...options });

const setup = (rows: FakeRow[] = [], types: Partial<FakeColumnTypes> = {}, options: Partial<OracleSourceOptions> = {}) =>
  setupFake(rows, { ...SOURCE, ...options }, types);

async function chunksOf(stream: Readable): Promise<SourceRow[][]> {
  const chunks: SourceRow[][] = [];
  for await (const chunk of stream) chunks.push(chunk as SourceRow[]);
  return chunks;
}

const read = (source: OracleSource, o: Partial<Parameters<OracleSource["read"]>[0]> = {}) =>
  chunksOf(source.read({ after: null, limit: 1000, pageSize: 100, safetyLagSeconds: 0, ...o }));

t.test("issues keyset SQL with every value bound and only the validated table inlined", async (t) => {
  const { fake, source } = setup([row("1", "2026-01-01 00:00:00.000000"), row("2", "2026-01-01 00:00:01.000000"), row("3", "2026-01-01 00:00:02.000000")]);
  t.teardown(() => source.close());
  const after = { ts: "2026-01-01 00:00:00.000000", id: "1" };
  const chunks = await read(source, { after, pageSize: 1, limit: 5, safetyLagSeconds: 30 });
  t.same(
    chunks.flat().map((r) => r.id),
    ["2", "3"],
  );

  const upper = fake.executed(/FROM DUAL/);
  t.equal(upper.length, 1, "the upper bound is taken once for the whole read");
  t.match(upper[0]?.sql ?? "", /SYSTIMESTAMP AT TIME ZONE :zone\) - NUMTODSINTERVAL\(:lag, 'SECOND'\)/);
  t.same(upper[0]?.binds, { zone: "+00:00", lag: 30 });

  const pages = fake.executed(/ORDER BY EVENT_TIMESTAMP, ID/);
  t.equal(pages.length, 1, "one cursor for the read, pages of 1 row fetched from it");
  t.equal(
    pages[0]?.sql,
    `SELECT ID, CASE_ID, EVENT_TYPE, EVENT_DATA, TO_CHAR(EVENT_TIMESTAMP, ${FMT}) AS EVENT_TS, TO_CHAR(CREATED_AT, ${FMT}) AS CREATED_TS FROM spc.TXLOG_EVENTS WHERE EVENT_TIMESTAMP >= TO_TIMESTAMP(:t, ${FMT}) AND (EVENT_TIMESTAMP > TO_TIMESTAMP(:t, ${FMT}) OR ID > :id) AND EVENT_TIMESTAMP <= TO_TIMESTAMP(:upper, ${FMT}) ORDER BY EVENT_TIMESTAMP, ID FETCH FIRST :n ROWS ONLY`,
  );
  t.same(pages[0]?.binds, { t: after.ts, id: "1", upper: "2026-03-01 11:59:30.000000", n: 5 }, "database now (12:00:00 UTC) minus 30 s; at most the limit");
  for (const p of pages) {
    t.notMatch(p.sql, /2026-|'1'|FETCH FIRST \d/, "no value is inlined in the SQL");
    t.equal(typeof p.binds.id === "undefined" || typeof p.binds.id === "string", true, ":id is bound as a string");
  }
});

t.test("drops the lower-bound predicate when there is no watermark", async (t) => {
  const { fake, source } = setup([row("1", "2026-01-01 00:00:00.000000")]);
  t.teardown(() => source.close());
  await read(source);
  const page = fake.executed(/FETCH FIRST/)[0];
  t.notMatch(page?.sql ?? "", /:t\b|:id\b|ID >/);
  t.match(page?.sql ?? "", /WHERE EVENT_TIMESTAMP <= TO_TIMESTAMP\(:upper, /);
  t.same(Object.keys(page?.binds ?? {}).sort(), ["n", "upper"]);
});

t.test("keeps the first upper bound for the whole read even when the clock moves", async (t) => {
  const rows = Array.from({ length: 6 }, (_, i) => row(String(i + 1), `2026-03-01 11:0${i}:00.000000`));
  const { fake, source } = setup(rows);
  t.teardown(() => source.close());
  fake.nowUtc = "2026-03-01 11:03:30.000000"; // rows 1..4 are at or below now
  const stream = source.read({ after: null, limit: 100, pageSize: 2, safetyLagSeconds: 0 });
  const seen: string[] = [];
  for await (const chunk of stream) {
    seen.push(...(chunk as SourceRow[]).map((r) => r.id));
    fake.nowUtc = "2026-03-01 12:00:00.000000"; // rows 5 and 6 become visible to a new read only
  }
  t.same(seen, ["1", "2", "3", "4"]);
  t.equal(fake.executed(/FROM DUAL/).length, 1);
  t.same(
    (await read(source, { after: { ts: "2026-03-01 11:03:00.000000", id: "4" } })).flat().map((r) => r.id),
    ["5", "6"],
    "the next read takes a new bound",
  );
});

t.test("excludes rows newer than database now minus the lag", async (t) => {
  const { fake, source } = setup([row("1", "2026-03-01 11:58:59.999999"), row("2", "2026-03-01 11:59:00.000000"), row("3", "2026-03-01 11:59:00.000001")]);
  t.teardown(() => source.close());
  fake.nowUtc = "2026-03-01 12:00:00.000000";
  t.same(
    (await read(source, { safetyLagSeconds: 60 })).flat().map((r) => r.id),
    ["1", "2"],
    "<= bound, to the microsecond",
  );
});

t.test("rejects table names that are not IDENT or SCHEMA.IDENT, naming the table", async (t) => {
  const fake = new FakeOracle();
  for (const bad of ["", "a.b.c", "1TABLE", "spc.TXLOG EVENTS", "spc.TXLOG_EVENTS;DROP TABLE x", '"spc"."T"', "spc.", "t--", `T${"x".repeat(128)}`]) {
    let caught: unknown;
    try {
      new OracleSource(baseOptions(fake, { table: bad }));
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof SourceError && !caught.transient && caught.message.includes(JSON.stringify(bad)), `refuses ${JSON.stringify(bad)}`);
  }
  t.equal(fake.pools.length, 0, "no pool is created for a refused name");
  for (const good of ["TXLOG_EVENTS", "spc.TXLOG_EVENTS", "A$#_1.B$#_2", `T${"x".repeat(127)}`]) {
    t.equal(setup([], {}, { table: good }).source.table, good, `accepts ${good}`);
  }
  t.equal(setup([], {}, {}).source.table, "spc.TXLOG_EVENTS", "defaults to spc.TXLOG_EVENTS");
});

t.test("fetches NUMBER and CLOB as exact strings and timestamps as TO_CHAR text", async (t) => {
  const big = "9007199254740993"; // 2^53 + 1: a JS number would read 9007199254740992
  const huge = "123456789012345678901234567890"; // 30 digits
  const clob = `{"text":"${"é日本".repeat(3000)}","n":1}`;
  const { fake, source } = setup(
    [
      row(big, "2026-01-01 00:00:00.000001", { CASE_ID: "900719925474099312345", EVENT_DATA: clob, CREATED_AT: null }),
      row(huge, "2026-01-01 00:00:00.000002", { CASE_ID: null, EVENT_TYPE: null, EVENT_DATA: null, CREATED_AT: "2025-12-31 23:59:59.999999" }),
    ],
    { CASE_ID: "NUMBER", EVENT_DATA: "CLOB" },
  );
  t.teardown(() => source.close());
  const rows = (await read(source)).flat();
  t.same(rows, [
    { id: big, caseId: "900719925474099312345", eventType: "created", eventData: clob, eventTimestamp: "2026-01-01 00:00:00.000001", createdAt: null },
    { id: huge, caseId: null, eventType: null, eventData: null, eventTimestamp: "2026-01-01 00:00:00.000002", createdAt: "2025-12-31 23:59:59.999999" },
  ]);
  const opts = fake.executed(/FETCH FIRST/)[0]?.options ?? {};
  t.equal(opts.outFormat, fake.driver.OUT_FORMAT_OBJECT);
  t.type(opts.fetchTypeHandler, "function", "a fetchTypeHandler is installed");

  // Control: the fake really is lossy without the handler, so the assertions above can fail.
  const conn = await (await fake.driver.createPool({})).getConnection();
  const raw = await conn.execute(`SELECT ID, EVENT_DATA FROM ${TABLE} ORDER BY ID FETCH FIRST 1 ROWS ONLY`, {}, { outFormat: fake.driver.OUT_FORMAT_OBJECT });
  const first = raw.rows?.[0] as { ID: unknown; EVENT_DATA: unknown };
  t.equal(first.ID, 9007199254740992, "default NUMBER fetch loses the last digit");
  t.not(typeof first.EVENT_DATA, "string", "default CLOB fetch is a Lob, not text");
});

t.test("reads NCLOB EVENT_DATA as text", async (t) => {
  const { source } = setup([row("1", "2026-01-01 00:00:00.000000", { EVENT_DATA: "ünï" })], { EVENT_DATA: "NCLOB" });
  t.teardown(() => source.close());
  t.equal((await read(source)).flat()[0]?.eventData, "ünï");
});

t.test("reads DATE columns with a .000000 fraction and bounds them as DATE", async (t) => {
  const { fake, source } = setup(
    [row("1", "2026-01-01 00:00:00"), row("2", "2026-01-01 00:00:00"), row("3", "2026-01-01 00:00:01"), row("4", "2026-03-01 11:59:59")],
    { EVENT_TIMESTAMP: "DATE", CREATED_AT: "DATE" },
  );
  t.teardown(() => source.close());
  fake.nowUtc = "2026-03-01 11:59:59.500000"; // bound has a fraction; a DATE at :59 is still below it
  const rows = (await read(source, { after: { ts: "2026-01-01 00:00:00.000000", id: "1" }, pageSize: 2 })).flat();
  t.same(
    rows.map((r) => [r.id, r.eventTimestamp, r.createdAt]),
    [
      ["2", "2026-01-01 00:00:00.000000", "2026-01-01 00:00:00.000000"],
      ["3", "2026-01-01 00:00:01.000000", "2026-01-01 00:00:01.000000"],
      ["4", "2026-03-01 11:59:59.000000", "2026-03-01 11:59:59.000000"],
    ],
  );
  const sql = fake.executed(/FETCH FIRST/)[0]?.sql ?? "";
  t.match(sql, /TO_CHAR\(EVENT_TIMESTAMP, 'YYYY-MM-DD HH24:MI:SS"\.000000"'\) AS EVENT_TS/);
  t.match(sql, /EVENT_TIMESTAMP > TO_DATE\(SUBSTR\(:t, 1, 19\), 'YYYY-MM-DD HH24:MI:SS'\)/);
});

t.test("refuses timestamp columns finer than microseconds and non-NUMBER IDs", async (t) => {
  const fine = new FakeOracle();
  fine.createTable(TABLE, [row("1", "2026-01-01 00:00:00.000000")], {}, 9);
  const { source: s1 } = setup([], {}, { driver: fine.driver });
  t.teardown(() => s1.close());
  await t.rejects(read(s1), { name: "SourceError", message: /EVENT_TIMESTAMP has fractional precision 9/ });
  const { source: s2 } = setup([row("1", "2026-01-01 00:00:00.000000")], { ID: "VARCHAR2" });
  t.teardown(() => s2.close());
  await t.rejects(read(s2), { name: "SourceError", message: /ID must be a NUMBER column/ });
});

t.test("keeps ties across page boundaries: every row once, in (timestamp, id) order", async (t) => {
  const ts = "2026-01-01 00:00:00.123456";
  const ids = ["9", "10", "100", "11", "2", "1000", "99"]; // numeric order differs from text order
  const { source } = setup([...ids.map((id) => row(id, ts)), row("1", "2026-01-01 00:00:00.123455"), row("5", "2026-01-01 00:00:00.123457")]);
  t.teardown(() => source.close());
  const chunks = await read(source, { pageSize: 3 });
  t.same(
    chunks.map((c) => c.length),
    [3, 3, 3],
  );
  t.same(
    chunks.flat().map((r) => r.id),
    ["1", "2", "9", "10", "11", "99", "100", "1000", "5"],
  );
  t.same(
    (await read(source, { after: { ts, id: "10" }, pageSize: 2 })).flat().map((r) => r.id),
    ["11", "99", "100", "1000", "5"],
    "resuming inside a tie continues after the watermark id",
  );
});

t.test("respects limit and pageSize: chunks never exceed pageSize and the total never exceeds limit", async (t) => {
  const rows = Array.from({ length: 25 }, (_, i) => row(String(i + 1), `2026-01-01 00:00:${String(i).padStart(2, "0")}.000000`));
  const { fake, source } = setup(rows);
  t.teardown(() => source.close());
  const chunks = await read(source, { pageSize: 10, limit: 23 });
  t.same(
    chunks.map((c) => c.length),
    [10, 10, 3],
  );
  t.same(
    fake.executed(/FETCH FIRST/).map((e) => e.binds.n),
    [23],
    "one cursor, bounded by the limit",
  );
  t.same(
    (await read(source, { pageSize: 7, limit: 1000 })).map((c) => c.length),
    [7, 7, 7, 4],
  );
  const before = fake.executes.length;
  t.same(await read(source, { limit: 0 }), [], "limit 0 reads nothing");
  t.equal(fake.executes.length, before, "and asks the database nothing");
});

t.test("rejects malformed read options with a SourceError", async (t) => {
  const { source } = setup();
  t.teardown(() => source.close());
  for (const bad of [
    { pageSize: 0 },
    { limit: -1 },
    { safetyLagSeconds: -1 },
    { after: { ts: "2026-01-01T00:00:00", id: "1" } },
    { after: { ts: "2026-01-01 00:00:00.000000", id: "1 OR 1=1" } },
  ]) {
    await t.rejects(read(source, bad), { name: "SourceError", message: /spc\.TXLOG_EVENTS/ }, JSON.stringify(bad));
  }
});

t.test("latest() returns the newest (timestamp, id) at or below now minus the lag", async (t) => {
  const { fake, source } = setup([
    row("7", "2026-03-01 11:00:00.000000"),
    row("8", "2026-03-01 11:00:00.000000"),
    row("3", "2026-03-01 11:00:00.000000"),
    row("9", "2026-03-01 11:59:59.000000"), // inside the lag
  ]);
  t.teardown(() => source.close());
  t.same(await source.latest(60), { ts: "2026-03-01 11:00:00.000000", id: "8" });
  t.same(await source.latest(0), { ts: "2026-03-01 11:59:59.000000", id: "9" });
  const last = fake.executed(/DESC/).at(-1);
  t.match(last?.sql ?? "", /ORDER BY EVENT_TIMESTAMP DESC, ID DESC FETCH FIRST 1 ROWS ONLY/);
  t.equal(fake.connectionsOut, 0, "latest() returns its connection");
  const empty = setup();
  t.teardown(() => empty.source.close());
  t.equal(await empty.source.latest(0), null, "null for an empty table");
});
