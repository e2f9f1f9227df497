/**
 * The program lock against the real MariaDB: hot standby (who holds it), take-over, fencing
 * (no write after the lock is lost), and loss of the lock's connection by KILL, reset and
 * black hole (through a TCP proxy). Every wait observes a state with a deadline.
 */
import type * as mariadb from "mariadb";
import t, { type Test } from "tap";
import { connectLocal, local } from "../../scripts/lib/txlog-table";
import { MariadbTracking, type TrackingOptions } from "../../src/adapters/mariadb-tracking";
import { FencedError } from "../../src/errors";
import { uniqueName } from "../helpers/services";
import { settlesWithin, startTcpProxy, type TcpProxy, until } from "../helpers/tcp-proxy";

const retry = { maxRetries: 1, initialBackoff: 0.05, maxBackoff: 0.1, backoffMultiplier: 2 };
const wm = (n: number) => ({ watermark: { ts: `2026-01-01 00:00:0${n}.000000`, id: String(n) }, resumeSeq: n });

/** A tracking table of its own, an admin connection, and stores on it (closed at the end). */
async function setup(t: Test) {
  const table = uniqueName("PRMREC_LOCK");
  const program = uniqueName("prog").toLowerCase();
  const admin = await connectLocal();
  const stores: MariadbTracking[] = [];
  const proxies: TcpProxy[] = [];
  t.teardown(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(proxies.map((p) => p.close()));
    await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
    await admin.end();
  });
  return {
    program,
    admin,
    store(options: Partial<TrackingOptions> = {}) {
      const s = new MariadbTracking({ ...local, connectTimeoutMs: 5000, programName: program, retry, table, lockCheckIntervalMs: 100, ...options });
      stores.push(s);
      return s;
    },
    async proxy() {
      const p = await startTcpProxy();
      proxies.push(p);
      return p;
    },
    async holderId(s: MariadbTracking): Promise<number | null> {
      const rows = (await admin.query({ sql: "SELECT IS_USED_LOCK(?)", rowsAsArray: true }, [s.lockName])) as unknown[][];
      const id = rows[0]?.[0];
      return id === null || id === undefined ? null : Number(id);
    },
    async row(): Promise<{ ts: string | null; id: string | null; seq: string | null; STATUS: string | null } | undefined> {
      const rows = (await admin.query(
        `SELECT DATE_FORMAT(LAST_SUCCESSFUL_TIME, '%Y-%m-%d %H:%i:%s.%f') AS ts, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id, CAST(RESUME_STREAM_SEQ AS CHAR) AS seq, STATUS FROM \`${table}\` WHERE PROGRAM_NAME = ?`,
        [program],
      )) as Array<{ ts: string | null; id: string | null; seq: string | null; STATUS: string | null }>;
      return rows[0];
    },
  };
}

async function kill(admin: mariadb.Connection, id: number): Promise<void> {
  await admin.query(`KILL CONNECTION ${id}`);
}

t.test("a standby is told who holds the lock, takes over once the holder is killed, and the old holder can no longer write", async (t) => {
  const env = await setup(t);
  const first = env.store();
  const second = env.store();
  await first.open();
  await first.begin();
  await first.checkpoint(wm(1), 1);
  t.notOk(first.lockLost.aborted, "the holder's lockLost is not aborted");

  await second.prepare();
  const attempt = await second.tryAcquire();
  const holderId = await env.holderId(first);
  t.match(attempt, { acquired: false, holder: { connectionId: holderId, user: local.user } }, "the standby names the holder's connection id");
  if (!attempt.acquired) t.match(attempt.holder?.host, /^(127\.0\.0\.1|localhost)/, "and its client host");
  await t.rejects(second.load(), FencedError, "the standby cannot read the watermark before it holds the lock");
  await t.rejects(second.checkpoint(wm(9), 9), FencedError, "nor write it");

  await kill(env.admin, holderId as number);
  await until(() => first.lockLost.aborted, "the killed holder notices that its lock is lost");
  t.type(first.lockLost.reason, FencedError, "lockLost's reason is a FencedError");
  const waits: unknown[] = [];
  await settlesWithin(
    second.acquire(undefined, (holder) => waits.push(holder)),
    30_000,
    "the standby's acquire()",
  );
  t.ok(second.holdsLock, "the standby took over");
  t.same(await second.load(), wm(1), "it reads the watermark the first instance committed");
  await second.begin();
  await second.checkpoint(wm(2), 2);

  await t.rejects(first.checkpoint(wm(3), 3), { name: "FencedError", code: "E_FENCED" }, "a write forward by the old holder is refused");
  await t.rejects(first.checkpoint(wm(0), 0), FencedError, "and so is a write backward");
  await t.rejects(first.finish({ checkpoint: wm(4), rows: 4, error: "late" }), FencedError, "and its finish()");
  t.match(await env.row(), { ts: wm(2).watermark.ts, id: "2", seq: "2", STATUS: "RUNNING" }, "the row is what the new holder wrote");
});

