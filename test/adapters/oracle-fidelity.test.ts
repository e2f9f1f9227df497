/**
 * Issue 10: what a real Oracle database does that the first version of the source got wrong.
 * One test (or a few) per defect, each against the node-oracledb fake with the behaviour the
 * defect depends on (NULL concatenation, plans, LOCAL TIME ZONE, versions, LOB types, round
 * trips, hung calls).
 */

import type { Readable } from "node:stream";
import t from "tap";
import type { OracleSource } from "../../src/adapters/oracle-source";
import type { SourceRow } from "../../src/pipeline/types";
import type { FakeRow } from "../fakes/fake-oracledb";
import { fakeRow, setupFake } from "../helpers/oracle";

async function rowsOf(stream: Readable): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const chunk of stream) rows.push(...(chunk as SourceRow[]));
  return rows;
}

const read = (source: OracleSource, o: Partial<Parameters<OracleSource["read"]>[0]> = {}) =>
  rowsOf(source.read({ after: null, limit: 1000, pageSize: 100, safetyLagSeconds: 0, ...o }));

const nulls: Partial<FakeRow> = { CASE_ID: null, EVENT_TYPE: null, EVENT_DATA: null, CREATED_AT: null };

t.test("defect 2: NULLs stay NULL in every nullable column, for DATE and TIMESTAMP tables", async (t) => {
  for (const type of ["DATE", "TIMESTAMP"] as const) {
    const ts = type === "DATE" ? "2026-01-01 00:00:01" : "2026-01-01 00:00:01.250000";
    const { source } = setupFake([fakeRow(1, { ...nulls, EVENT_TIMESTAMP: ts })], {}, { EVENT_TIMESTAMP: type, CREATED_AT: type });
    t.teardown(() => source.close());
    const [r] = await read(source);
    t.same(
      { caseId: r?.caseId, eventType: r?.eventType, eventData: r?.eventData, createdAt: r?.createdAt },
      { caseId: null, eventType: null, eventData: null, createdAt: null },
      `${type}: a NULL CREATED_AT is null, not ".000000"`,
    );
    t.equal(r?.eventTimestamp, type === "DATE" ? "2026-01-01 00:00:01.000000" : ts);
  }
});

t.test("defect 1: each page seeks the index at the watermark instead of walking the backlog", async (t) => {
  const { fake, source } = setupFake(3000);
  t.teardown(() => source.close());
  // A watermark deep into the table: the next 400 rows in pages of 100.
  const after = { ts: fakeRow(2500).EVENT_TIMESTAMP, id: "2500" };
  const got = await read(source, { after, pageSize: 100, limit: 400 });
  t.same([got[0]?.id, got.at(-1)?.id, got.length], ["2501", "2900", 400]);
  const reads = fake.executed(/ORDER BY EVENT_TIMESTAMP, ID/);
  t.ok(reads.length > 0);
  for (const r of reads) {
    t.ok(r.plan.rangeStart, "the index range starts at the watermark (an access predicate on EVENT_TIMESTAMP)");
    t.notOk(r.plan.sort, "no SORT ORDER BY");
  }
  const examined = reads.reduce((n, r) => n + r.plan.rowsExamined, 0);
  t.ok(examined <= 2 * got.length, `index entries visited (${examined}) are of the order of the rows read (${got.length}), not of the backlog`);
});

