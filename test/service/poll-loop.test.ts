/**
 * The poll loop over in-memory cycles: what it waits between cycles, when it retries, when it
 * gives up, and how it stops. No service, no real clock (the sleep is recorded), except where
 * a test checks that a stop ends a real sleep.
 */
import t from "tap";
import { parseConfig } from "../../src/config/load";
import { CycleError, type CycleResult } from "../../src/pipeline/cycle";
import { type CycleSignals, type PollLoopSettings, pollLoop, pollLoopSettings } from "../../src/service/poll-loop";

const result = (rows: number, full = false): CycleResult => ({
  rows,
  read: rows,
  full,
  watermark: rows === 0 ? null : { ts: "2026-01-01 00:00:00.000000", id: String(rows) },
  seconds: 0.5,
  duplicates: 0,
  recovered: 0,
  deadLettered: 0,
  retries: 0,
});

function recorder() {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, log: { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") } };
}

/** Cycles that play `script` in order (a result, or an error to throw); `stop` aborts after the last. */
function scripted(script: (CycleResult | Error)[], stop: AbortController) {
  const calls: CycleSignals[] = [];
  return {
    calls,
    runCycle: async (signals: CycleSignals) => {
      calls.push(signals);
      const next = script[calls.length - 1];
      if (calls.length >= script.length) stop.abort(new Error("SIGTERM"));
      if (next === undefined) throw new Error("no more cycles scripted");
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

/** A sleep that records its waits and returns at once (or rejects when stop already aborted). */
function recordedSleep() {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number, signal: AbortSignal) => {
      waits.push(ms);
      if (signal.aborted) throw signal.reason;
    },
  };
}

const settings = (over: Partial<PollLoopSettings> = {}): PollLoopSettings => ({
  once: false,
  pollingIntervalMs: 10_000,
  maxRetries: 3,
  failureBackoff: { initialBackoff: 1, backoffMultiplier: 2, maxBackoff: 10, maxRetries: 0 },
  ...over,
});

const kill = () => new AbortController().signal;

t.test("--once: one successful cycle, logged, and its result returned", async (t) => {
  const stop = new AbortController();
  const cycles = scripted([result(25)], new AbortController());
  const { lines, log } = recorder();
  const { waits, sleep } = recordedSleep();
  const r = await pollLoop(settings({ once: true }), { runCycle: cycles.runCycle, sleep }, { stop: stop.signal, kill: kill() }, log);
  t.equal(r?.rows, 25);
  t.equal(cycles.calls.length, 1);
  t.same(waits, [], "no wait after the only cycle");
  t.match(lines, [{ level: "info", msg: "cycle done", obj: { rows: 25, rows_per_s: 50, full: false } }]);
});

t.test("the loop waits polling_interval after a cycle, and not at all after a full one", async (t) => {
  const stop = new AbortController();
  const cycles = scripted([result(10, true), result(10, true), result(3), result(0)], stop);
  const { waits, sleep } = recordedSleep();
  const r = await pollLoop(settings(), { runCycle: cycles.runCycle, sleep }, { stop: stop.signal, kill: kill() }, recorder().log);
  t.equal(cycles.calls.length, 4);
  t.same(waits, [0, 0, 10_000, 10_000], "catch up after full cycles, then poll");
  t.equal(r?.rows, 0, "the last cycle's result");
});

t.test("failures back off as the config says, at most polling_interval, and a success resets it", async (t) => {
  const stop = new AbortController();
  const boom = () => new Error("NATS down");
  const cycles = scripted([boom(), boom(), boom(), boom(), boom(), result(1), boom(), result(1)], stop);
  const { waits, sleep } = recordedSleep();
  const { lines, log } = recorder();
  await pollLoop(settings({ pollingIntervalMs: 6000 }), { runCycle: cycles.runCycle, sleep }, { stop: stop.signal, kill: kill() }, log);
  t.same(waits, [1000, 2000, 4000, 6000, 6000, 6000, 1000, 6000], "the last wait is cut short by the stop");
  t.match(
    lines.filter((l) => l.level === "error").map((l) => l.obj.failures),
    [1, 2, 3, 4, 5, 1],
    "each failure counted in the log line",
  );
});

t.test("the failure backoff comes from publisher.failure_backoff and failure_backoff_multiplier", async (t) => {
  const config = parseConfig(
    "publisher:\n  failure_backoff: 0.5\n  failure_backoff_multiplier: 3\n  polling_interval: 20\nsource:\n  kind: mariadb\n",
    "x.yaml",
  );
  const s = pollLoopSettings(config, false);
  t.match(s, { once: false, pollingIntervalMs: 20_000, maxRetries: 3, failureBackoff: { initialBackoff: 0.5, backoffMultiplier: 3 } });
  const stop = new AbortController();
  const cycles = scripted([new Error("a"), new Error("b"), new Error("c"), result(1)], stop);
  const { waits, sleep } = recordedSleep();
  await pollLoop(s, { runCycle: cycles.runCycle, sleep }, { stop: stop.signal, kill: kill() }, recorder().log);
  t.same(waits.slice(0, 3), [500, 1500, 4500]);
  const defaults = pollLoopSettings(parseConfig("source:\n  kind: mariadb\n", "x.yaml"), true).failureBackoff;
  t.match(defaults, { initialBackoff: 1, backoffMultiplier: 2 }, "defaults: 1 s, doubling");
});

t.test("--once retries a failed cycle publisher.max_retries times, then throws the last failure", async (t) => {
  const never = new AbortController();
  const failing = scripted([new Error("1"), new Error("2"), new Error("3")], new AbortController());
  const { sleep } = recordedSleep();
  await t.rejects(
    pollLoop(settings({ once: true, maxRetries: 2 }), { runCycle: failing.runCycle, sleep }, { stop: never.signal, kill: kill() }, recorder().log),
    { message: "3" },
  );
  t.equal(failing.calls.length, 3, "the first attempt and two retries");

  const recovering = scripted([new Error("1"), new Error("2"), result(7)], new AbortController());
  const r = await pollLoop(
    settings({ once: true, maxRetries: 2 }),
    { runCycle: recovering.runCycle, sleep },
    { stop: never.signal, kill: kill() },
    recorder().log,
  );
  t.equal(r?.rows, 7, "a retry that succeeds ends --once normally");
});

t.test("a failed cycle's partial result is logged", async (t) => {
  const stop = new AbortController();
  const cycles = scripted([new CycleError("cycle failed after 40 rows", result(40), new Error("socket closed")), result(0)], stop);
  const { lines, log } = recorder();
  await pollLoop(settings(), { runCycle: cycles.runCycle, sleep: recordedSleep().sleep }, { stop: stop.signal, kill: kill() }, log);
  t.match(
    lines.find((l) => l.level === "error"),
    { obj: { rows: 40, failures: 1, err: /cycle failed after 40 rows/ } },
  );
});

t.test("a stop during the sleep ends the loop at once, with the last result", async (t) => {
  const stop = new AbortController();
  let slept = false;
  const r = pollLoop(
    settings({ pollingIntervalMs: 3_600_000 }),
    {
      runCycle: async () => result(5),
      // The real sleep, an hour long; the stop request arrives once it has started.
      sleep: (ms, signal) => {
        slept = true;
        const s = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        });
        stop.abort(new Error("SIGTERM"));
        return s;
      },
    },
    { stop: stop.signal, kill: kill() },
    recorder().log,
  );
  t.equal((await r)?.rows, 5);
  t.ok(slept);
});

