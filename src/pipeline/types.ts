/**
 * The small interfaces every stage depends on. Adapters (src/adapters) implement them;
 * the pipeline (src/pipeline) only ever sees these shapes, so a real database, NATS and
 * an in-memory fake are interchangeable in tests and benchmarks.
 */
import type { Readable } from "node:stream";

/**
 * A position in source order: the pair (EVENT_TIMESTAMP, ID).
 * `ts` is the database's own wall-clock text `YYYY-MM-DD HH:MM:SS.ffffff` (always 26
 * characters, microseconds, no zone; `source.time_zone` says which zone it is in), so string
 * order is time order and nothing is ever rounded through a millisecond `Date`.
 * `id` is the ID in decimal digits, exact at any size.
 */
export interface Watermark {
  readonly ts: string;
  readonly id: string;
}

/** One TXLOG_EVENTS row as a source hands it over: every value as lossless text. */
export interface SourceRow {
  /** ID, decimal digits. */
  id: string;
  caseId: string | null;
  eventType: string | null;
  /** EVENT_DATA exactly as stored (usually JSON text, but never parsed or altered). */
  eventData: string | null;
  /** EVENT_TIMESTAMP as `YYYY-MM-DD HH:MM:SS.ffffff`. */
  eventTimestamp: string;
  /** CREATED_AT as `YYYY-MM-DD HH:MM:SS.ffffff`, or null. */
  createdAt: string | null;
  /**
   * Set (with `eventData` null) when the source left EVENT_DATA in the database because it is
   * longer than the source loads (Oracle's `maxEventDataLength`, set from the server's
   * max_payload): its length, in characters of a CLOB or bytes of a BLOB. Such a row can never
   * be published as it is: it is dead-lettered, or fails the cycle (`on_unpublishable`).
   */
  eventDataLength?: number;
}

export interface ReadOptions {
  /** Exclusive lower bound; null reads from the oldest row. */
  after: Watermark | null;
  /** Rows in total at most (publisher.max_records_per_run). */
  limit: number;
  /** Rows per chunk the stream emits, and per database round trip (publisher.batch_size). */
  pageSize: number;
  /** Only rows with EVENT_TIMESTAMP <= database now - this many seconds are read. */
  safetyLagSeconds: number;
}

/**
 * A source of TXLOG_EVENTS rows in (EVENT_TIMESTAMP, ID) order.
 *
 * `read()` returns an object-mode Readable whose chunks are non-empty `SourceRow[]` arrays,
 * each at most `pageSize` long, strictly after `after`, in order, bounded above by the
 * database clock minus the lag (taken once, when the read starts), ending after `limit` rows
 * or when nothing is left. It fetches only when the consumer asks (backpressure), emits
 * `error` with a SourceError on failure, and releases its connection on end, error and
 * destroy().
 */
export interface RowSource {
  /** Qualified table name as configured, e.g. `spc.TXLOG_EVENTS`; part of every message id. */
  readonly table: string;
  read(options: ReadOptions): Readable;
  /** The newest position at or below database now - lag, or null for an empty table. */
  latest(safetyLagSeconds: number): Promise<Watermark | null>;
  /**
   * Rows strictly after `after` (all when null) stamped at or before database now -
   * `upperLagSeconds` (the bound a read uses), counted up to `limit` (a result equal to `limit`
   * means "at least"), and the database clock as wall-clock text in source.time_zone. Cheap:
   * an index range scan bounded by `limit`. For lag metrics and progress; optional.
   */
  countAfter?(after: Watermark | null, upperLagSeconds: number, limit: number): Promise<{ rows: number; dbNow: string }>;
  /** Rows with `after` < (EVENT_TIMESTAMP, ID) <= `through`, up to `limit` (the rewind's estimate); optional. */
  countBetween?(after: Watermark, through: Watermark, limit: number): Promise<number>;
  close(): Promise<void>;
}

/** What JetStream said about one publish. */
export type PublishOutcome =
  /** Stored (or already stored: `duplicate`, absorbed by the stream's duplicate window). */
  | { readonly kind: "ack"; readonly streamSeq: number; readonly duplicate: boolean }
  /** No ack in time: unknown outcome, to be retried with the same Nats-Msg-Id. */
  | { readonly kind: "timeout" }
  /**
   * The stream answered with an error. `rowFault` when this message itself can never be
   * stored (over the stream's max_msg_size); otherwise the stream or server is the problem.
   */
  | { readonly kind: "rejected"; readonly code: number; readonly description: string; readonly rowFault: boolean };

