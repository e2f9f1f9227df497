/**
 * Ordered finalizer: messages are registered in source order and acknowledged in any order;
 * the watermark is the position of the last message of the longest fully acknowledged prefix.
 * (vector's OrderedFinalizer, connect's checkpointer.) Memory is bounded by the span between
 * the oldest unacknowledged message and the newest sent one, i.e. by the in-flight window.
 */
import type { Watermark } from "./types";

export class AckTracker {
  /** Sequence number of positions[head]. */
  private base = 0;
  private head = 0;
  private readonly positions: Watermark[] = [];
  private readonly acked: boolean[] = [];
  /** Per message: the lowest stream sequence it can have been stored at (see Checkpointer). */
  private readonly lowSeqs: number[] = [];
  private committed: Watermark | null;
  /** Messages in the acknowledged prefix since the tracker was created. */
  private prefixCount = 0;

  constructor(start: Watermark | null) {
    this.committed = start;
  }

  /** Registers the next message in source order; returns its sequence number. */
  add(position: Watermark, lowSeq = 0): number {
    this.positions.push(position);
    this.acked.push(false);
    this.lowSeqs.push(lowSeq);
    return this.base + this.positions.length - 1;
  }

  /** Marks a message acknowledged and advances the prefix as far as it now reaches. */
  ack(seq: number): void {
    const index = seq - this.base;
    if (index < this.head || index >= this.positions.length) return;
    this.acked[index] = true;
    let i = this.head;
    while (i < this.positions.length && this.acked[i]) i++;
    if (i === this.head) return;
    this.committed = this.positions[i - 1] as Watermark;
    this.prefixCount += i - this.head;
    this.head = i;
    // Compact once the consumed part dominates, so memory tracks the window, not the run.
    if (this.head > 1024 && this.head * 2 > this.positions.length) {
      this.positions.splice(0, this.head);
      this.acked.splice(0, this.head);
      this.lowSeqs.splice(0, this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  /** Highest position below which every message is acknowledged. */
  get watermark(): Watermark | null {
    return this.committed;
  }

  /** Messages acknowledged in order since the start. */
  get acknowledged(): number {
    return this.prefixCount;
  }

  /** The lowest `lowSeq` of the messages past the watermark, or null when there are none. */
  lowestSeqPastWatermark(): number | null {
    let low: number | null = null;
    for (let i = this.head; i < this.lowSeqs.length; i++) {
      const s = this.lowSeqs[i] as number;
      if (low === null || s < low) low = s;
    }
    return low;
  }

  /** Messages registered and not yet part of the acknowledged prefix. */
  get outstanding(): number {
    return this.positions.length - this.head;
  }
}
