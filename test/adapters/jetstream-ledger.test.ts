/**
 * The stream ledger against a private nats-server: only "no such message" and "no such stream"
 * mean nothing is stored; a refused or unanswered request fails the call, naming the stream,
 * after the retries a transient failure gets.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { connectNats } from "../../src/adapters/jetstream";
import { JetStreamLedger } from "../../src/adapters/jetstream-ledger";
import { startNatsWith } from "../helpers/secure-nats";
import { natsConnection, startPrivateNats, uniqueName } from "../helpers/services";

const STREAM = "LEDGER";
const EVENTS = "ledger.ev";
const DEAD = "ledger.ev.dlq";

/** A reader with every permission the ledger needs except, when `withoutGet`, STREAM.MSG.GET. */
function conf(withoutGet: boolean): string {
  const allow = [
    "$JS.API.INFO",
    `$JS.API.STREAM.INFO.${STREAM}`,
    ...(withoutGet ? [] : [`$JS.API.STREAM.MSG.GET.${STREAM}`]),
    `$JS.API.CONSUMER.CREATE.${STREAM}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.>`,
    `$JS.API.CONSUMER.DELETE.${STREAM}.>`,
  ];
  return `authorization {
  users = [
    { user: admin, password: admin }
    { user: reader, password: reader, permissions: { publish: { allow: ${JSON.stringify(allow)} }, subscribe: { allow: ["_INBOX.>"] } } }
  ]
}`;
}

let admin: NatsConnection;
let reader: NatsConnection;

t.before(async () => {
  const server = await startNatsWith(conf(true));
  t.teardown(() => server.stop());
  admin = await connectNats({ servers: [server.url], user: "admin", password: "admin", name: "admin", connectTimeoutMs: 10_000 });
  reader = await connectNats({ servers: [server.url], user: "reader", password: "reader", name: "reader", connectTimeoutMs: 10_000 });
  t.teardown(async () => {
    await reader.close();
    await admin.close();
  });
  await publishFive(admin);
});

/** Creates the stream and stores events T:1..T:5 in it (the dead-letter subject stays empty). */
async function publishFive(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: [EVENTS, DEAD] });
  for (let id = 1; id <= 5; id++) {
    const h = headers();
    h.set("Nats-Msg-Id", `T:${id}`);
    nc.publish(EVENTS, JSON.stringify({ id, event_timestamp: "2026-01-01T00:00:00.000000Z" }), { headers: h });
  }
  await nc.flush();
  const deadline = Date.now() + 30_000;
  while ((await jsm.streams.info(STREAM)).state.messages < 5) {
    if (Date.now() > deadline) throw new Error("the stream never held the 5 messages");
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test("no message on a subject, or no stream at all, is nothing stored; the last sequence of a missing stream is an error", async (t) => {
  const ledger = new JetStreamLedger(admin, STREAM, [EVENTS, DEAD]);
  t.equal(await ledger.lastSeq(), 5);
  const stored = await ledger.storedSince(3);
  t.same([...stored.keys()].sort(), ["T:3", "T:4", "T:5"], "the dead-letter subject has no message: skipped, not an error");
  t.same(stored.get("T:4"), { seq: 4, position: { ts: "2026-01-01 00:00:00.000000", id: "4" } });
  const missing = new JetStreamLedger(admin, uniqueName("NO_SUCH_STREAM"), [EVENTS]);
  await t.rejects(missing.lastSeq(), { name: "NatsSetupError", message: /NO_SUCH_STREAM/ }, "no stream: a cycle cannot publish, so it fails first");
  t.equal((await missing.storedSince(1)).size, 0);
});

t.test("a permission the user lacks fails the scan with an error naming the stream, never 'nothing stored'", async (t) => {
  const retries: unknown[] = [];
  const ledger = new JetStreamLedger(reader, STREAM, [EVENTS, DEAD], {
    retry: { maxRetries: 3, initialBackoff: 0.01, maxBackoff: 0.01, backoffMultiplier: 1 },
    onRetry: (err) => retries.push(err),
  });
  t.equal(await ledger.lastSeq(), 5, "what is granted works");
  await t.rejects(ledger.storedSince(1), {
    name: "NatsSetupError",
    code: "E_NATS",
    message: /cannot read stream LEDGER \(the last message on ledger\.ev\).*Permissions Violation/i,
  });
  t.equal(retries.length, 0, "a permission error is not retried");
});

t.test("a server that does not answer fails the call after the retries; one that answers again within them is read", async (t) => {
  const s = await startPrivateNats();
  t.teardown(() => s.stop());
  const nc = await natsConnection(s.url);
  t.teardown(() => nc.close());
  await publishFive(nc);
  const stopped = new JetStreamLedger(nc, STREAM, [EVENTS, DEAD], { timeoutMs: 300 });
  s.pause();
  try {
    await t.rejects(stopped.lastSeq(), { name: "NatsSetupError", message: /cannot read stream LEDGER \(its last sequence\).*timeout/i });
    await t.rejects(stopped.storedSince(1), { name: "NatsSetupError", message: /cannot read stream LEDGER .*timeout/i });
    let retried = 0;
    const patient = new JetStreamLedger(nc, STREAM, [EVENTS, DEAD], {
      timeoutMs: 300,
      retry: { maxRetries: 50, initialBackoff: 0.05, maxBackoff: 0.1, backoffMultiplier: 2 },
      onRetry: () => {
        // The server answers again only once a retry is under way.
        if (retried++ === 0) s.resume();
      },
    });
    t.equal(await patient.lastSeq(), 5);
    t.ok(retried >= 1, `the timeout was retried (${retried})`);
  } finally {
    s.resume();
  }
});
