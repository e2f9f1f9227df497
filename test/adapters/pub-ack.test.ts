import type { Msg } from "@nats-io/transport-node";
import t from "tap";
import { parsePubAck } from "../../src/adapters/pub-ack";

const msg = (text: string, headers?: { code: number; description: string }) => ({ data: new TextEncoder().encode(text), headers }) as unknown as Msg;

t.test("PubAcks are read exactly, in every spelling the server and JSON allow", async (t) => {
  t.same(parsePubAck(msg('{"stream":"S", "seq":42}')), { kind: "ack", streamSeq: 42, duplicate: false }, "nats-server 2.9 spacing");
  t.same(parsePubAck(msg('{"stream":"S","seq":42}')), { kind: "ack", streamSeq: 42, duplicate: false }, "no spaces");
  t.same(parsePubAck(msg('{"stream":"S", "seq":7,"duplicate": true}')), { kind: "ack", streamSeq: 7, duplicate: true });
  t.same(parsePubAck(msg('{"stream":"S","seq":7,"duplicate":true}')), { kind: "ack", streamSeq: 7, duplicate: true });
  t.same(parsePubAck(msg('{"stream":"S", "domain":"hub", "seq":9007199254740}')), { kind: "ack", streamSeq: 9007199254740, duplicate: false }, "a domain");
  t.same(parsePubAck(msg('{"stream":"weird\\"seq\\":1", "seq":5}')), { kind: "ack", streamSeq: 5, duplicate: false }, "a stream name that looks like a key");
  t.same(parsePubAck(msg('{"stream":"S", "seq":3, "duplicate":false}')), { kind: "ack", streamSeq: 3, duplicate: false });
});

t.test("errors and status replies become rejections; only a too-large message is the row's own fault", async (t) => {
  t.same(parsePubAck(msg('{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}')), {
    kind: "rejected",
    code: 10054,
    description: "message size exceeds maximum allowed",
    rowFault: true,
  });
  t.match(parsePubAck(msg('{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}')), {
    kind: "rejected",
    code: 10077,
    rowFault: false,
  });
  t.match(parsePubAck(msg("", { code: 503, description: "No Responders" })), {
    kind: "rejected",
    code: 503,
    description: /no stream captures this subject/,
    rowFault: false,
  });
  t.throws(() => parsePubAck(msg("{not json")), "garbage is an error for the caller to report");
});
