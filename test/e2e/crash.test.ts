/**
 * The service as operators run it (node dist/main.js), killed and restarted: every row must
 * land in the stream exactly once, and SIGTERM must stop it cleanly.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { runCli, startCli } from "../helpers/cli";
import { exactlyOnce, type Fixture, fixture } from "../helpers/fixture";
import { idsOf } from "../helpers/services";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Messages the fixture's stream holds now (0 while the service has not created it yet). */
async function streamMessages(f: Fixture): Promise<number> {
  const jsm = await jetstreamManager(f.nc);
  return jsm.streams.info(f.stream).then(
    (info) => info.state.messages,
    () => 0,
  );
}

t.test("SIGKILL mid-run, twice, then restart: every row exactly once", async (t) => {
  const f = await fixture(t);
  const total = 40_000;
  await f.insert(sampleRows(total, { perTimestamp: 3 }));
  const config = f.configFile({ publisher: { batch_size: 500, max_records_per_run: 15_000, checkpoint_interval: 0.2, polling_interval: 0.5 } });
  let killedAt: string[] = [];
  for (let round = 0; round < 2; round++) {
    const { child, result } = startCli(["--config", config]);
    const before = Number((await f.tracking())?.id ?? 0);
    // Kill once this process has committed a checkpoint of its own (mid-run) and the stream is
    // seen ahead of the committed watermark (rows stored but not yet committed: a replay).
    await waitFor("a checkpoint, with the stream ahead of it", async () => {
      const committed = Number((await f.tracking())?.id ?? 0);
      return committed > before + 2000 && (await streamMessages(f)) > committed;
    });
    child.kill("SIGKILL");
    const r = await result;
    t.equal(r.signal, "SIGKILL", `round ${round}: killed`);
    killedAt = [...killedAt, (await f.tracking())?.id ?? "?"];
  }
  t.ok(Number(killedAt[1]) < total, `killed before the end (watermarks at kill: ${killedAt.join(", ")})`);
  const stored = idsOf(await f.messages(), f.subject).length;
  // The watermark never passes what the stream holds. (The stream was seen ahead of it just
  // before the kill, but a checkpoint may catch up in between; the replay past a checkpoint is
  // proven deterministically by the duplicate-window test below, which holds its checkpoint.)
  t.ok(stored >= Number(killedAt[1]), `the committed watermark is never ahead of the stream (${stored} stored, ${killedAt[1]} committed)`);
  const { child, result } = startCli(["--config", config]);
  await waitFor("the rest of the backlog", async () => (await f.tracking())?.id === String(total));
  child.kill("SIGTERM");
  const r = await result;
  t.equal(r.code, 0, `SIGTERM exits 0 (${r.stderr})`);
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, total)), { duplicates: [], missing: [] }, "exactly once");
  t.equal((await f.messages()).length, total, "no extra messages");
});

t.test("SIGTERM mid-run stops reading, waits for in-flight acks and commits exactly what was acknowledged", async (t) => {
  const f = await fixture(t);
  const total = 60_000;
  await f.insert(sampleRows(total));
  const config = f.configFile({ publisher: { batch_size: 500, checkpoint_interval: 0.2 }, logging: { level: "info" } });
  const { child, result } = startCli(["--config", config]);
  await waitFor("progress", async () => Number((await f.tracking())?.id ?? 0) > 3000);
  child.kill("SIGTERM");
  const r = await result;
  t.equal(r.code, 0, r.stderr);
  const tracking = await f.tracking();
  t.equal(tracking?.STATUS, "SUCCESS");
  const ids = idsOf(await f.messages(), f.subject);
  t.ok(ids.length < total, `stopped early (${ids.length} of ${total})`);
  t.same(ids, range(1, ids.length), "what was published is an exact prefix");
  t.equal(tracking?.id, String(ids.length), "the committed watermark is the last published row: nothing in flight was abandoned");
  t.match(r.stdout, /"msg":"stopping: no new reads, waiting for in-flight acks"/);
});

