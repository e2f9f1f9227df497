/**
 * The cases a run is made of. Names are dotted and stable, and `--case` matches them:
 *
 *   ref.core.1kb                 core publish, no acks (server ceiling)
 *   ref.stock.w256.1kb           js.publish() of pre-serialized payloads, window 256 (client ceiling)
 *   v7.b100.1kb                  V7: read all, then Promise.all batches of 100
 *   stage.source.raw.1kb         MariadbSource alone; stage.source.serialize: + format + serialize
 *   stage.sink.inbox.w256.1kb    JetStreamSink alone from memory
 *   pipe.inline.inbox.w256.b2000.1kb   the pipeline end to end (serialization, ack mode, window, batch, size)
 *   rss.pipe.100k / rss.pipe.1m  peak RSS against backlog (--rss)
 *   lat2.pipe.inline.inbox.w256.b2000.1kb   through a proxy adding 2 ms each way (--latency 2)
 */
import { type Field, type SectionField, schema } from "../../src/config/schema";
import type { CaseSpec } from "../cases/types";

function schemaDefault<T>(section: string, key: string): T {
  const field = ((schema as SectionField).fields[section] as SectionField).fields[key] as Field & { default?: T };
  if (field.default === undefined) throw new Error(`config schema has no default for ${section}.${key}`);
  return field.default;
}

/** The service's defaults, read from the config schema: what every case not sweeping a value uses. */
export const DEFAULTS = {
  window: schemaDefault<number>("publisher", "max_in_flight"),
  batchSize: schemaDefault<number>("publisher", "batch_size"),
  ackMode: schemaDefault<"inbox" | "stock">("nats", "ack_mode"),
  serialization: schemaDefault<"inline" | "piscina">("publisher", "serialization"),
  workers: schemaDefault<number>("publisher", "workers"),
  maxRecordsPerRun: schemaDefault<number>("publisher", "max_records_per_run"),
};

export const WINDOWS = [16, 64, 256, 1024, 4096];
export const SIZES: Record<string, number> = { "256b": 256, "1kb": 1024, "8kb": 8192 };

export interface PlanOptions {
  rows: number;
  quick: boolean;
  rss: boolean;
  latency: number[];
  /** Extra node flags for every pipeline child. */
  execArgv: string[];
}

/** A case before the orchestrator fills in stream, subject, URL and server pids. */
export type PlannedCase = Omit<CaseSpec, "stream" | "subject" | "natsUrl" | "servers" | "table" | "preloadCache"> & {
  /** Key of the table it reads (size and rows), resolved to a table name by the orchestrator. */
  tableKey: { size: string; rows: number };
};

export function plan(o: PlanOptions): PlannedCase[] {
  const cases: PlannedCase[] = [];
  const rows = (size: string) => (size === "8kb" ? Math.ceil(o.rows / 4) : o.rows);
  const base = (name: string, kind: CaseSpec["kind"], group: string, size = "1kb", n = rows(size)): PlannedCase => ({
    name,
    kind,
    group,
    rows: n,
    size,
    tableKey: { size, rows: n },
    delayMs: 0,
    window: DEFAULTS.window,
    batchSize: DEFAULTS.batchSize,
    ackMode: DEFAULTS.ackMode,
    serialization: DEFAULTS.serialization,
    workers: DEFAULTS.workers,
  });
  const pipe = (ser: "inline" | "piscina", workers: number, ack: "inbox" | "stock", window: number, batch: number, size: string): PlannedCase => ({
    ...base(`pipe.${ser === "inline" ? "inline" : `piscina${workers}`}.${ack}.w${window}.b${batch}.${size}`, "pipeline", "pipeline", size),
    serialization: ser,
    workers,
    ackMode: ack,
    window,
    batchSize: batch,
    execArgv: o.execArgv,
  });

  // References and stages (1 KB messages).
  cases.push(base("ref.core.1kb", "core", "reference"));
  for (const w of o.quick ? [256, 1024] : [64, 256, 1024]) cases.push({ ...base(`ref.stock.w${w}.1kb`, "stock", "reference"), window: w });
  cases.push({ ...base("v7.b100.1kb", "v7", "v7"), batchSize: 100 });
  cases.push({ ...base("stage.source.raw.1kb", "source", "stage"), variant: "raw" });
  cases.push({ ...base("stage.source.serialize.1kb", "source", "stage"), variant: "serialize" });
  cases.push({ ...base(`stage.sink.inbox.w${DEFAULTS.window}.1kb`, "sink", "stage") });

  // The pipeline: window sweep, ack modes, piscina, batch sizes, message sizes.
  const d = DEFAULTS;
  const withDefault = (list: number[], value: number) => [...new Set([...list, value])].sort((a, b) => a - b);
  const windows = withDefault(o.quick ? [256, 1024] : WINDOWS, d.window);
  for (const w of windows) cases.push(pipe("inline", 1, "inbox", w, d.batchSize, "1kb"));
  for (const w of o.quick ? [d.window] : [256, 1024]) cases.push(pipe("inline", 1, "stock", w, d.batchSize, "1kb"));
  if (!o.quick) {
    cases.push(pipe("piscina", 1, "inbox", d.window, d.batchSize, "1kb"));
    for (const w of withDefault([256, 1024], d.window)) cases.push(pipe("piscina", 2, "inbox", w, d.batchSize, "1kb"));
    for (const b of [500, 1000, 2000, 5000]) if (b !== d.batchSize) cases.push(pipe("inline", 1, "inbox", d.window, b, "1kb"));
    cases.push(pipe("inline", 1, "inbox", d.window, d.batchSize, "256b"));
    cases.push(pipe("inline", 1, "inbox", d.window, d.batchSize, "8kb"));
    cases.push(pipe("piscina", 2, "inbox", d.window, d.batchSize, "8kb"));
  }

  // Peak RSS against the backlog: the service's defaults, cycles until caught up.
  if (o.rss) {
    for (const [label, n] of [
      ["100k", 100_000],
      ["1m", 1_000_000],
    ] as const) {
      cases.push({
        ...pipe("inline", 1, "inbox", d.window, d.batchSize, "1kb"),
        name: `rss.pipe.${label}`,
        group: "rss",
        rows: n,
        tableKey: { size: "1kb", rows: n },
        variant: "catch-up",
        maxRecordsPerRun: d.maxRecordsPerRun,
      });
    }
  }

  // Window against batch barriers when every round trip costs a few ms.
  for (const ms of o.latency) {
    const n = Math.ceil(o.rows / 2);
    const at = (c: PlannedCase): PlannedCase => ({
      ...c,
      name: `lat${ms}.${c.name}`,
      group: `latency ${ms} ms`,
      delayMs: ms,
      rows: n,
      tableKey: { size: "1kb", rows: o.rows },
    });
    cases.push(at({ ...base("v7.b100.1kb", "v7", "v7"), batchSize: 100 }));
    cases.push(at({ ...base("ref.stock.w256.1kb", "stock", "reference"), window: 256 }));
    for (const w of withDefault([256, 1024], d.window)) cases.push(at(pipe("inline", 1, "inbox", w, d.batchSize, "1kb")));
  }
  return cases;
}

/** `--case a,b`: a case runs when its name contains any of the patterns (or equals it). */
export function select(cases: PlannedCase[], patterns: string[]): PlannedCase[] {
  if (patterns.length === 0) return cases;
  return cases.filter((c) => patterns.some((p) => c.name === p || c.name.includes(p)));
}
