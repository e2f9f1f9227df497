/**
 * The service's whole MariaDB path (tracking store, lock and source) through a TCP proxy that
 * refuses, resets and black-holes, with the real binary in loop mode. Whatever the fault, the
 * process never hangs or dumps a stack: it recovers by itself once the proxy forwards again,
 * and STATUS is never left RUNNING by a failed cycle (FAILED with the reason, then SUCCESS).
 * SIGTERM during a black hole exits 0 within a few seconds. Each ends by reading the stream back.
 */
import t, { type Test } from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { rawConfig } from "../helpers/config";
import { exactlyOnce, type Fixture, fixture } from "../helpers/fixture";
import { type Instance, isActive, startInstance } from "../helpers/instance";
import { idsOf, uniqueName, writeConfig } from "../helpers/services";
import { settlesWithin, startTcpProxy, type TcpProxy, until } from "../helpers/tcp-proxy";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

/** Short deadlines so that each fault shows within seconds (the defaults are 30 s and 1 s). */
function proxiedConfig(f: Fixture, proxy: TcpProxy, mariadb: object = {}): string {
  const raw = rawConfig(f, { logging: { level: "info" }, publisher: { polling_interval: 0.2, failure_backoff: 0.2, shutdown_timeout: 30 } });
  raw.mariadb = {
    ...(raw.mariadb as object),
    port: proxy.port,
    connect_timeout: 2,
    query_timeout: 2,
    lock_check_interval: 0.5,
    retry: { max_retries: 1, initial_backoff: 0.1, max_backoff: 0.2, backoff_multiplier: 2 },
    ...mariadb,
  };
  return writeConfig(f.dir, raw, `${uniqueName("cfg")}.yaml`);
}

let nextId = 1;
async function insertMore(f: Fixture, count: number): Promise<number> {
  const first = nextId;
  nextId += count;
  const day = String(1 + Math.floor(first / 1000)).padStart(2, "0");
  await f.insert(sampleRows(count, { firstId: BigInt(first), start: `2026-02-${day} 00:00:${String(first % 60).padStart(2, "0")}.000000` }));
  return nextId - 1;
}

const committed = async (f: Fixture, id: number) => {
  const row = await f.tracking();
  return row?.id === String(id) && row.STATUS === "SUCCESS";
};

async function start(t: Test, f: Fixture, proxy: TcpProxy, mariadb: object = {}): Promise<Instance> {
  const a = startInstance(t, "A", proxiedConfig(f, proxy, mariadb));
  await a.waitLog(isActive, "takes the lock");
  return a;
}

