/**
 * The stream as a ledger: what it holds of ours past a sequence number. A restart reads this
 * so that rows published before a crash or a failed cycle, but not yet covered by the
 * committed watermark, are not published again, whatever the stream's duplicate window.
 *
 * It reads our two subjects (events and dead letters) with ordered consumers from the
 * checkpoint's RESUME_STREAM_SEQ to the end; a `last_by_subj` lookup first makes the common
 * case (nothing of ours past that sequence) two small requests.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { parseMsgId } from "../pipeline/message-id";
import type { StreamLedger, Watermark } from "../pipeline/types";

export interface StoredEntry {
  seq: number;
  position: Watermark | null;
}

const TS = /"event_timestamp":"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d\.\d{6})/;

/** The (ts, id) a stored message stands for: from its msg id and its payload's event_timestamp. */
export function positionOf(msgId: string, payload: string): Watermark | null {
  const id = parseMsgId(msgId)?.id;
  const ts = TS.exec(payload);
  return id && ts ? { ts: `${ts[1]} ${ts[2]}`, id } : null;
}

export class JetStreamLedger implements StreamLedger {
  private readonly nc: NatsConnection;
  private readonly stream: string;
  private readonly subjects: string[];

  constructor(nc: NatsConnection, stream: string, subjects: string[]) {
    this.nc = nc;
    this.stream = stream;
    this.subjects = subjects;
  }

  async lastSeq(): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    return (await jsm.streams.info(this.stream)).state.last_seq;
  }

  async storedSince(fromSeq: number): Promise<Map<string, StoredEntry>> {
    const jsm = await jetstreamManager(this.nc);
    const js = jetstream(this.nc);
    const found = new Map<string, StoredEntry>();
    for (const subject of this.subjects) {
      const last = await jsm.streams.getMessage(this.stream, { last_by_subj: subject }).then(
        (m) => m?.seq ?? 0,
        () => 0, // no message on this subject
      );
      if (last < fromSeq) continue;
      const consumer = await js.consumers.get(this.stream, { filter_subjects: subject, opt_start_seq: fromSeq });
      try {
        let done = false;
        while (!done) {
          const batch = await consumer.fetch({ max_messages: 5000, expires: 2000 });
          let got = 0;
          for await (const m of batch) {
            got++;
            const msgId = m.headers?.get("Nats-Msg-Id");
            if (msgId) found.set(msgId, { seq: m.seq, position: positionOf(msgId, m.string()) });
            if (m.seq >= last || m.info.pending === 0) done = true;
          }
          if (got === 0) done = true;
        }
      } finally {
        await consumer.delete().catch(() => undefined);
      }
    }
    return found;
  }
}
