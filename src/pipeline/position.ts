/** Source order on (EVENT_TIMESTAMP, ID) positions. */
import type { Watermark } from "./types";

/** True when `a` comes strictly after `b` in (EVENT_TIMESTAMP, ID) order; ids compare as integers. */
export function isAfter(a: Watermark, b: Watermark | null): boolean {
  if (b === null) return true;
  if (a.ts !== b.ts) return a.ts > b.ts;
  return BigInt(a.id) > BigInt(b.id);
}