async function stopCleanly(t: Test, a: Instance): Promise<void> {
  const sent = Date.now();
  a.child.kill("SIGTERM");
  const r = await settlesWithin(a.result, 30_000, "SIGTERM");
  t.comment(`exited ${Date.now() - sent} ms after SIGTERM`);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(0, 500)})`);
  t.equal(r.stderr, "", "nothing on stderr, no stack dump");
}

t.test("MariaDB refuses new connections: the cycle records FAILED with the reason; once it accepts again, SUCCESS; exactly once", async (t) => {
  nextId = 1;
  const f = await fixture(t);
  const proxy = await startTcpProxy();
  t.teardown(() => proxy.close());
  let last = await insertMore(f, 50);
  const a = await start(t, f, proxy);
  await until(() => committed(f, last), "the first rows are committed", 60_000);

  proxy.refuse();
  last = await insertMore(f, 50);
  await until(async () => (await f.tracking())?.STATUS === "FAILED", "a cycle records FAILED", 60_000);
  t.match((await f.tracking())?.ERROR_MESSAGE, /127\.0\.0\.1:\d+/, "ERROR_MESSAGE names the server");
  t.notOk(a.exited, "the service keeps running");

  proxy.forward();
  await until(() => committed(f, last), "SUCCESS again once MariaDB accepts connections", 60_000);
  await stopCleanly(t, a);
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, last)), { duplicates: [], missing: [] }, "every row exactly once");
});

t.test("every MariaDB connection reset (lock included) while MariaDB stays away: back to standby, then active again by itself; exactly once", async (t) => {
  nextId = 1;
  const f = await fixture(t);
  const proxy = await startTcpProxy();
  t.teardown(() => proxy.close());
  let last = await insertMore(f, 50);
  const a = await start(t, f, proxy);
  await until(() => committed(f, last), "the first rows are committed", 60_000);

  proxy.refuse();
  proxy.resetAll();
  await a.waitLog((l) => typeof l.msg === "string" && l.msg.startsWith("lock lost"), "says the lock was lost");
  await a.waitLog((l) => typeof l.msg === "string" && l.msg.startsWith("standby: cannot check the program lock"), "says it cannot check the lock");
  last = await insertMore(f, 50);
  const activeLines = a.lines.filter((l) => isActive(l)).length;
  proxy.forward();
  await until(() => a.lines.filter((l) => isActive(l)).length > activeLines, "takes the lock again", 60_000);
  await until(() => committed(f, last), "SUCCESS again with the later rows", 60_000);
  t.notOk(a.exited);
  await stopCleanly(t, a);
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, last)), { duplicates: [], missing: [] }, "every row exactly once");
});

t.test(
  "MariaDB black-holed: the lock check misses its deadline, publishing stops; recovery when it answers again; SIGTERM in a black hole exits 0",
  async (t) => {
    nextId = 1;
    const f = await fixture(t);
    const proxy = await startTcpProxy();
    t.teardown(() => proxy.close());
    let last = await insertMore(f, 50);
    const a = await start(t, f, proxy);
    await until(() => committed(f, last), "the first rows are committed", 60_000);

    proxy.blackhole();
    await a.waitLog((l) => typeof l.msg === "string" && l.msg.startsWith("lock lost"), "says the lock was lost");
    last = await insertMore(f, 50);
    const activeLines = a.lines.filter((l) => isActive(l)).length;
    proxy.forward();
    await until(() => a.lines.filter((l) => isActive(l)).length > activeLines, "takes the lock again", 60_000);
    await until(() => committed(f, last), "SUCCESS again with the later rows", 60_000);
    t.notOk(a.exited, "survived the black hole");

    // Black-holed again, now with a cycle that has rows to read: SIGTERM must still end it.
    proxy.blackhole();
    last = await insertMore(f, 50);
    await until(() => proxy.swallowed > 0, "a statement is stuck in the black hole", 60_000);
    await stopCleanly(t, a);
    proxy.forward();
    const ids = idsOf(await f.messages(), f.subject);
    t.same(exactlyOnce(ids, range(1, 100)), { duplicates: [], missing: [] }, "the rows before the last black hole exactly once");
    t.ok(ids.length <= last, "nothing beyond the table");
  },
);

t.test("SIGTERM while a cycle's reads are stuck in a black hole, with the default 30 s query_timeout, exits 0 within a few seconds", async (t) => {
  nextId = 1;
  const f = await fixture(t);
  const proxy = await startTcpProxy();
  t.teardown(() => proxy.close());
  const total = await insertMore(f, 20_000);
  const a = await start(t, f, proxy, { query_timeout: 30, lock_check_interval: 1 });
  // In the middle of one long cycle: its page queries and checkpoints go to MariaDB all the time.
  await until(async () => Number((await f.tracking())?.id ?? 0) >= 300, "the cycle is under way", 60_000);
  proxy.blackhole();
  await until(() => proxy.swallowed > 200, "a page query or a checkpoint is stuck in the black hole", 60_000);
  const sent = Date.now();
  a.child.kill("SIGTERM");
  // Without a bound on the commit after the stop, this waits out query_timeout (30 s).
  const r = await settlesWithin(a.result, 15_000, "SIGTERM in a black hole");
  t.comment(`exited ${Date.now() - sent} ms after SIGTERM`);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, "", "no stack dump");
  proxy.forward();
  const ids = idsOf(await f.messages(), f.subject);
  t.ok(ids.length < total, `the cycle was cut short (${ids.length} of ${total} stored)`);
  t.same(exactlyOnce(ids, range(1, ids.length)), { duplicates: [], missing: [] }, "what was stored is a prefix, each row once");
});
