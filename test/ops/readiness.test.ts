/** Liveness and readiness from what the loop reports, with an injected clock. */
import t from "tap";
import { Readiness } from "../../src/ops/readiness";

function clocked() {
  let now = 1_000_000;
  const r = new Readiness({ failureGraceSeconds: 60, livenessTimeoutSeconds: 120, now: () => now });
  return { r, advance: (s: number) => (now += s * 1000) };
}

const connectAll = (r: Readiness) => {
  r.setDependency("source", true);
  r.setDependency("tracking", true);
  r.setDependency("nats", true);
};

t.test("is not ready before every dependency is connected, naming those that are not", async (t) => {
  const { r } = clocked();
  t.same(r.ready(), { ok: false, reason: "source: not connected yet, tracking store: not connected yet, nats: not connected yet" });
  r.setDependency("source", true);
  r.setDependency("tracking", true);
  t.same(r.ready(), { ok: false, reason: "nats: not connected yet" });
  r.setDependency("nats", true);
  t.same(r.ready(), { ok: true, reason: "ready" });
});

t.test("goes unready while a dependency is down and back by itself", async (t) => {
  const { r } = clocked();
  connectAll(r);
  r.setDependency("nats", false);
  t.same(r.ready(), { ok: false, reason: "nats: disconnected" });
  r.setDependency("nats", false, "reconnecting");
  t.same(r.ready(), { ok: false, reason: "nats: reconnecting" });
  r.setDependency("nats", true);
  t.ok(r.ready().ok);
});

t.test("a failed cycle is tolerated for the grace, then unready until a cycle succeeds", async (t) => {
  const { r, advance } = clocked();
  connectAll(r);
  r.cycleFailed("source");
  t.ok(r.ready().ok, "just failed: within the grace");
  advance(59);
  t.ok(r.ready().ok);
  advance(1);
  t.same(r.ready(), { ok: false, reason: "last cycle failed 60 s ago (source)" });
  r.cycleSucceeded();
  t.ok(r.ready().ok);
});

t.test("is live while the loop ticks, and not once it stalls past the bound", async (t) => {
  const { r, advance } = clocked();
  t.ok(r.live().ok, "live from the start");
  advance(100);
  r.tick();
  advance(120);
  t.ok(r.live().ok, "exactly at the bound");
  advance(1);
  t.same(r.live(), { ok: false, reason: "loop stalled: no progress for 121 s (limit 120 s)" });
  r.cycleFailed("nats");
  t.ok(r.live().ok, "a failing loop is still alive: readiness, not liveness, reports failures");
});
