import t from "tap";
import { isAfter } from "../../src/pipeline/position";
import { BEFORE_ALL_IDS, startPosition, wallClock } from "../../src/pipeline/start-position";
import type { RowSource } from "../../src/pipeline/types";

t.test("start_from timestamps become wall-clock text in the source's zone, microseconds kept", async (t) => {
  t.equal(wallClock("2026-01-31", "UTC"), "2026-01-31 00:00:00.000000");
  t.equal(wallClock("2026-01-31T12:34:56.123456", "UTC"), "2026-01-31 12:34:56.123456");
  t.equal(wallClock("2026-01-31 12:34:56.5", "+09:00"), "2026-01-31 12:34:56.500000", "no zone: already wall-clock");
  t.equal(wallClock("2026-01-31T00:00:00+09:00", "UTC"), "2026-01-30 15:00:00.000000");
  t.equal(wallClock("2026-01-31T00:00:00Z", "+09:00"), "2026-01-31 09:00:00.000000");
  t.equal(wallClock("2026-01-31T00:00:00.000001-05:00", "UTC"), "2026-01-31 05:00:00.000001");
  t.throws(() => wallClock("31/01/2026", "UTC"), RangeError);
});

t.test("a start timestamp includes rows stamped exactly at it; earliest and latest ask nothing or the source", async (t) => {
  const source = { latest: async () => ({ ts: "2026-01-01 00:00:00.000000", id: "9" }) } as unknown as RowSource;
  const start = await startPosition("2026-02-01T00:00:00", source, 5, "UTC");
  t.same(start, { ts: "2026-02-01 00:00:00.000000", id: BEFORE_ALL_IDS });
  t.ok(start && isAfter({ ts: "2026-02-01 00:00:00.000000", id: "-5" }, start), "even a negative id at that instant comes after it");
  t.equal(await startPosition("earliest", source, 5, "UTC"), null);
  t.same(await startPosition("latest", source, 5, "UTC"), { ts: "2026-01-01 00:00:00.000000", id: "9" });
});

t.test("positions order by timestamp, then by id as an integer", async (t) => {
  const at = (ts: string, id: string) => ({ ts, id });
  t.ok(isAfter(at("2026-01-01 00:00:00.000001", "1"), at("2026-01-01 00:00:00.000000", "99")));
  t.ok(isAfter(at("2026-01-01 00:00:00.000000", "10"), at("2026-01-01 00:00:00.000000", "9")), "10 > 9, not as text");
  t.ok(isAfter(at("2026-01-01 00:00:00.000000", "9007199254740993"), at("2026-01-01 00:00:00.000000", "9007199254740992")));
  t.notOk(isAfter(at("2026-01-01 00:00:00.000000", "5"), at("2026-01-01 00:00:00.000000", "5")));
  t.ok(isAfter(at("2026-01-01 00:00:00.000000", "5"), null));
});

t.test("start_from with a zone becomes wall-clock in an IANA source zone, with the offset of that date", async (t) => {
  t.equal(wallClock("2026-07-01T10:00:00Z", "Europe/Berlin"), "2026-07-01 12:00:00.000000", "summer: +02:00");
  t.equal(wallClock("2026-01-15T10:00:00Z", "Europe/Berlin"), "2026-01-15 11:00:00.000000", "winter: +01:00");
  t.equal(wallClock("2026-07-01T12:00:00+02:00", "America/New_York"), "2026-07-01 06:00:00.000000");
  t.equal(wallClock("2026-07-01T12:00:00.25", "Europe/Berlin"), "2026-07-01 12:00:00.250000", "no zone: already wall-clock");
});
