/**
 * Issue 10, defect 5: Thin's callTimeout is not a hard limit (it sends a break and waits for
 * the server's answer; on a silently dropped connection that answer never comes) and closing
 * a connection waits for its call in flight. The source bounds every call itself.
 */

import { setTimeout as delay } from "node:timers/promises";
import t from "tap";
import type { SourceRow } from "../../src/pipeline/types";
import { type CapturedWarning, setupFake } from "../helpers/oracle";

const WATCHDOG = { callTimeoutMs: 50, watchdogGraceMs: 50, retry: { maxRetries: 2, initialBackoff: 0.001, maxBackoff: 0.002, backoffMultiplier: 2 } };

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

t.test("a call on a silently dropped connection is abandoned past callTimeout + grace and the read resumes exactly", { timeout: 60_000 }, async (t) => {
  const { fake, source, warnings } = setupFake(60, WATCHDOG);
  t.teardown(() => source.close());
  const stream = source.read({ after: null, limit: 1000, pageSize: 20, safetyLagSeconds: 0 });
  const it = stream[Symbol.asyncIterator]();
  const got: SourceRow[] = [...((await it.next()).value as SourceRow[])];
  fake.breakSessions("silent"); // the read's session: packets vanish, no answer, not even to a break
  for (;;) {
    const next = await it.next();
    if (next.done) break;
    got.push(...(next.value as SourceRow[]));
  }
  t.same(
    got.map((r) => r.id),
    Array.from({ length: 60 }, (_, i) => String(i + 1)),
    "every row once, in order",
  );
  t.equal(warnings.length, 1, "one retry");
  t.match((warnings[0] as CapturedWarning).obj, { err: /did not answer within 100 ms/ });
  t.equal(fake.connections[0]?.state, "open", "the hung connection could not even be closed (its close waits for the call) ...");
  t.equal(fake.pools[0]?.attributes.expireTime, 1, "... which is why the pool sets expireTime: TCP keepalive lets the OS find the dead peer");
});

t.test("close() returns even when a read's call and connection hang forever", { timeout: 60_000 }, async (t) => {
  const { fake, source } = setupFake(60, { ...WATCHDOG, callTimeoutMs: 60_000 });
  const stream = source.read({ after: null, limit: 1000, pageSize: 20, safetyLagSeconds: 0 });
  stream.on("error", () => {});
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  fake.breakSessions("silent");
  void it.next().catch(() => undefined);
  await until(() => fake.executes.length > 0 && stream.readableLength === 0, "the next fetch to be in flight");
  await source.close(); // would wait for the call (60 s callTimeout that never fires) without a bound
  t.equal(fake.pools[0]?.status, "closed", "the pool is closed regardless");
});

t.test("a stalled server that answers the break ends the call with NJS-123, retried", { timeout: 60_000 }, async (t) => {
  const { fake, source, warnings } = setupFake(30, WATCHDOG);
  t.teardown(() => source.close());
  const stream = source.read({ after: null, limit: 1000, pageSize: 10, safetyLagSeconds: 0 });
  const it = stream[Symbol.asyncIterator]();
  const got: SourceRow[] = [...((await it.next()).value as SourceRow[])];
  fake.breakSessions("stalled");
  for (;;) {
    const next = await it.next();
    if (next.done) break;
    got.push(...(next.value as SourceRow[]));
  }
  t.same(
    got.map((r) => r.id),
    Array.from({ length: 30 }, (_, i) => String(i + 1)),
  );
  t.equal(warnings.length, 1, "one retry");
  t.match((warnings[0] as CapturedWarning).obj, { err: /NJS-123/ });
});
