/**
 * Nats-Msg-Id of every message we publish, built and parsed here and nowhere else:
 *
 *   `<table>:<ID>`       a row's event (table as configured, e.g. `spc.TXLOG_EVENTS`)
 *   `<table>:<ID>:dlq`   the dead-letter record standing in for a row that cannot be stored
 *
 * The stream de-duplicates on these ids within its duplicate window, and a restart's scan of
 * the stream (the ledger) reads the ID back from them, so both ends must agree on the format.
 */

const DEAD_LETTER_SUFFIX = ":dlq";

/** The id of row `id`'s event message. */
export function eventMsgId(table: string, id: string): string {
  return `${table}:${id}`;
}

/** The id of the dead-letter record that replaces the event message `eventId`. */
export function deadLetterMsgId(eventId: string): string {
  return `${eventId}${DEAD_LETTER_SUFFIX}`;
}

export interface ParsedMsgId {
  table: string;
  /** The row's ID, decimal digits. */
  id: string;
  /** A dead-letter record rather than the event itself. */
  deadLetter: boolean;
}

const ID = /^-?\d+$/;

/** The parts of one of our message ids, or null for an id that is not of this form. */
export function parseMsgId(msgId: string): ParsedMsgId | null {
  const deadLetter = msgId.endsWith(DEAD_LETTER_SUFFIX);
  const rest = deadLetter ? msgId.slice(0, -DEAD_LETTER_SUFFIX.length) : msgId;
  const colon = rest.lastIndexOf(":");
  if (colon < 0) return null;
  const id = rest.slice(colon + 1);
  return ID.test(id) ? { table: rest.slice(0, colon), id, deadLetter } : null;
}
