/**
 * The source conformance suite: every RowSource adapter must pass it against every real
 * database available (MariaDB always; Oracle when ORACLE_TEST_DSN is set). It checks the
 * contract in src/pipeline/types.ts: keyset order, ties, the lag bound, lossless values,
 * resume, backpressure, and connection loss.
 */
import type { Readable } from "node:stream";
import type { Test } from "tap";
import { SourceError } from "../../src/errors";
import type { ReadOptions, RowSource, SourceRow } from "../../src/pipeline/types";
import type { ConformanceRow, SourceHarness } from "./harness";

const BASE = "2026-03-01 10:00:00.000000";

function ts(seconds: number, micros = 0): string {
  const d = new Date(Date.parse(`${BASE.slice(0, 10)}T${BASE.slice(11, 19)}Z`) + seconds * 1000);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}.${String(micros).padStart(6, "0")}`;
}

function row(id: string | number, eventTimestamp: string, extra: Partial<ConformanceRow> = {}): ConformanceRow {
  return {
    id: String(id),
    caseId: `C${id}`,
    eventType: "CREATED",
    eventData: `{"n":${JSON.stringify(String(id))}}`,
    eventTimestamp,
    createdAt: eventTimestamp,
    ...extra,
  };
}

async function readAll(source: RowSource, options: Partial<ReadOptions> = {}): Promise<{ rows: SourceRow[]; chunks: number[] }> {
  const stream = source.read({ after: null, limit: 1_000_000, pageSize: 1000, safetyLagSeconds: 0, ...options });
  const rows: SourceRow[] = [];
  const chunks: number[] = [];
  for await (const chunk of stream as AsyncIterable<SourceRow[]>) {
    chunks.push(chunk.length);
    rows.push(...chunk);
  }
  return { rows, chunks };
}

const ids = (rows: SourceRow[]) => rows.map((r) => r.id);

/** Subtract two `YYYY-MM-DD HH:MM:SS.ffffff` texts, in seconds. */
function secondsBetween(a: string, b: string): number {
  const ms = (s: string) => Date.parse(`${s.slice(0, 10)}T${s.slice(11, 19)}Z`) + Number(s.slice(20, 26)) / 1000;
  return (ms(a) - ms(b)) / 1000;
}

function plus(text: string, seconds: number): string {
  const ms = Date.parse(`${text.slice(0, 10)}T${text.slice(11, 19)}Z`) + Math.round(seconds * 1000);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${text.slice(20, 26)}`;
}

