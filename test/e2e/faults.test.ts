/**
 * Faults end to end: rows JetStream can never take, and a NATS server that stops answering.
 * Each test uses a private nats-server (stopped by PID) or a stream of its own.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { exactlyOnce, fixture } from "../helpers/fixture";
import { runOnce } from "../helpers/run";
import { idsOf, startPrivateNats } from "../helpers/services";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

function withOversizedRow(rows: ReturnType<typeof sampleRows>, index: number, bytes: number) {
  const row = rows[index];
  if (row) row.eventData = JSON.stringify({ big: "y".repeat(bytes) });
  return rows;
}

t.test("a row over the server's max_payload goes to the dead-letter subject with its reason and key; the rest is published", async (t) => {
  const server = await startPrivateNats({ maxPayload: 4096 });
  t.teardown(() => server.stop());
  const f = await fixture(t, server.url);
  await f.insert(withOversizedRow(sampleRows(20), 9, 10_000));
  const result = await runOnce(f.configFile({}, server.url));
  t.match(result, { rows: 20, deadLettered: 1 });
  const messages = await f.messages();
  t.same(
    idsOf(messages, f.subject),
    range(1, 20).filter((id) => id !== "10"),
  );
  const dead = messages.filter((m) => m.subject === `${f.subject}.dlq`);
  t.equal(dead.length, 1);
  t.match(dead[0]?.json, { table: f.table, id: "10", msg_id: `${f.table}:10`, subject: f.subject, reason: /exceeds the server's max_payload of 4096 bytes/ });
  t.equal(dead[0]?.msgId, `${f.table}:10:dlq`);
  t.match(await f.tracking(), { STATUS: "SUCCESS", id: "20" }, "the watermark moves past the dead-lettered row");
});

t.test("a stream whose max_msg_size rejects a row: the row is dead-lettered (the stream's own verdict)", async (t) => {
  const f = await fixture(t);
  const jsm = await jetstreamManager(f.nc);
  await jsm.streams.add({ name: f.stream, subjects: [`${f.subject.split(".")[0]}.>`], max_msg_size: 3000 });
  await f.insert(withOversizedRow(sampleRows(5), 2, 5000));
  t.match(await runOnce(f.configFile()), { rows: 5, deadLettered: 1 });
  const messages = await f.messages();
  t.same(idsOf(messages, f.subject), ["1", "2", "4", "5"]);
  t.match(messages.find((m) => m.subject.endsWith(".dlq"))?.json, { id: "3", reason: /rejected by the stream: .*maximum/i });
});

t.test("with on_unpublishable: fail the cycle stops at the row, records FAILED naming it, and the watermark stays before it", async (t) => {
  const server = await startPrivateNats({ maxPayload: 4096 });
  t.teardown(() => server.stop());
  const f = await fixture(t, server.url);
  await f.insert(withOversizedRow(sampleRows(20), 9, 10_000));
  const config = f.configFile({ publisher: { on_unpublishable: "fail", max_retries: 0 } }, server.url);
  await t.rejects(runOnce(config), { message: /row ID 10 .* cannot be published/ });
  const tracking = await f.tracking();
  t.match(tracking, { STATUS: "FAILED", id: "9", ERROR_MESSAGE: /row ID 10/ });
  t.same(idsOf(await f.messages(), f.subject), range(1, 9), "nothing at or after the bad row was published");
});

/** Messages the stream holds now (0 while the service has not created it yet). */
async function storedCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return jsm.streams.info(stream).then(
    (info) => info.state.messages,
    () => 0,
  );
}

t.test(
  "NATS stops answering mid-run: the cycle fails after its retries with FAILED and the acknowledged watermark; the next run completes exactly once",
  async (t) => {
    const total = 20_000;
    const server = await startPrivateNats();
    t.teardown(() => server.stop());
    const f = await fixture(t, server.url);
    await f.insert(sampleRows(total));
    const config = f.configFile(
      {
        nats: { publish_timeout: 0.3, retry: { max_retries: 1, initial_backoff: 0.05, max_backoff: 0.1, backoff_multiplier: 2 } },
        publisher: { batch_size: 100, max_in_flight: 16, max_retries: 0 },
      },
      server.url,
    );
    // Stall the server once the stream is observed to hold some rows but not all (the cycle
    // is then publishing, whatever the machine's load); resume it once the run has failed.
    let settled = false;
    const run = runOnce(config).finally(() => {
      settled = true;
    });
    run.catch(() => undefined); // awaited below
    const deadline = Date.now() + 100_000;
    let seen = await storedCount(f.nc, f.stream);
    while (seen < 200 && !settled && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      seen = await storedCount(f.nc, f.stream);
    }
    server.pause();
    t.ok(seen < total, `paused mid-run (${seen} of ${total} stored when observed)`);
    await t.rejects(run, { message: /no ack for .* after 2 attempts/ });
    server.resume();
    const failed = await f.tracking();
    t.equal(failed?.STATUS, "FAILED");
    t.match(failed?.ERROR_MESSAGE, /no ack/);
    const before = idsOf(await f.messages(), f.subject);
    t.ok(before.length < total, `the run was cut short (${before.length} stored)`);
    t.ok(Number(failed?.id ?? 0) <= before.length, "the watermark is within what was stored");
    const result = await runOnce(config);
    t.equal(result?.rows, total - Number(failed?.id ?? 0), "the next run resumes from the acknowledged watermark");
    t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, total)), { duplicates: [], missing: [] }, "every row exactly once");
    t.match(await f.tracking(), { STATUS: "SUCCESS", id: String(total) });
  },
);
