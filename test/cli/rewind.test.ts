/** `rewind`: refusal while locked, the plan and its warnings, confirmation, the write under the lock. */
import t from "tap";
import type { LockHolder, LockLease, TrackingRow, Watermark } from "../../src/cli/ports";
import { EARLIEST, planRewind, type RewindDeps, renderPlan, rewindTarget, runRewind } from "../../src/cli/rewind";
import { BEFORE_ALL_IDS } from "../../src/pipeline/start-position";

const CURRENT: Watermark = { ts: "2026-03-01 12:00:00.000000", id: "5000" };

function world(options: { watermark?: Watermark | null; holder?: LockHolder | null; between?: number; recent?: number; window?: number } = {}) {
  const state = {
    watermark: options.watermark === undefined ? CURRENT : options.watermark,
    holder: options.holder ?? null,
    leased: false,
    released: 0,
    writes: [] as Watermark[],
    asked: [] as string[],
    countedBetween: [] as [Watermark, Watermark, number][],
    answer: true,
    /** Runs between the plan and the write (a run that moved the watermark, an instance that started). */
    meanwhile: (): void => undefined,
  };
  const tracking = {
    read: async (): Promise<TrackingRow | null> =>
      state.watermark === null && options.watermark === null
        ? null
        : {
            programName: "p",
            watermark: state.watermark,
            status: "SUCCESS",
            lastRunTime: null,
            recordsProcessed: null,
            errorMessage: null,
            updatedAt: null,
          },
  };
  const lease: LockLease = {
    setWatermark: async (to) => {
      state.writes.push(to);
      state.watermark = to;
    },
    release: async () => {
      state.released++;
      state.leased = false;
    },
  };
  const deps = (over: Partial<RewindDeps> = {}): RewindDeps => ({
    program: "p",
    to: "2026-03-01T00:00:00",
    timeZone: "UTC",
    yes: false,
    interactive: true,
    confirm: async (q) => {
      state.asked.push(q);
      state.meanwhile();
      return state.answer;
    },
    tracking,
    lock: {
      holder: async () => state.holder,
      tryAcquire: async () => {
        if (state.holder !== null) return null;
        state.leased = true;
        return lease;
      },
    },
    stream: {
      info: async () => ({ name: "S", messages: 9000, bytes: 1, subjects: ["a"], duplicateWindowSeconds: options.window ?? 120 }),
      storedWithin: async () => options.recent ?? 0,
    },
    source: {
      countBetween: async (a, b, limit) => {
        state.countedBetween.push([a, b, limit]);
        return Math.min(options.between ?? 3000, limit);
      },
    },
    ...over,
  });
  return { state, deps };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

t.test("--to means just before that instant, in the source zone; earliest before every row", async (t) => {
  t.same(rewindTarget("2026-03-01T00:00:00", "UTC"), { ts: "2026-03-01 00:00:00.000000", id: BEFORE_ALL_IDS });
  t.same(rewindTarget("2026-03-01T09:00:00+09:00", "UTC"), { ts: "2026-03-01 00:00:00.000000", id: BEFORE_ALL_IDS });
  t.same(rewindTarget("earliest", "+09:00"), EARLIEST);
});

t.test("refused at once while an instance holds the lock; nothing written", async (t) => {
  const w = world({ holder: { connectionId: "917", host: "10.0.0.5:51234" } });
  const c = capture();
  t.equal(await runRewind(w.deps({ yes: true }), c.output), 1);
  t.same(c.err, ["rewind refused: an instance holds the lock of program p (connection 917 from 10.0.0.5:51234); stop it first"]);
  t.same(w.state.writes, []);
  t.same(w.state.countedBetween, [], "not even counted");
});

t.test("going back: counts the replay and warns about the rows older than the duplicate window", async (t) => {
  const w = world({ between: 3000, recent: 1200 });
  const c = capture();
  t.equal(await runRewind(w.deps({ yes: true }), c.output), 0);
  t.same(w.state.countedBetween, [[{ ts: "2026-03-01 00:00:00.000000", id: BEFORE_ALL_IDS }, CURRENT, 1_000_000]]);
  t.same(c.out, [
    "program p",
    "watermark now:  2026-03-01 12:00:00.000000  id 5000",
    "watermark after: 2026-03-01 00:00:00.000000 (before every row at that time)",
    "moves back: replays about 3,000 rows",
    "watermark moved: the next run publishes the rows after 2026-03-01 00:00:00.000000 (before every row at that time)",
  ]);
  t.same(c.err, [
    "warning: about 1,800 of these rows were published longer ago than the stream's duplicate window (120 s): JetStream will store them again, and consumers will see them twice",
  ]);
  t.same(w.state.writes, [{ ts: "2026-03-01 00:00:00.000000", id: BEFORE_ALL_IDS }]);
  t.equal(w.state.released, 1, "the lock is released");
  t.same(w.state.asked, [], "--yes: no question");
});

t.test("no warning when every replayed row is still inside the duplicate window", async (t) => {
  const w = world({ between: 50, recent: 400 });
  const c = capture();
  t.equal(await runRewind(w.deps({ yes: true }), c.output), 0);
  t.same(c.err, []);
});

t.test("going forward warns that rows are skipped", async (t) => {
  const w = world({ between: 70 });
  const c = capture();
  t.equal(await runRewind(w.deps({ yes: true, to: "2026-03-02T00:00:00" }), c.output), 0);
  t.match(c.out, ["program p", /now/, /after/, "moves forward: skips about 70 rows"]);
  t.same(c.err, ["warning: moving the watermark forward skips rows: they will never be published"]);
  t.same(w.state.countedBetween[0]?.[0], CURRENT, "counted from the current watermark");
});

t.test("on a terminal: asks, and a no leaves the watermark alone", async (t) => {
  const w = world();
  w.state.answer = false;
  const c = capture();
  t.equal(await runRewind(w.deps(), c.output), 1);
  t.same(w.state.asked, ["Move the watermark? [y/N] "]);
  t.same(w.state.writes, []);
  t.match(c.err.at(-1), /rewind cancelled: the watermark is unchanged/);

  const yes = world();
  t.equal(await runRewind(yes.deps(), capture().output), 0);
  t.equal(yes.state.writes.length, 1, "a yes moves it");
});

t.test("off a terminal without --yes: nothing done, exit 2", async (t) => {
  const w = world();
  const c = capture();
  t.equal(await runRewind(w.deps({ interactive: false }), c.output), 2);
  t.same(w.state.asked, []);
  t.same(w.state.writes, []);
  t.match(c.err.at(-1), /not a terminal, add --yes to confirm/);
});

t.test("an instance that starts, or a watermark that moves, while confirming stops the rewind", async (t) => {
  const started = world();
  started.state.meanwhile = () => {
    started.state.holder = { connectionId: "55", host: null };
  };
  const c1 = capture();
  t.equal(await runRewind(started.deps(), c1.output), 1);
  t.match(c1.err.at(-1), /an instance took the lock of program p meanwhile \(connection 55\)/);
  t.same(started.state.writes, []);

  const moved = world();
  moved.state.meanwhile = () => {
    moved.state.watermark = { ts: "2026-03-01 12:00:05.000000", id: "5100" };
  };
  const c2 = capture();
  t.equal(await runRewind(moved.deps(), c2.output), 1);
  t.match(c2.err.at(-1), /the watermark moved meanwhile \(now 2026-03-01 12:00:05.000000 {2}id 5100\); run it again/);
  t.same(moved.state.writes, []);
  t.equal(moved.state.released, 1, "the lock taken for the write is released");
});

t.test("a program without a watermark gets one, without estimates", async (t) => {
  const w = world({ watermark: null });
  const c = capture();
  t.equal(await runRewind(w.deps({ yes: true, to: "earliest" }), c.output), 0);
  t.match(c.out, [/program p/, "watermark now:  none", "watermark after: earliest (before every row)", /no watermark yet/]);
  t.same(w.state.writes, [EARLIEST]);
  t.same(w.state.countedBetween, []);
});

t.test("the same position: nothing to do, nothing written", async (t) => {
  const w = world({ watermark: { ts: "2026-03-01 00:00:00.000000", id: BEFORE_ALL_IDS } });
  const c = capture();
  t.equal(await runRewind(w.deps(), c.output), 0);
  t.match(c.out.at(-1), /already there: nothing to do/);
  t.same(w.state.asked, []);
  t.same(w.state.writes, []);
});

t.test("estimates that cannot be made are reported, the rewind can still go on", async (t) => {
  const w = world();
  const plan = await planRewind(
    w.deps({
      stream: {
        info: () => Promise.reject(new Error("stream S not found")),
        storedWithin: async () => 0,
      },
    }),
    CURRENT,
  );
  t.equal(plan.rows, 3000);
  t.equal(plan.storedAgain, null);
  t.same(renderPlan(plan).warnings, ["warning: cannot estimate the rows concerned: stream S not found"]);
});

t.test("a count at its limit reads as 'at least'", async (t) => {
  const w = world({ between: 10_000_000 });
  const plan = await planRewind(w.deps({ countLimit: 1000 }), CURRENT);
  t.equal(plan.rowsAtLeast, true);
  t.match(renderPlan(plan).lines, [/./, /./, /./, "moves back: replays at least 1,000 rows"]);
  t.match(renderPlan(plan).warnings[0], /^warning: at least 1,000 of these rows/);
});
