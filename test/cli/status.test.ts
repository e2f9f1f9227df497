/** `status`: gathering the parts, the table, the --json object, the exit code. */
import t from "tap";
import type { TrackingRow } from "../../src/cli/ports";
import { formatBytes, formatLag, gatherStatus, renderStatusTable, runStatus, type StatusDeps, statusJson } from "../../src/cli/status";
import { SourceError } from "../../src/errors";

const row: TrackingRow = {
  programName: "intime_txlog_events",
  watermark: { ts: "2026-03-01 12:00:00.000000", id: "12345678901234567890" },
  status: "SUCCESS",
  lastRunTime: "2026-03-01 12:00:30.123456",
  recordsProcessed: "2500",
  errorMessage: null,
  updatedAt: "2026-03-01 12:00:31.000000",
};

function deps(over: Partial<StatusDeps> = {}): StatusDeps & { counted: unknown[] } {
  const counted: unknown[] = [];
  return {
    counted,
    program: "intime_txlog_events",
    timeZone: "UTC",
    safetyLagSeconds: 5,
    tracking: { read: async () => row },
    lock: { holder: async () => null },
    stream: {
      info: async () => ({
        name: "TXLOG_EVENTS",
        messages: 123456,
        bytes: 130_000_000,
        subjects: ["intime.txlog.events", "intime.txlog.events.dlq"],
        duplicateWindowSeconds: 120,
      }),
    },
    source: {
      countAfter: async (after, lag, limit) => {
        counted.push({ after, lag, limit });
        return { rows: 42, dbNow: "2026-03-01 12:05:00.000000" };
      },
    },
    ...over,
  };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

t.test("reads every part; counts waiting rows after the watermark with the read bound and a limit", async (t) => {
  const d = deps();
  const report = await gatherStatus(d);
  t.same(d.counted, [{ after: row.watermark, lag: 5, limit: 1_000_000 }]);
  t.same(report.errors, {});
  t.same(report.lag, { seconds: 300, rowsWaiting: 42, atLeast: false, dbNow: "2026-03-01 12:05:00.000000" });
  t.same(report.lock, { holder: null });
});

t.test("the table: watermark, status, last run, error, stream, lag with rows waiting, lock", async (t) => {
  const report = await gatherStatus(deps({ lock: { holder: async () => ({ connectionId: "917", host: "10.0.0.5:51234" }) } }));
  const table = renderStatusTable(report);
  t.equal(
    table,
    [
      "program        intime_txlog_events",
      "watermark      2026-03-01 12:00:00.000000  id 12345678901234567890",
      "status         SUCCESS",
      "last run       2026-03-01 12:00:30.123456",
      "rows last run  2500",
      "error          -",
      "stream         TXLOG_EVENTS: 123,456 messages, 124.0 MiB",
      "subjects       intime.txlog.events, intime.txlog.events.dlq",
      "dup window     120 s",
      "lag            5 min 0 s, 42 rows waiting",
      "lock           held by connection 917 from 10.0.0.5:51234: an instance is running",
    ].join("\n"),
  );
});

t.test("--json: one object with the program row, stream, lag, rows waiting and the lock holder", async (t) => {
  const c = capture();
  const code = await runStatus(deps(), { json: true }, c.output);
  t.equal(code, 0);
  t.equal(c.out.length, 1, "one line");
  const o = JSON.parse(c.out[0] as string);
  t.same(o, {
    program: "intime_txlog_events",
    watermark: { ts: "2026-03-01 12:00:00.000000", id: "12345678901234567890" },
    status: "SUCCESS",
    last_run: "2026-03-01 12:00:30.123456",
    records_processed: "2500",
    error: null,
    tracking_row: "present",
    stream: { name: "TXLOG_EVENTS", messages: 123456, bytes: 130000000, subjects: ["intime.txlog.events", "intime.txlog.events.dlq"], duplicate_window_s: 120 },
    lag_s: 300,
    rows_waiting: 42,
    rows_waiting_at_least: false,
    db_now: "2026-03-01 12:05:00.000000",
    lock_held: false,
    lock_holder: null,
    errors: {},
  });
  t.same(c.err, []);
});

t.test("an idle table has lag 0; a program without a row counts from the start", async (t) => {
  const idle = await gatherStatus(deps({ source: { countAfter: async () => ({ rows: 0, dbNow: "2026-03-09 00:00:00.000000" }) } }));
  t.equal(idle.lag?.seconds, 0);
  t.match(renderStatusTable(idle), /^lag +0 s, 0 rows waiting$/m);

  const d = deps({ tracking: { read: async () => null } });
  const fresh = await gatherStatus(d);
  t.same(d.counted, [{ after: null, lag: 5, limit: 1_000_000 }]);
  t.equal(fresh.lag?.seconds, null);
  const table = renderStatusTable(fresh);
  t.match(table, /^tracking row +none yet \(the program has never run\)$/m);
  t.match(table, /^lag +unknown \(no watermark yet\), 42 rows waiting$/m);
  t.equal(statusJson(fresh).tracking_row, "absent");
});

t.test("a part that fails is named, the rest still shown, exit 1", async (t) => {
  const c = capture();
  const code = await runStatus(
    deps({
      stream: {
        info: async () => {
          throw new Error("stream not found");
        },
      },
      source: { countAfter: () => Promise.reject(new SourceError("counting TXLOG_EVENTS on MariaDB h:3306/db failed: ER_X", true)) },
    }),
    { json: false },
    c.output,
  );
  t.equal(code, 1);
  const table = c.out.join("\n");
  t.match(table, /^stream +unreadable: stream not found$/m);
  t.match(table, /^lag +unreadable: counting TXLOG_EVENTS .* failed: ER_X$/m);
  t.match(table, /^watermark +2026-03-01/m, "the tracking row is still shown");
  t.same(c.err, ["status: could not read stream, source"]);

  const noTracking = await gatherStatus(deps({ tracking: { read: () => Promise.reject(new Error("ER_ACCESS_DENIED_ERROR")) } }));
  t.same(noTracking.errors, { tracking: "ER_ACCESS_DENIED_ERROR", source: "not counted: the watermark could not be read" });
  t.equal(statusJson(noTracking).tracking_row, "unreadable");
});

t.test("a count at its limit reads as 'at least'", async (t) => {
  const report = await gatherStatus({ ...deps(), waitingLimit: 42 });
  t.equal(report.lag?.atLeast, true);
  t.match(renderStatusTable(report), /at least 42 rows waiting/);
});

t.test("sizes and lags in words", async (t) => {
  t.equal(formatBytes(512), "512 B");
  t.equal(formatBytes(1536), "1.5 KiB");
  t.equal(formatBytes(5 * 1024 ** 3), "5.0 GiB");
  t.equal(formatLag(0), "0 s");
  t.equal(formatLag(0.42), "0.4 s");
  t.equal(formatLag(42), "42 s");
  t.equal(formatLag(725), "12 min 5 s");
  t.equal(formatLag(12000), "3 h 20 min");
  t.equal(formatLag(187200), "2 d 4 h");
});
