/**
 * The stream as a ledger: what it holds of ours past a sequence number. A restart reads this
 * so that rows published before a crash or a failed cycle, but not yet covered by the
 * committed watermark, are not published again, whatever the stream's duplicate window.
 *
 * It reads our two subjects (events and dead letters) with ordered consumers from the
 * checkpoint's RESUME_STREAM_SEQ to the end; a `last_by_subj` lookup first makes the common
 * case (nothing of ours past that sequence) two small requests.
 *
 * Only "no such message" and "no such stream" mean that nothing is stored. Any other failure
 * (a permission the user lacks, a request that timed out, a server that went away) fails the
 * call with a NatsSetupError naming the stream: taking it for "nothing stored" would skip the
 * scan, and the rows it should have found would be published a second time once the stream's
 * duplicate window has passed. Transient failures are retried first (`retry`, nats.retry).
 */
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";
import type { NatsConnection } from "@nats-io/transport-node";
import { NatsSetupError } from "../errors";
import { parseMsgId } from "../pipeline/message-id";
import { type RetryPolicy, withRetry } from "../pipeline/retry";
import type { StreamLedger, Watermark } from "../pipeline/types";
import { isTransientNatsError } from "./jetstream";

export interface StoredEntry {
  seq: number;
  position: Watermark | null;
}

export interface LedgerOptions {
  /** Retries of a transient failure (nats.retry); without it a failure fails the call at once. */
  retry?: RetryPolicy;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Deadline of each JetStream API request, ms (the client's default, 5000, when absent). */
  timeoutMs?: number;
}

/**
 * Worth retrying: what isTransientNatsError says, except a request error whose cause is
 * permanent (the client wraps a permissions violation of a request in a RequestError).
 */
function isTransient(err: unknown): boolean {
  const cause = (err as { cause?: unknown }).cause;
  return isTransientNatsError(err) && (cause === undefined || isTransientNatsError(cause));
}

const NO_RETRY: RetryPolicy = { maxRetries: 0, initialBackoff: 0, maxBackoff: 0, backoffMultiplier: 1 };

const TS = /"event_timestamp":"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d\.\d{6})/;

/** The (ts, id) a stored message stands for: from its msg id and its payload's event_timestamp. */
export function positionOf(msgId: string, payload: string): Watermark | null {
  const id = parseMsgId(msgId)?.id;
  const ts = TS.exec(payload);
  return id && ts ? { ts: `${ts[1]} ${ts[2]}`, id } : null;
}

export class JetStreamLedger implements StreamLedger {
  private readonly nc: NatsConnection;
  private readonly stream: string;
  private readonly subjects: string[];
  private readonly options: LedgerOptions;

  constructor(nc: NatsConnection, stream: string, subjects: string[], options: LedgerOptions = {}) {
    this.nc = nc;
    this.stream = stream;
    this.subjects = subjects;
    this.options = options;
  }

  /** `fn` with the retry policy; a failure that remains becomes a NatsSetupError naming the stream. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.options.retry ?? NO_RETRY, isTransient, this.options.onRetry);
    } catch (err) {
      throw new NatsSetupError(`cannot read stream ${this.stream} (${what}) to find what a crashed or failed cycle stored: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private manager(): Promise<JetStreamManager> {
    return jetstreamManager(this.nc, this.options.timeoutMs === undefined ? {} : { timeout: this.options.timeoutMs });
  }

  async lastSeq(): Promise<number> {
    // A missing stream is an error here, not "nothing stored": a cycle cannot publish into it,
    // and it must fail before it commits a resume sequence for a stream that is not there
    // (the service then sets the stream up again and warns about the sequence gap).
    return this.call("its last sequence", async () => (await (await this.manager()).streams.info(this.stream)).state.last_seq);
  }

  /** The sequence of the last message on `subject`, or 0 when it has none. */
  private lastOnSubject(subject: string): Promise<number> {
    return this.call(`the last message on ${subject}`, async () => {
      const jsm = await this.manager();
      try {
        // null: no message on this subject (the client maps "no message found" to null).
        return (await jsm.streams.getMessage(this.stream, { last_by_subj: subject }))?.seq ?? 0;
      } catch (err) {
        if (err instanceof jserrors.StreamNotFoundError) return 0;
        throw err;
      }
    });
  }

  async storedSince(fromSeq: number): Promise<Map<string, StoredEntry>> {
    const found = new Map<string, StoredEntry>();
    for (const subject of this.subjects) {
      const last = await this.lastOnSubject(subject);
      if (last < fromSeq) continue;
      await this.call(`messages on ${subject} from sequence ${fromSeq}`, () => this.read(subject, fromSeq, last, found));
    }
    return found;
  }

  /** Reads `subject` from `fromSeq` up to `last` into `found` (a retry reads again, overwriting). */
  private async read(subject: string, fromSeq: number, last: number, found: Map<string, StoredEntry>): Promise<void> {
    const js = jetstream(this.nc, this.options.timeoutMs === undefined ? {} : { timeout: this.options.timeoutMs });
    const consumer = await js.consumers.get(this.stream, { filter_subjects: subject, opt_start_seq: fromSeq });
    try {
      let done = false;
      while (!done) {
        const batch = await consumer.fetch({ max_messages: 5000, expires: 2000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const msgId = m.headers?.get("Nats-Msg-Id");
          if (msgId) found.set(msgId, { seq: m.seq, position: positionOf(msgId, m.string()) });
          if (m.seq >= last || m.info.pending === 0) done = true;
        }
        if (got === 0) done = true;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }
}
