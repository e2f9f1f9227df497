import t from "tap";
import { FencedError } from "../../src/errors";
import { CycleError, runCycle } from "../../src/pipeline/cycle";
import type { PipelineObserver } from "../../src/pipeline/types";
import { FakePublisher } from "../fakes/fake-publisher";
import { cycleDeps, MemorySource, memoryLedger, RecordingStore, rows, settings, TS } from "../fakes/memory-cycle";

const never = () => new AbortController().signal;

t.test("a clean cycle publishes every row and ends with finish SUCCESS and the last row as watermark", async (t) => {
  const publisher = new FakePublisher();
  const store = new RecordingStore();
  const r = await runCycle(cycleDeps(new MemorySource(rows(1, 35)), publisher, store), never(), never());
  t.equal(r.rows, 35);
  t.equal(r.read, 35);
  t.equal(publisher.stored.length, 35);
  t.same(
    store.calls.map((c) => c.op),
    ["begin", "load", "finish"],
  );
  t.same(store.finishes[0], { op: "finish", checkpoint: { watermark: { ts: TS, id: "35" }, resumeSeq: null }, rows: 35 });
});

for (const [step, arrange] of [
  ["load()", (store: RecordingStore) => (store.failOn = "load")],
  ["the start position (start_from: latest)", (_: RecordingStore, source: MemorySource) => (source.latestError = new Error("latest failed: ORA-03113"))],
  ["the stream ledger", () => undefined],
] as const) {
  t.test(`a failure in ${step}, before anything is published, still ends the run with finish FAILED and the reason`, async (t) => {
    const store = new RecordingStore();
    const source = new MemorySource(rows(1, 5));
    arrange(store, source);
    const ledgerFails = step === "the stream ledger";
    const deps = cycleDeps(source, new FakePublisher(), store, {
      settings: settings({ startFrom: step.includes("latest") ? "latest" : "earliest" }),
      ledger: memoryLedger(0, [], ledgerFails ? new Error("stream not found") : undefined),
    });
    const err = await runCycle(deps, never(), never()).then(
      () => null,
      (e: unknown) => e,
    );
    t.type(err, CycleError, "rejects with a CycleError");
    const expected = { load: /load failed: connection lost/, latest: /latest failed: ORA-03113/, ledger: /stream not found/ };
    const reason = step === "load()" ? expected.load : ledgerFails ? expected.ledger : expected.latest;
    t.match((err as Error).message, reason);
    t.equal(store.finishes.length, 1, "finish was called once");
    t.match(store.finishes[0], { checkpoint: null, rows: 0, error: reason }, "FAILED with the reason, the stored watermark left alone");
  });
}

t.test("a fence aborted mid-cycle: no publish after it, no store write after it, and a FencedError", async (t) => {
  const publisher = new FakePublisher();
  publisher.delayMs = 2;
  const store = new RecordingStore();
  const fence = new AbortController();
  let publishesAtAbort = -1;
  let storeCallsAtAbort = -1;
  publisher.fate = (msgId) => {
    if (msgId === "T:50") {
      publishesAtAbort = publisher.published.length; // this publish included
      storeCallsAtAbort = store.calls.length;
      fence.abort(new Error("lock connection lost"));
    }
    return undefined;
  };
  const source = new MemorySource(rows(1, 500));
  const deps = cycleDeps(source, publisher, store, { fence: fence.signal, settings: settings({ checkpointIntervalMs: 1, maxInFlight: 16 }) });
  await t.rejects(runCycle(deps, never(), never()), { name: "FencedError", code: "E_FENCED", message: /lost the program lock/ });
  await new Promise((r) => setTimeout(r, 30)); // late outcomes and timers would show up here
  t.equal(publisher.published.length, publishesAtAbort, "not one publish after the abort");
  t.ok(
    store.calls.length === storeCallsAtAbort || store.calls.slice(storeCallsAtAbort).every((c) => c.op === "checkpoint"),
    "at most a write already under way",
  );
  t.same(
    store.calls.slice(storeCallsAtAbort).filter((c) => c.op === "finish"),
    [],
    "no finish",
  );
  t.ok(source.destroyed, "the source was destroyed");
});

