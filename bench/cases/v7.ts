/**
 * V7's strategy, ported: read every row first, serialize each event on its own, then publish
 * in `Promise.all` batches of `batchSize` js.publish() calls (asyncio.gather in V7). The clock
 * covers the read too, as V7's run did. Same connection options as the stock reference
 * (`noAsyncTraces: true`), so only the strategy differs.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { eventJson, formatEvent } from "../../src/event/txlog-event";
import type { SourceRow } from "../../src/pipeline/types";
import { benchSource, formatOptions } from "../lib/local";
import { timed } from "../lib/timing";
import type { CaseOutput, CaseSpec } from "./types";

const PAGE = 5000;

export async function runV7(spec: CaseSpec): Promise<CaseOutput> {
  const nc = await connect({ servers: spec.natsUrl, noAsyncTraces: true });
  const js = jetstream(nc, { timeout: 30_000 });
  const source = benchSource(spec.table);
  const format = formatOptions(spec.table);
  const encoder = new TextEncoder();
  let bytes = 0;
  let n = 0;
  const t = await timed(spec, async () => {
    const rows: SourceRow[] = [];
    for await (const page of source.read({ after: null, limit: spec.rows, pageSize: PAGE, safetyLagSeconds: 0 })) rows.push(...(page as SourceRow[]));
    n = rows.length;
    for (let i = 0; i < rows.length; i += spec.batchSize) {
      const batch = rows.slice(i, i + spec.batchSize);
      await Promise.all(
        batch.map((row) => {
          const payload = encoder.encode(eventJson(formatEvent(row, format)));
          bytes += payload.length;
          return js.publish(spec.subject, payload, { msgID: `${spec.table}:${row.id}` });
        }),
      );
    }
  });
  await source.close();
  await nc.close();
  return { messages: n, avgBytes: bytes / n, rate: n / t.seconds, ...t };
}
