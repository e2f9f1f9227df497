/** When the idle heartbeat line is due, with an injected clock. */
import t from "tap";
import { Heartbeat, heartbeatFields } from "../../src/ops/heartbeat";

t.test("logs the first idle cycle, then once per interval while idle", async (t) => {
  let now = 0;
  const hb = new Heartbeat(300, () => now);
  t.equal(hb.due(0), true, "first idle cycle");
  now += 10_000;
  t.equal(hb.due(0), false);
  now += 289_999;
  t.equal(hb.due(0), false, "1 ms before the interval");
  now += 1;
  t.equal(hb.due(0), true, "at the interval");
  now += 10_000;
  t.equal(hb.due(0), false);
});

t.test("a cycle with rows restarts the interval (its own line serves)", async (t) => {
  let now = 0;
  const hb = new Heartbeat(60, () => now);
  t.equal(hb.due(0), true);
  now += 50_000;
  t.equal(hb.due(25), false, "busy cycles never log a heartbeat");
  now += 50_000;
  t.equal(hb.due(0), false, "60 s not yet passed since the last busy cycle");
  now += 10_000;
  t.equal(hb.due(0), true);
});

t.test("an interval of 0 turns it off", async (t) => {
  let now = 0;
  const hb = new Heartbeat(0, () => now);
  t.equal(hb.due(0), false);
  now += 1e9;
  t.equal(hb.due(0), false);
});

t.test("the line's fields: rows 0, lag, rows waiting, watermark with the id as text", async (t) => {
  t.same(heartbeatFields({ lagSeconds: 1.23456, rowsWaiting: 0, watermark: { ts: "2026-01-01 00:00:00.000000", id: "12345678901234567890" } }), {
    rows: 0,
    lag_s: 1.235,
    rows_waiting: 0,
    watermark: { ts: "2026-01-01 00:00:00.000000", id: "12345678901234567890" },
  });
  t.same(heartbeatFields({ lagSeconds: null, rowsWaiting: 3, watermark: null }), { rows: 0, lag_s: null, rows_waiting: 3, watermark: null });
});
