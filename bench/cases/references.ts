/**
 * The reference cases, publishing payloads serialized before the clock starts:
 * - `stock`: the stock client's js.publish() with a sliding window (a free slot is taken at
 *   once, the caller waits only when the window is full) and `noAsyncTraces: true`: the best
 *   the stock client does here.
 * - `core`: core publish into the stream's subject, no reply subject, no acks; the clock stops
 *   when the stream holds every message: the server's ingest ceiling. Messages carry the same
 *   Nats-Msg-Id header, so the server does the same de-duplication work.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { preload } from "../lib/preload";
import { timed } from "../lib/timing";
import type { CaseOutput, CaseSpec } from "./types";

export async function runStock(spec: CaseSpec): Promise<CaseOutput> {
  const data = await preload(spec.table, spec.rows, spec.batchSize, spec.preloadCache);
  const nc = await connect({ servers: spec.natsUrl, noAsyncTraces: true });
  const js = jetstream(nc, { timeout: 30_000 });
  const n = data.payloads.length;
  const t = await timed(
    spec,
    () =>
      new Promise<void>((resolve, reject) => {
        let next = 0;
        let inFlight = 0;
        let done = 0;
        const onAck = () => {
          inFlight--;
          if (++done === n) resolve();
          else pump();
        };
        const pump = () => {
          while (inFlight < spec.window && next < n) {
            const i = next++;
            inFlight++;
            js.publish(spec.subject, data.payloads[i] as Uint8Array, { msgID: data.msgIds[i] as string }).then(onAck, reject);
          }
        };
        pump();
      }),
  );
  await nc.close();
  return { messages: n, avgBytes: data.bytes / n, rate: n / t.seconds, ...t };
}

export async function runCore(spec: CaseSpec): Promise<CaseOutput> {
  const data = await preload(spec.table, spec.rows, spec.batchSize, spec.preloadCache);
  const nc = await connect({ servers: spec.natsUrl, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const n = data.payloads.length;
  const t = await timed(spec, async () => {
    for (let i = 0; i < n; i++) {
      const h = headers();
      h.set("Nats-Msg-Id", data.msgIds[i] as string);
      nc.publish(spec.subject, data.payloads[i] as Uint8Array, { headers: h });
      // A round trip now and then keeps the client's outbound buffer (and our RSS) bounded.
      if (i % 5000 === 4999) await nc.flush();
    }
    await nc.flush();
    for (;;) {
      const info = await jsm.streams.info(spec.stream);
      if (info.state.messages >= n) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  await nc.close();
  return { messages: n, avgBytes: data.bytes / n, rate: n / t.seconds, ...t };
}
