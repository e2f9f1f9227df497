/**
 * What both publishers share: header sizes, the base class, and reading a PubAck (or its
 * error, or a status message) into a PublishOutcome.
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import type { EventPublisher, PublishChannel, PublishOutcome } from "../pipeline/types";

/** Server error codes after which the same message will never be stored (its own fault). */
export const ROW_FAULT_CODES = new Set([
  10054, // JSStreamMessageExceedsMaximumErr: message size exceeds the stream's max_msg_size
]);

export const HEADER_PREFIX = "NATS/1.0\r\nNats-Msg-Id: ";
export const HEADER_SUFFIX = "\r\n\r\n";
const HEADER_FRAME = HEADER_PREFIX.length + HEADER_SUFFIX.length;

export abstract class PublisherBase implements EventPublisher {
  protected readonly nc: NatsConnection;
  protected readonly timeoutMs: number;
  constructor(nc: NatsConnection, timeoutMs: number) {
    this.nc = nc;
    this.timeoutMs = timeoutMs;
  }
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }
  headerBytes(msgId: string): number {
    return HEADER_FRAME + Buffer.byteLength(msgId);
  }
  abstract open(onOutcome: (token: number, outcome: PublishOutcome) => void): PublishChannel;
}

const decoder = new TextDecoder();

const ACK_PREFIX = Buffer.from('{"stream":"');
const SEQ_KEY = Buffer.from('"seq":');
const DUPLICATE_KEY = Buffer.from('"duplicate":');
const TRUE = Buffer.from("true");

/** Index where `literal` starts if it ends right before `end` in `d`, else -1. */
function before(d: Uint8Array, end: number, literal: Uint8Array): number {
  const from = end - literal.length;
  if (from < 0) return -1;
  for (let i = 0; i < literal.length; i++) if (d[from + i] !== literal[i]) return -1;
  return from;
}
/** Skips one space before `end` (the server writes `, "seq":`, others may not). */
const space = (d: Uint8Array, end: number) => (end > 0 && d[end - 1] === 0x20 ? end - 1 : end);

/**
 * The shapes nearly every PubAck has, `{"stream":"S", "seq":N}` and
 * `{"stream":"S", "seq":N,"duplicate": true}` (spaces as nats-server 2.9 writes them, or
 * none), read from the bytes without decoding and JSON.parse (~0.7 us a message here);
 * anything else (errors, a domain, ...) returns null and takes the general path. Reading from
 * the end is unambiguous: a stream name is a JSON string, so `"seq":` cannot occur unescaped
 * in it.
 */
function quickAck(d: Uint8Array): PublishOutcome | null {
  let end = d.length - 1; // the closing brace
  if (end < ACK_PREFIX.length + SEQ_KEY.length + 2 || d[end] !== 0x7d) return null;
  for (let i = 0; i < ACK_PREFIX.length; i++) if (d[i] !== ACK_PREFIX[i]) return null;
  let duplicate = false;
  let at = before(d, end, TRUE);
  if (at >= 0) {
    at = before(d, space(d, at), DUPLICATE_KEY);
    if (at < 1 || d[at - 1] !== 0x2c) return null;
    duplicate = true;
    end = at - 1;
  }
  let digits = end;
  while (digits > 0 && (d[digits - 1] as number) >= 0x30 && (d[digits - 1] as number) <= 0x39) digits--;
  if (digits === end || end - digits > 15) return null;
  at = before(d, space(d, digits), SEQ_KEY);
  if (at < 0) return null;
  at = space(d, at);
  if (at <= ACK_PREFIX.length || d[at - 1] !== 0x2c) return null;
  let seq = 0;
  for (let i = digits; i < end; i++) seq = seq * 10 + (d[i] as number) - 0x30;
  return { kind: "ack", streamSeq: seq, duplicate };
}

/** Parses a PubAck (or its error, or a status message) into an outcome. */
export function parsePubAck(m: Msg): PublishOutcome {
  const quick = quickAck(m.data);
  if (quick) return quick;
  if (m.data.length === 0) {
    const code = m.headers?.code ?? 0;
    const description =
      code === 503 ? "no responders: no stream captures this subject (or JetStream is restarting)" : (m.headers?.description ?? "empty reply");
    return { kind: "rejected", code, description, rowFault: false };
  }
  const ack = JSON.parse(decoder.decode(m.data)) as { seq?: number; duplicate?: boolean; error?: { code: number; err_code?: number; description: string } };
  if (ack.error) {
    const code = ack.error.err_code ?? ack.error.code;
    return { kind: "rejected", code, description: ack.error.description, rowFault: ROW_FAULT_CODES.has(code) };
  }
  return { kind: "ack", streamSeq: ack.seq ?? 0, duplicate: ack.duplicate === true };
}
