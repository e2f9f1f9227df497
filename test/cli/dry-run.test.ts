/** `--once --dry-run`: rows printed as they would be published, or counted; nothing written. */
import t from "tap";
import { type DryRunDeps, renderMessage, runDryRun } from "../../src/cli/dry-run";
import type { SourceRow, Watermark } from "../../src/cli/ports";

const WM: Watermark = { ts: "2026-03-01 12:00:00.000000", id: "10" };

function rowsFrom(first: number, n: number): SourceRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(first + i),
    caseId: null,
    eventType: "CREATED",
    eventData: "{}",
    eventTimestamp: "2026-03-01 12:00:01.000000",
    createdAt: null,
  }));
}

function deps(over: Partial<DryRunDeps> = {}) {
  const reads: [Watermark | null, number][] = [];
  let chunksPulled = 0;
  const d: DryRunDeps = {
    tracking: {
      read: async () => ({
        programName: "p",
        watermark: WM,
        status: "SUCCESS",
        lastRunTime: null,
        recordsProcessed: null,
        errorMessage: null,
        updatedAt: null,
      }),
    },
    startPosition: async () => null,
    rows: (after, limit) => {
      reads.push([after, limit]);
      return (async function* () {
        for (let c = 0; c < 5; c++) {
          chunksPulled++;
          yield rowsFrom(11 + c * 4, 4);
        }
      })();
    },
    source: { countAfter: async () => ({ rows: 1234, dbNow: "2026-03-01 12:10:00.000000" }) },
    safetyLagSeconds: 5,
    format: (r) => ({ subject: "intime.txlog.events", msgId: `spc.TXLOG_EVENTS:${r.id}`, payload: `{"id":${r.id},"event_type":"${r.eventType}"}` }),
    limit: 10,
    count: false,
    ...over,
  };
  return { d, reads, pulled: () => chunksPulled };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

t.test("prints up to --limit formatted rows after the watermark as JSON lines, and stops reading", async (t) => {
  const { d, reads, pulled } = deps({ limit: 6 });
  const c = capture();
  t.equal(await runDryRun(d, c.output), 0);
  t.same(reads, [[WM, 6]]);
  t.equal(c.out.length, 6);
  t.same(JSON.parse(c.out[0] as string), { subject: "intime.txlog.events", msg_id: "spc.TXLOG_EVENTS:11", event: { id: 11, event_type: "CREATED" } });
  t.equal(pulled(), 2, "no chunk read past the limit");
  t.same(c.err, ["dry run: 6 rows formatted after 2026-03-01 12:00:00.000000 id 10 (limit 6); nothing published, nothing committed"]);
});

t.test("a program without a watermark starts where publisher.start_from says", async (t) => {
  const start: Watermark = { ts: "2026-01-01 00:00:00.000000", id: "-1" };
  const { d, reads } = deps({ tracking: { read: async () => null }, startPosition: async () => start, limit: 1 });
  await runDryRun(d, capture().output);
  t.same(reads, [[start, 1]]);
});

t.test("--count only counts, up to the read bound", async (t) => {
  const counted: unknown[] = [];
  const { d, reads } = deps({
    count: true,
    source: {
      countAfter: async (after, lag, limit) => {
        counted.push([after, lag, limit]);
        return { rows: limit, dbNow: "x" };
      },
    },
    countLimit: 500,
  });
  const c = capture();
  t.equal(await runDryRun(d, c.output), 0);
  t.same(counted, [[WM, 5, 500]]);
  t.same(reads, [], "no row read");
  t.same(c.out, ["at least 500 rows waiting after 2026-03-01 12:00:00.000000 id 10"]);
});

t.test("the payload is embedded as is: ids beyond 2^53 stay exact", async (t) => {
  const line = renderMessage({ subject: "s", msgId: "m", payload: '{"id":12345678901234567890123}' });
  t.equal(line, '{"subject":"s","msg_id":"m","event":{"id":12345678901234567890123}}');
});
