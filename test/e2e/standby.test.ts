/**
 * Hot standby through the real binary: two and three instances of one program, the active one
 * SIGKILLed mid-backlog; a standby takes over and every row is in the stream exactly once,
 * with a 1 s duplicate window so that de-duplication cannot hide a double publish. And the
 * old behaviour: with publisher.standby false a second instance exits 1 naming the holder.
 */
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { lockName } from "../../src/adapters/mariadb-tracking";
import { exactlyOnce, type Fixture, fixture } from "../helpers/fixture";
import { type Instance, isActive, isStandby, startInstance } from "../helpers/instance";
import { idsOf } from "../helpers/services";
import { until } from "../helpers/tcp-proxy";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

/** Small cycles and a narrow window, so a kill lands in the middle of a backlog. */
function standbyConfig(f: Fixture, extra: { publisher?: object } = {}): string {
  return f.configFile({
    nats: { duplicate_window: 1 },
    publisher: { polling_interval: 0.2, batch_size: 100, max_records_per_run: 500, max_in_flight: 32, checkpoint_interval: 0.2, ...extra.publisher },
    logging: { level: "info" },
  });
}

async function lockHolder(f: Fixture): Promise<number | null> {
  const rows = (await f.db.query({ sql: "SELECT IS_USED_LOCK(?)", rowsAsArray: true }, [lockName("test", f.program)])) as unknown[][];
  const id = rows[0]?.[0];
  return id === null || id === undefined ? null : Number(id);
}

const committedId = async (f: Fixture) => Number((await f.tracking())?.id ?? 0);

/** The one instance of `instances` that logged taking the lock after line `from[i]`, once exactly one has. */
async function nextActive(instances: Instance[], from: number[]): Promise<Instance> {
  let found: Instance[] = [];
  await until(
    () => {
      found = instances.filter((x, i) => x.find(isActive, from[i]) >= 0);
      return found.length > 0;
    },
    "a standby takes over",
    60_000,
  );
  if (found.length !== 1) throw new Error(`${found.length} instances took the lock`);
  return found[0] as Instance;
}

t.test("two instances: the standby names the holder, takes over after a SIGKILL of the active one, every row exactly once", async (t) => {
  const f = await fixture(t);
  const total = 12_000;
  await f.insert(sampleRows(total));
  const config = standbyConfig(f);
  const a = startInstance(t, "A", config);
  await a.waitLog(isActive, "A takes the lock");
  const b = startInstance(t, "B", config);
  const waiting = await b.waitLog(isStandby, "B waits as a standby");
  t.equal(waiting.holder_connection_id, await lockHolder(f), "the standby names the holder's MariaDB connection id");
  t.match(waiting, { program: f.program, holder_host: /^(localhost|127\.0\.0\.1)/ }, "and its host");
  t.equal(
    b.find((l) => l.msg === "cycle done"),
    -1,
    "the standby ran no cycle",
  );

  await until(async () => (await committedId(f)) >= 1500, "A has committed part of the backlog", 60_000);
  a.child.kill("SIGKILL");
  await a.result;
  const killedAt = Date.now();
  const before = await committedId(f);
  const took = await b.waitLog(isActive, "B takes over");
  t.comment(`take-over ${Date.now() - killedAt} ms after the SIGKILL; A had committed up to ID ${before}`);
  t.type(took.waited_s, "number");
  await until(async () => (await f.tracking())?.id === String(total), "B commits the whole backlog", 90_000);
  await until(async () => (await f.tracking())?.STATUS === "SUCCESS", "B's cycle ends with SUCCESS", 60_000);

  // A third instance, standing by, stops at once on SIGTERM.
  const c = startInstance(t, "C", config);
  await c.waitLog(isStandby, "C waits as a standby");
  c.child.kill("SIGTERM");
  const rc = await c.result;
  t.equal(rc.code, 0, `a standby exits 0 on SIGTERM (${rc.stderr.slice(0, 500)})`);
  t.equal(rc.stderr, "");

  b.child.kill("SIGTERM");
  t.equal((await b.result).code, 0);
  const ids = idsOf(await f.messages(), f.subject);
  t.same(exactlyOnce(ids, range(1, total)), { duplicates: [], missing: [] }, "every row exactly once in the stream");
  t.equal(ids.length, total, "nothing published twice");
});

t.test("three instances: the active one SIGKILLed twice in a row; the last one finishes; every row exactly once", async (t) => {
  const f = await fixture(t);
  const total = 15_000;
  await f.insert(sampleRows(total));
  const config = standbyConfig(f);
  const all = ["A", "B", "C"].map((name) => startInstance(t, name, config));
  let from = all.map(() => 0);
  let active = await nextActive(all, from);
  for (const x of all.filter((x) => x !== active)) await x.waitLog(isStandby, "waits as a standby");

  for (const threshold of [2000, 5000]) {
    await until(async () => (await committedId(f)) >= threshold, `ID ${threshold} committed`, 90_000);
    from = all.map((x) => x.lines.length);
    active.child.kill("SIGKILL");
    await active.result;
    const rest = all.filter((x) => !x.exited);
    active = await nextActive(
      rest,
      rest.map((x) => from[all.indexOf(x)] ?? 0),
    );
    t.comment(`${active.name} took over at ID ${await committedId(f)}`);
  }
  await until(async () => (await f.tracking())?.id === String(total), "the last instance commits the whole backlog", 90_000);
  active.child.kill("SIGTERM");
  t.equal((await active.result).code, 0);
  const ids = idsOf(await f.messages(), f.subject);
  t.same(exactlyOnce(ids, range(1, total)), { duplicates: [], missing: [] }, "every row exactly once in the stream");
  t.equal(ids.length, total, "nothing published twice");
});

t.test("publisher.standby false: a second instance exits 1 with one line naming the holder", async (t) => {
  const f = await fixture(t);
  await f.insert(sampleRows(10));
  const a = startInstance(t, "A", standbyConfig(f));
  await a.waitLog(isActive, "A takes the lock");
  const b = startInstance(t, "B", standbyConfig(f, { publisher: { standby: false } }));
  const r = await b.result;
  t.equal(r.code, 1);
  t.match(r.stderr, /^oracle-nats-publisher: error: another instance is already running program \S+ \(MariaDB lock \S+ is held by MariaDB connection \d+/);
  t.equal(r.stderr.trim().split("\n").length, 1, "one line");
  a.child.kill("SIGTERM");
  t.equal((await a.result).code, 0);
});