t.test("defect 7: a TIMESTAMP WITH LOCAL TIME ZONE column is bound as its own type, so the index still seeks", async (t) => {
  // Stored instants (shown here in UTC); the source's zone is Asia/Tokyo (+09:00, no DST).
  const rows = Array.from({ length: 300 }, (_, i) => fakeRow(i + 1, { EVENT_TIMESTAMP: `${fakeRow(i + 1).EVENT_TIMESTAMP} +00:00`, CREATED_AT: null }));
  const { fake, source } = setupFake(
    rows,
    { timeZone: "Asia/Tokyo" },
    { EVENT_TIMESTAMP: "TIMESTAMP WITH LOCAL TIME ZONE", CREATED_AT: "TIMESTAMP WITH LOCAL TIME ZONE" },
  );
  t.teardown(() => source.close());
  const after = { ts: "2026-01-01 09:03:20.000000", id: "200" }; // row 200 (00:03:20 UTC) in Tokyo wall time
  const got = await read(source, { after, pageSize: 50 });
  t.same([got[0]?.id, got[0]?.eventTimestamp, got.length], ["201", "2026-01-01 09:03:21.000000", 100]);
  const reads = fake.executed(/ORDER BY EVENT_TIMESTAMP, ID/);
  for (const r of reads) t.ok(r.plan.rangeStart, "the bound converts, not the column: the range starts at the watermark");
  const examined = reads.reduce((n, r) => n + r.plan.rowsExamined, 0);
  t.ok(examined <= 2 * got.length, `index entries visited (${examined}) stay of the order of the rows read`);
});

t.test("defect 3: Oracle before 12.1 is refused in one line; below 12.2 identifiers are limited to 30 bytes", async (t) => {
  const old = setupFake(3);
  t.teardown(() => old.source.close());
  old.fake.serverVersion = 1102000400; // 11.2.0.4
  const e11 = await read(old.source).catch((e: unknown) => e as Error & { transient: boolean });
  t.match(e11, { name: "SourceError", transient: false, message: /12\.1 or later/ }, "11g: refused, not retried");
  t.notMatch((e11 as Error).message, /\n/, "in one line");

  const startCheck = setupFake(3);
  t.teardown(() => startCheck.source.close());
  startCheck.fake.serverVersion = 1102000400;
  await t.rejects(startCheck.source.check(), { name: "SourceError", transient: false, message: /12\.1 or later/ }, "check() at start says the same");
  startCheck.fake.serverVersion = 1903000000;
  await startCheck.source.check();
  t.equal(startCheck.fake.connectionsOut, 0, "check() returns its connection");

  const long = `spc.${"T".repeat(31)}`; // a 31-byte table name: valid from 12.2 on
  const v121 = setupFake(3, { table: long });
  t.teardown(() => v121.source.close());
  v121.fake.createTable(long, [fakeRow(1)]);
  v121.fake.serverVersion = 1201000200;
  await t.rejects(read(v121.source), { name: "SourceError", transient: false, message: /31 bytes.*30 bytes.*12\.1/ }, "12.1: the 30-byte limit, named");

  const v122 = setupFake(3, { table: long });
  t.teardown(() => v122.source.close());
  v122.fake.createTable(long, [fakeRow(1)]);
  v122.fake.serverVersion = 1202000100;
  t.equal((await read(v122.source)).length, 1, "12.2: the same name reads");
});

t.test("defect 4: JSON, BLOB, NCLOB and NVARCHAR2 EVENT_DATA arrive as text; other types are refused at start", async (t) => {
  const text = '{"amount":12.5,"note":"ünï ✓","big":9007199254740993}';
  for (const type of ["JSON", "BLOB", "NCLOB", "NVARCHAR2"] as const) {
    const { fake, source } = setupFake([fakeRow(1, { EVENT_DATA: text }), fakeRow(2, { EVENT_DATA: null })], {}, { EVENT_DATA: type });
    t.teardown(() => source.close());
    // A database whose national character set is UTF8 (not AL16UTF16): Thin raises NJS-100
    // when it has to decode an NCHAR value itself.
    fake.nationalCharset = "UTF8";
    const got = await read(source).catch((e: unknown) => e as Error);
    t.same(Array.isArray(got) ? got.map((r) => r.eventData) : (got as Error).message, [text, null], `${type}: the stored text, and NULL as null`);
  }
  const { source } = setupFake([fakeRow(1)], {}, { EVENT_DATA: "DATE" as never });
  t.teardown(() => source.close());
  await t.rejects(read(source), { name: "SourceError", transient: false, message: /EVENT_DATA.*DATE.*CLOB/ }, "an unsupported type is named, with what to use");
});

