/**
 * The sink's publish window: at most `max_in_flight` publishes awaiting their outcome.
 *
 * - A slot is taken synchronously (`hasRoom`, then `publish`): the caller awaits only when
 *   the window is full, so a burst goes out in few socket writes.
 * - A timeout is an unknown outcome: the same message (same Nats-Msg-Id, same bytes) is
 *   published again after the nats.retry backoff, keeping its slot; when retries run out the
 *   window fails.
 * - Failing is gentle: nothing new is sent and messages waiting for a retry are given up, but
 *   publishes already in flight get their answer first (each has its own publish timeout, so
 *   this ends), so every row that was stored is counted before the sink fails.
 *
 * What an outcome means for the watermark is the checkpointer's business, reached through the
 * handler; what to do with a rejected message is the sink's.
 */
import { performance } from "node:perf_hooks";
import { PublishError } from "../errors";
import { backoffMs, type RetryPolicy } from "./retry";
import type { EventPublisher, PipelineObserver, PublishChannel, PublishOutcome } from "./types";

/** One message as the window sees it. */
export interface Outgoing {
  /** Tags its outcome; given by `publish`. */
  token: number;
  subject: string;
  msgId: string;
  payload: Uint8Array;
  /** Re-publishes so far. */
  attempts: number;
  /** performance.now() at its last publish, when an observer measures ack latency (else 0). */
  sentAt: number;
}

export type Rejection = Extract<PublishOutcome, { kind: "rejected" }>;

export interface WindowHandler<M extends Outgoing> {
  /** Stored (or already stored: `duplicate`); its slot is free again. */
  acked(message: M, streamSeq: number, duplicate: boolean): void;
  /** Stored, answered while the window drains before failing. */
  storedWhileFailing(message: M, streamSeq: number): void;
  /** The stream refused it; its slot is free again. */
  rejected(message: M, outcome: Rejection): void;
  /** It will be published again after `waitMs` (retry number `attempt`). */
  retrying(message: M, attempt: number, waitMs: number): void;
  /** Slots are free, or a retry is due: publish more. */
  refill(): void;
  /** The window failed and nothing is in flight any more. */
  failed(err: Error): void;
}

export class PublishWindow<M extends Outgoing> {
  /** Messages holding a slot: awaiting their outcome, or their retry. */
  private readonly inFlight = new Map<number, M>();
  /** Messages waiting out a retry backoff (still holding their slot). */
  private readonly retryWaits = new Map<NodeJS.Timeout, M>();
  /** Retries due, to go out before any new message (they hold the oldest positions). */
  private readonly ready: M[] = [];
  private readonly channel: PublishChannel;
  private readonly maxInFlight: number;
  /** Free slots that make a refill worth a socket write (see `onAck`). */
  private readonly refillAt: number;
  private readonly retry: RetryPolicy;
  private readonly handler: WindowHandler<M>;
  private readonly observer: PipelineObserver | undefined;
  private failure: Error | null = null;
  private closed = false;
  private nextToken = 0;
  private refillScheduled = false;

  constructor(publisher: EventPublisher, maxInFlight: number, retry: RetryPolicy, handler: WindowHandler<M>, observer?: PipelineObserver) {
    this.maxInFlight = maxInFlight;
    this.refillAt = Math.max(1, maxInFlight >> 4);
    this.retry = retry;
    this.handler = handler;
    this.observer = observer;
    this.channel = publisher.open((token, outcome) => this.onOutcome(token, outcome));
  }

  /** Slots taken. */
  get size(): number {
    return this.inFlight.size;
  }

  get hasRoom(): boolean {
    return this.inFlight.size < this.maxInFlight;
  }

  /** Failing (draining what is in flight) or failed: nothing new may be published. */
  get failing(): boolean {
    return this.failure !== null;
  }

  /** Takes a slot for `message` and publishes it. The caller checked `hasRoom`. */
  publish(message: M): void {
    message.token = this.nextToken++;
    this.inFlight.set(message.token, message);
    this.send(message);
  }

  /** Publishes the retries that are due. */
  publishRetries(): void {
    while (this.ready.length > 0) this.send(this.ready.shift() as M);
  }

  /** Fails the window once what is in flight has its answer (see the top of this file). */
  fail(err: Error): void {
    if (this.failure || this.closed) return;
    this.failure = err;
    for (const [timer, message] of this.retryWaits) {
      clearTimeout(timer);
      this.inFlight.delete(message.token);
    }
    this.retryWaits.clear();
    for (const message of this.ready) this.inFlight.delete(message.token);
    this.ready.length = 0;
    this.settleFailure();
  }

  /** Stops at once: no publish, retry or outcome after this. */
  close(): void {
    this.closed = true;
    for (const timer of this.retryWaits.keys()) clearTimeout(timer);
    this.retryWaits.clear();
    this.ready.length = 0;
    this.channel.close();
  }

  private send(message: M): void {
    if (this.closed) return;
    if (this.observer) message.sentAt = performance.now();
    this.channel.publish(message.subject, message.msgId, message.payload, message.token);
  }

  private onOutcome(token: number, outcome: PublishOutcome): void {
    const message = this.inFlight.get(token);
    if (!message || this.closed) return; // a late answer to an attempt already settled
    if (this.failure) {
      // Draining before failing: count what was stored, retry nothing.
      this.inFlight.delete(token);
      if (outcome.kind === "ack") this.handler.storedWhileFailing(message, outcome.streamSeq);
      this.settleFailure();
      return;
    }
    if (outcome.kind === "timeout") {
      this.retryLater(message, "no ack within nats.publish_timeout");
      return;
    }
    this.inFlight.delete(token);
    if (outcome.kind === "rejected") this.handler.rejected(message, outcome);
    else this.onAck(message, outcome.streamSeq, outcome.duplicate);
  }

  /**
   * Acks arrive in bursts (one socket read carries many). Refilling the window once per
   * burst, after all of them are counted, lets the client send the refill in one socket
   * write instead of one write per message (measured: per-ack refills cost ~2x).
   */
  private onAck(message: M, streamSeq: number, duplicate: boolean): void {
    if (this.observer) this.observer.ackLatency((performance.now() - message.sentAt) / 1000);
    this.handler.acked(message, streamSeq, duplicate);
    const size = this.inFlight.size;
    if (this.refillScheduled || (this.maxInFlight - size < this.refillAt && size > 0)) return;
    this.refillScheduled = true;
    queueMicrotask(() => {
      this.refillScheduled = false;
      this.handler.refill();
    });
  }

  private retryLater(message: M, reason: string): void {
    message.attempts++;
    if (message.attempts > this.retry.maxRetries) {
      this.inFlight.delete(message.token);
      this.fail(
        new PublishError(`no ack for ${message.msgId} after ${message.attempts} attempts (${reason}); the watermark stays at the last acknowledged row`),
      );
      return;
    }
    const waitMs = backoffMs(this.retry, message.attempts);
    this.handler.retrying(message, message.attempts, waitMs);
    const timer = setTimeout(() => {
      this.retryWaits.delete(timer);
      this.ready.push(message);
      this.handler.refill();
    }, waitMs);
    this.retryWaits.set(timer, message);
  }

  private settleFailure(): void {
    if (this.failure && this.inFlight.size === 0) this.handler.failed(this.failure);
  }
}