t.test("a cycle that fails because of the stop request ends the loop without an error", async (t) => {
  const stop = new AbortController();
  const { lines, log } = recorder();
  const r = await pollLoop(
    settings({ once: true, maxRetries: 0 }),
    {
      runCycle: async () => {
        stop.abort(new Error("SIGTERM"));
        throw new Error("publish window closed by the stop");
      },
    },
    { stop: stop.signal, kill: kill() },
    log,
  );
  t.equal(r, null);
  t.match(lines, [{ level: "error", msg: /ended by the stop request/ }]);
});

t.test("beforeCycle runs before every cycle and its fence reaches the cycle; a fenced failure is not a failure", async (t) => {
  const stop = new AbortController();
  const fences: AbortController[] = [];
  const order: string[] = [];
  const cycles = scripted([new Error("lock lost mid-cycle"), result(2)], stop);
  const { waits, sleep } = recordedSleep();
  const { lines, log } = recorder();
  await pollLoop(
    settings(),
    {
      beforeCycle: async (s) => {
        t.equal(s, stop.signal, "gets the stop signal (to end a wait for leadership)");
        order.push("before");
        const fence = new AbortController();
        fences.push(fence);
        if (fences.length === 1) fence.abort(new Error("lock lost"));
        return fence.signal;
      },
      runCycle: async (signals) => {
        order.push("cycle");
        return cycles.runCycle(signals);
      },
      sleep,
    },
    { stop: stop.signal, kill: kill() },
    log,
  );
  t.same(order, ["before", "cycle", "before", "cycle"]);
  t.equal(cycles.calls[0]?.fence, fences[0]?.signal);
  t.equal(cycles.calls[1]?.fence, fences[1]?.signal);
  t.same(waits, [10_000], "straight back to beforeCycle after the fenced cycle, no backoff");
  t.notOk(
    lines.some((l) => l.level === "error"),
    "no failure logged",
  );
  t.match(lines, [
    { level: "warn", msg: /fenced off/ },
    { level: "info", msg: "cycle done" },
  ]);
});

