/**
 * Fencing through the real binary: the active instance's lock connection is KILLed (found by
 * IS_USED_LOCK) in the middle of a backlog while a standby waits. The standby takes over, the
 * old active one stops publishing at once (each instance stamps its own data_type, so the
 * stream shows who stored what: nothing of the old one after the new one's first message),
 * the watermark never moves backwards (sampled all along), and every row is in the stream
 * exactly once with a 1 s duplicate window. The old active one goes back to standby.
 */
import t from "tap";
import { connectLocal, sampleRows } from "../../scripts/lib/txlog-table";
import { lockName } from "../../src/adapters/mariadb-tracking";
import { exactlyOnce, type Fixture, fixture } from "../helpers/fixture";
import { isActive, isLockLost, isStandby, startInstance } from "../helpers/instance";
import { idsOf } from "../helpers/services";
import { until } from "../helpers/tcp-proxy";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

function config(f: Fixture, dataType: string): string {
  return f.configFile({
    nats: { duplicate_window: 1 },
    events: { data_type: dataType },
    publisher: { polling_interval: 0.2, batch_size: 100, max_records_per_run: 2000, max_in_flight: 32, checkpoint_interval: 0.1 },
    logging: { level: "info" },
  });
}

async function lockHolder(f: Fixture): Promise<number | null> {
  const rows = (await f.db.query({ sql: "SELECT IS_USED_LOCK(?)", rowsAsArray: true }, [lockName("test", f.program)])) as unknown[][];
  const id = rows[0]?.[0];
  return id === null || id === undefined ? null : Number(id);
}

/** Samples the committed watermark until stopped; records every step backwards. */
function watermarkSampler(f: Fixture) {
  const regressions: string[] = [];
  let last: { ts: string; id: bigint } | null = null;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    const sampler = await connectLocal();
    try {
      while (running) {
        const rows = (await sampler.query(
          "SELECT DATE_FORMAT(LAST_SUCCESSFUL_TIME, '%Y-%m-%d %H:%i:%s.%f') AS ts, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id FROM ETL_PRMREC WHERE PROGRAM_NAME = ?",
          [f.program],
        )) as Array<{ ts: string | null; id: string | null }>;
        const row = rows[0];
        if (row?.ts && row.id) {
          samples++;
          const now = { ts: row.ts, id: BigInt(row.id) };
          if (last && (now.ts < last.ts || (now.ts === last.ts && now.id < last.id))) regressions.push(`${last.ts}/${last.id} -> ${now.ts}/${now.id}`);
          last = now;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await sampler.end();
    }
  })();
  return {
    regressions,
    get samples() {
      return samples;
    },
    async stop() {
      running = false;
      await loop.catch(() => undefined);
    },
  };
}

t.test(
  "KILL of the active instance's lock connection while a standby waits: take-over, no publish after the loss, no watermark regression, exactly once",
  async (t) => {
    const f = await fixture(t);
    const total = 20_000;
    await f.insert(sampleRows(total));
    const sampler = watermarkSampler(f);
    t.teardown(() => sampler.stop());

    const a = startInstance(t, "A", config(f, "from_a"));
    await a.waitLog(isActive, "A takes the lock");
    const b = startInstance(t, "B", config(f, "from_b"));
    await b.waitLog(isStandby, "B waits as a standby");

    await until(async () => Number((await f.tracking())?.id ?? 0) >= 3000, "A has committed part of the backlog", 60_000);
    const holder = await lockHolder(f);
    t.ok(holder, "A holds the lock");
    await f.db.query(`KILL CONNECTION ${holder}`);
    const lost = await a.waitLog(isLockLost, "A says it lost the lock");
    t.match(lost, { level: 40, program: f.program }, "a warning");
    await b.waitLog(isActive, "B takes over");
    await a.waitLog((l) => isStandby(l) && l.holder_connection_id !== holder, "A waits as a standby behind B");
    t.notOk(a.exited, "A survived, as a standby");

    await until(async () => (await f.tracking())?.id === String(total), "B commits the whole backlog", 90_000);
    await until(async () => (await f.tracking())?.STATUS === "SUCCESS", "B's cycle ends with SUCCESS", 60_000);
    await sampler.stop();
    t.ok(sampler.samples > 10, `the watermark was sampled (${sampler.samples} samples)`);
    t.same(sampler.regressions, [], "the watermark never moved backwards");

    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    t.equal((await a.result).code, 0, "the standby exits 0 on SIGTERM");
    t.equal((await b.result).code, 0);

    const messages = (await f.messages()).filter((m) => m.subject === f.subject);
    const fromA = messages.filter((m) => m.json.data_type === "from_a").map((m) => m.seq);
    const fromB = messages.filter((m) => m.json.data_type === "from_b").map((m) => m.seq);
    t.ok(fromA.length > 0 && fromB.length > 0, `both published (A ${fromA.length}, B ${fromB.length})`);
    t.ok(Math.max(...fromA) < Math.min(...fromB), "nothing of A's was stored after B's first message: A stopped publishing when its lock was lost");
    const ids = idsOf(messages, f.subject);
    t.same(exactlyOnce(ids, range(1, total)), { duplicates: [], missing: [] }, "every row exactly once in the stream");
    t.equal(ids.length, total, "nothing published twice");
  },
);
