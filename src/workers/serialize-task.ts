/**
 * piscina task: serialize a batch of events into one packed buffer and hand both buffers
 * back by transfer, not by copy. Imports nothing from the pipeline.
 */
import { transferableSymbol, valueSymbol } from "piscina";
import { type PackedEvents, packEvents, type TxlogEvent } from "../event/txlog-event";

export default function serializeTask(events: TxlogEvent[]): PackedEvents {
  const packed = packEvents(events);
  // piscina posts `[valueSymbol]` with `[transferableSymbol]` as the transfer list.
  return {
    [transferableSymbol]: [packed.payload.buffer, packed.ends.buffer],
    [valueSymbol]: packed,
  } as unknown as PackedEvents;
}
