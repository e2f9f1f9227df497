/** The lag: database clock minus the watermark's timestamp, 0 when nothing waits. */
import t from "tap";
import { epochSeconds, lagSeconds } from "../../src/ops/lag";

t.test("is the database clock minus the watermark's EVENT_TIMESTAMP while rows wait", async (t) => {
  t.equal(lagSeconds({ dbNow: "2026-03-01 12:00:10.250000", watermarkTs: "2026-03-01 12:00:00.000000", timeZone: "UTC", waitingRows: 3 }), 10.25);
  t.equal(
    lagSeconds({ dbNow: "2026-03-02 00:00:00.000001", watermarkTs: "2026-03-01 23:59:59.999999", timeZone: "+09:00", waitingRows: 1 }),
    0.000002,
    "microseconds kept",
  );
  t.equal(
    lagSeconds({ dbNow: "2026-03-01 00:00:00.000000", watermarkTs: "2026-02-28 00:00:00.000000", timeZone: "-05:30", waitingRows: 1 }),
    86400,
    "across a month end",
  );
});

t.test("is 0 when no row is waiting, however old the watermark", async (t) => {
  t.equal(lagSeconds({ dbNow: "2026-03-01 12:00:00.000000", watermarkTs: "2020-01-01 00:00:00.000000", timeZone: "UTC", waitingRows: 0 }), 0);
  t.equal(lagSeconds({ dbNow: "2026-03-01 12:00:00.000000", watermarkTs: null, timeZone: "UTC", waitingRows: 0 }), 0);
});

t.test("is never negative, and undefined (null) without a watermark while rows wait", async (t) => {
  t.equal(lagSeconds({ dbNow: "2026-03-01 12:00:00.000000", watermarkTs: "2026-03-01 12:00:05.000000", timeZone: "UTC", waitingRows: 2 }), 0);
  t.equal(lagSeconds({ dbNow: "2026-03-01 12:00:00.000000", watermarkTs: null, timeZone: "UTC", waitingRows: 2 }), null);
});

t.test("reads wall-clock text in the source zone, and ISO text with its own zone", async (t) => {
  t.equal(epochSeconds("2026-01-01 00:00:00.000000", "UTC"), Date.parse("2026-01-01T00:00:00Z") / 1000);
  t.equal(epochSeconds("2026-01-01 09:00:00.000000", "+09:00"), Date.parse("2026-01-01T00:00:00Z") / 1000);
  t.equal(epochSeconds("2026-01-01T00:00:00Z", "+09:00"), Date.parse("2026-01-01T00:00:00Z") / 1000);
  t.equal(epochSeconds("2026-01-01 00:00:00.5", "UTC"), Date.parse("2026-01-01T00:00:00.500Z") / 1000);
  t.throws(() => epochSeconds("yesterday", "UTC"), RangeError);
});
