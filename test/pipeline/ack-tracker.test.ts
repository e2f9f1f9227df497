import t from "tap";
import { AckTracker } from "../../src/pipeline/ack-tracker";

const at = (id: number) => ({ ts: "2026-01-01 00:00:00.000000", id: String(id) });

t.test("the watermark moves only over the fully acknowledged prefix", async (t) => {
  const tracker = new AckTracker(at(0));
  const seqs = [1, 2, 3, 4, 5].map((id) => tracker.add(at(id)));
  t.same(tracker.watermark, at(0), "nothing acknowledged yet: the start position");
  tracker.ack(seqs[2] as number);
  tracker.ack(seqs[1] as number);
  t.same(tracker.watermark, at(0), "a gap at the first message holds the watermark");
  tracker.ack(seqs[0] as number);
  t.same(tracker.watermark, at(3), "closing the gap jumps over everything acknowledged");
  t.equal(tracker.acknowledged, 3);
  tracker.ack(seqs[4] as number);
  t.same(tracker.watermark, at(3));
  tracker.ack(seqs[3] as number);
  t.same(tracker.watermark, at(5));
  t.equal(tracker.outstanding, 0);
});

t.test("duplicate and unknown acks change nothing", async (t) => {
  const tracker = new AckTracker(null);
  const a = tracker.add(at(1));
  tracker.ack(a);
  tracker.ack(a);
  tracker.ack(999);
  t.equal(tracker.acknowledged, 1);
  t.same(tracker.watermark, at(1));
});

t.test("memory follows the window, not the run: a long run compacts", async (t) => {
  const tracker = new AckTracker(null);
  const window: number[] = [];
  for (let id = 1; id <= 100_000; id++) {
    window.push(tracker.add(at(id)));
    if (window.length === 64) {
      // acknowledge in reverse order, the worst case for the prefix
      for (const seq of window.reverse()) tracker.ack(seq);
      window.length = 0;
    }
  }
  t.equal(tracker.acknowledged, 100_000 - window.length);
  t.ok((tracker as unknown as { positions: unknown[] }).positions.length < 5000, "consumed positions were dropped");
});
