import t from "tap";
import { eventJson, formatEvent, isoTimestamp, packEvents, rowTraceId, type TxlogEvent } from "../../src/event/txlog-event";
import type { SourceRow } from "../../src/pipeline/types";

const row: SourceRow = {
  id: "9007199254740993",
  caseId: "C-1",
  eventType: "CREATED",
  eventData: '{"a":1}',
  eventTimestamp: "2026-11-27 15:41:15.123456",
  createdAt: null,
};
const options = { timeZone: "UTC", dataType: "txlog_event", traceId: "uuid4" as const, table: "spc.TXLOG_EVENTS" };

t.test("an event is JSON with V7's keys, an exact id, zoned microsecond timestamps and a UUID trace id", async (t) => {
  const text = eventJson(formatEvent(row, options));
  t.match(text, /^\{"id":9007199254740993,"case_id":"C-1",/, "id is a bare number written from its digits");
  const parsed = JSON.parse(text) as Record<string, unknown>;
  t.same(Object.keys(parsed), ["id", "case_id", "event_type", "event_data", "event_timestamp", "created_at", "trace_id", "data_type"]);
  t.equal(parsed.event_timestamp, "2026-11-27T15:41:15.123456Z");
  t.equal(parsed.created_at, null);
  t.equal(parsed.event_data, '{"a":1}', "event_data is the column text as a JSON string");
  t.equal(parsed.data_type, "txlog_event");
  t.match(parsed.trace_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.not(formatEvent(row, options).trace_id, formatEvent(row, options).trace_id, "uuid4 trace ids differ per message");
});

t.test("row trace ids are UUIDs derived from table and id, the same on every replay", async (t) => {
  const a = formatEvent(row, { ...options, traceId: "row" }).trace_id;
  t.equal(a, formatEvent(row, { ...options, traceId: "row" }).trace_id);
  t.equal(a, rowTraceId("spc.TXLOG_EVENTS", "9007199254740993"));
  t.not(a, rowTraceId("spc.TXLOG_EVENTS", "9007199254740994"));
  t.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

t.test("timestamps carry the configured zone", async (t) => {
  t.equal(isoTimestamp("2026-01-02 03:04:05.000006", "UTC"), "2026-01-02T03:04:05.000006Z");
  t.equal(isoTimestamp("2026-01-02 03:04:05.000006", "+09:00"), "2026-01-02T03:04:05.000006+09:00");
});

t.test("EVENT_DATA survives byte for byte: invalid JSON, control characters, emoji, lone surrogates", async (t) => {
  const samples = ['{"unterminated": ', "tab\there\nnewline \u0000 nul", "emoji 👩‍💻 and 日本語", "lone \ud800 surrogate", "\u2028\u2029", ""];
  samples.forEach((data, i) => {
    const text = eventJson(formatEvent({ ...row, eventData: data }, options));
    // (names kept ASCII: U+2028 in a test name would break the TAP stream)
    t.equal((JSON.parse(text) as { event_data: string }).event_data, data, `sample ${i} round-trips`);
  });
});

t.test("packEvents concatenates the UTF-8 of each event with exact end offsets", async (t) => {
  const events: TxlogEvent[] = ["1", "2", "3"].map((id, i) => formatEvent({ ...row, id, eventData: "é".repeat(i * 10) }, options));
  const packed = packEvents(events);
  const decoder = new TextDecoder();
  let start = 0;
  events.forEach((e, i) => {
    const end = packed.ends[i] as number;
    t.equal(decoder.decode(packed.payload.subarray(start, end)), eventJson(e));
    start = end;
  });
  t.equal(start, packed.payload.length);
});

t.test("an id that is not decimal digits is refused instead of producing invalid JSON", async (t) => {
  t.throws(() => eventJson(formatEvent({ ...row, id: "12a" }, options)), TypeError);
});

t.test("source.time_zone may be an IANA region: each timestamp carries the offset in force at its own wall time", async (t) => {
  const at = (text: string) => isoTimestamp(text, "Europe/Berlin");
  t.equal(at("2026-07-01 12:00:00.000001"), "2026-07-01T12:00:00.000001+02:00", "summer time");
  t.equal(at("2026-01-15 12:00:00.000000"), "2026-01-15T12:00:00.000000+01:00", "winter time");
  t.equal(at("2026-03-29 01:59:59.999999"), "2026-03-29T01:59:59.999999+01:00", "just before the spring-forward gap");
  t.equal(at("2026-03-29 03:00:00.000000"), "2026-03-29T03:00:00.000000+02:00", "just after it");
  t.equal(at("2026-03-29 02:30:00.000000"), "2026-03-29T02:30:00.000000+01:00", "inside the gap (no such wall time): the offset before it");
  t.equal(at("2026-10-25 02:30:00.000000"), "2026-10-25T02:30:00.000000+02:00", "the repeated autumn hour is ambiguous: the earlier instant");
  t.equal(at("2026-10-25 03:00:00.000000"), "2026-10-25T03:00:00.000000+01:00");
  t.equal(isoTimestamp("2026-07-01 12:00:00.000000", "America/New_York"), "2026-07-01T12:00:00.000000-04:00");
  t.equal(isoTimestamp("2026-07-01 12:00:00.000000", "Asia/Kolkata"), "2026-07-01T12:00:00.000000+05:30");
  t.equal(isoTimestamp("2026-07-01 12:00:00.000000", "Europe/London"), "2026-07-01T12:00:00.000000+01:00");
  t.equal(isoTimestamp("2026-01-01 12:00:00.000000", "Europe/London"), "2026-01-01T12:00:00.000000+00:00");
  t.equal(isoTimestamp("2026-07-01 12:00:00.000000", "UTC"), "2026-07-01T12:00:00.000000Z", "UTC and fixed offsets unchanged");
  t.equal(isoTimestamp("2026-07-01 12:00:00.000000", "+09:00"), "2026-07-01T12:00:00.000000+09:00");
});

t.test("region offsets are cached per wall-clock hour: no Intl call per row", async (t) => {
  const proto = Intl.DateTimeFormat.prototype;
  const original = proto.formatToParts;
  let calls = 0;
  proto.formatToParts = function (this: Intl.DateTimeFormat, date?: Date | number) {
    calls++;
    return original.call(this, date);
  };
  t.teardown(() => {
    proto.formatToParts = original;
  });
  for (let i = 0; i < 10_000; i++) isoTimestamp(`2026-05-05 10:${String(i % 60).padStart(2, "0")}:00.${String(i).padStart(6, "0")}`, "Australia/Sydney");
  t.ok(calls <= 20, `${calls} Intl calls for 10,000 timestamps in one hour`);
});
