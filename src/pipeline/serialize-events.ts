/**
 * Stage 3: events -> bytes, inline on the main thread or in a piscina pool.
 *
 * Inline is the default: on 2 cores JSON.stringify of ~1 KB events runs at ~120k/s on the
 * main thread, while copying them into a worker costs about as much as serializing them
 * (measured here: one event per task ~10k/s, 100 per task ~50-90k/s). The pool pays for
 * heavier rows or more cores; it gets whole batches per task, returns one transferred buffer,
 * keeps at most `2 x workers` tasks outstanding (the bound on work queued for workers) and
 * emits results in source order.
 */
import { Transform, type TransformCallback } from "node:stream";
import type Piscina from "piscina";
import { packEvents } from "../event/txlog-event";
import type { EncodedBatch, EventBatch } from "./types";

/** Released buffers kept for reuse, per inline stage; more are left to the GC. */
const FREE_KEPT = 4;

interface Pooled {
  whole: Buffer;
  free: boolean;
}

/**
 * The inline stage's payload buffers, reused. A fresh buffer per batch (~2 MB for 2,000 rows
 * of 1 KB) costs page faults and zeroing on every batch (~1 us a row here) and then lingers as
 * external memory until a full GC (~30 MB of peak RSS, measured).
 *
 * Reuse relies on one rule: a buffer is packed into again only after its batch's `release()`
 * was called, and the sink calls it only once every message in the batch is acknowledged (or
 * replaced by its dead-letter record), i.e. when nothing will ever publish from it again.
 * A batch that is never released (a failed cycle) just leaves its buffer to the GC.
 */
class PayloadPool {
  private readonly free: Pooled[] = [];
  /** The entry `acquire` handed out last: the one the batch being packed writes into. */
  last: Pooled | null = null;

  readonly acquire = (bytes: number): Uint8Array => {
    const i = this.free.findIndex((p) => p.whole.length >= bytes);
    let entry: Pooled;
    if (i >= 0) entry = this.free.splice(i, 1)[0] as Pooled;
    else {
      // Some headroom, so that a slightly larger batch still fits when this one comes back.
      entry = { whole: Buffer.allocUnsafeSlow(bytes + (bytes >> 3)), free: false };
    }
    entry.free = false;
    this.last = entry;
    return entry.whole.subarray(0, bytes);
  };

  release(entry: Pooled): void {
    if (entry.free || this.free.length >= FREE_KEPT) return;
    entry.free = true;
    this.free.push(entry);
  }
}

export function serializeInline(): Transform {
  const pool = new PayloadPool();
  return new Transform({
    objectMode: true,
    // Events wait here as bytes, not as objects: each page is serialized as soon as it arrives
    // (no buffering on the way in), and up to 3 encoded batches queue for the sink. Rows held
    // as JS strings are what the garbage collector has to copy (measured: ~1/3 less promoted
    // to the old generation than with one page buffered on each side).
    writableHighWaterMark: 0,
    readableHighWaterMark: 3,
    transform(batch: EventBatch, _encoding: BufferEncoding, callback: TransformCallback) {
      let packed: ReturnType<typeof packEvents>;
      try {
        packed = packEvents(batch.events, pool.acquire);
      } catch (err) {
        callback(err as Error);
        return;
      }
      const entry = pool.last as Pooled;
      const release = () => pool.release(entry);
      const encoded: EncodedBatch = { positions: batch.positions, payload: packed.payload, ends: packed.ends, release };
      if (batch.unloaded) encoded.unloaded = batch.unloaded;
      callback(null, encoded);
    },
  });
}

type Packed = { payload: Uint8Array; ends: Uint32Array };

export function serializeInPool(pool: Piscina, maxOutstanding: number): Transform {
  // Tasks in submission order; the head is pushed downstream as soon as it settles.
  const outstanding: Array<{ positions: EncodedBatch["positions"]; unloaded: EncodedBatch["unloaded"]; result: Promise<Packed> }> = [];
  let waiting: TransformCallback | null = null;
  let flushing: TransformCallback | null = null;
  let failed = false;

  const stage = new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(batch: EventBatch, _encoding: BufferEncoding, callback: TransformCallback) {
      const result = pool.run(batch.events) as Promise<Packed>;
      result.catch(() => undefined); // surfaced in order by drainHead
      outstanding.push({ positions: batch.positions, unloaded: batch.unloaded, result });
      if (outstanding.length === 1) drainHead();
      if (outstanding.length < maxOutstanding) callback();
      else waiting = callback;
    },
    flush(callback: TransformCallback) {
      if (outstanding.length === 0) callback();
      else flushing = callback;
    },
  });

  const fail = (err: unknown) => {
    failed = true;
    stage.destroy(err instanceof Error ? err : new Error(String(err)));
  };

  function drainHead(): void {
    const head = outstanding[0];
    if (!head || failed) return;
    head.result
      .then((packed) => {
        if (failed) return;
        if (!(packed?.payload instanceof Uint8Array) || !(packed.ends instanceof Uint32Array)) {
          throw new TypeError("the serialize worker returned something other than {payload, ends}");
        }
        outstanding.shift();
        const encoded: EncodedBatch = { positions: head.positions, payload: packed.payload, ends: packed.ends };
        if (head.unloaded) encoded.unloaded = head.unloaded;
        stage.push(encoded);
        const resume = waiting;
        waiting = null;
        resume?.();
        if (outstanding.length > 0) drainHead();
        else if (flushing) {
          const done = flushing;
          flushing = null;
          done();
        }
      })
      .catch(fail);
  }
  return stage;
}
