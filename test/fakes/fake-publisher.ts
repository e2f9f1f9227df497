/**
 * An in-memory EventPublisher for unit tests of the sink: records every publish, answers
 * asynchronously like a server would, and lets a test script each message's fate.
 */
import type { EventPublisher, PublishChannel, PublishOutcome } from "../../src/pipeline/types";

export interface Published {
  subject: string;
  msgId: string;
  payload: string;
  token: number;
}

/** What happens to a publish: undefined = stored. */
export type Fate = PublishOutcome | undefined;

export class FakePublisher implements EventPublisher {
  readonly maxPayload: number;
  readonly published: Published[] = [];
  /** Message ids stored, in store order; a repeat is answered as a duplicate. */
  readonly stored: string[] = [];
  inFlight = 0;
  maxInFlightSeen = 0;
  /** Decides each publish's outcome; `attempt` counts publishes of the same msg id. */
  fate: (msgId: string, attempt: number) => Fate = () => undefined;
  /** Answer delay in ms (0 = next tick). */
  delayMs = 0;
  private readonly attempts = new Map<string, number>();

  constructor(maxPayload = 1024 * 1024) {
    this.maxPayload = maxPayload;
  }

  headerBytes(msgId: string): number {
    return 26 + msgId.length;
  }

  open(onOutcome: (token: number, outcome: PublishOutcome) => void): PublishChannel {
    let closed = false;
    return {
      publish: (subject, msgId, payload, token) => {
        const attempt = (this.attempts.get(msgId) ?? 0) + 1;
        this.attempts.set(msgId, attempt);
        this.published.push({ subject, msgId, payload: Buffer.from(payload).toString("utf8"), token });
        this.inFlight++;
        this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
        const fate = this.fate(msgId, attempt);
        const answer = () => {
          this.inFlight--;
          if (closed) return;
          if (fate) {
            onOutcome(token, fate);
            return;
          }
          const duplicate = this.stored.includes(msgId);
          if (!duplicate) this.stored.push(msgId);
          onOutcome(token, { kind: "ack", streamSeq: this.stored.indexOf(msgId) + 1, duplicate });
        };
        if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else setImmediate(answer);
      },
      close: () => {
        closed = true;
      },
    };
  }
}
