/**
 * Leadership over the program lock (the poll loop's beforeCycle), over an in-memory lock:
 * what a standby logs and when, take-over, stepping back after a loss, stop, and the old
 * exit-when-taken behaviour.
 */
import t from "tap";
import { LockError, TrackingError } from "../../src/errors";
import { Leadership, type LockHolderInfo, type ProgramLock, STANDBY_LOG_INTERVAL_MS, STEP_BACK_INTERVALS } from "../../src/service/leadership";

type Step = { acquired: true } | { acquired: false; holder: LockHolderInfo | null } | Error;

class FakeLock implements ProgramLock {
  readonly lockName = "oracle-nats-publisher:test";
  holdsLock = false;
  private tenure = new AbortController();
  attempts = 0;
  constructor(private readonly steps: Step[]) {}
  get lockLost(): AbortSignal {
    return this.tenure.signal;
  }
  async tryAcquire(): Promise<{ acquired: true } | { acquired: false; holder: LockHolderInfo | null }> {
    const step = this.steps[Math.min(this.attempts++, this.steps.length - 1)] as Step;
    if (step instanceof Error) throw step;
    if (step.acquired) {
      this.holdsLock = true;
      this.tenure = new AbortController();
    }
    return step;
  }
  async open(): Promise<void> {
    const r = await this.tryAcquire();
    if (!r.acquired) throw new LockError(`another instance is already running program p (held by MariaDB connection ${r.holder?.connectionId})`);
  }
  lose(): void {
    this.holdsLock = false;
    this.tenure.abort(new Error("lock connection killed"));
  }
}

function harness(lock: FakeLock, wait = true) {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  let clock = 0;
  const waits: number[] = [];
  const leadership: boolean[] = [];
  let actives = 0;
  const l = new Leadership({
    lock,
    program: "p",
    wait,
    retryMs: 1000,
    log: { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") },
    onActive: async () => {
      actives++;
    },
    onLeadership: (a) => leadership.push(a),
    sleep: async (ms, signal) => {
      if (signal.aborted) throw signal.reason;
      waits.push(ms);
      clock += ms;
    },
    now: () => clock,
  });
  return { l, lines, waits, leadership, actives: () => actives };
}

const holder = (id: number): Step => ({ acquired: false, holder: { connectionId: id, host: "10.0.0.7:51234", user: "onp" } });

t.test("a standby logs the holder once, again when it changes and every minute, then takes over and returns the fence", async (t) => {
  const waitingSteps = Math.ceil(STANDBY_LOG_INTERVAL_MS / 1000) + 2;
  const lock = new FakeLock([...Array.from({ length: waitingSteps }, () => holder(7)), holder(8), { acquired: true }]);
  const h = harness(lock);
  const fence = await h.l.beforeCycle(new AbortController().signal);
  t.equal(fence, lock.lockLost, "the fence is the lock's lockLost");
  const standby = h.lines.filter((x) => x.msg?.startsWith("standby: another instance holds"));
  t.same(
    standby.map((x) => x.obj.holder_connection_id),
    [7, 7, 8],
    "on first sight, after a minute, and on a new holder",
  );
  t.match(standby[0]?.obj, { program: "p", holder_host: "10.0.0.7:51234", holder_user: "onp", lock: lock.lockName });
  t.match(h.lines.at(-1), { level: "info", msg: "active: took the program lock" });
  t.ok(
    h.waits.every((w) => w === 1000),
    "tries every lock_check_interval",
  );
  t.same(h.leadership, [false, true]);
  t.equal(h.actives(), 1, "onActive ran once, before the first cycle");
  t.equal(await h.l.beforeCycle(new AbortController().signal), fence, "while held, the next cycle gets the same fence at once");
  t.equal(h.actives(), 1);
});

t.test("a lost lock is said as a warning; the instance steps back before trying again", async (t) => {
  const lock = new FakeLock([{ acquired: true }, holder(9), { acquired: true }]);
  const h = harness(lock);
  await h.l.beforeCycle(new AbortController().signal);
  lock.lose();
  h.waits.length = 0;
  const fence = await h.l.beforeCycle(new AbortController().signal);
  t.notOk(fence.aborted, "a fresh fence");
  t.match(
    h.lines.find((x) => x.msg?.startsWith("lock lost")),
    { level: "warn", obj: { err: /lock connection killed/ } },
  );
  t.same(h.waits, [STEP_BACK_INTERVALS * 1000, 1000], "steps back, then polls");
  t.same(h.leadership, [false, true, false, true], "standby, active, standby, active");
  t.equal(h.actives(), 2, "onActive again on each take-over");
});

t.test("MariaDB unreachable while standing by: warned once, retried; a permanent refusal ends the wait", async (t) => {
  const transient = new TrackingError("taking the program lock failed: ECONNREFUSED", true);
  const lock = new FakeLock([transient, transient, { acquired: true }]);
  const h = harness(lock);
  await h.l.beforeCycle(new AbortController().signal);
  t.equal(h.lines.filter((x) => x.msg?.startsWith("standby: cannot check the program lock")).length, 1, "one line for the same error");

  const denied = new TrackingError("taking the program lock failed: ER_ACCESS_DENIED_ERROR", false);
  await t.rejects(harness(new FakeLock([denied])).l.beforeCycle(new AbortController().signal), denied);
});

t.test("stop while standing by rejects at once with the stop reason", async (t) => {
  const stop = new AbortController();
  const lock = new FakeLock([holder(7)]);
  const h = harness(lock);
  const reason = new Error("SIGTERM");
  const waiting = h.l.beforeCycle(stop.signal);
  stop.abort(reason);
  await t.rejects(waiting, reason);
});

t.test("without standby, a lock held elsewhere is a LockError (the old behaviour)", async (t) => {
  const h = harness(new FakeLock([holder(7)]), false);
  await t.rejects(h.l.beforeCycle(new AbortController().signal), LockError);
  const ok = harness(new FakeLock([{ acquired: true }]), false);
  await ok.l.beforeCycle(new AbortController().signal);
  t.match(ok.lines, [{ level: "info", msg: "active: holding the program lock" }]);
});
