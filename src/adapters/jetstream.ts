/**
 * NATS JetStream adapter: the connection, the stream check, and two EventPublishers.
 *
 * - `InboxPublisher` (nats.ack_mode: inbox, the default): each message is a plain publish
 *   with a reply subject `<inbox>.<token>` under ONE wildcard subscription per cycle that
 *   correlates the PubAcks, and ONE interval timer sweeping for timeouts (deadlines are in
 *   publish order, so a FIFO suffices). That is how the Go client's PublishAsync works, and it
 *   avoids the stock path's promise, timer and request object per message: measured here
 *   ~58k msg/s for the sink alone against ~32k for js.publish() (docs/PERFORMANCE.md).
 * - `StockPublisher` (nats.ack_mode: stock): the client's own js.publish(), kept selectable;
 *   tests prove both give the same delivery results.
 *
 * Which NATS errors are transient is decided here, in `isTransientNatsError`.
 */
import type { JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { PublisherError } from "../errors";
import type { EventPublisher, PublishChannel, PublishOutcome } from "../pipeline/types";

export interface NatsOptions {
  servers: string[];
  user?: string;
  password?: string;
  token?: string;
  name: string;
  connectTimeoutMs: number;
}

export class NatsSetupError extends PublisherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_NATS", message, options);
  }
}

/** Server error codes after which the same message will never be stored (its own fault). */
const ROW_FAULT_CODES = new Set([
  10054, // JSStreamMessageExceedsMaximumErr: message size exceeds the stream's max_msg_size
]);

/** The one place that says which NATS failures are worth retrying. */
export function isTransientNatsError(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown; message?: string };
  if (e?.name === "AuthorizationError" || e?.name === "UserAuthenticationExpiredError" || e?.name === "PermissionViolationError") return false;
  if (e?.name === "InvalidArgumentError" || e?.name === "InvalidSubjectError") return false;
  // Connection refused, timeouts, no responders while a server restarts, connection closed.
  return (
    ["ConnectionError", "TimeoutError", "NoRespondersError", "ClosedConnectionError", "RequestError", "Error"].includes(e?.name ?? "Error") ||
    /ECONNREFUSED|ECONNRESET|timeout/i.test(e?.message ?? "")
  );
}

/** `nats://user:secret@host:4222` -> `nats://user:***@host:4222`: URLs may carry credentials. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      user: options.user || undefined,
      pass: options.password || undefined,
      token: options.token || undefined,
      timeout: options.connectTimeoutMs,
      // Stack traces on every request cost ~1/3 of the publish rate (FIELD-NOTES).
      noAsyncTraces: true,
      // Keep reconnecting for as long as the service runs; publishes that time out meanwhile
      // are retried with the same msg id, and a cycle that runs out of retries fails cleanly.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    });
  } catch (err) {
    throw new NatsSetupError(`cannot connect to NATS at ${options.servers.map(redactUrl).join(", ")}: ${(err as Error).message}`, { cause: err });
  }
}

/** NATS subject matching with `*` (one token) and `>` (the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/**
 * Creates the stream if it is missing; if it exists, checks that it captures every subject
 * we publish to and leaves its configuration alone (operators often own their streams).
 */