t.test("killed, then restarted after the stream's duplicate window has passed: the stream itself says what was stored, still exactly once", async (t) => {
  const f = await fixture(t);
  const total = 30_000;
  const committedFirst = 2000;
  await f.insert(sampleRows(total));
  // The service creates the stream with a 1 s duplicate window: msg-id de-duplication alone
  // cannot absorb a replay that comes later than that.
  const nats = { duplicate_window: 1 };
  const publisher = { batch_size: 500, polling_interval: 0.5 };
  // 1. A committed watermark (with its resume sequence) to be ahead of.
  const once = await runCli(["--once", "--config", f.configFile({ nats, publisher: { ...publisher, max_records_per_run: committedFirst } })]);
  t.equal(once.code, 0, once.stderr);
  t.equal((await f.tracking())?.id, String(committedFirst), "first run committed its rows");
  // 2. A run that holds its checkpoint back (nothing is committed before the cycle's end), killed
  //    once the stream is observed to hold rows past the committed watermark: the state the
  //    restart must recover from is then certain, whatever the machine's load.
  const held = startCli(["--config", f.configFile({ nats, publisher: { ...publisher, checkpoint_interval: 3600 } })]);
  await waitFor("rows stored past the committed watermark", async () => (await streamMessages(f)) >= committedFirst + 2000, 100_000);
  held.child.kill("SIGKILL");
  t.equal((await held.result).signal, "SIGKILL");
  const committed = Number((await f.tracking())?.id ?? 0);
  t.equal(committed, committedFirst, "the killed run committed nothing");
  await sleep(1500); // the duplicate window is over (time itself, not a state to observe)
  const stored = idsOf(await f.messages(), f.subject).length;
  t.ok(stored > committed && stored < total, `rows past the checkpoint were stored before the kill (${stored} stored, ${committed} committed)`);
  // 3. The restart finds them in the stream and does not publish them again.
  const second = startCli(["--config", f.configFile({ nats, publisher: { ...publisher, checkpoint_interval: 0.5 }, logging: { level: "info" } })]);
  await waitFor("the rest of the backlog", async () => (await f.tracking())?.id === String(total), 100_000);
  second.child.kill("SIGTERM");
  const r = await second.result;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /"msg":"scanned the stream for messages already stored past the watermark"/);
  const recovered = /"recovered":(\d+)/.exec(r.stdout)?.[1];
  t.equal(Number(recovered), stored - committed, "exactly the rows stored past the checkpoint were recognised and not published again");
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, total)), { duplicates: [], missing: [] }, "exactly once");
});

t.test("a brand-new program killed in its first cycle, before any checkpoint, then restarted after the duplicate window: every row exactly once", async (t) => {
  const f = await fixture(t);
  const total = 30_000;
  await f.insert(sampleRows(total));
  const nats = { duplicate_window: 1 };
  const publisher = { batch_size: 500, polling_interval: 0.5 };
  // No checkpoint of progress before the cycle's end: what the kill leaves is the program's
  // very first cycle with rows stored and no watermark committed.
  const first = startCli(["--config", f.configFile({ nats, publisher: { ...publisher, checkpoint_interval: 3600 } })]);
  await waitFor("rows stored by the first cycle", async () => (await streamMessages(f)) >= 2000, 100_000);
  first.child.kill("SIGKILL");
  t.equal((await first.result).signal, "SIGKILL");
  t.equal((await f.tracking())?.id ?? null, null, "no watermark was committed");
  await sleep(1500); // the duplicate window is over (time itself, not a state to observe)
  const stored = idsOf(await f.messages(), f.subject).length;
  t.ok(stored > 0 && stored < total, `rows were stored before the kill (${stored})`);
  const second = startCli(["--config", f.configFile({ nats, publisher: { ...publisher, checkpoint_interval: 0.5 }, logging: { level: "info" } })]);
  await waitFor("the whole backlog", async () => (await f.tracking())?.id === String(total), 100_000);
  second.child.kill("SIGTERM");
  const r = await second.result;
  t.equal(r.code, 0, r.stderr);
  t.equal(Number(/"recovered":(\d+)/.exec(r.stdout)?.[1]), stored, "the restart found every row the killed cycle stored");
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(1, total)), { duplicates: [], missing: [] }, "exactly once");
});
