import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { InboxPublisher } from "../../src/adapters/inbox-publisher";
import { connectNats, ensureStream, subjectMatches } from "../../src/adapters/jetstream";
import { StockPublisher } from "../../src/adapters/stock-publisher";
import { formatEvent, packEvents } from "../../src/event/txlog-event";
import { JetStreamSink, type SinkOptions } from "../../src/pipeline/jetstream-sink";
import type { EncodedBatch, EventPublisher } from "../../src/pipeline/types";
import { deleteStream, idsOf, natsConnection, readStream, startPrivateNats, uniqueName } from "../helpers/services";

const TS = "2026-01-01 00:00:00.000000";
function batch(ids: number[]): EncodedBatch {
  const rows = ids.map((id) => ({ id: String(id), caseId: "c", eventType: "t", eventData: `{"n":${id}}`, eventTimestamp: TS, createdAt: null }));
  const packed = packEvents(rows.map((r) => formatEvent(r, { timeZone: "UTC", dataType: "d", traceId: "row", table: "T" })));
  return { positions: rows.map((r) => ({ ts: TS, id: r.id })), payload: packed.payload, ends: packed.ends };
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const retry = { maxRetries: 5, initialBackoff: 0.1, maxBackoff: 0.5, backoffMultiplier: 2 };

/** A sink for table T publishing to `subject` (dead letters to `<subject>.dlq`). */
function sinkFor(publisher: EventPublisher, subject: string, options: Partial<SinkOptions> = {}): JetStreamSink {
  return new JetStreamSink({
    publisher,
    table: "T",
    subject,
    deadLetterSubject: `${subject}.dlq`,
    onUnpublishable: "dead_letter",
    maxInFlight: 16,
    retry,
    start: null,
    ...options,
  });
}

t.test("subject filters match like the server's", async (t) => {
  t.ok(subjectMatches("txlog.>", "txlog.events"));
  t.ok(subjectMatches("txlog.>", "txlog.events.dlq"));
  t.notOk(subjectMatches("txlog.>", "txlog"));
  t.ok(subjectMatches("txlog.*", "txlog.events"));
  t.notOk(subjectMatches("txlog.*", "txlog.events.dlq"));
  t.ok(subjectMatches("a.b", "a.b"));
  t.notOk(subjectMatches("a.b", "a.b.c"));
});

t.test("ensureStream creates a missing stream, accepts a wider operator stream as is, and refuses one that misses a subject", async (t) => {
  const nc = await natsConnection();
  const jsm = await jetstreamManager(nc);
  const name = uniqueName("ONP_STREAM");
  const prefix = uniqueName("onp").toLowerCase();
  t.teardown(async () => {
    await deleteStream(nc, name);
    await nc.close();
  });
  const created = await ensureStream(nc, name, [`${prefix}.ev`, `${prefix}.ev.dlq`], 90);
  t.equal(created.created, true);
  t.same(created.info.config.subjects, [`${prefix}.ev`, `${prefix}.ev.dlq`]);
  t.equal(created.info.config.duplicate_window, 90e9, "duplicate window from config");
  await jsm.streams.update(name, { subjects: [`${prefix}.>`], max_msgs: 12345 });
  const found = await ensureStream(nc, name, [`${prefix}.ev`, `${prefix}.ev.dlq`], 90);
  t.equal(found.created, false);
  t.same(found.info.config.subjects, [`${prefix}.>`], "an operator's wider filter is left alone");
  t.equal(found.info.config.max_msgs, 12345, "and so is the rest of its configuration");
  await t.rejects(ensureStream(nc, name, [`other.ev`, `${prefix}.ev.dlq`], 90), {
    name: "NatsSetupError",
    message: /does not capture other\.ev \(its subjects: /,
  });
});

for (const [mode, make] of [
  ["inbox", (nc: Awaited<ReturnType<typeof natsConnection>>) => new InboxPublisher(nc, 2000)],
  ["stock", (nc: Awaited<ReturnType<typeof natsConnection>>) => new StockPublisher(nc, 2000)],
] as const) {
  t.test(`${mode} acks: every row stored once, in order, with its msg id; a replay is absorbed as duplicates`, async (t) => {
    const nc = await natsConnection();
    const name = uniqueName("ONP_ACK");
    const subject = `${name.toLowerCase()}.ev`;
    t.teardown(async () => {
      await deleteStream(nc, name);
      await nc.close();
    });
    await ensureStream(nc, name, [subject, `${subject}.dlq`], 120);
    const publisher: EventPublisher = make(nc);
    const run = async () => {
      const sink = sinkFor(publisher, subject, { maxInFlight: 16 });
      await pipeline(Readable.from([batch(range(1, 150)), batch(range(151, 300))]), sink);
      return sink;
    };
    const first = await run();
    t.equal(first.stats.acked, 300);
    t.equal(first.stats.duplicates, 0);
    t.same(first.watermark, { ts: TS, id: "300" });
    const replay = await run();
    t.equal(replay.stats.duplicates, 300, "the whole replay is recognised by msg id");
    const stored = await readStream(nc, name);
    t.equal(stored.length, 300, "nothing stored twice");
    t.same(idsOf(stored, subject), range(1, 300).map(String), "stream order is source order");
    t.same(
      stored.slice(0, 3).map((m) => m.msgId),
      ["T:1", "T:2", "T:3"],
    );
  });
}

t.test("both ack modes ride out a stalled server: timeouts are retried with the same msg id and nothing is stored twice", async (t) => {
  const server = await startPrivateNats();
  t.teardown(() => server.stop());
  for (const mode of ["inbox", "stock"] as const) {
    const nc = await natsConnection(server.url);
    const name = uniqueName(`ONP_STALL_${mode.toUpperCase()}`);
    const subject = `${name.toLowerCase()}.ev`;
    await ensureStream(nc, name, [subject, `${subject}.dlq`], 120);
    const publisher = mode === "inbox" ? new InboxPublisher(nc, 300) : new StockPublisher(nc, 300);
    const sink = sinkFor(publisher, subject, { maxInFlight: 32, retry: { maxRetries: 50, initialBackoff: 0.1, maxBackoff: 0.2, backoffMultiplier: 2 } });
    // Stall the server (SIGSTOP) before the first rows go out, and let it go on only once a
    // publish is observed to have timed out and been retried (not after a fixed time: under
    // load the publishes could go out late enough to be answered before any timeout).
    server.pause();
    const done = pipeline(Readable.from([batch(range(1, 100)), batch(range(101, 200))]), sink);
    done.catch(() => undefined); // awaited below
    const deadline = Date.now() + 60_000;
    while (sink.stats.retries === 0 && !sink.destroyed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    server.resume();
    await done;
    t.ok(sink.stats.retries > 0, `${mode}: publishes timed out and were retried (${sink.stats.retries})`);
    const stored = await readStream(nc, name);
    t.same(
      idsOf(stored, subject).sort((a, b) => Number(a) - Number(b)),
      range(1, 200).map(String),
      `${mode}: every row exactly once`,
    );
    // Payload buffers are reused once acknowledged: a retried message must still carry its own bytes.
    const intact = stored.every((m) => m.msgId === `T:${m.json.id}` && m.json.event_data === `{"n":${m.json.id}}`);
    t.ok(intact, `${mode}: every stored message carries its own row's bytes`);
    t.same(sink.watermark, { ts: TS, id: "200" });
    await deleteStream(nc, name);
    await nc.close();
  }
});

t.test("credentials in a server URL never reach an error message", async (t) => {
  const err = await connectNats({ servers: ["nats://alice:s3cr3t-pw@127.0.0.1:1"], name: "t", connectTimeoutMs: 500 }).catch((e: unknown) => e as Error);
  t.match(err, { name: "NatsSetupError", message: /cannot connect to NATS at nats:\/\/alice:\*\*\*@127\.0\.0\.1:1/ });
  t.notMatch((err as Error).message, /s3cr3t-pw/);
});