export function runSourceConformance(t: Test, harness: SourceHarness): void {
  t.before(() => harness.setup());
  t.teardown(() => harness.teardown());

  const withSource = async <T>(fn: (source: RowSource) => Promise<T>): Promise<T> => {
    const source = harness.source();
    try {
      return await fn(source);
    } finally {
      await source.close();
    }
  };

  t.test(`${harness.name}: an empty table reads nothing and has no latest row`, async (t) => {
    await withSource(async (source) => {
      t.same((await readAll(source)).rows, []);
      t.equal(await source.latest(0), null);
    });
  });

  t.test(`${harness.name}: rows come in (EVENT_TIMESTAMP, ID) order, ties across page boundaries neither lost nor repeated`, async (t) => {
    // 3 groups of rows sharing a timestamp, inserted out of order; pages of 4 split every group.
    const rows = [7, 3, 9, 1, 5, 2, 8, 4, 6, 10, 12, 11].map((id) => row(id, ts(10 + Math.floor((id - 1) / 5))));
    await harness.insert(rows);
    await withSource(async (source) => {
      const { rows: got, chunks } = await readAll(source, { pageSize: 4 });
      t.same(ids(got), ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]);
      t.ok(
        chunks.every((n) => n <= 4 && n > 0),
        `chunks ${chunks.join(",")} are at most pageSize`,
      );
      // Resume inside a tie group: after (ts of 1..5, id 3) come 4 and 5 of the same timestamp, then the rest.
      const resumed = await readAll(source, { after: { ts: ts(10), id: "3" }, pageSize: 2 });
      t.same(ids(resumed.rows), ["4", "5", "6", "7", "8", "9", "10", "11", "12"]);
      const limited = await readAll(source, { after: { ts: ts(10), id: "3" }, pageSize: 2, limit: 5 });
      t.same(ids(limited.rows), ["4", "5", "6", "7", "8"], "limit caps the total");
      t.same(await source.latest(0), { ts: ts(12), id: "12" });
    });
  });

  t.test(`${harness.name}: values arrive lossless (NULLs, unicode, large EVENT_DATA, microseconds)`, async (t) => {
    const big = `{"blob":"${"0123456789abcdef".repeat(65536)}"}`; // 1 MiB + a little
    const unicode = 'ünïcödé ✓ 日本語 עברית 👩‍👩‍👧 "quoted" \\ back\nslash\t{not json';
    const rows = [
      row(101, ts(100, 1), { caseId: null, eventType: null, eventData: null, createdAt: null }),
      row(102, ts(100, 999999), { eventData: unicode, caseId: "케이스-😀" }),
      row(103, ts(101, 500000), { eventData: big }),
      row(104, ts(101, 500001), { eventData: "", caseId: "" }),
    ];
    await harness.insert(rows);
    await withSource(async (source) => {
      const got = (await readAll(source, { after: { ts: ts(99), id: "0" } })).rows;
      t.same(ids(got), ["101", "102", "103", "104"]);
      const [a, b, c, d] = got as [SourceRow, SourceRow, SourceRow, SourceRow];
      t.same(
        { caseId: a.caseId, eventType: a.eventType, eventData: a.eventData, createdAt: a.createdAt },
        { caseId: null, eventType: null, eventData: null, createdAt: null },
        "NULLs are null",
      );
      t.equal(a.eventTimestamp, ts(100, 1), "microseconds kept");
      t.equal(b.eventTimestamp, ts(100, 999999));
      t.equal(b.eventData, unicode, "unicode and invalid JSON kept as is");
      t.equal(b.caseId, "케이스-😀");
      t.equal(c.eventData?.length, big.length, "1 MiB EVENT_DATA arrives whole");
      t.equal(c.eventData, big);
      t.ok(d.eventData === "" || d.eventData === null, "an empty EVENT_DATA is empty (Oracle stores '' as NULL)");
    });
  });

  t.test(`${harness.name}: IDs beyond 2^53 stay exact and ordered`, async (t) => {
    const same = ts(200);
    const bigIds = ["9007199254740993", "9007199254740992", "9223372036854775807", "9007199254740995"];
    await harness.insert(bigIds.map((id) => row(id, same)));
    await withSource(async (source) => {
      const got = (await readAll(source, { after: { ts: ts(199), id: "0" } })).rows;
      t.same(ids(got), ["9007199254740992", "9007199254740993", "9007199254740995", "9223372036854775807"]);
      const resumed = (await readAll(source, { after: { ts: same, id: "9007199254740993" } })).rows;
      t.same(ids(resumed), ["9007199254740995", "9223372036854775807"], "resume between ids that doubles cannot tell apart");
    });
  });

  t.test(`${harness.name}: only rows older than database now minus the lag are read, and a late commit within the lag is still read`, async (t) => {
    const now = await harness.dbNow();
    const lag = 2;
    await harness.insert([row(301, plus(now, -60)), row(302, plus(now, 30))]); // one old, one in the future
    await withSource(async (source) => {
      const first = (await readAll(source, { after: { ts: ts(1000), id: "0" }, safetyLagSeconds: lag })).rows;
      t.same(ids(first), ["301"], "the future row is beyond the lag bound");
      const watermark = { ts: (first[0] as SourceRow).eventTimestamp, id: "301" };
      // A transaction that stamped its row 1 s ago commits only now: the row is older than
      // rows a reader without a lag would already have passed, but within the lag.
      const stampedAt = plus(await harness.dbNow(), -1);
      await harness.insert([row(303, stampedAt)]);
      t.ok(secondsBetween(stampedAt, now) > -lag, "the late row is within the lag of the first read");
      t.same(ids((await readAll(source, { after: watermark, safetyLagSeconds: lag })).rows), [], "not yet: still within the lag");
      await new Promise((r) => setTimeout(r, 1300));
      t.same(ids((await readAll(source, { after: watermark, safetyLagSeconds: lag })).rows), ["303"], "read once it is older than the lag");
      t.same(await source.latest(lag), { ts: stampedAt, id: "303" });
    });
  });

  t.test(`${harness.name}: a consumer that does not read keeps the source from reading ahead`, async (t) => {
    const rows = Array.from({ length: 200 }, (_, i) => row(1000 + i, ts(400 + i)));
    await harness.insert(rows);
    await withSource(async (source) => {
      const stream: Readable = source.read({ after: { ts: ts(399), id: "0" }, limit: 200, pageSize: 10, safetyLagSeconds: 0 });
      let emitted = 0;
      const first = await new Promise<SourceRow[]>((resolve, reject) => {
        stream.once("data", (chunk: SourceRow[]) => {
          stream.pause();
          resolve(chunk);
        });
        stream.once("error", reject);
      });
      emitted += first.length;
      await new Promise((r) => setTimeout(r, 500));
      const buffered = stream.readableLength;
      t.ok(buffered <= 2, `at most two pages buffered while paused (got ${buffered})`);
      const rest: SourceRow[] = [];
      stream.on("data", (chunk: SourceRow[]) => rest.push(...chunk));
      stream.resume();
      await new Promise((resolve, reject) => {
        stream.once("end", resolve);
        stream.once("error", reject);
      });
      emitted += rest.length;
      t.equal(emitted, 200, "everything arrives once resumed");
      t.same(
        ids([...first, ...rest]),
        rows.map((r) => r.id),
      );
    });
  });

  t.test(`${harness.name}: losing the connection mid-stream either resumes exactly or fails with a SourceError`, async (t) => {
    const rows = Array.from({ length: 300 }, (_, i) => row(5000 + i, ts(900 + i)));
    await harness.insert(rows);
    await withSource(async (source) => {
      const stream = source.read({ after: { ts: ts(899), id: "0" }, limit: 300, pageSize: 20, safetyLagSeconds: 0 });
      const got: SourceRow[] = [];
      let failure: unknown = null;
      let killed = false;
      try {
        for await (const chunk of stream as AsyncIterable<SourceRow[]>) {
          got.push(...chunk);
          if (!killed && got.length >= 60) {
            killed = true;
            await harness.killSourceSessions();
          }
        }
      } catch (err) {
        failure = err;
      }
      t.ok(killed, "a session was killed mid-stream");
      const expected = rows.map((r) => r.id);
      t.same(ids(got), expected.slice(0, got.length), "what was emitted is an exact prefix: no gap, no repeat");
      if (failure) t.type(failure, SourceError, "failure is a SourceError");
      else t.equal(got.length, 300, "resumed to the end");
    });
  });
}
