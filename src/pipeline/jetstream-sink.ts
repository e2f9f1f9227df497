/**
 * Stage 4: the JetStream sink. A Writable that publishes every message of each encoded batch
 * and keeps what may be committed. It composes:
 *
 *   publish-window.ts  slots (max_in_flight), retries after a timeout, draining before failing
 *   checkpointer.ts    the acknowledged prefix (watermark), resume sequence, recovered rows, stats
 *   dead-letter.ts     what becomes of a row JetStream can never store
 *   message-id.ts      Nats-Msg-Id `<table>:<ID>`: a replay inside the stream's duplicate
 *                      window (retry, crash, restart) is absorbed by the server
 *
 * `_write` takes window slots synchronously and only holds its callback while the window is
 * full, so backpressure reaches the source through the stream pipeline. Once every message
 * of a batch is acknowledged the batch is released (`EncodedBatch.release`) for its payload
 * buffer to be reused; until then nothing else is written into it.
 */
import { Writable } from "node:stream";
import { PublishError } from "../errors";
import { Checkpointer, type SinkSnapshot, type SinkStats } from "./checkpointer";
import { DeadLetterPolicy, type Divertible } from "./dead-letter";
import { eventMsgId } from "./message-id";
import { PublishWindow, type Rejection, type WindowHandler } from "./publish-window";
import type { RetryPolicy } from "./retry";
import type { EncodedBatch, EventPublisher, PipelineObserver, Watermark } from "./types";

export type { SinkSnapshot, SinkStats } from "./checkpointer";

export interface SinkOptions {
  publisher: EventPublisher;
  table: string;
  subject: string;
  deadLetterSubject: string;
  onUnpublishable: "dead_letter" | "fail";
  maxInFlight: number;
  /** Re-publishing after a timeout (nats.retry). */
  retry: RetryPolicy;
  /** Position already committed before this cycle. */
  start: Watermark | null;
  /**
   * Messages the stream already holds past `start` (found by a restart's scan): counted as
   * acknowledged without publishing them again. Nats-Msg-Id -> stream sequence.
   */
  alreadyStored?: Map<string, number>;
  /** The stream's last sequence when the cycle started: anything we publish lands above it. */
  streamSeqFloor?: number;
  /** Called for each row sent to the dead-letter subject. */
  onDeadLetter?: (row: { id: string; ts: string; reason: string }) => void;
  /** Called for each retry after a timeout. */
  onRetry?: (row: { id: string; attempt: number; waitMs: number }) => void;
  /** Metrics; nothing is measured without one. */
  observer?: PipelineObserver;
}

/** A batch and how many of its messages still need its payload. */
interface BatchHold {
  batch: EncodedBatch;
  /** Messages sent from it and not yet acknowledged (or replaced by a dead letter). */
  unsettled: number;
  /** Every message of the batch has been sent (none will be added). */
  sent: boolean;
}

interface Pending extends Divertible {
  /** The batch whose payload this message's bytes are in (null once they are not). */
  hold: BatchHold | null;
  /** Place in source order (the checkpointer's sequence). */
  seq: number;
}

type Done = (err?: Error | null) => void;

export class JetStreamSink extends Writable {
  readonly checkpointer: Checkpointer;
  private readonly window: PublishWindow<Pending>;
  private readonly deadLetters: DeadLetterPolicy;
  private readonly table: string;
  private readonly subject: string;
  private readonly observer: PipelineObserver | undefined;
  private hold: BatchHold | null = null;
  /** Next message of the batch being written. */
  private index = 0;
  private batchDone: Done | null = null;
  private finalDone: Done | null = null;

  constructor(options: SinkOptions) {
    // One encoded batch buffered ahead of the one being published.
    super({ objectMode: true, highWaterMark: 1 });
    this.table = options.table;
    this.subject = options.subject;
    this.observer = options.observer;
    this.checkpointer = new Checkpointer(options);
    this.deadLetters = new DeadLetterPolicy({ ...options, mode: options.onUnpublishable });
    this.window = new PublishWindow(options.publisher, options.maxInFlight, options.retry, this.windowHandler(options), options.observer);
  }

  /** Position below which every message is acknowledged. */
  get watermark(): Watermark | null {
    return this.checkpointer.watermark;
  }

  /** See SinkSnapshot.resumeSeq. */
  get resumeSeq(): number {
    return this.checkpointer.resumeSeq;
  }

  get stats(): Readonly<SinkStats> {
    return this.checkpointer.stats;
  }

  /** What the cycle commits and reports, read now. */
  snapshot(): SinkSnapshot {
    return this.checkpointer.snapshot();
  }

