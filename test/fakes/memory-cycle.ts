/**
 * In-memory stand-ins for the rest of a cycle's dependencies (a row source, a watermark
 * store, a stream ledger), for unit tests of runCycle. Each records what it was asked and
 * can be told to fail at one step.
 */
import { Readable } from "node:stream";
import type { CycleDeps, CycleSettings, Log } from "../../src/pipeline/cycle";
import { isAfter } from "../../src/pipeline/position";
import { serializeInline } from "../../src/pipeline/serialize-events";
import type { Checkpoint, ReadOptions, RowSource, SourceRow, StreamLedger, Watermark, WatermarkStore } from "../../src/pipeline/types";
import type { FakePublisher } from "./fake-publisher";

export const TS = "2026-01-01 00:00:00.000000";

export function rows(from: number, to: number, dataBytes = 10): SourceRow[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    id: String(from + i),
    caseId: "c",
    eventType: "t",
    eventData: "x".repeat(dataBytes),
    eventTimestamp: TS,
    createdAt: null,
  }));
}

export class MemorySource implements RowSource {
  readonly table = "T";
  readonly data: SourceRow[];
  /** Set to make latest() fail (start_from: latest). */
  latestError: Error | null = null;
  destroyed = false;

  constructor(data: SourceRow[]) {
    this.data = data;
  }

  read(o: ReadOptions): Readable {
    const todo = this.data.filter((r) => isAfter({ ts: r.eventTimestamp, id: r.id }, o.after)).slice(0, o.limit);
    const pages: SourceRow[][] = [];
    for (let i = 0; i < todo.length; i += o.pageSize) pages.push(todo.slice(i, i + o.pageSize));
    const stream = Readable.from(pages, { objectMode: true, highWaterMark: 1 });
    stream.on("close", () => {
      this.destroyed = true;
    });
    return stream;
  }

  async latest(): Promise<Watermark | null> {
    if (this.latestError) throw this.latestError;
    const last = this.data.at(-1);
    return last ? { ts: last.eventTimestamp, id: last.id } : null;
  }

  async close(): Promise<void> {}
}

export type StoreCall =
  | { op: "begin" | "load" }
  | { op: "checkpoint"; checkpoint: Checkpoint; rows: number }
  | { op: "finish"; checkpoint: Checkpoint | null; rows: number; error?: string };

export class RecordingStore implements WatermarkStore {
  readonly calls: StoreCall[] = [];
  committed: Checkpoint | null = null;
  /** Make one step fail. */
  failOn: StoreCall["op"] | null = null;
  /** Runs inside load(), before it answers. */
  onLoad: () => void = () => undefined;

  private step(call: StoreCall): void {
    this.calls.push(call);
    if (this.failOn === call.op) throw new Error(`${call.op} failed: connection lost`);
  }
  async begin(): Promise<void> {
    this.step({ op: "begin" });
  }
  async load(): Promise<Checkpoint | null> {
    this.step({ op: "load" });
    this.onLoad();
    return this.committed;
  }
  async checkpoint(checkpoint: Checkpoint, rows: number): Promise<void> {
    this.step({ op: "checkpoint", checkpoint, rows });
    this.committed = checkpoint;
  }
  async finish(result: { checkpoint: Checkpoint | null; rows: number; error?: string }): Promise<void> {
    this.step({ op: "finish", ...result });
    if (result.checkpoint) this.committed = result.checkpoint;
  }
  get finishes(): Array<Extract<StoreCall, { op: "finish" }>> {
    return this.calls.filter((c): c is Extract<StoreCall, { op: "finish" }> => c.op === "finish");
  }
}

/** A ledger whose stream holds `stored` (msg id -> seq) up to `last`. */
export function memoryLedger(last: number, stored: Array<[string, number]> = [], fail?: Error): StreamLedger {
  return {
    async lastSeq() {
      if (fail) throw fail;
      return last;
    },
    async storedSince(from) {
      return new Map(stored.filter(([, seq]) => seq >= from).map(([msgId, seq]) => [msgId, { seq, position: { ts: TS, id: msgId.split(":")[1] ?? "" } }]));
    },
  };
}

export const silentLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

export function settings(overrides: Partial<CycleSettings> = {}): CycleSettings {
  return {
    batchSize: 10,
    maxRecordsPerRun: 10_000,
    safetyLagSeconds: 0,
    startFrom: "earliest",
    checkpointIntervalMs: 60_000,
    maxInFlight: 8,
    subject: "ev",
    deadLetterSubject: "ev.dlq",
    onUnpublishable: "dead_letter",
    publishRetry: { maxRetries: 3, initialBackoff: 0.001, maxBackoff: 0.01, backoffMultiplier: 2 },
    format: { timeZone: "UTC", dataType: "d", traceId: "row", table: "T" },
    ...overrides,
  };
}

export function cycleDeps(source: MemorySource, publisher: FakePublisher, store: RecordingStore, extra: Partial<CycleDeps> = {}): CycleDeps {
  return { source, publisher, store, serializer: serializeInline, settings: settings(), log: silentLog, ...extra };
}
