import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Piscina from "piscina";
import t from "tap";
import { formatEvent, packEvents } from "../../src/event/txlog-event";
import { serializeInline, serializeInPool } from "../../src/pipeline/serialize-events";
import type { EncodedBatch, EventBatch } from "../../src/pipeline/types";

const TS = "2026-01-01 00:00:00.000000";
function eventBatch(ids: number[]): EventBatch {
  const rows = ids.map((id) => ({ id: String(id), caseId: null, eventType: "t", eventData: `{"n":${id}}`, eventTimestamp: TS, createdAt: null }));
  return {
    positions: rows.map((r) => ({ ts: TS, id: r.id })),
    events: rows.map((r) => formatEvent(r, { timeZone: "UTC", dataType: "d", traceId: "row", table: "T" })),
  };
}

async function collect(stage: NodeJS.ReadWriteStream, batches: EventBatch[]): Promise<EncodedBatch[]> {
  const out: EncodedBatch[] = [];
  await pipeline(
    Readable.from(batches),
    stage,
    new Writable({
      objectMode: true,
      write(chunk: EncodedBatch, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return out;
}

/** A stand-in pool: runs the task in-process, finishing tasks in reverse order of submission. */
function reversingPool(): { pool: Piscina; maxOutstanding: () => number } {
  let outstanding = 0;
  let max = 0;
  let delay = 40;
  const pool = {
    run(events: EventBatch["events"]) {
      outstanding++;
      max = Math.max(max, outstanding);
      delay = Math.max(1, delay - 10);
      return new Promise((resolve) =>
        setTimeout(() => {
          outstanding--;
          resolve(packEvents(events));
        }, delay),
      );
    },
  } as unknown as Piscina;
  return { pool, maxOutstanding: () => max };
}

t.test("the pool stage emits batches in source order, whatever order tasks finish in, with a bounded number outstanding", async (t) => {
  const batches = [1, 2, 3, 4, 5, 6].map((n) => eventBatch([n * 10, n * 10 + 1]));
  const { pool, maxOutstanding } = reversingPool();
  const pooled = await collect(serializeInPool(pool, 2), batches);
  const inline = await collect(serializeInline(), batches);
  t.same(
    pooled.map((b) => b.positions.map((p) => p.id)),
    batches.map((b) => b.positions.map((p) => p.id)),
  );
  t.same(
    pooled.map((b) => Buffer.from(b.payload).toString()),
    inline.map((b) => Buffer.from(b.payload).toString()),
    "same bytes as inline",
  );
  t.ok(maxOutstanding() <= 2, `at most 2 tasks outstanding (saw ${maxOutstanding()})`);
});

t.test("a failing or malformed worker result fails the pipeline instead of hanging it", async (t) => {
  const throwing = { run: () => Promise.reject(new Error("worker crashed")) } as unknown as Piscina;
  await t.rejects(collect(serializeInPool(throwing, 2), [eventBatch([1])]), { message: "worker crashed" });
  const malformed = { run: () => Promise.resolve({}) } as unknown as Piscina;
  await t.rejects(collect(serializeInPool(malformed, 2), [eventBatch([1]), eventBatch([2])]), { message: /returned something other than/ });
});

t.test("the inline stage reuses a payload buffer only after its batch was released", async (t) => {
  const stage = serializeInline();
  const out: EncodedBatch[] = [];
  stage.on("data", (b: EncodedBatch) => out.push(b));
  const next = async (ids: number[]) => {
    const before = out.length;
    stage.write(eventBatch(ids));
    for (const deadline = Date.now() + 10_000; out.length === before && Date.now() < deadline; ) await new Promise((r) => setImmediate(r));
    return out[before] as EncodedBatch;
  };
  const first = await next([1, 2, 3]);
  const bytes = Buffer.from(first.payload).toString();
  const second = await next([4, 5, 6]);
  t.not(second.payload.buffer, first.payload.buffer, "not released: a buffer of its own");
  t.equal(Buffer.from(first.payload).toString(), bytes, "and the first payload is intact");
  t.type(first.release, "function");
  first.release?.();
  const third = await next([7, 8, 9]);
  t.equal(third.payload.buffer, first.payload.buffer, "released: its buffer is packed into again");
  stage.end();
});

t.test("both stages pass the rows whose EVENT_DATA was not loaded on to the sink", async (t) => {
  const marked = { ...eventBatch([1, 2]), unloaded: new Map([[1, 9_999]]) };
  const batches = [eventBatch([0]), marked];
  for (const [name, stage] of [
    ["inline", serializeInline()],
    ["pool", serializeInPool(reversingPool().pool, 2)],
  ] as const) {
    const out = await collect(stage, batches);
    t.equal(out[0]?.unloaded, undefined, `${name}: none marked`);
    t.same([...(out[1]?.unloaded ?? [])], [[1, 9_999]], `${name}: index -> length`);
  }
});
