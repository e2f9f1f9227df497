import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import t from "tap";
import { PublishError, UnpublishableRowError } from "../../src/errors";
import { formatEvent, packEvents } from "../../src/event/txlog-event";
import { JetStreamSink, type SinkOptions } from "../../src/pipeline/jetstream-sink";
import type { EncodedBatch, SourceRow } from "../../src/pipeline/types";
import { FakePublisher } from "../fakes/fake-publisher";

const TS = "2026-01-01 00:00:00.000000";

function batch(ids: number[], dataBytes = 10): EncodedBatch {
  const rows: SourceRow[] = ids.map((id) => ({
    id: String(id),
    caseId: "c",
    eventType: "t",
    eventData: "x".repeat(dataBytes),
    eventTimestamp: TS,
    createdAt: null,
  }));
  const packed = packEvents(rows.map((r) => formatEvent(r, { timeZone: "UTC", dataType: "d", traceId: "row", table: "T" })));
  return { positions: rows.map((r) => ({ ts: r.eventTimestamp, id: r.id })), payload: packed.payload, ends: packed.ends };
}

function sink(publisher: FakePublisher, options: Partial<SinkOptions> = {}): JetStreamSink {
  return new JetStreamSink({
    publisher,
    table: "T",
    subject: "ev",
    deadLetterSubject: "ev.dlq",
    onUnpublishable: "dead_letter",
    maxInFlight: 8,
    retry: { maxRetries: 3, initialBackoff: 0.001, maxBackoff: 0.01, backoffMultiplier: 2 },
    start: null,
    ...options,
  });
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test("publishes every message once, with Nats-Msg-Id <table>:<ID>, never more than max_in_flight at a time", async (t) => {
  const publisher = new FakePublisher();
  const s = sink(publisher, { maxInFlight: 8 });
  await pipeline(Readable.from([batch(range(1, 50)), batch(range(51, 100))]), s);
  t.same(
    publisher.stored,
    range(1, 100).map((id) => `T:${id}`),
  );
  t.ok(publisher.maxInFlightSeen <= 8, `at most 8 in flight (saw ${publisher.maxInFlightSeen})`);
  t.ok(publisher.maxInFlightSeen >= 4, "the window is actually used");
  t.same(s.watermark, { ts: TS, id: "100" });
  t.equal(s.stats.acked, 100);
  t.match(publisher.published[0]?.payload, /^\{"id":1,/);
});

t.test("a timed-out publish is retried with the same msg id and the watermark waits for it", async (t) => {
  const publisher = new FakePublisher();
  publisher.fate = (msgId, attempt) => (msgId === "T:3" && attempt <= 2 ? { kind: "timeout" } : undefined);
  const retries: number[] = [];
  const s = sink(publisher, { onRetry: (r) => retries.push(r.attempt) });
  await pipeline(Readable.from([batch(range(1, 10))]), s);
  const attemptsOf3 = publisher.published.filter((p) => p.msgId === "T:3");
  t.equal(attemptsOf3.length, 3, "two timeouts, then stored");
  t.same(new Set(attemptsOf3.map((p) => p.payload)).size, 1, "the same bytes every time");
  t.same(retries, [1, 2]);
  t.same(s.watermark, { ts: TS, id: "10" });
  t.equal(s.stats.retries, 2);
});

t.test("when retries run out the sink fails and the watermark stays below the lost message", async (t) => {
  const publisher = new FakePublisher();
  publisher.fate = (msgId) => (msgId === "T:5" ? { kind: "timeout" } : undefined);
  const s = sink(publisher, { maxInFlight: 4 });
  await t.rejects(pipeline(Readable.from([batch(range(1, 20))]), s), PublishError);
  t.same(s.watermark, { ts: TS, id: "4" }, "rows after the lost one may be stored, but the watermark does not pass it");
  t.equal(publisher.published.filter((p) => p.msgId === "T:5").length, 4, "1 attempt + 3 retries");
  t.ok(publisher.published.length < 40, "the window kept the sink from running far ahead");
});

t.test("a stored-twice answer (duplicate) counts as acknowledged", async (t) => {
  const publisher = new FakePublisher();
  publisher.stored.push("T:2");
  const s = sink(publisher);
  await pipeline(Readable.from([batch([1, 2, 3])]), s);
  t.equal(s.stats.duplicates, 1);
  t.same(s.watermark, { ts: TS, id: "3" });
});

t.test("a row over max_payload goes to the dead-letter subject in its place, and the rest go on", async (t) => {
  const publisher = new FakePublisher(2000);
  const dead: string[] = [];
  const s = sink(publisher, { onDeadLetter: (r) => dead.push(r.id) });
  await pipeline(Readable.from([batch([1]), batch([2], 5000), batch([3])]), s);
  const dlq = publisher.published.find((p) => p.subject === "ev.dlq");
  t.ok(dlq, "a dead-letter message was published");
  t.equal(dlq?.msgId, "T:2:dlq");
  const record = JSON.parse(dlq?.payload ?? "{}") as Record<string, unknown>;
  t.match(record, { table: "T", id: "2", event_timestamp: TS, msg_id: "T:2", subject: "ev" });
  t.match(record.reason, /exceeds the server's max_payload of 2000 bytes/);
  t.same(dead, ["2"]);
  t.same(publisher.stored, ["T:1", "T:2:dlq", "T:3"]);
});

t.test("with on_unpublishable: fail, an oversized row fails the sink and names the row", async (t) => {
  const publisher = new FakePublisher(2000);
  const s = sink(publisher, { onUnpublishable: "fail" });
  await t.rejects(pipeline(Readable.from([batch([1]), batch([2], 5000), batch([3])]), s), {
    name: "UnpublishableRowError",
    message: /row ID 2 .* cannot be published: .*max_payload/,
  });
  t.type(UnpublishableRowError, "function");
  t.same(s.watermark, { ts: TS, id: "1" });
  t.notOk(publisher.stored.includes("T:3"), "nothing after the bad row is published");
});

t.test("a stream that rejects a message as too large (row fault) dead-letters it; other rejections fail the sink", async (t) => {
  const publisher = new FakePublisher();
  publisher.fate = (msgId) =>
    msgId === "T:2" ? { kind: "rejected", code: 10054, description: "message size exceeds maximum allowed", rowFault: true } : undefined;
  const s = sink(publisher);
  await pipeline(Readable.from([batch([1, 2, 3])]), s);
  t.same(
    publisher.stored,
    ["T:1", "T:3", "T:2:dlq"].filter((id) => publisher.stored.includes(id)),
  );
  t.ok(publisher.stored.includes("T:2:dlq"));
  t.same(s.watermark, { ts: TS, id: "3" });

  const failing = new FakePublisher();
  failing.fate = (msgId) => (msgId === "T:2" ? { kind: "rejected", code: 10077, description: "maximum messages exceeded", rowFault: false } : undefined);
  await t.rejects(pipeline(Readable.from([batch([1, 2, 3])]), sink(failing)), {
    name: "PublishError",
    message: /rejected T:2 .*maximum messages exceeded \(code 10077\)/,
  });
});

t.test("outcomes that arrive after the sink failed are ignored", async (t) => {
  const publisher = new FakePublisher();
  publisher.delayMs = 20;
  publisher.fate = (msgId) => (msgId === "T:1" ? { kind: "rejected", code: 1, description: "boom", rowFault: false } : undefined);
  const s = sink(publisher);
  await t.rejects(pipeline(Readable.from([batch(range(1, 5))]), s));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(s.watermark, null);
});

t.test("rows the stream already holds (a restart's scan) are counted as acknowledged and not published again", async (t) => {
  const publisher = new FakePublisher();
  const s = sink(publisher, {
    alreadyStored: new Map([
      ["T:2", 7],
      ["T:4:dlq", 9],
    ]),
    streamSeqFloor: 20,
  });
  await pipeline(Readable.from([batch([1, 2, 3, 4, 5])]), s);
  t.same(publisher.stored, ["T:1", "T:3", "T:5"], "only the rows not stored yet were published");
  t.equal(s.stats.recovered, 2);
  t.equal(s.stats.acked, 5);
  t.same(s.watermark, { ts: TS, id: "5" });
});

t.test("resumeSeq never passes a message that may be stored past the watermark", async (t) => {
  const publisher = new FakePublisher();
  publisher.fate = (msgId) => (msgId === "T:3" ? { kind: "timeout" } : undefined);
  const s = sink(publisher, {
    maxInFlight: 16,
    streamSeqFloor: 100,
    alreadyStored: new Map([["T:50", 42]]),
    retry: { maxRetries: 0, initialBackoff: 0.001, maxBackoff: 0.001, backoffMultiplier: 1 },
  });
  await t.rejects(pipeline(Readable.from([batch([1, 2, 3, 4, 5, 6])]), s));
  t.same(s.watermark, { ts: TS, id: "2" });
  t.equal(s.resumeSeq, 42, "an unvisited stored message (row 50) holds the resume point down");

  const clean = sink(new FakePublisher(), { streamSeqFloor: 0 }); // the fake stores at sequences 1, 2, 3
  await pipeline(Readable.from([batch([1, 2, 3])]), clean);
  t.equal(clean.resumeSeq, 4, "after a clean run: just past the highest acknowledged sequence");

  const pending = new FakePublisher();
  pending.fate = (msgId) => (msgId === "T:2" ? { kind: "timeout" } : undefined);
  const failed = sink(pending, { streamSeqFloor: 100, retry: { maxRetries: 0, initialBackoff: 0.001, maxBackoff: 0.001, backoffMultiplier: 1 } });
  await t.rejects(pipeline(Readable.from([batch([1, 2, 3])]), failed));
  t.equal(failed.resumeSeq, 101, "row 2 was sent when nothing above 100 was acknowledged: it can be at 101 or later");
});

t.test("a batch is released once, and only after every message in it is acknowledged or replaced by its dead letter", async (t) => {
  const publisher = new FakePublisher(2000);
  publisher.delayMs = 1;
  const releases: Array<{ batch: number; unacked: string[] }> = [];
  const batches = [batch(range(1, 20)), batch([21, 22], 5000), batch(range(23, 40))].map((b, n) => {
    const ids = b.positions.map((p) => `T:${p.id}`);
    return {
      ...b,
      // Settled: stored, or its bytes no longer needed because its dead letter replaced it.
      release: () =>
        releases.push({ batch: n, unacked: ids.filter((id) => !publisher.stored.includes(id) && !publisher.published.some((p) => p.msgId === `${id}:dlq`)) }),
    };
  });
  await pipeline(Readable.from(batches), sink(publisher, { maxInFlight: 4 }));
  t.same(releases.map((r) => r.batch).sort(), [0, 1, 2], "each batch released exactly once");
  t.same(
    releases.flatMap((r) => r.unacked),
    [],
    "never while one of its messages still awaited its ack",
  );
});

t.test("a failed sink does not release a batch whose messages were not all acknowledged", async (t) => {
  const publisher = new FakePublisher();
  publisher.fate = (msgId) => (msgId === "T:3" ? { kind: "rejected", code: 1, description: "boom", rowFault: false } : undefined);
  let released = 0;
  const b = { ...batch(range(1, 5)), release: () => released++ };
  await t.rejects(pipeline(Readable.from([b]), sink(publisher)), PublishError);
  t.equal(released, 0);
});

t.test("once the sink is destroyed nothing more is published, not even a retry that was due", async (t) => {
  const publisher = new FakePublisher();
  publisher.fate = (msgId, attempt) => (msgId === "T:2" && attempt === 1 ? { kind: "timeout" } : undefined);
  const s = sink(publisher, { maxInFlight: 4, retry: { maxRetries: 3, initialBackoff: 0.1, maxBackoff: 0.1, backoffMultiplier: 1 } });
  const errors: Error[] = [];
  s.on("error", (err) => errors.push(err));
  s.write(batch(range(1, 100)));
  for (const deadline = Date.now() + 10_000; s.stats.retries === 0 && Date.now() < deadline; ) await new Promise((r) => setImmediate(r));
  t.equal(s.stats.retries, 1, "a retry is waiting");
  const sent = publisher.published.length;
  s.destroy(new Error("fenced"));
  await new Promise((r) => setTimeout(r, 150)); // past the retry's 100 ms backoff
  t.equal(publisher.published.length, sent, "no publish after destroy");
  t.match(errors, [{ message: "fenced" }]);
});

t.test("the snapshot is what the cycle commits: watermark, resume sequence, rows and counts", async (t) => {
  const publisher = new FakePublisher();
  publisher.stored.push("T:2");
  const s = sink(publisher, { streamSeqFloor: 0 });
  await pipeline(Readable.from([batch([1, 2, 3])]), s);
  t.same(s.snapshot(), {
    watermark: { ts: TS, id: "3" },
    resumeSeq: 4,
    rows: 3,
    stats: { acked: 3, duplicates: 1, recovered: 0, deadLettered: 0, retries: 0 },
  });
});

t.test("a row whose EVENT_DATA the source did not load (too long) is dead-lettered in its place, naming size and limit", async (t) => {
  const publisher = new FakePublisher(2000);
  const dead: string[] = [];
  const s = sink(publisher, { onDeadLetter: (r) => dead.push(r.id) });
  const withUnloaded = { ...batch([2, 3, 4]), unloaded: new Map([[1, 5_000_000]]) };
  await pipeline(Readable.from([batch([1]), withUnloaded, batch([5])]), s);
  t.same(publisher.stored, ["T:1", "T:2", "T:3:dlq", "T:4", "T:5"], "row 3's event is never published; its dead letter is, in its place");
  const record = JSON.parse(publisher.published.find((p) => p.subject === "ev.dlq")?.payload ?? "{}") as Record<string, unknown>;
  t.match(record, { table: "T", id: "3", msg_id: "T:3", subject: "ev", size: 5_000_000 });
  t.match(record.reason, /EVENT_DATA of length 5000000 .*not loaded.*exceeds the server's max_payload of 2000 bytes/);
  t.same(dead, ["3"]);
  t.same(s.watermark, { ts: TS, id: "5" });
  t.equal(s.stats.deadLettered, 1);
});

t.test("an EVENT_DATA under max_payload but over the source's own limit names that limit", async (t) => {
  const publisher = new FakePublisher(2000);
  const s = sink(publisher);
  await pipeline(Readable.from([{ ...batch([1]), unloaded: new Map([[0, 1500]]) }]), s);
  const record = JSON.parse(publisher.published[0]?.payload ?? "{}") as Record<string, unknown>;
  t.match(record.reason, /EVENT_DATA of length 1500 .*exceeds the source's EVENT_DATA limit \(maxEventDataLength; the server's max_payload is 2000 bytes\)/);
});

t.test("with on_unpublishable: fail, a row whose EVENT_DATA was not loaded fails the sink at that row", async (t) => {
  const publisher = new FakePublisher(2000);
  const s = sink(publisher, { onUnpublishable: "fail" });
  const withUnloaded = { ...batch([2, 3, 4]), unloaded: new Map([[1, 5_000_000]]) };
  await t.rejects(pipeline(Readable.from([batch([1]), withUnloaded, batch([5])]), s), {
    name: "UnpublishableRowError",
    message: /row ID 3 .* cannot be published: EVENT_DATA of length 5000000 .*max_payload of 2000 bytes/,
  });
  t.same(s.watermark, { ts: TS, id: "2" }, "the watermark stays just before the row");
  t.notOk(
    publisher.published.some((p) => p.msgId.startsWith("T:3")),
    "the row is not published in any form",
  );
});
