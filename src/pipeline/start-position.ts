/** Where a program with no watermark yet starts: `publisher.start_from`. */
import { zoneOffsetMs } from "../event/txlog-event";
import type { RowSource, Watermark } from "./types";

/** Sorts before any real ID: "every row at this time is still to come". */
export const BEFORE_ALL_IDS = `-${"9".repeat(38)}`;

/**
 * `earliest` -> null (the oldest row); `latest` -> the newest row at or below now - lag (so
 * only rows after it are published; an empty table means from the start); an ISO-8601
 * timestamp -> just before that instant. A timestamp without a zone is wall-clock in
 * `source.time_zone`; one with a zone is converted to it (for an IANA region, with the offset
 * in force at that instant).
 */
export async function startPosition(startFrom: string, source: RowSource, safetyLagSeconds: number, timeZone: string): Promise<Watermark | null> {
  if (startFrom === "earliest") return null;
  if (startFrom === "latest") return source.latest(safetyLagSeconds);
  return { ts: wallClock(startFrom, timeZone), id: BEFORE_ALL_IDS };
}

/** `2026-01-31T00:00:00+09:00` -> `2026-01-30 15:00:00.000000` when the zone is UTC. */
export function wallClock(iso: string, timeZone: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(iso.trim());
  if (!m) throw new RangeError(`not an ISO-8601 timestamp: ${iso}`);
  const [, date, hh = "00", mi = "00", ss = "00", frac = "", zone] = m;
  const micros = frac.padEnd(6, "0");
  if (!zone) return `${date} ${hh}:${mi}:${ss}.${micros}`;
  const offsetMinutes = (z: string) =>
    z.toUpperCase() === "Z" || z === "UTC" ? 0 : (z[0] === "-" ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(-2)));
  const utcMs = Date.parse(`${date}T${hh}:${mi}:${ss}Z`) - offsetMinutes(zone) * 60_000;
  // A region's offset is the one in force at that instant (daylight saving included).
  const target = /^(UTC|[+-]\d{2}:\d{2})$/.test(timeZone) ? offsetMinutes(timeZone) * 60_000 : zoneOffsetMs(timeZone, utcMs);
  const local = new Date(utcMs + target).toISOString();
  return `${local.slice(0, 10)} ${local.slice(11, 19)}.${micros}`;
}
