/**
 * The poll loop: one cycle after another until `stop` aborts (or one, with --once).
 *
 *   beforeCycle (leadership) -> runCycle -> log one line -> sleep
 *     sleep: polling_interval after a cycle, none after a full one (catch up), and after a
 *     failure the config's failure backoff (publisher.failure_backoff, multiplied by
 *     publisher.failure_backoff_multiplier per further failure, never longer than polling_interval)
 *
 * It knows nothing of adapters: `runCycle` and `beforeCycle` are given to it, so it runs as well
 * over in-memory fakes (test/service/poll-loop.test.ts) as over the real services (app.ts).
 *
 * Hot standby plugs in through `beforeCycle`: it returns once this instance may publish
 * (acquiring or confirming the program's lock, waiting as long as another instance holds it)
 * and hands back a fence, an AbortSignal that aborts the moment the lock is lost. The fence goes
 * to `runCycle` with the stop and kill signals; a cycle cut short by its fence is not counted as
 * a failure: the loop goes straight back to `beforeCycle`. `beforeCycle` waits out what can be
 * waited out by itself; when it rejects, the loop ends with its error (or quietly on stop).
 *
 * Once `kill` aborts (a second signal, the shutdown timeout), the cycle gets `killGraceMs` to
 * end (it commits its acknowledged prefix); past that the loop stops waiting for it, so a cycle
 * stuck on a service that does not answer cannot hold the process.
 */
import type { Config } from "../config/schema";
import { describeError } from "../errors";
import type { CycleResult, Log } from "../pipeline/cycle";
import { backoffMs, type RetryPolicy, sleep } from "../pipeline/retry";

export interface PollLoopSettings {
  /** One successful cycle, then return (failed ones are retried `maxRetries` times). */
  once: boolean;
  /** Pause after a cycle that was not full, milliseconds. */
  pollingIntervalMs: number;
  /** With `once`: failed cycles retried before the loop throws the last failure. */
  maxRetries: number;
  /** The wait after the n-th failure in a row is `backoffMs(failureBackoff, n)`, capped at `pollingIntervalMs`. */
  failureBackoff: RetryPolicy;
  /**
   * Once `kill` aborts, how long the cycle may still take to commit its acknowledged prefix
   * before the loop stops waiting for it (a cycle stuck on a service that does not answer
   * would otherwise hold the process). Default KILL_GRACE_MS.
   */
  killGraceMs?: number;
}

/** A killed cycle normally ends within milliseconds; past this the loop gives up on it. */
export const KILL_GRACE_MS = 1000;

/** The loop's settings from the config's `publisher` section (seconds become milliseconds). */
export function pollLoopSettings(config: Config, once: boolean): PollLoopSettings {
  const p = config.publisher;
  return {
    once,
    pollingIntervalMs: p.polling_interval * 1000,
    maxRetries: p.max_retries,
    // Capped at polling_interval by the loop itself; maxRetries is not used by backoffMs.
    failureBackoff: {
      initialBackoff: p.failure_backoff,
      backoffMultiplier: p.failure_backoff_multiplier,
      maxBackoff: Math.max(p.polling_interval, p.failure_backoff),
      maxRetries: 0,
    },
  };
}

/** What a cycle is given: `stop` (finish what is in flight), `kill` (close now), `fence` (leadership lost: publish nothing more). */
export interface CycleSignals {
  stop: AbortSignal;
  kill: AbortSignal;
  fence: AbortSignal;
}

export interface PollLoopHooks {
  /** Runs one cycle; rejects when it fails (a CycleError may carry the partial result as `result`). */
  runCycle(signals: CycleSignals): Promise<CycleResult>;
  /**
   * Before every cycle: returns when this instance may run one, with the fence for it.
   * Without it the loop runs every cycle with a fence that never aborts. A rejection ends the
   * loop with that error (nothing when `stop` aborted).
   */
  beforeCycle?(stop: AbortSignal): Promise<AbortSignal>;
  /** Waits `ms` or rejects when `signal` aborts; the real `sleep` unless a test replaces it. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

const NEVER = new AbortController().signal;

/**
 * Runs cycles until `stop` aborts (resolving with the last successful cycle's result, or null),
 * or, with `once`, until one succeeds. A failure only rejects in `once` mode after
 * `maxRetries` retries; a cycle failing because `stop` aborted during it ends the loop normally.
 */
export async function pollLoop(
  settings: PollLoopSettings,
  hooks: PollLoopHooks,
  signals: { stop: AbortSignal; kill: AbortSignal },
  log: Log,
): Promise<CycleResult | null> {
  const { stop, kill } = signals;
  const wait = hooks.sleep ?? sleep;
  let failures = 0;
  let last: CycleResult | null = null;
  while (!stop.aborted) {
    let pause = settings.pollingIntervalMs;
    let fence = NEVER;
    try {
      if (hooks.beforeCycle) fence = await hooks.beforeCycle(stop);
    } catch (err) {
      // It waits out what can be waited out itself (a standby, MariaDB away): what it throws
      // ends the loop (another instance active without standby, a refused credential).
      if (stop.aborted) break;
      throw err;
    }
    try {
      if (stop.aborted) break;
      const r = await untilKilled(hooks.runCycle({ stop, kill, fence }), kill, settings.killGraceMs ?? KILL_GRACE_MS);
      last = r;
      failures = 0;
      logCycle(log, r);
      if (settings.once) return r;
      if (r.full) pause = 0; // catch up: more rows are waiting
    } catch (err) {
      if (stop.aborted) {
        log.error({ err: describeError(err) }, "cycle ended by the stop request; the watermark stays at the last acknowledged row");
        break;
      }
      if (fence.aborted) {
        log.warn({ err: describeError(err) }, "cycle fenced off (leadership lost); nothing more was committed");
        continue;
      }
      failures++;
      const partial = (err as { result?: CycleResult }).result;
      log.error(
        { err: describeError(err), rows: partial?.rows, watermark: partial?.watermark, failures },
        "cycle failed; the watermark stays at the last acknowledged row",
      );
      if (settings.once && failures > settings.maxRetries) throw err;
      pause = Math.min(pause, backoffMs(settings.failureBackoff, failures));
    }
    try {
      await wait(pause, stop);
    } catch {
      break; // stop requested while waiting
    }
  }
  return last;
}

/**
 * `cycle`, or a rejection once `kill` has been aborted for `graceMs` without the cycle ending.
 * The abandoned cycle's own outcome is dropped: the connections it waits on are closed next.
 */
function untilKilled<T>(cycle: Promise<T>, kill: AbortSignal, graceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onKill = () => {
      timer = setTimeout(() => reject(new Error(`the cycle did not end within ${graceMs} ms of the kill: closing without it`)), graceMs);
    };
    if (kill.aborted) onKill();
    else kill.addEventListener("abort", onKill, { once: true });
    const settle = () => {
      kill.removeEventListener("abort", onKill);
      clearTimeout(timer);
    };
    cycle.then(
      (value) => {
        settle();
        resolve(value);
      },
      (err: unknown) => {
        settle();
        reject(err);
      },
    );
  });
}

function logCycle(log: Log, r: CycleResult): void {
  log.info(
    {
      rows: r.rows,
      seconds: +r.seconds.toFixed(3),
      rows_per_s: Math.round(r.rows / Math.max(r.seconds, 1e-6)),
      watermark: r.watermark,
      duplicates: r.duplicates,
      recovered: r.recovered,
      dead_lettered: r.deadLettered,
      retries: r.retries,
      full: r.full,
    },
    "cycle done",
  );
}