t.test("a fence aborted before the pipeline starts: FencedError, nothing published, no finish", async (t) => {
  const publisher = new FakePublisher();
  const store = new RecordingStore();
  const fence = new AbortController();
  store.onLoad = () => fence.abort();
  const err = await runCycle(cycleDeps(new MemorySource(rows(1, 5)), publisher, store, { fence: fence.signal }), never(), never()).catch((e: unknown) => e);
  t.type(err, FencedError);
  t.equal(publisher.published.length, 0);
  t.same(
    store.calls.map((c) => c.op),
    ["begin", "load"],
  );

  const already = new AbortController();
  already.abort();
  const untouched = new RecordingStore();
  await t.rejects(runCycle(cycleDeps(new MemorySource(rows(1, 5)), publisher, untouched, { fence: already.signal }), never(), never()), FencedError);
  t.same(untouched.calls, [], "an instance already fenced does not even begin");
});

t.test("the observer hears every row read, stored, duplicate, recovered, dead-lettered and retried", async (t) => {
  const counts = { rowsRead: 0, published: 0, duplicates: 0, recovered: 0, deadLettered: 0, retried: 0 };
  const inFlight: number[] = [];
  const latencies: number[] = [];
  const observer: PipelineObserver = {
    rowsRead: (n) => (counts.rowsRead += n),
    published: (n) => (counts.published += n),
    duplicates: (n) => (counts.duplicates += n),
    recovered: (n) => (counts.recovered += n),
    deadLettered: (n) => (counts.deadLettered += n),
    retried: (n) => (counts.retried += n),
    inFlight: (n) => inFlight.push(n),
    ackLatency: (s) => latencies.push(s),
  };
  const publisher = new FakePublisher(2000);
  publisher.stored.push("T:7"); // already stored within the duplicate window
  publisher.fate = (msgId, attempt) => (msgId === "T:9" && attempt === 1 ? { kind: "timeout" } : undefined);
  const data = rows(1, 100);
  (data[19] as { eventData: string }).eventData = "x".repeat(5000); // row 20: over max_payload
  const store = new RecordingStore();
  store.committed = { watermark: null, resumeSeq: 1 };
  const ledger = memoryLedger(10, [
    ["T:3", 4],
    ["T:4", 5],
  ]);
  const r = await runCycle(cycleDeps(new MemorySource(data), publisher, store, { observer, ledger }), never(), never());
  t.equal(r.rows, 100);
  t.same(counts, { rowsRead: 100, published: 96, duplicates: 1, recovered: 2, deadLettered: 1, retried: 1 });
  t.equal(latencies.length, 98, "one latency per acknowledged message (not per recovered row)");
  t.ok(
    latencies.every((s) => s >= 0 && s < 60),
    "latencies in seconds",
  );
  t.ok(inFlight.length > 0 && Math.max(...inFlight) <= 8, `in flight reported, never above max_in_flight (max ${Math.max(...inFlight)})`);
  t.equal(inFlight.at(-1), 0, "nothing in flight at the end");
  t.same([r.duplicates, r.recovered, r.deadLettered, r.retries], [1, 2, 1, 1], "the cycle result agrees");
});

/** Runs one cycle and returns the store calls made before the first publish went out. */
async function callsBeforeFirstPublish(store: RecordingStore, source: MemorySource, extra: Parameters<typeof cycleDeps>[3]) {
  const publisher = new FakePublisher();
  let before: string[] | null = null;
  publisher.fate = () => {
    before ??= store.calls.map((c) => JSON.stringify(c));
    return undefined;
  };
  const r = await runCycle(cycleDeps(source, publisher, store, extra), never(), never());
  return { r, before: (before ?? []).map((c) => JSON.parse(c) as Record<string, unknown>), publisher };
}

t.test("a brand-new program commits a resume sequence (the stream's last + 1) before its first publish", async (t) => {
  const store = new RecordingStore();
  const { r, before } = await callsBeforeFirstPublish(store, new MemorySource(rows(1, 20)), { ledger: memoryLedger(41) });
  t.equal(r.rows, 20);
  t.same(before, [{ op: "begin" }, { op: "load" }, { op: "checkpoint", checkpoint: { watermark: null, resumeSeq: 42 }, rows: 0 }]);
});

