/**
 * The service as operators run it, in loop mode, when MariaDB kills the connection that holds
 * the program lock: no crash and no stack dump; the next cycle takes the lock again on a new
 * connection and publishes on; SIGTERM still exits 0; every row exactly once.
 */
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { lockName } from "../../src/adapters/mariadb-tracking";
import { startCli } from "../helpers/cli";
import { exactlyOnce, fixture } from "../helpers/fixture";
import { idsOf } from "../helpers/services";
import { until } from "../helpers/tcp-proxy";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

t.test("KILL of the lock connection while the loop idles: the service keeps running, re-takes the lock and publishes on", async (t) => {
  const f = await fixture(t);
  await f.insert(sampleRows(50));
  const { child, result } = startCli(["--config", f.configFile({ publisher: { polling_interval: 0.2 } })]);
  let exited = false;
  void result.then(() => {
    exited = true;
  });
  t.teardown(() => {
    if (!exited) child.kill("SIGKILL");
  });
  const name = lockName("test", f.program);
  const holder = async () => {
    const rows = (await f.db.query({ sql: "SELECT IS_USED_LOCK(?)", rowsAsArray: true }, [name])) as unknown[][];
    const id = rows[0]?.[0];
    return id === null || id === undefined ? null : Number(id);
  };
  await until(async () => (await f.tracking())?.id === "50", "the first rows are committed", 60_000);
  const first = await holder();
  t.ok(first, "the service holds its lock");
  await f.db.query(`KILL CONNECTION ${first}`);
  await until(async () => exited || ((await holder()) ?? first) !== first, "the lock is held again on another connection", 60_000);
  t.notOk(exited, "the process survived the KILL");
  await f.insert(sampleRows(50, { firstId: 51n, start: "2026-01-02 00:00:00.000000" }));
  await until(async () => exited || (await f.tracking())?.id === "100", "the later rows are committed", 60_000);
  child.kill("SIGTERM");
  const r = await result;
  t.equal(r.code, 0, `SIGTERM exits 0 (${r.stderr.slice(0, 2000)})`);
  t.notMatch(r.stderr, /\n\s+at /, "no stack dump");
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, 100)), { duplicates: [], missing: [] }, "every row exactly once");
});
