/**
 * The dead-letter policy (`publisher.on_unpublishable`). A row JetStream can never store (over
 * the server's max_payload, rejected by the stream as too large, or with an EVENT_DATA the
 * source did not load because it is longer than that) either becomes a
 * dead-letter record on the dead-letter subject, in the row's place in the ack order
 * (`dead_letter`), or fails the cycle naming the row (`fail`).
 */
import { UnpublishableRowError } from "../errors";
import { deadLetterMsgId } from "./message-id";
import type { Outgoing } from "./publish-window";
import type { EventPublisher, Watermark } from "./types";

/** A row's message, as the policy rewrites it. */
export interface Divertible extends Outgoing {
  position: Watermark;
  /** Already the dead-letter record (a record that cannot be stored either fails the cycle). */
  deadLettered: boolean;
}

export interface DeadLetterOptions {
  mode: "dead_letter" | "fail";
  publisher: EventPublisher;
  table: string;
  subject: string;
  deadLetterSubject: string;
  /** Called for each row sent to the dead-letter subject. */
  onDeadLetter?: (row: { id: string; ts: string; reason: string }) => void;
}

const encoder = new TextEncoder();

export class DeadLetterPolicy {
  private readonly options: DeadLetterOptions;

  constructor(options: DeadLetterOptions) {
    this.options = options;
  }

  /** Why `message` can never be published as it is (too large for the server), or null. */
  oversize(message: Outgoing): string | null {
    const { publisher } = this.options;
    const bytes = message.payload.length + publisher.headerBytes(message.msgId);
    if (bytes <= publisher.maxPayload) return null;
    return `message of ${bytes} bytes exceeds the server's max_payload of ${publisher.maxPayload} bytes`;
  }

  /**
   * Why a row whose EVENT_DATA the source did not load (SourceRow.eventDataLength) can never be
   * published. The source's limit is set from the server's max_payload: an EVENT_DATA of more
   * characters (or BLOB bytes) than that cannot fit in a message, JSON escaping only adds bytes.
   */
  unloaded(length: number): string {
    const max = this.options.publisher.maxPayload;
    const what = `EVENT_DATA of length ${length} (characters, or bytes of a BLOB) was not loaded from the database:`;
    return length > max
      ? `${what} it exceeds the server's max_payload of ${max} bytes`
      : `${what} it exceeds the source's EVENT_DATA limit (maxEventDataLength; the server's max_payload is ${max} bytes)`;
  }

  /**
   * Under `dead_letter`: rewrites `message` in place into its dead-letter record (subject, id
   * `<table>:<ID>:dlq`, payload) and returns null. Under `fail`: returns the error to fail with.
   * `size` is the record's size field: the message's bytes unless given (an unloaded EVENT_DATA's length).
   */
  divert(message: Divertible, reason: string, size = message.payload.length): UnpublishableRowError | null {
    const { id, ts } = message.position;
    const o = this.options;
    if (o.mode === "fail") {
      return new UnpublishableRowError(
        `row ID ${id} (EVENT_TIMESTAMP ${ts}) of ${o.table} cannot be published: ${reason}; set publisher.on_unpublishable: dead_letter to divert it and go on`,
      );
    }
    const record = JSON.stringify({
      reason,
      table: o.table,
      id,
      event_timestamp: ts,
      msg_id: message.msgId,
      subject: o.subject,
      size,
    });
    message.subject = o.deadLetterSubject;
    message.msgId = deadLetterMsgId(message.msgId);
    message.payload = encoder.encode(record);
    message.deadLettered = true;
    o.onDeadLetter?.({ id, ts, reason });
    return null;
  }
}