t.test("start_from latest: the chosen start is committed with a resume sequence, never a null one", async (t) => {
  const store = new RecordingStore();
  const source = new MemorySource(rows(1, 10));
  const late = rows(11, 15);
  const deps = { ledger: memoryLedger(7), settings: settings({ startFrom: "latest" }) };
  // Rows arrive after latest() answered: they are the ones this cycle publishes.
  const latest = source.latest.bind(source);
  source.latest = async () => {
    const w = await latest();
    source.data.push(...late);
    return w;
  };
  const { r, before } = await callsBeforeFirstPublish(store, source, deps);
  t.equal(r.rows, 5);
  t.same(before.at(-1), { op: "checkpoint", checkpoint: { watermark: { ts: TS, id: "10" }, resumeSeq: 8 }, rows: 0 });
});

t.test("a committed watermark without a resume sequence (a V7 row) gets one before the first publish", async (t) => {
  const store = new RecordingStore();
  store.committed = { watermark: { ts: TS, id: "3" }, resumeSeq: null };
  const { before } = await callsBeforeFirstPublish(store, new MemorySource(rows(1, 9)), { ledger: memoryLedger(100) });
  t.same(before.at(-1), { op: "checkpoint", checkpoint: { watermark: { ts: TS, id: "3" }, resumeSeq: 101 }, rows: 0 });
});

t.test("a resume sequence past the stream's end (the stream was recreated) is replaced before the first publish", async (t) => {
  const store = new RecordingStore();
  store.committed = { watermark: { ts: TS, id: "3" }, resumeSeq: 500 };
  const { before } = await callsBeforeFirstPublish(store, new MemorySource(rows(1, 9)), { ledger: memoryLedger(10) });
  t.same(before.at(-1), { op: "checkpoint", checkpoint: { watermark: { ts: TS, id: "3" }, resumeSeq: 11 }, rows: 0 });
});

t.test("a committed resume sequence within the stream is kept: no extra write before publishing", async (t) => {
  const store = new RecordingStore();
  store.committed = { watermark: { ts: TS, id: "3" }, resumeSeq: 11 };
  const { before } = await callsBeforeFirstPublish(store, new MemorySource(rows(1, 9)), { ledger: memoryLedger(10) });
  t.same(before, [{ op: "begin" }, { op: "load" }]);
});

t.test("start_from latest on an empty table is chosen once: the next cycle reads from the oldest row", async (t) => {
  const store = new RecordingStore();
  const source = new MemorySource([]);
  const deps = { ledger: memoryLedger(0), settings: settings({ startFrom: "latest" }) };
  t.equal((await runCycle(cycleDeps(source, new FakePublisher(), store, deps), never(), never())).rows, 0);
  t.same(store.committed, { watermark: null, resumeSeq: 1 });
  source.data.push(...rows(1, 6));
  source.latestError = new Error("latest() must not be asked again");
  const r = await runCycle(cycleDeps(source, new FakePublisher(), store, deps), never(), never());
  t.equal(r.rows, 6, "rows inserted since are published, not skipped");
});

for (const mode of ["dead_letter", "fail"] as const) {
  t.test(`a source row with EVENT_DATA not loaded (eventDataLength set) through format and serialize, under ${mode}`, async (t) => {
    const data = rows(1, 30);
    Object.assign(data[11] as object, { eventData: null, eventDataLength: 3_000_000 }); // row 12
    const publisher = new FakePublisher(100_000);
    const store = new RecordingStore();
    const deps = cycleDeps(new MemorySource(data), publisher, store, { settings: settings({ onUnpublishable: mode }) });
    const outcome = await runCycle(deps, never(), never()).then(
      (r) => ({ r, err: null }),
      (err: unknown) => ({ r: null, err: err as CycleError }),
    );
    t.notOk(
      publisher.published.some((p) => p.msgId === "T:12"),
      "the row's event (with event_data null) is never published",
    );
    if (mode === "dead_letter") {
      t.equal(outcome.r?.rows, 30);
      t.equal(outcome.r?.deadLettered, 1);
      const dlq = publisher.published.find((p) => p.msgId === "T:12:dlq");
      t.match(JSON.parse(dlq?.payload ?? "{}"), { id: "12", subject: "ev", reason: /EVENT_DATA of length 3000000 .*max_payload of 100000 bytes/ });
      t.same(store.finishes[0]?.checkpoint?.watermark, { ts: TS, id: "30" });
    } else {
      t.match(outcome.err, { name: "CycleError", message: /row ID 12 .* cannot be published: EVENT_DATA of length 3000000/ });
      t.match(outcome.err?.cause, { name: "UnpublishableRowError" });
      t.match(store.finishes[0], { checkpoint: { watermark: { ts: TS, id: "11" } }, error: /row ID 12/ });
    }
  });
}