t.test("defect 10: a read is one resultSet, one round trip per page, closed on every path", async (t) => {
  const { fake, source } = setupFake(1000);
  t.teardown(() => source.close());
  await source.latest(0); // column types read once, outside what is measured
  const before = fake.roundTrips;
  const got = await read(source, { pageSize: 100, limit: 1000 });
  t.equal(got.length, 1000);
  const trips = fake.roundTrips - before;
  // Upper bound 1 + open (execute + LOB define) 2 + 10 pages + 1 that finds the end.
  t.ok(trips <= 14, `${trips} round trips for 10 pages with a CLOB column (pages re-executed cost at least 2 each)`);
  t.equal(fake.executed(/ORDER BY EVENT_TIMESTAMP, ID/).length, 1, "the query runs once per read");
  t.equal(fake.resultSetsOpen, 0, "closed at the end");

  const stream = source.read({ after: null, limit: 1000, pageSize: 100, safetyLagSeconds: 0 });
  for await (const _ of stream) break; // the consumer stops after the first page
  if (!stream.closed) await new Promise((resolve) => stream.once("close", resolve));
  t.equal(fake.resultSetsOpen, 0, "closed when the consumer stops early");
  t.equal(fake.connectionsOut, 0);

  fake.inject({ on: "getRows", error: "ORA-00942" });
  await t.rejects(read(source, { pageSize: 100 }), { name: "SourceError" });
  t.equal(fake.resultSetsOpen, 0, "closed on a permanent error");
  t.equal(fake.connectionsOut, 0);
});

t.test("defect 10: pages mode (kept for the live comparison) reads the same rows at two round trips a page", async (t) => {
  const { fake, source } = setupFake(1000, { readMode: "pages" });
  t.teardown(() => source.close());
  await source.latest(0);
  const before = fake.roundTrips;
  t.equal((await read(source, { pageSize: 100 })).length, 1000);
  const trips = fake.roundTrips - before;
  t.ok(trips >= 21, `${trips} round trips: execute + fetch for each of 10 pages, and one more page that finds the end`);
  t.equal(fake.resultSetsOpen, 0);
});

t.test("defect 10: a transient failure mid-cursor re-opens it after the last row emitted, exactly", async (t) => {
  // Ties: 30 rows share every timestamp.
  const rows = Array.from({ length: 300 }, (_, i) => fakeRow(i + 1, { EVENT_TIMESTAMP: fakeRow(Math.floor(i / 30) + 1).EVENT_TIMESTAMP }));
  const { fake, source } = setupFake(rows);
  t.teardown(() => source.close());
  fake.inject({ on: "getRows", error: "ORA-01555", skip: 3 }); // snapshot too old on the 4th fetch
  const got = await read(source, { pageSize: 25 });
  t.same(
    got.map((r) => r.id),
    rows.map((r) => r.ID),
    "every row once, in order",
  );
  const opens = fake.executed(/ORDER BY EVENT_TIMESTAMP, ID/);
  t.equal(opens.length, 2, "re-opened once");
  t.same([opens[1]?.binds.t, opens[1]?.binds.id], [got[74]?.eventTimestamp, "75"], "from the last row emitted (75, inside a tie group)");
  t.equal(fake.resultSetsOpen, 0);
});

t.test("defect 9: an EVENT_DATA longer than the publishable size is not loaded; its length says why", async (t) => {
  const big = "x".repeat(50_000);
  const rows = [fakeRow(1, { EVENT_DATA: "small" }), fakeRow(2, { EVENT_DATA: big }), fakeRow(3, { EVENT_DATA: null })];
  for (const type of ["CLOB", "BLOB"] as const) {
    const { fake, source } = setupFake(rows, { maxEventDataLength: 1000 }, { EVENT_DATA: type });
    t.teardown(() => source.close());
    const got = (await read(source)) as (SourceRow & { eventDataLength?: number })[];
    t.same(
      got.map((r) => [r.id, r.eventData, r.eventDataLength]),
      [
        ["1", "small", undefined],
        ["2", null, 50_000],
        ["3", null, undefined],
      ],
      `${type}: the oversized value is left in the database, its length reported`,
    );
    t.ok(fake.lobBytesFetched < 1000, `${type}: ${fake.lobBytesFetched} LOB bytes fetched, not 50,000`);
  }
});
