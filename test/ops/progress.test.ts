/** The --once progress line: rendering, throttling, and silence on a non-TTY. */
import t from "tap";
import { formatDuration, ProgressLine, renderProgress } from "../../src/ops/progress";

t.test("renders rows done of the total, the rate and the ETA", async (t) => {
  t.equal(renderProgress({ done: 12_000, total: 100_000, elapsedSeconds: 3 }), "12,000 of 100,000 rows (12.0%)  4,000 rows/s  ETA 0:22");
  t.equal(renderProgress({ done: 0, total: 100, elapsedSeconds: 0 }), "0 of 100 rows (0.0%)  -- rows/s  ETA --");
  t.equal(renderProgress({ done: 100, total: 100, elapsedSeconds: 2 }), "100 of 100 rows (100.0%)  50 rows/s  ETA 0:00");
  t.equal(
    renderProgress({ done: 120, total: 100, elapsedSeconds: 2 }),
    "100 of 100 rows (100.0%)  60 rows/s  ETA 0:00",
    "rows that arrived after the count do not overflow",
  );
  t.equal(renderProgress({ done: 5000, total: null, elapsedSeconds: 2 }), "5,000 rows  2,500 rows/s", "without a count: no share, no ETA");
});

t.test("formats durations as m:ss or h:mm:ss", async (t) => {
  t.equal(formatDuration(0), "0:00");
  t.equal(formatDuration(75), "1:15");
  t.equal(formatDuration(3725), "1:02:05");
  t.equal(formatDuration(-3), "0:00");
});

function tty(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (s: string) => writes.push(s) > 0 }, writes };
}

t.test("on a TTY: redraws in place with \\r, at most once per interval, and ends the line", async (t) => {
  let now = 0;
  const { stream, writes } = tty(true);
  const p = new ProgressLine(stream, { total: 1000, intervalMs: 250, now: () => now });
  now = 1000;
  p.add(100);
  t.same(writes, ["\r100 of 1,000 rows (10.0%)  100 rows/s  ETA 0:09"]);
  now = 1100;
  p.add(100);
  t.equal(writes.length, 1, "throttled");
  now = 1250;
  p.add(300);
  t.equal(writes.length, 2);
  t.match(writes[1], /^\r500 of 1,000 rows \(50\.0%\)/);
  now = 2000;
  p.observer().published(400);
  p.observer().recovered(50);
  p.observer().deadLettered(50);
  p.observer().rowsRead(999);
  p.finish();
  t.equal(writes.at(-1), "\n");
  t.match(writes.at(-2), /^\r1,000 of 1,000 rows \(100\.0%\) {2}500 rows\/s {2}ETA 0:00/);
  p.finish();
  p.add(1);
  t.equal(writes.at(-1), "\n", "nothing after finish");
});

t.test("pads over a longer previous line", async (t) => {
  let now = 0;
  const { stream, writes } = tty(true);
  const p = new ProgressLine(stream, { total: null, intervalMs: 0, now: () => now });
  now = 1000;
  p.add(1_000_000);
  now = 1_000_000;
  p.add(1);
  t.equal(writes[1]?.length, writes[0]?.length, "the shorter line is padded with spaces");
});

t.test("writes nothing on a non-TTY", async (t) => {
  const { stream, writes } = tty(false);
  const p = new ProgressLine(stream, { total: 10 });
  p.add(5);
  p.finish();
  t.same(writes, []);
  const { stream: plain, writes: w2 } = tty(false);
  const q = new ProgressLine({ write: plain.write }, { total: 10 });
  q.add(5);
  q.finish();
  t.same(w2, [], "no isTTY at all counts as not a terminal");
});