t.test("without beforeCycle every cycle gets a fence that never aborts", async (t) => {
  const stop = new AbortController();
  const cycles = scripted([result(1)], stop);
  await pollLoop(settings(), { runCycle: cycles.runCycle, sleep: recordedSleep().sleep }, { stop: stop.signal, kill: kill() }, recorder().log);
  t.equal(cycles.calls[0]?.fence.aborted, false);
  t.equal(cycles.calls[0]?.stop, stop.signal);
});

t.test("after the kill, a cycle that does not end within the grace is given up, and the loop returns", async (t) => {
  const stop = new AbortController();
  const killer = new AbortController();
  const { lines, log } = recorder();
  let started = false;
  const r = pollLoop(
    settings({ killGraceMs: 0 }),
    {
      // A cycle stuck on a service that never answers, whatever the signals say.
      runCycle: () => {
        started = true;
        stop.abort(new Error("SIGTERM"));
        killer.abort(new Error("second signal"));
        return new Promise<CycleResult>(() => undefined);
      },
    },
    { stop: stop.signal, kill: killer.signal },
    log,
  );
  t.equal(await r, null);
  t.ok(started);
  t.match(lines, [{ level: "error", msg: /ended by the stop request/, obj: { err: /did not end within 0 ms of the kill/ } }]);
});

t.test("a killed cycle that ends within the grace keeps its own outcome", async (t) => {
  const stop = new AbortController();
  const killer = new AbortController();
  const r = await pollLoop(
    settings({ killGraceMs: 60_000 }),
    {
      runCycle: async () => {
        stop.abort(new Error("SIGTERM"));
        killer.abort(new Error("second signal"));
        await new Promise((resolve) => setImmediate(resolve));
        return result(9);
      },
      sleep: recordedSleep().sleep,
    },
    { stop: stop.signal, kill: killer.signal },
    recorder().log,
  );
  t.equal(r?.rows, 9, "the cycle's result, not the grace's rejection");
});

t.test("beforeCycle rejecting ends the loop with its error; on stop, quietly", async (t) => {
  const stop = new AbortController();
  const refused = new Error("another instance is already running program p");
  const cycles = scripted([result(1)], stop);
  await t.rejects(
    pollLoop(
      settings(),
      { beforeCycle: async () => Promise.reject(refused), runCycle: cycles.runCycle, sleep: recordedSleep().sleep },
      { stop: stop.signal, kill: kill() },
      recorder().log,
    ),
    refused,
  );
  t.equal(cycles.calls.length, 0, "no cycle ran");

  const stopping = new AbortController();
  const { lines, log } = recorder();
  const r = await pollLoop(
    settings(),
    {
      beforeCycle: async (s) => {
        stopping.abort(new Error("SIGTERM"));
        throw s.reason;
      },
      runCycle: scripted([result(1)], stopping).runCycle,
    },
    { stop: stopping.signal, kill: kill() },
    log,
  );
  t.equal(r, null, "a standby stopped while waiting ends the loop normally");
  t.same(lines, [], "nothing logged as a failure");
});