export async function ensureStream(
  nc: NatsConnection,
  name: string,
  subjects: string[],
  duplicateWindowSeconds: number,
): Promise<{ created: boolean; info: StreamInfo }> {
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (err) {
    throw new NatsSetupError(`JetStream is not available on the NATS server: ${(err as Error).message}`, { cause: err });
  }
  let info: StreamInfo | null = null;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if ((err as { name?: string }).name !== "StreamNotFoundError") {
      throw new NatsSetupError(`cannot read stream ${name}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (info) {
    const filters = info.config.subjects ?? [];
    const missing = subjects.filter((s) => !filters.some((f) => subjectMatches(f, s)));
    if (missing.length > 0) {
      throw new NatsSetupError(
        `stream ${name} exists but does not capture ${missing.join(" and ")} (its subjects: ${filters.join(", ") || "none"}); add them to the stream or change intime_txlog_events.subject / dead_letter_subject`,
      );
    }
    return { created: false, info };
  }
  try {
    info = await jsm.streams.add({ name, subjects, duplicate_window: duplicateWindowSeconds * 1e9 } as Parameters<typeof jsm.streams.add>[0]);
  } catch (err) {
    throw new NatsSetupError(`cannot create stream ${name} for ${subjects.join(", ")}: ${(err as Error).message}`, { cause: err });
  }
  return { created: true, info };
}

const HEADER_PREFIX = "NATS/1.0\r\nNats-Msg-Id: ";
const HEADER_SUFFIX = "\r\n\r\n";
const HEADER_FRAME = HEADER_PREFIX.length + HEADER_SUFFIX.length;

abstract class PublisherBase implements EventPublisher {
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

/**
 * A Nats-Msg-Id header block already in wire form. nats-core's publish() asks the headers
 * option for its bytes with `encode()` (MsgHdrsImpl does the same, building a Map, a string
 * and a fresh Uint8Array each time: ~1.5 us a message here); the same ids reach the server
 * either way, which the dedup tests of both ack modes check.
 */
class EncodedHeader {
  bytes: Uint8Array = new Uint8Array(0);
  encode(): Uint8Array {
    return this.bytes;
  }
}

/**
 * Header blocks written one after another into 64 KB slabs rather than one allocation each.
 * A block is only read until the client copies it into its outbound buffer, and a slab is
 * never written twice: when one is full a new one is started and the old one is left to GC.
 */
const headerSlab = {
  slab: Buffer.allocUnsafeSlow(64 * 1024),
  used: 0,
  encode(msgId: string): Uint8Array {
    const text = HEADER_PREFIX + msgId + HEADER_SUFFIX;
    const room = text.length * 3; // UTF-8 bytes per UTF-16 code unit, at most
    if (this.slab.length - this.used < room) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(64 * 1024, room));
      this.used = 0;
    }
    const start = this.used;
    this.used += this.slab.write(text, start);
    return this.slab.subarray(start, this.used);
  },
};

/**
 * Publish attempts in send order with their deadlines, in a ring of typed arrays (no object
 * and no garbage per message). Deadlines never decrease along it, so a timeout sweep only looks
 * at the head; answered attempts are dropped from the head as their acks arrive, which keeps it
 * about as long as the window (the earlier array-with-slice grew to every send of the last
 * publish_timeout, ~370k entries, and its copies churned the large-object heap: +50 MB RSS on
 * a 1M-row run).
 */
class AttemptQueue {
  private tokens = new Float64Array(1024);
  private deadlines = new Float64Array(1024);
  private head = 0;
  length = 0;

  push(token: number, deadline: number): void {
    if (this.length === this.tokens.length) this.grow();
    const i = (this.head + this.length) & (this.tokens.length - 1);
    this.tokens[i] = token;
    this.deadlines[i] = deadline;
    this.length++;
  }
  get firstToken(): number {
    return this.tokens[this.head] as number;
  }
  get firstDeadline(): number {
    return this.deadlines[this.head] as number;
  }
  get lastDeadline(): number {
    return this.length === 0 ? 0 : (this.deadlines[(this.head + this.length - 1) & (this.tokens.length - 1)] as number);
  }
  shift(): void {
    this.head = (this.head + 1) & (this.tokens.length - 1);
    this.length--;
  }
  private grow(): void {
    const tokens = new Float64Array(this.tokens.length * 2);
    const deadlines = new Float64Array(this.tokens.length * 2);
    for (let k = 0; k < this.length; k++) {
      const i = (this.head + k) & (this.tokens.length - 1);
      tokens[k] = this.tokens[i] as number;
      deadlines[k] = this.deadlines[i] as number;
    }
    this.tokens = tokens;
    this.deadlines = deadlines;
    this.head = 0;
  }
}

export class InboxPublisher extends PublisherBase {
  open(onOutcome: (token: number, outcome: PublishOutcome) => void): PublishChannel {
    const nc = this.nc;
    const timeoutMs = this.timeoutMs;
    const inbox = createInbox();
    const prefixLength = inbox.length + 1;
    // token -> deadline of its current attempt; `attempts` holds (token, deadline) in send order.
    const pending = new Map<number, number>();
    const attempts = new AttemptQueue();
    /** Drops answered (or superseded) attempts from the head of the queue. */
    const trim = () => {
      while (attempts.length > 0 && pending.get(attempts.firstToken) !== attempts.firstDeadline) attempts.shift();
    };
    let closed = false;

    const sub: Subscription = nc.subscribe(`${inbox}.*`, {
      callback: (err, m) => {
        if (closed) return;
        if (err) {
          for (const token of [...pending.keys()]) {
            pending.delete(token);
            onOutcome(token, { kind: "rejected", code: 0, description: `ack subscription failed: ${err.message}`, rowFault: false });
          }
          return;
        }
        const token = Number(m.subject.slice(prefixLength));
        if (!pending.delete(token)) return; // answer to an attempt already timed out
        trim();
        let outcome: PublishOutcome;
        try {
          outcome = parsePubAck(m);
        } catch (parseErr) {
          outcome = { kind: "rejected", code: 0, description: `unreadable ack: ${(parseErr as Error).message}`, rowFault: false };
        }
        onOutcome(token, outcome);
      },
    });

    const sweep = setInterval(
      () => {
        const now = Date.now();
        while (attempts.length > 0 && attempts.firstDeadline <= now) {
          const token = attempts.firstToken;
          const deadline = attempts.firstDeadline;
          attempts.shift();
          if (pending.get(token) === deadline) {
            pending.delete(token);
            onOutcome(token, { kind: "timeout" });
          }
        }
      },
      Math.max(10, Math.min(250, timeoutMs / 10)),
    );
    sweep.unref();

    // One options object and one header block reused for every publish: the client reads them
    // synchronously inside publish(). The header's bytes come from a shared slab (below).
    const header = new EncodedHeader();
    const options = { reply: "", headers: header as unknown as MsgHdrs };

    return {
      publish(subject, msgId, payload, token) {
        header.bytes = headerSlab.encode(msgId);
        options.reply = `${inbox}.${token}`;
        nc.publish(subject, payload, options);
        // Deadlines must not decrease along the queue: a later send never gets an earlier one.
        const deadline = Math.max(Date.now() + timeoutMs, attempts.lastDeadline);
        pending.set(token, deadline);
        attempts.push(token, deadline);
      },
      close() {
        if (closed) return;
        closed = true;
        clearInterval(sweep);
        pending.clear();
        if (!nc.isClosed()) sub.unsubscribe();
      },
    };
  }
}

export class StockPublisher extends PublisherBase {
  open(onOutcome: (token: number, outcome: PublishOutcome) => void): PublishChannel {
    const js = jetstream(this.nc, { timeout: this.timeoutMs });
    let closed = false;
    return {
      publish: (subject, msgId, payload, token) => {
        js.publish(subject, payload, { msgID: msgId, timeout: this.timeoutMs }).then(
          (ack) => {
            if (!closed) onOutcome(token, { kind: "ack", streamSeq: ack.seq, duplicate: ack.duplicate === true });
          },
          (err: unknown) => {
            if (closed) return;
            onOutcome(token, stockFailure(err));
          },
        );
      },
      close() {
        closed = true;
      },
    };
  }
}

function stockFailure(err: unknown): PublishOutcome {
  const e = err as { name?: string; code?: unknown; status?: unknown; message?: string };
  if (e.name === "TimeoutError") return { kind: "timeout" };
  if (e.name === "JetStreamApiError" || e.name === "StreamNotFoundError") {
    const code = typeof e.code === "number" ? e.code : 0;
    return { kind: "rejected", code, description: e.message ?? "", rowFault: ROW_FAULT_CODES.has(code) };
  }
  if (e.name === "JetStreamNotEnabled")
    return { kind: "rejected", code: 503, description: "no responders: no stream captures this subject (or JetStream is restarting)", rowFault: false };
  // Disconnected, closed, request errors: the outcome is unknown, so treat it like a timeout.
  return { kind: "timeout" };
}
