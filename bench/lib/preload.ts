/**
 * Reads a bench table into memory as the pipeline would serialize it (formatEvents +
 * packEvents), before any timing starts: the payloads the reference cases publish are the very
 * bytes the pipeline publishes. The first child to need a table's payloads leaves them in a
 * cache file (v8 serialization) that later children read in a fraction of the time; the
 * orchestrator deletes it at the end.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { deserialize, serialize } from "node:v8";
import { formatEvents } from "../../src/pipeline/format-events";
import { serializeInline } from "../../src/pipeline/serialize-events";
import type { EncodedBatch } from "../../src/pipeline/types";
import { benchSource, formatOptions } from "./local";

export interface Preloaded {
  batches: EncodedBatch[];
  /** Every message as its own view, and its Nats-Msg-Id. */
  payloads: Uint8Array[];
  msgIds: string[];
  bytes: number;
}

export async function preload(table: string, rows: number, batchSize: number, cacheFile?: string): Promise<Preloaded> {
  let batches: EncodedBatch[];
  if (cacheFile && existsSync(cacheFile)) batches = deserialize(readFileSync(cacheFile)) as EncodedBatch[];
  else {
    batches = await read(table, rows, batchSize);
    if (cacheFile) {
      writeFileSync(`${cacheFile}.tmp`, serialize(batches));
      renameSync(`${cacheFile}.tmp`, cacheFile);
    }
  }
  const payloads: Uint8Array[] = [];
  const msgIds: string[] = [];
  let bytes = 0;
  for (const { positions, payload, ends } of batches) {
    for (let i = 0; i < positions.length; i++) {
      payloads.push(payload.subarray(i === 0 ? 0 : (ends[i - 1] as number), ends[i] as number));
      msgIds.push(`${table}:${positions[i]?.id}`);
    }
    bytes += payload.length;
  }
  return { batches, payloads, msgIds, bytes };
}

async function read(table: string, rows: number, batchSize: number): Promise<EncodedBatch[]> {
  const source = benchSource(table);
  const batches: EncodedBatch[] = [];
  try {
    await pipeline(
      source.read({ after: null, limit: rows, pageSize: batchSize, safetyLagSeconds: 0 }),
      formatEvents(formatOptions(table)),
      serializeInline(),
      new Writable({
        objectMode: true,
        write({ positions, payload, ends }: EncodedBatch, _enc, callback) {
          // Kept for the whole run and v8-serialized to the cache file: plain data, never
          // released back to the serializer's buffer pool.
          batches.push({ positions, payload, ends });
          callback();
        },
      }),
    );
  } finally {
    await source.close();
  }
  return batches;
}
