/**
 * The Oracle statements of RowSource.countAfter / countBetween, as text: no Oracle server runs
 * here and the fake driver's interpreter has no COUNT, so the SQL and binds are checked as
 * written (the same seek predicate as pageStatement, FETCH FIRST bounding the count).
 */
import t from "tap";
import { type ColumnKinds, clockStatement, countAfterStatement, countBetweenStatement, pageStatement } from "../../src/adapters/oracle-sql";

const kinds = (eventTimestamp: ColumnKinds["eventTimestamp"]): ColumnKinds =>
  ({ eventTimestamp, createdAt: "timestamp", caseId: "text", eventType: "text", eventData: "clob" }) as ColumnKinds;
const after = { ts: "2026-01-01 00:00:00.000001", id: "42" };

t.test("countAfter uses pageStatement's WHERE clause, no ORDER BY, bounded by FETCH FIRST", async (t) => {
  const st = countAfterStatement("spc.TXLOG_EVENTS", kinds("timestamp"), "UTC", after, "2026-02-01 00:00:00.000000", 1000);
  t.equal(
    st.sql,
    "SELECT COUNT(*) AS N FROM (SELECT 1 FROM spc.TXLOG_EVENTS WHERE EVENT_TIMESTAMP >= TO_TIMESTAMP(:t, 'YYYY-MM-DD HH24:MI:SS.FF6') AND (EVENT_TIMESTAMP > TO_TIMESTAMP(:t, 'YYYY-MM-DD HH24:MI:SS.FF6') OR ID > :id) AND EVENT_TIMESTAMP <= TO_TIMESTAMP(:upper, 'YYYY-MM-DD HH24:MI:SS.FF6') FETCH FIRST :n ROWS ONLY)",
  );
  t.same(st.binds, { t: after.ts, id: "42", upper: "2026-02-01 00:00:00.000000", n: 1000 });
  const page = pageStatement("spc.TXLOG_EVENTS", kinds("timestamp"), "UTC", after, "2026-02-01 00:00:00.000000", 1000);
  const where = (sql: string) => /WHERE (.*?) (ORDER BY|FETCH FIRST)/.exec(sql)?.[1];
  t.equal(where(st.sql), where(page.sql), "the same predicate as a read");
  t.notMatch(st.sql, /ORDER BY/);

  const all = countAfterStatement("T", kinds("zoned"), "+09:00", null, "2026-02-01 00:00:00.000000", 5);
  t.equal(
    all.sql,
    "SELECT COUNT(*) AS N FROM (SELECT 1 FROM T WHERE EVENT_TIMESTAMP <= FROM_TZ(TO_TIMESTAMP(:upper, 'YYYY-MM-DD HH24:MI:SS.FF6'), :zone) FETCH FIRST :n ROWS ONLY)",
  );
  t.same(all.binds, { upper: "2026-02-01 00:00:00.000000", n: 5, zone: "+09:00" }, "the zone is bound only when used");
});

t.test("countBetween: (a, aid) < (ts, id) <= (b, bid) in seek form; the clock and upper bound in one round trip", async (t) => {
  const st = countBetweenStatement("T", kinds("date"), "UTC", after, { ts: "2026-01-02 00:00:00.000000", id: "99" }, 10);
  t.match(st.sql, /^SELECT COUNT\(\*\) AS N FROM \(SELECT 1 FROM T WHERE EVENT_TIMESTAMP >= TO_DATE\(SUBSTR\(:a, 1, 19\)/);
  t.match(st.sql, /\(EVENT_TIMESTAMP > TO_DATE\(SUBSTR\(:a, 1, 19\), '[^']+'\) OR ID > :aid\)/);
  t.match(st.sql, /EVENT_TIMESTAMP <= TO_DATE\(SUBSTR\(:b, 1, 19\), '[^']+'\) AND \(EVENT_TIMESTAMP < TO_DATE\(SUBSTR\(:b, 1, 19\), '[^']+'\) OR ID <= :bid\)/);
  t.match(st.sql, /FETCH FIRST :n ROWS ONLY\)$/);
  t.same(st.binds, { a: after.ts, aid: "42", b: "2026-01-02 00:00:00.000000", bid: "99", n: 10 });

  const clock = clockStatement("Europe/Berlin", 2.5);
  t.match(
    clock.sql,
    /^SELECT TO_CHAR\(SYSTIMESTAMP AT TIME ZONE :zone, 'YYYY-MM-DD HH24:MI:SS\.FF6'\) AS DB_NOW, TO_CHAR\(\(SYSTIMESTAMP AT TIME ZONE :zone\) - NUMTODSINTERVAL\(:lag, 'SECOND'\), '[^']+'\) AS UPPER_BOUND FROM DUAL$/,
  );
  t.same(clock.binds, { zone: "Europe/Berlin", lag: 2.5 });
});
