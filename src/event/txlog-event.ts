/**
 * The message format, in one place: a TXLOG_EVENTS row becomes a JSON object
 *
 *   {"id": 9007199254740993, "case_id": "C-1", "event_type": "CREATED",
 *    "event_data": "<EVENT_DATA text, verbatim>", "event_timestamp": "2026-11-27T15:41:15.123456Z",
 *    "created_at": "2026-11-27T15:41:15.200000Z", "trace_id": "<uuid>", "data_type": "txlog_event"}
 *
 * - `id` is a JSON number written from its decimal digits, exact beyond 2^53 (consumers that
 *   parse JSON into doubles should read it as text or with a big-number parser).
 * - `event_data` is always a JSON string holding EVENT_DATA exactly as stored: valid JSON or
 *   not, any unicode (lone surrogates are escaped as \udXXX by JSON.stringify, so nothing is
 *   altered or lost); NULL is null.
 * - Timestamps keep the database's microseconds and carry the zone from `source.time_zone`:
 *   `Z` for UTC, the offset itself for a fixed offset, and for an IANA region the offset in
 *   force at that wall time (a wall time in the repeated autumn hour is ambiguous: the earlier
 *   instant, i.e. the summer offset, is taken; one in the spring gap gets the offset before it).
 *
 * Pure functions only: used on the main thread and inside piscina workers alike.
 */
import { createHash, randomUUID } from "node:crypto";
import type { SourceRow } from "../pipeline/types";

export interface TxlogEvent {
  /** Decimal digits, written into the JSON as a number. */
  id: string;
  case_id: string | null;
  event_type: string | null;
  event_data: string | null;
  event_timestamp: string;
  created_at: string | null;
  trace_id: string;
  data_type: string;
}

export interface FormatOptions {
  /** `source.time_zone`: "UTC", "+09:00" or an IANA region like "Europe/Berlin". */
  timeZone: string;
  dataType: string;
  /** "row": derived from table and ID; anything else: a random UUID per message. */
  traceId: string;
  /** Table name, the namespace of `row` trace ids. */
  table: string;
}

/** `2026-11-27 15:41:15.123456` -> `2026-11-27T15:41:15.123456Z` (or `+09:00`, or a region's offset then). */
export function isoTimestamp(dbText: string, timeZone: string): string {
  const c = timeZone.charCodeAt(0);
  const suffix = timeZone === "UTC" ? "Z" : c === 43 || c === 45 ? timeZone : regionSuffix(dbText, timeZone);
  return `${dbText.slice(0, 10)}T${dbText.slice(11)}${suffix}`;
}

// ---- IANA regions: the offset of a wall time, cached per wall-clock hour ----

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds the zone is ahead of UTC at the instant `utcMs`. */
export function zoneOffsetMs(zone: string, utcMs: number): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(utcMs)) if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year as number, (p.month as number) - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The offset of a naive wall time (as if UTC, in ms) in `zone`. Around a transition the
 * offsets of the day before and after are the candidates; a candidate is right when the
 * instant it gives has that offset. Two right ones (the repeated autumn hour): the larger
 * offset, i.e. the earlier instant. None (the spring gap): the offset before the transition.
 */
export function wallOffsetMs(zone: string, wallMs: number): number {
  const before = zoneOffsetMs(zone, wallMs - 86_400_000);
  const after = zoneOffsetMs(zone, wallMs + 86_400_000);
  const fits = (o: number) => zoneOffsetMs(zone, wallMs - o) === o;
  if (before === after) return fits(before) ? before : zoneOffsetMs(zone, wallMs - before);
  const a = fits(before);
  const b = fits(after);
  if (a && b) return Math.max(before, after);
  if (a) return before;
  if (b) return after;
  return before;
}

