/**
 * piscina task: serialize a batch of events into one packed buffer and hand both buffers
 * back by transfer, not by copy. Imports nothing from the pipeline.
 */
import { move, transferableSymbol, valueSymbol } from "piscina";
import { type PackedEvents, packEvents, type TxlogEvent } from "../event/txlog-event";

export default function serializeTask(events: TxlogEvent[]): PackedEvents {
  const packed = packEvents(events);
  // A Transferable (value + transfer list) marked by move(): piscina posts `[valueSymbol]`
  // with both buffers in the transfer list; an unmarked object would be cloned instead.
  const transferable = {
    [transferableSymbol]: [packed.payload.buffer, packed.ends.buffer],
    [valueSymbol]: packed,
  };
  return move(transferable as never) as unknown as PackedEvents;
}