t.test(
  "KILL of the idle lock connection aborts lockLost without an uncaught exception; a write is refused until the next begin() takes the lock again",
  async (t) => {
    const env = await setup(t);
    const s = env.store();
    await s.open();
    await s.begin();
    await s.checkpoint(wm(1), 1);
    const lost = s.lockLost;
    await kill(env.admin, (await env.holderId(s)) as number);
    await until(() => lost.aborted, "lockLost aborts");
    t.notOk(s.holdsLock, "the store knows it holds no lock");
    await t.rejects(s.checkpoint(wm(2), 2), { code: "E_FENCED" }, "a checkpoint after the loss is refused");
    t.match(await env.row(), { ts: wm(1).watermark.ts, id: "1" }, "the row is unchanged");
    await s.begin();
    t.ok(s.holdsLock, "begin() took the lock again on a new connection");
    t.notOk(s.lockLost.aborted, "with a new lockLost signal");
    await s.checkpoint(wm(2), 2);
    t.match(await env.row(), { id: "2" }, "and writes again");
  },
);

t.test("a reset of the lock connection aborts lockLost, and the store recovers on its next operation", async (t) => {
  const env = await setup(t);
  const proxy = await env.proxy();
  const s = env.store({ port: proxy.port });
  await s.open();
  await s.begin();
  const lost = s.lockLost;
  proxy.resetAll();
  await until(() => lost.aborted, "lockLost aborts after the reset");
  await until(async () => (await env.holderId(s)) === null, "the server releases the lock of the reset connection");
  await t.rejects(s.checkpoint(wm(1), 1), FencedError, "no write after the loss");
  await s.begin();
  await s.checkpoint(wm(1), 1);
  t.match(await env.row(), { id: "1" }, "the next begin() reconnected, re-took the lock and writes");
});

t.test("a black-holed statement fails with a transient deadline error naming the server and the operation; the next operation reconnects", async (t) => {
  const env = await setup(t);
  const proxy = await env.proxy();
  // A slow lock check, so that the checkpoint itself meets the black hole.
  const s = env.store({ port: proxy.port, queryTimeoutMs: 1500, lockCheckIntervalMs: 60_000 });
  await s.open();
  await s.begin();
  proxy.blackhole();
  const err = await settlesWithin(
    s.checkpoint(wm(1), 1).then(
      () => null,
      (e: unknown) => e,
    ),
    30_000,
    "a checkpoint on a black-holed connection",
  );
  t.match(err, { name: "TrackingError", code: "E_TRACKING_TRANSIENT", transient: true }, "a transient TrackingError");
  t.match(
    (err as Error).message,
    new RegExp(`committing a checkpoint.*127\\.0\\.0\\.1:${proxy.port}.*E_MARIADB_DEADLINE`),
    "naming operation, server and deadline",
  );
  t.ok(s.lockLost.aborted, "the store gave the lock up with the destroyed connection");
  const orphan = await env.holderId(s);
  t.ok(orphan, "the server still sees the abandoned session holding the lock");
  proxy.forward();
  await s.begin();
  t.not(await env.holderId(s), orphan, "the next begin() ended the store's own orphan and took the lock on a new connection");
  await s.checkpoint(wm(2), 2);
  t.match(await env.row(), { id: "2" }, "and writes");
});

t.test("a lock connection that stops answering aborts lockLost within the query deadline, and close() does not hang", async (t) => {
  const env = await setup(t);
  const proxy = await env.proxy();
  const s = env.store({ port: proxy.port, queryTimeoutMs: 1000 });
  await s.open();
  proxy.blackhole();
  await until(() => s.lockLost.aborted, "the lock check's deadline aborts lockLost");
  await t.rejects(s.finish({ checkpoint: wm(1), rows: 1 }), FencedError, "no write after the loss");
  await s.begin().catch(() => undefined); // reconnects into the black hole and fails
  await settlesWithin(s.close(), 10_000, "close() on a black-holed connection");
  t.pass("close() returned");
});

t.test("open() gives up at once when its signal aborts during the retry backoff", async (t) => {
  const env = await setup(t);
  const proxy = await env.proxy();
  proxy.refuse();
  const stop = new AbortController();
  let retries = 0;
  const s = env.store({
    port: proxy.port,
    retry: { maxRetries: 5, initialBackoff: 60, maxBackoff: 60, backoffMultiplier: 1 },
    onRetry: () => {
      retries++;
      stop.abort(new Error("SIGTERM"));
    },
  });
  const err = await settlesWithin(
    s.open(stop.signal).then(
      () => null,
      (e: unknown) => e,
    ),
    20_000,
    "open() aborted during a 60 s backoff",
  );
  t.equal(retries, 1, "it was waiting out its first backoff");
  t.match(err, { message: "SIGTERM" }, "it rejects with the signal's reason");
});