function offsetText(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** zone -> wall-clock hour (`YYYY-MM-DD HH`) -> suffix; an hour is cached only when its offset is constant throughout. */
const suffixes = new Map<string, Map<string, string>>();
const SUFFIX_KEEP = 100_000;

function regionSuffix(dbText: string, zone: string): string {
  let byHour = suffixes.get(zone);
  if (!byHour) {
    byHour = new Map();
    suffixes.set(zone, byHour);
  }
  const hour = dbText.slice(0, 13);
  const cached = byHour.get(hour);
  if (cached !== undefined) return cached;
  const wallMs = Date.UTC(
    +dbText.slice(0, 4),
    +dbText.slice(5, 7) - 1,
    +dbText.slice(8, 10),
    +dbText.slice(11, 13),
    +dbText.slice(14, 16),
    +dbText.slice(17, 19),
  );
  const suffix = offsetText(wallOffsetMs(zone, wallMs));
  const hourStart = wallMs - (wallMs % 3_600_000);
  // Transitions fall on the hour in today's rules; an hour with one inside it is not cached.
  if (wallOffsetMs(zone, hourStart) === wallOffsetMs(zone, hourStart + 3_599_999) && offsetText(wallOffsetMs(zone, hourStart)) === suffix) {
    if (byHour.size >= SUFFIX_KEEP) byHour.clear();
    byHour.set(hour, suffix);
  }
  return suffix;
}

/** A UUID (version 5 layout) derived from table and id: the same row always gets the same one. */
export function rowTraceId(table: string, id: string): string {
  const h = createHash("sha1").update(`${table}:${id}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.toString("hex", 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function formatEvent(row: SourceRow, options: FormatOptions): TxlogEvent {
  return {
    id: row.id,
    case_id: row.caseId,
    event_type: row.eventType,
    event_data: row.eventData,
    event_timestamp: isoTimestamp(row.eventTimestamp, options.timeZone),
    created_at: row.createdAt === null ? null : isoTimestamp(row.createdAt, options.timeZone),
    trace_id: options.traceId === "row" ? rowTraceId(options.table, row.id) : randomUUID(),
    data_type: options.dataType,
  };
}

const str = (v: string | null): string => (v === null ? "null" : JSON.stringify(v));

/** One event as JSON text; `id` goes in as a bare number so it stays exact. */
export function eventJson(e: TxlogEvent): string {
  if (!/^-?\d+$/.test(e.id)) throw new TypeError(`event id must be decimal digits, got ${JSON.stringify(e.id)}`);
  return `{"id":${e.id},"case_id":${str(e.case_id)},"event_type":${str(e.event_type)},"event_data":${str(e.event_data)},"event_timestamp":${str(e.event_timestamp)},"created_at":${str(e.created_at)},"trace_id":${str(e.trace_id)},"data_type":${str(e.data_type)}}`;
}

/** Many events packed into one buffer; message i is `payload.subarray(ends[i-1] ?? 0, ends[i])`. */
export interface PackedEvents {
  payload: Uint8Array;
  ends: Uint32Array;
}

/**
 * Where packEvents writes: one buffer per thread, grown on demand and reused, so packing a
 * batch is a single pass (each text is written as soon as it is built, while it is still in
 * cache) and one copy into a buffer of the exact size. Not kept above SCRATCH_KEEP bytes.
 */
let scratch: Buffer | null = null;
const SCRATCH_KEEP = 16 * 1024 * 1024;

/** Allocates a payload of exactly `bytes` bytes (its own buffer, not Buffer's shared pool). */
export type PayloadAllocator = (bytes: number) => Uint8Array;

// Not from Buffer's shared pool, so a worker can transfer it back without a copy.
const freshPayload: PayloadAllocator = (bytes) => Buffer.allocUnsafeSlow(bytes);

export function packEvents(events: readonly TxlogEvent[], allocate: PayloadAllocator = freshPayload): PackedEvents {
  const ends = new Uint32Array(events.length);
  let out = scratch ?? Buffer.allocUnsafeSlow(1024 * 1024);
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    const text = eventJson(events[i] as TxlogEvent);
    // UTF-8 needs at most 3 bytes per UTF-16 code unit: make room for the worst case first.
    const room = text.length * 3;
    if (out.length - total < room) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(out.length * 2, total + room));
      out.copy(bigger, 0, 0, total);
      out = bigger;
    }
    total += out.write(text, total);
    ends[i] = total;
  }
  scratch = out.length <= SCRATCH_KEEP ? out : null;
  const payload = allocate(total);
  payload.set(out.subarray(0, total));
  return { payload, ends };
}
