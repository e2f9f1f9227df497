/**
 * Stage 3: events -> bytes, inline on the main thread or in a piscina pool.
 *
 * Inline is the default: on 2 cores JSON.stringify of ~1 KB events runs at ~120k/s on the
 * main thread, while copying them into a worker costs about as much as serializing them
 * (../shared/FIELD-NOTES.md). The pool pays for heavier rows or more cores; it gets whole
 * batches per task, returns one transferred buffer, keeps at most `2 x workers` tasks
 * outstanding (the bound on work queued for workers) and emits results in source order.
 */
import { Transform, type TransformCallback } from "node:stream";
import type Piscina from "piscina";
import { packEvents } from "../event/txlog-event";
import type { EncodedBatch, EventBatch } from "./types";

export function serializeInline(): Transform {
  return new Transform({
    objectMode: true,
    writableHighWaterMark: 0,
    readableHighWaterMark: 3,
    transform(batch: EventBatch, _encoding: BufferEncoding, callback: TransformCallback) {
      let packed: ReturnType<typeof packEvents>;
      try {
        packed = packEvents(batch.events);
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback(null, { positions: batch.positions, payload: packed.payload, ends: packed.ends } satisfies EncodedBatch);
    },
  });
}

type Packed = { payload: Uint8Array; ends: Uint32Array };

export function serializeInPool(pool: Piscina, maxOutstanding: number): Transform {
  // Tasks in submission order; the head is pushed downstream as soon as it settles.
  const outstanding: Array<{ positions: EncodedBatch["positions"]; result: Promise<Packed> }> = [];
  let waiting: TransformCallback | null = null;
  let flushing: TransformCallback | null = null;
  let failed = false;

  const stage = new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(batch: EventBatch, _encoding: BufferEncoding, callback: TransformCallback) {
      const result = pool.run(batch.events) as Promise<Packed>;
      result.catch(() => undefined); // surfaced in order by drainHead
      outstanding.push({ positions: batch.positions, result });
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
        stage.push({ positions: head.positions, payload: packed.payload, ends: packed.ends } satisfies EncodedBatch);
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
