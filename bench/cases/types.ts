/**
 * What the orchestrator (bench/run.ts) hands a child process, and what the child reports back.
 * One case run = one forked child, so peak RSS and heap state never leak between runs.
 */

export type CaseKind =
  /** Stock js.publish() of pre-serialized payloads with a sliding window (the client's ceiling). */
  | "stock"
  /** Core publish into the stream subject, no acks, until the stream holds every message (the server's ceiling). */
  | "core"
  /** V7's strategy: read everything, then Promise.all batches via js.publish(). */
  | "v7"
  /** The pipeline end to end: runCycle with a MariadbSource, an in-memory store and a publisher. */
  | "pipeline"
  /** MariadbSource alone (optionally with format + serialize) into a discarding sink. */
  | "source"
  /** JetStreamSink alone, fed pre-serialized batches from memory. */
  | "sink";

export interface CaseSpec {
  /** Unique, dotted, stable: what `--case` matches. */
  name: string;
  kind: CaseKind;
  /** Group in the table and the chart (references, pipeline, ...). */
  group: string;
  /** MariaDB table the rows come from (every case reads its messages from it). */
  table: string;
  rows: number;
  /** Nominal message size label: 256B, 1KB, 8KB. */
  size: string;
  /** Stream and subject created for this run by the orchestrator, deleted after it. */
  stream: string;
  subject: string;
  /** NATS URL (the delaying proxy's, for latency cases). */
  natsUrl: string;
  /** Added one-way delay of the proxy in ms (0 = direct); informational in the child. */
  delayMs: number;
  /** Window of publishes awaiting acks (stock, sink, pipeline). */
  window: number;
  /** Rows per page / pipeline chunk (pipeline, source, sink), or per Promise.all batch (v7). */
  batchSize: number;
  ackMode: "inbox" | "stock";
  serialization: "inline" | "piscina";
  workers: number;
  /** source: also format + serialize; pipeline: run cycles until caught up. */
  variant?: "raw" | "serialize" | "catch-up";
  /** Rows per cycle for catch-up runs (publisher.max_records_per_run). */
  maxRecordsPerRun?: number;
  /** Extra node flags for the child (e.g. --max-semi-space-size=...). */
  execArgv?: string[];
  /** Where cases that publish pre-serialized payloads cache them between runs. */
  preloadCache: string;
  /** nats-server and mariadbd, whose CPU the child samples around its timed section. */
  servers: { nats: number | null; db: number | null };
}

export interface CaseResult {
  /** Messages (or rows, for source cases) handled in the timed section. */
  messages: number;
  seconds: number;
  rate: number;
  /** Average message size in bytes (payload only). */
  avgBytes: number;
  /** Peak resident set of the child, MB (process.resourceUsage().maxRSS). */
  maxRssMB: number;
  /** CPU seconds of the child during the timed section. */
  cpuUser: number;
  cpuSystem: number;
  /** CPU seconds nats-server and mariadbd used during the timed section. */
  natsCpu: number;
  dbCpu: number;
  /** 1-minute load average when the timed section ended. */
  load: number;
  /** Cycles run (catch-up pipeline runs). */
  cycles?: number;
}

/** What a case function returns; the child adds peak RSS. */
export type CaseOutput = Omit<CaseResult, "maxRssMB">;

export const MB = 1024 * 1024;
