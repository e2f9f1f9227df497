/**
 * One stage at a time:
 * - `source`: MariadbSource keyset pages into a discarding sink (`raw`), or with formatEvents +
 *   inline serialization too (`serialize`): everything the pipeline does except publishing.
 * - `sink`: JetStreamSink with the chosen publisher, fed batches serialized before the clock
 *   starts: everything the pipeline does except reading and serializing.
 */
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InboxPublisher } from "../../src/adapters/inbox-publisher";
import { connectNats } from "../../src/adapters/jetstream";
import { StockPublisher } from "../../src/adapters/stock-publisher";
import { formatEvents } from "../../src/pipeline/format-events";
import { JetStreamSink } from "../../src/pipeline/jetstream-sink";
import { serializeInline } from "../../src/pipeline/serialize-events";
import type { EncodedBatch, SourceRow } from "../../src/pipeline/types";
import { benchSource, formatOptions, publishRetry } from "../lib/local";
import { preload } from "../lib/preload";
import { timed } from "../lib/timing";
import type { CaseOutput, CaseSpec } from "./types";

export async function runSource(spec: CaseSpec): Promise<CaseOutput> {
  const source = benchSource(spec.table);
  let rows = 0;
  let bytes = 0;
  const serialize = spec.variant === "serialize";
  const t = await timed(spec, async () => {
    const discard = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(chunk: SourceRow[] | EncodedBatch, _enc, callback) {
        if (Array.isArray(chunk)) rows += chunk.length;
        else {
          rows += chunk.positions.length;
          bytes += chunk.payload.length;
        }
        callback();
      },
    });
    const read = source.read({ after: null, limit: spec.rows, pageSize: spec.batchSize, safetyLagSeconds: 0 });
    if (serialize) await pipeline(read, formatEvents(formatOptions(spec.table)), serializeInline(), discard);
    else await pipeline(read, discard);
  });
  await source.close();
  return { messages: rows, avgBytes: bytes / rows, rate: rows / t.seconds, ...t };
}

export async function runSink(spec: CaseSpec): Promise<CaseOutput> {
  const data = await preload(spec.table, spec.rows, spec.batchSize, spec.preloadCache);
  const nc = await connectNats({ servers: [spec.natsUrl], name: `bench ${spec.name}`, connectTimeoutMs: 10_000 });
  const publisher = spec.ackMode === "stock" ? new StockPublisher(nc, 10_000) : new InboxPublisher(nc, 10_000);
  const sink = new JetStreamSink({
    publisher,
    table: spec.table,
    subject: spec.subject,
    deadLetterSubject: `${spec.subject}.dlq`,
    onUnpublishable: "fail",
    maxInFlight: spec.window,
    retry: publishRetry,
    start: null,
  });
  const t = await timed(spec, () => pipeline(Readable.from(data.batches, { objectMode: true, highWaterMark: 1 }), sink));
  const n = sink.snapshot().rows;
  await nc.drain();
  return { messages: n, avgBytes: data.bytes / data.payloads.length, rate: n / t.seconds, ...t };
}
