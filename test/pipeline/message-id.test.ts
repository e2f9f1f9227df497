import t from "tap";
import { positionOf } from "../../src/adapters/jetstream-ledger";
import { deadLetterMsgId, eventMsgId, parseMsgId } from "../../src/pipeline/message-id";

t.test("message ids are built and parsed in one place: <table>:<ID> and <table>:<ID>:dlq", async (t) => {
  const id = "12345678901234567890123456789012345678";
  const event = eventMsgId("spc.TXLOG_EVENTS", id);
  t.equal(event, `spc.TXLOG_EVENTS:${id}`);
  t.equal(deadLetterMsgId(event), `spc.TXLOG_EVENTS:${id}:dlq`);
  t.same(parseMsgId(event), { table: "spc.TXLOG_EVENTS", id, deadLetter: false });
  t.same(parseMsgId(deadLetterMsgId(event)), { table: "spc.TXLOG_EVENTS", id, deadLetter: true });
  t.same(parseMsgId("T:-5"), { table: "T", id: "-5", deadLetter: false }, "a negative ID");
  for (const other of ["no-colon", "T:", "T:abc", "T:1:x", "T:1:dlq:dlq"]) t.equal(parseMsgId(other), null, `not ours: ${other}`);
});

t.test("the ledger reads a stored message's position through the same parser", async (t) => {
  const payload = '{"id":7,"event_timestamp":"2026-01-02T03:04:05.123456","x":1}';
  t.same(positionOf("T:7", payload), { ts: "2026-01-02 03:04:05.123456", id: "7" });
  t.same(positionOf("T:7:dlq", '{"event_timestamp":"2026-01-02 03:04:05.123456"}'), { ts: "2026-01-02 03:04:05.123456", id: "7" });
  t.equal(positionOf("garbage", payload), null);
});