  override _write(batch: EncodedBatch, _encoding: BufferEncoding, callback: Done): void {
    this.hold = { batch, unsettled: 0, sent: false };
    this.index = 0;
    this.batchDone = callback;
    this.pump();
  }

  override _final(callback: Done): void {
    this.finalDone = callback;
    this.pump();
  }

  override _destroy(err: Error | null, callback: Done): void {
    this.window.close();
    callback(err);
  }

  private windowHandler(options: SinkOptions): WindowHandler<Pending> {
    return {
      acked: (message, streamSeq, duplicate) => {
        this.checkpointer.acked(message.seq, streamSeq, duplicate, message.deadLettered);
        this.settle(message);
      },
      storedWhileFailing: (message, streamSeq) => this.checkpointer.storedWhileFailing(message.seq, streamSeq),
      rejected: (message, outcome) => this.onRejected(message, outcome),
      retrying: (message, attempt, waitMs) => {
        this.checkpointer.retried();
        options.onRetry?.({ id: message.position.id, attempt, waitMs });
      },
      refill: () => this.pump(),
      failed: (err) => this.destroy(err),
    };
  }

  /** Fills the window: retries first (they hold the oldest positions), then new messages. */
  private pump(): void {
    if (this.destroyed || this.window.failing) return;
    try {
      this.window.publishRetries();
      const hold = this.hold;
      if (hold) {
        this.fill(hold);
        if (this.destroyed || this.window.failing) return;
        if (this.index === hold.batch.positions.length) this.batchSent(hold);
      }
      if (this.finalDone && !this.hold && this.window.size === 0) {
        const done = this.finalDone;
        this.finalDone = null;
        done();
      }
      this.observer?.inFlight(this.window.size);
    } catch (err) {
      this.destroy(new PublishError(`publishing to ${this.subject} failed: ${(err as Error).message}`, { cause: err }));
    }
  }

  /** Publishes the batch's next messages while the window has room (the hot path). */
  private fill(hold: BatchHold): void {
    const { positions, payload, ends, unloaded } = hold.batch;
    const window = this.window;
    const checkpointer = this.checkpointer;
    while (this.index < positions.length && window.hasRoom) {
      const i = this.index++;
      const position = positions[i] as Watermark;
      const msgId = eventMsgId(this.table, position.id);
      // Published before a crash or a failed cycle, and still in the stream.
      if (checkpointer.recover(position, msgId)) continue;
      hold.unsettled++;
      const message: Pending = {
        token: 0,
        hold,
        seq: checkpointer.track(position),
        position,
        subject: this.subject,
        msgId,
        payload: payload.subarray(i === 0 ? 0 : (ends[i - 1] as number), ends[i] as number),
        attempts: 0,
        sentAt: 0,
        deadLettered: false,
      };
      const dataLength = unloaded?.get(i);
      if (dataLength !== undefined) this.deadLetter(message, this.deadLetters.unloaded(dataLength), dataLength);
      else {
        const tooLarge = this.deadLetters.oversize(message);
        if (tooLarge === null) window.publish(message);
        else this.deadLetter(message, tooLarge);
      }
      if (this.destroyed || window.failing) return;
    }
  }

  /** Every message of the batch is out: take the next one (and release it if all are settled). */
  private batchSent(hold: BatchHold): void {
    const done = this.batchDone;
    hold.sent = true;
    if (hold.unsettled === 0) hold.batch.release?.();
    this.hold = null;
    this.batchDone = null;
    done?.();
  }

  /** The message no longer needs its batch's payload; the last one releases the batch. */
  private settle(message: Pending): void {
    const hold = message.hold;
    if (!hold) return;
    message.hold = null;
    hold.unsettled--;
    if (hold.sent && hold.unsettled === 0) hold.batch.release?.();
  }

  private onRejected(message: Pending, outcome: Rejection): void {
    const why = `${outcome.description} (code ${outcome.code})`;
    if (outcome.rowFault && !message.deadLettered) {
      this.deadLetter(message, `rejected by the stream: ${why}`);
      this.pump();
      return;
    }
    this.window.fail(new PublishError(`JetStream rejected ${message.msgId} on ${message.subject}: ${why}`));
  }

  /** Replaces a message that can never be stored with its dead-letter record (or fails). */
  private deadLetter(message: Pending, reason: string, size?: number): void {
    const err = this.deadLetters.divert(message, reason, size);
    if (err) {
      this.window.fail(err);
      return;
    }
    this.settle(message);
    this.window.publish(message);
  }
}
