/**
 * The sink's checkpointer: what may be committed. It registers every row in source order
 * (AckTracker), takes acknowledgements in any order, and answers with the watermark (the last
 * row of the fully acknowledged prefix), the stream sequence a restart scans from
 * (`resumeSeq`), and the cycle's counts. Rows a restart's scan found already stored are
 * acknowledged here without being published again (recovered).
 *
 * (vector's OrderedFinalizer, Redpanda Connect's checkpointer: the publishing side only says
 * "this one is stored"; this side decides what that means for the watermark.)
 */
import { AckTracker } from "./ack-tracker";
import { deadLetterMsgId } from "./message-id";
import type { PipelineObserver, Watermark } from "./types";

export interface SinkStats {
  /** Messages acknowledged (stored or duplicate), dead letters included. */
  acked: number;
  /** Of which the stream reported as duplicates. */
  duplicates: number;
  /** Of which were already in the stream (a restart's scan) and were not published again. */
  recovered: number;
  /** Of which were dead-letter messages. */
  deadLettered: number;
  /** Re-publishes after a timeout. */
  retries: number;
}

/** What the cycle commits and reports, read at one instant. */
export interface SinkSnapshot {
  /** Position below which every message is acknowledged (the start when none is yet). */
  watermark: Watermark | null;
  /**
   * The stream sequence at or above which every message past the watermark that may be
   * stored lies: where a restart scans from to find what it must not publish again.
   */
  resumeSeq: number;
  /** Messages in the acknowledged prefix this cycle (rows done, dead letters included). */
  rows: number;
  stats: Readonly<SinkStats>;
}

export interface CheckpointerOptions {
  /** Position already committed before this cycle. */
  start: Watermark | null;
  /** The stream's last sequence when the cycle started: anything we publish lands above it. */
  streamSeqFloor?: number;
  /** Messages the stream already holds past `start` (a restart's scan): Nats-Msg-Id -> stream sequence. */
  alreadyStored?: Map<string, number>;
  observer?: PipelineObserver;
}

export class Checkpointer {
  readonly stats: SinkStats = { acked: 0, duplicates: 0, recovered: 0, deadLettered: 0, retries: 0 };
  private readonly tracker: AckTracker;
  /**
   * The highest stream sequence seen acknowledged (or the stream's last sequence at the start).
   * A message sent after an ack of sequence s is stored above s, so `maxSeqSeen + 1` at its
   * first send is the lowest sequence it can have: the bound `resumeSeq` is built from.
   */
  private maxSeqSeen: number;
  /** Our own copy: entries are removed as their rows come by (see resumeSeq). */
  private readonly alreadyStored: Map<string, number>;
  private readonly observer: PipelineObserver | undefined;

  constructor(options: CheckpointerOptions) {
    this.tracker = new AckTracker(options.start);
    this.maxSeqSeen = options.streamSeqFloor ?? 0;
    this.alreadyStored = new Map(options.alreadyStored ?? []);
    this.observer = options.observer;
  }

  /**
   * Registers the next row in source order, about to be published; returns its place (the
   * sequence `acked` takes back).
   */
  track(position: Watermark): number {
    return this.tracker.add(position, this.maxSeqSeen + 1);
  }

  /**
   * A row whose event (or dead letter) the stream already holds, published before a crash or
   * a failed cycle: counted as acknowledged in its place. False when it still needs publishing.
   */
  recover(position: Watermark, msgId: string): boolean {
    const stored = this.alreadyStored;
    if (stored.size === 0) return false;
    const dlqId = deadLetterMsgId(msgId);
    const storedSeq = stored.get(msgId) ?? stored.get(dlqId);
    if (storedSeq === undefined) return false;
    stored.delete(msgId);
    stored.delete(dlqId);
    this.tracker.ack(this.tracker.add(position, storedSeq));
    this.stats.acked++;
    this.stats.recovered++;
    this.observer?.recovered(1);
    return true;
  }

  /** The message at `seq` is stored at `streamSeq` (or was already: `duplicate`). */
  acked(seq: number, streamSeq: number, duplicate: boolean, deadLetter: boolean): void {
    if (streamSeq > this.maxSeqSeen) this.maxSeqSeen = streamSeq;
    const stats = this.stats;
    stats.acked++;
    if (duplicate) stats.duplicates++;
    if (deadLetter) stats.deadLettered++;
    this.tracker.ack(seq);
    const observer = this.observer;
    if (observer) {
      if (duplicate) observer.duplicates(1);
      else if (!deadLetter) observer.published(1);
      if (deadLetter) observer.deadLettered(1);
    }
  }

  /** Stored while the sink drains before failing: it moves the watermark but is not counted. */
  storedWhileFailing(seq: number, streamSeq: number): void {
    if (streamSeq > this.maxSeqSeen) this.maxSeqSeen = streamSeq;
    this.tracker.ack(seq);
  }

  /** A re-publish after a timeout. */
  retried(): void {
    this.stats.retries++;
    this.observer?.retried(1);
  }

  get watermark(): Watermark | null {
    return this.tracker.watermark;
  }

  /** Messages in the acknowledged prefix this cycle. */
  get acknowledged(): number {
    return this.tracker.acknowledged;
  }

  get resumeSeq(): number {
    let low = this.tracker.lowestSeqPastWatermark() ?? this.maxSeqSeen + 1;
    // Stored messages past the watermark whose rows this cycle has not reached yet.
    for (const seq of this.alreadyStored.values()) if (seq < low) low = seq;
    return low;
  }

  snapshot(): SinkSnapshot {
    return { watermark: this.tracker.watermark, resumeSeq: this.resumeSeq, rows: this.tracker.acknowledged, stats: { ...this.stats } };
  }
}