/**
 * A per-cycle publishing channel. `publish` never waits: the outcome of every call arrives
 * later, once, through the callback given to `EventPublisher.open`, tagged with `token`.
 * It throws only when the connection is closed for good.
 */
export interface PublishChannel {
  publish(subject: string, msgId: string, payload: Uint8Array, token: number): void;
  /** Stops delivering outcomes; outcomes still due are dropped. */
  close(): void;
}

export interface EventPublisher {
  /** Largest message (headers included) the server accepts. */
  readonly maxPayload: number;
  /** Bytes the Nats-Msg-Id header adds to a message with this id. */
  headerBytes(msgId: string): number;
  open(onOutcome: (token: number, outcome: PublishOutcome) => void): PublishChannel;
}

/**
 * What is committed: the watermark, and the stream sequence from which a restart looks for
 * messages already stored past it (so it does not publish them again, even after the
 * stream's duplicate window has passed). null: nothing to look for.
 */
export interface Checkpoint {
  watermark: Watermark | null;
  resumeSeq: number | null;
}

/** The watermark store: ETL_PRMREC in production. */
export interface WatermarkStore {
  /** The committed checkpoint, or null when this program has none yet. */
  load(): Promise<Checkpoint | null>;
  /** A cycle starts: STATUS RUNNING, LAST_RUN_TIME now. */
  begin(): Promise<void>;
  /** Commits progress during a cycle (STATUS stays RUNNING). */
  checkpoint(checkpoint: Checkpoint, rows: number): Promise<void>;
  /** A cycle ends: STATUS SUCCESS or FAILED (with the error), the checkpoint, the cycle's rows. */
  finish(result: { checkpoint: Checkpoint | null; rows: number; error?: string }): Promise<void>;
}

/** What the stream already holds: how a restart avoids re-publishing beyond the duplicate window. */
export interface StreamLedger {
  /** The stream's last sequence now: every message published later gets a higher one. */
  lastSeq(): Promise<number>;
  /**
   * Our messages (events and dead letters) stored at or after `fromSeq`: Nats-Msg-Id -> its
   * stream sequence and the (ts, id) it stands for (null when it cannot be read back).
   */
  storedSince(fromSeq: number): Promise<Map<string, { seq: number; position: Watermark | null }>>;
}

/** A chunk between the format and serialize stages. */
export interface EventBatch {
  positions: Watermark[];
  events: import("../event/txlog-event").TxlogEvent[];
  /** Rows whose EVENT_DATA was not loaded (SourceRow.eventDataLength): index in the batch -> that length. */
  unloaded?: ReadonlyMap<number, number>;
}

/** A chunk the sink publishes: message i is `payload.subarray(ends[i-1] ?? 0, ends[i])`. */
export interface EncodedBatch {
  positions: Watermark[];
  payload: Uint8Array;
  ends: Uint32Array;
  /** As EventBatch.unloaded: these rows' messages are never published, their dead letters are. */
  unloaded?: ReadonlyMap<number, number>;
  /**
   * Hands `payload`'s memory back to the stage that packed it, for the next batch. The sink
   * calls it once, after every message in the batch is acknowledged (or replaced by its
   * dead letter): the memory is then overwritten, so nothing may read the payload afterwards.
   * Absent when the payload is not pooled (worker results, tests): the GC takes it.
   */
  release?(): void;
}

/**
 * What a cycle reports as it goes, for metrics. Counts are increments. Called on the hot
 * path: implementations must be cheap (add to a counter, no I/O).
 */
export interface PipelineObserver {
  /** Rows read from the source. */
  rowsRead(n: number): void;
  /** Event messages newly stored by the stream (duplicates and dead letters not included). */
  published(n: number): void;
  /** Messages the stream answered as already stored (absorbed by its duplicate window). */
  duplicates(n: number): void;
  /** Rows found already stored by a restart's scan of the stream, and not published again. */
  recovered(n: number): void;
  /** Dead-letter messages acknowledged by the stream (each in place of a row). */
  deadLettered(n: number): void;
  /** Re-publishes after a publish timeout. */
  retried(n: number): void;
  /** Publishes awaiting their outcome now (window slots taken); reported after each burst. */
  inFlight(n: number): void;
  /** Seconds from a message's (last) publish to its ack. */
  ackLatency(seconds: number): void;
}