t.test("acquire() waits as a standby, reports the holder once, and stops when its signal aborts", async (t) => {
  const env = await setup(t);
  const first = env.store();
  const second = env.store();
  await first.open();
  const stop = new AbortController();
  const waits: unknown[] = [];
  const waiting = second.acquire(stop.signal, (holder) => {
    waits.push(holder);
  });
  await until(() => waits.length > 0, "the standby reports the holder");
  stop.abort(new Error("SIGTERM"));
  await t.rejects(settlesWithin(waiting, 10_000, "acquire() after abort"), { message: "SIGTERM" });
  t.match(waits, [{ connectionId: await env.holderId(first) }], "one report while the holder stays the same");
  t.notOk(second.holdsLock);
});

t.test("release() hands the lock over and the same store takes it back later", async (t) => {
  const env = await setup(t);
  const first = env.store();
  const second = env.store();
  await first.open();
  const tenure = first.lockLost;
  await first.release();
  t.ok(tenure.aborted, "release() aborts lockLost");
  await t.rejects(first.checkpoint(wm(1), 1), FencedError, "no write after release()");
  t.match(await second.tryAcquire(), { acquired: true }, "the other store takes the released lock");
  await second.begin();
  await second.checkpoint(wm(1), 1);
  t.match(await first.tryAcquire(), { acquired: false }, "the first now waits");
  await second.release();
  t.match(await first.tryAcquire(), { acquired: true }, "and takes the lock back on the same store object");
  t.same(await first.load(), wm(1));
  await first.begin();
  await first.checkpoint(wm(2), 2);
  t.match(await env.row(), { id: "2" });
});

t.test("close() releases the lock before it returns, so a successor started right after finds it free", async (t) => {
  const env = await setup(t);
  for (let i = 0; i < 5; i++) {
    const holder = env.store();
    await holder.open();
    t.not(await env.holderId(holder), null, `round ${i}: held`);
    await holder.close();
    // Asked on another connection the moment close() resolved: ending the session alone frees
    // the lock only once the server's thread for it has finished.
    t.equal(await env.holderId(holder), null, `round ${i}: free as soon as close() returned`);
  }
});

t.test("a statement stuck on a black hole gives up as soon as its signal aborts, long before its deadline", async (t) => {
  const env = await setup(t);
  const proxy = await env.proxy();
  const s = env.store({ port: proxy.port, queryTimeoutMs: 600_000, lockCheckIntervalMs: 600_000 });
  await s.open();
  await s.begin();
  proxy.blackhole();
  const kill = new AbortController();
  const accepted = proxy.accepted;
  const writing = s.checkpoint(wm(1), 1, kill.signal).then(
    () => null,
    (e: unknown) => e,
  );
  await until(() => proxy.swallowed > 0, "the checkpoint is stuck in the black hole");
  kill.abort(new Error("second SIGTERM"));
  t.match(await settlesWithin(writing, 10_000, "an aborted checkpoint"), { message: "second SIGTERM" }, "rejects with the signal's reason");
  t.ok(s.lockLost.aborted, "its connection (and with it the lock) was given up");
  t.equal(proxy.accepted, accepted, "and not retried");
  proxy.forward();
  t.match(await env.row(), { STATUS: "RUNNING", id: null }, "the row does not have the aborted checkpoint");
});

t.test("a holder whose network vanishes without closing TCP frees its lock for a standby after the session idle timeout", async (t) => {
  const env = await setup(t);
  const proxy = await env.proxy();
  // wait_timeout = query timeout + 10 lock checks = 2 s.
  const holder = env.store({ port: proxy.port, queryTimeoutMs: 1000, lockCheckIntervalMs: 100 });
  const standby = env.store({ queryTimeoutMs: 1000, lockCheckIntervalMs: 100 });
  t.equal(holder.sessionIdleSeconds, 2);
  await holder.open();
  await standby.prepare();
  t.match(await standby.tryAcquire(), { acquired: false }, "the standby waits");
  proxy.blackhole(); // the server keeps the holder's session: it never hears of the client again
  await until(() => holder.lockLost.aborted, "the holder fences itself");
  await settlesWithin(standby.acquire(), 30_000, "the standby's acquire()");
  t.ok(standby.holdsLock, "the server ended the orphaned session and the standby took over, with nobody running KILL");
});
