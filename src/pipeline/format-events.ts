/** Stage 2: source rows -> events with trace_id and data_type (still objects, not bytes). */
import { Transform, type TransformCallback } from "node:stream";
import { type FormatOptions, formatEvent } from "../event/txlog-event";
import type { EventBatch, SourceRow, Watermark } from "./types";

export function formatEvents(options: FormatOptions): Transform {
  return new Transform({
    objectMode: true,
    // Chunks are whole pages, passed straight on (nothing buffered here): rows should reach
    // the serializer quickly, since waiting as objects is what costs garbage-collector time.
    highWaterMark: 0,
    transform(rows: SourceRow[], _encoding: BufferEncoding, callback: TransformCallback) {
      const positions = new Array<Watermark>(rows.length);
      const events = new Array<EventBatch["events"][number]>(rows.length);
      let unloaded: Map<number, number> | undefined;
      try {
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i] as SourceRow;
          positions[i] = { ts: row.eventTimestamp, id: row.id };
          events[i] = formatEvent(row, options);
          // EVENT_DATA left in the database (too long to load): the sink dead-letters the row.
          if (row.eventDataLength !== undefined && row.eventData === null) {
            unloaded ??= new Map();
            unloaded.set(i, row.eventDataLength);
          }
        }
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback(null, (unloaded ? { positions, events, unloaded } : { positions, events }) satisfies EventBatch);
    },
  });
}
