/**
 * The pipeline end to end, exactly as the service wires one cycle: `runCycle` with a
 * MariadbSource, an in-memory WatermarkStore, the stream ledger, the chosen publisher (inbox |
 * stock acks) over `connectNats` (the service's connection options) and the chosen serializer
 * (inline | piscina, built by the service's own `createSerializer`). The clock covers the whole cycle, database
 * reads included. `catch-up` runs cycles of `maxRecordsPerRun` until the backlog is gone, as
 * the service does after a full cycle.
 */

import { InboxPublisher } from "../../src/adapters/inbox-publisher";
import { connectNats } from "../../src/adapters/jetstream";
import { JetStreamLedger } from "../../src/adapters/jetstream-ledger";
import { StockPublisher } from "../../src/adapters/stock-publisher";
import { createSerializer } from "../../src/app";
import type { Config } from "../../src/config/schema";
import { type CycleSettings, runCycle } from "../../src/pipeline/cycle";
import type { EventPublisher } from "../../src/pipeline/types";
// Type-only, but it makes tsc emit build/src/workers/serialize-task.js, which createSerializer loads.
import type serializeTask from "../../src/workers/serialize-task";
import { benchSource, formatOptions, publishRetry, silentLog } from "../lib/local";
import { MemoryWatermarkStore } from "../lib/memory-store";
import { timed } from "../lib/timing";
import type { CaseOutput, CaseSpec } from "./types";

export type SerializeTask = typeof serializeTask;

export async function runPipeline(spec: CaseSpec): Promise<CaseOutput> {
  const nc = await connectNats({ servers: [spec.natsUrl], name: `bench ${spec.name}`, connectTimeoutMs: 10_000 });
  const timeoutMs = 10_000;
  const publisher: EventPublisher = spec.ackMode === "stock" ? new StockPublisher(nc, timeoutMs) : new InboxPublisher(nc, timeoutMs);
  const serializer = createSerializer({ publisher: { serialization: spec.serialization, workers: spec.workers } } as Config);
  const source = benchSource(spec.table);
  const store = new MemoryWatermarkStore();
  const ledger = new JetStreamLedger(nc, spec.stream, [spec.subject, `${spec.subject}.dlq`]);
  const perCycle = spec.maxRecordsPerRun ?? spec.rows;
  const settings: CycleSettings = {
    batchSize: spec.batchSize,
    maxRecordsPerRun: perCycle,
    safetyLagSeconds: 0,
    startFrom: "earliest",
    checkpointIntervalMs: 5000,
    maxInFlight: spec.window,
    subject: spec.subject,
    deadLetterSubject: `${spec.subject}.dlq`,
    onUnpublishable: "fail",
    publishRetry,
    format: formatOptions(spec.table),
  };
  const stop = new AbortController();
  const kill = new AbortController();
  let rows = 0;
  let cycles = 0;
  const t = await timed(spec, async () => {
    for (;;) {
      const r = await runCycle({ source, publisher, store, ledger, serializer: serializer.make, settings, log: silentLog }, stop.signal, kill.signal);
      rows += r.rows;
      cycles++;
      if (r.duplicates > 0 || r.retries > 0 || r.deadLettered > 0)
        throw new Error(`unexpected: ${r.duplicates} duplicates, ${r.retries} retries, ${r.deadLettered} dead letters`);
      if (!(spec.variant === "catch-up" && r.full)) break;
    }
  });
  await serializer.close();
  await source.close();
  await nc.drain();
  return { messages: rows, avgBytes: 0, rate: rows / t.seconds, cycles, ...t };
}
