/**
 * Leadership: which instance of a program publishes (hot standby), given to the poll loop as
 * its `beforeCycle` hook.
 *
 *   standby --tryAcquire every lock_check_interval--> active --lockLost--> standby
 *      |  logs who holds the lock: on change and every STANDBY_LOG_INTERVAL_MS
 *      |  MariaDB unreachable: logged the same way, and waited out (transient)
 *      v
 *   stop: rejects at once with the stop reason (exit 0 within a second)
 *
 * Before every cycle it returns the fence for that cycle: the store's `lockLost`, which
 * aborts the moment the lock is lost. An instance that was active and finds its lock gone
 * says so and waits as a standby again (first STEP_BACK_INTERVALS x lock_check_interval, so a
 * standby that was waiting takes over rather than the instance that just failed). On taking the lock it runs `onActive` (the stream
 * re-check) before the first cycle; the watermark is read by the cycle, after the lock is held.
 *
 * Without `wait` (publisher.standby: false, or --once) an instance that finds the lock taken
 * rejects with the store's LockError naming the holder: the old behaviour (exit 1).
 */
import { describeError, LockError } from "../errors";
import type { Log } from "../pipeline/cycle";
import { sleep } from "../pipeline/retry";

/** Who holds the program lock (as the tracking store reports it). */
export interface LockHolderInfo {
  connectionId: number;
  host: string | null;
  user: string | null;
}

/** The part of the tracking store leadership needs (MariadbTracking implements it). */
export interface ProgramLock {
  readonly lockName: string;
  readonly holdsLock: boolean;
  readonly lockLost: AbortSignal;
  tryAcquire(signal?: AbortSignal): Promise<{ acquired: true } | { acquired: false; holder: LockHolderInfo | null }>;
  /** Takes the lock or throws a LockError naming the holder (never waits). */
  open(signal?: AbortSignal): Promise<void>;
}

export interface LeadershipOptions {
  lock: ProgramLock;
  program: string;
  /** Wait as a hot standby (true) or fail with LockError when another instance is active. */
  wait: boolean;
  /** Pause between two attempts while standing by, ms (mariadb.lock_check_interval). */
  retryMs: number;
  log: Log;
  /** Runs once each time this instance becomes active, before its first cycle. */
  onActive?(): Promise<void>;
  /** This instance became the active publisher (true) or a standby (false); for metrics. */
  onLeadership?(active: boolean): void;
  /** Waits `ms` or rejects when `signal` aborts; the real `sleep` unless a test replaces it. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Milliseconds clock; a test may replace it. */
  now?(): number;
}

/** A waiting standby repeats its "waiting" line this often even when nothing changed. */
export const STANDBY_LOG_INTERVAL_MS = 60_000;

/** After losing the lock an instance waits this many lock_check_intervals before trying again. */
export const STEP_BACK_INTERVALS = 2;

export class Leadership {
  private readonly o: LeadershipOptions;
  private active = false;
  /** The lock was lost: the next attempt waits STEP_BACK_INTERVALS first. */
  private lost = false;

  constructor(options: LeadershipOptions) {
    this.o = options;
  }

  get isActive(): boolean {
    return this.active && this.o.lock.holdsLock;
  }

  /** The poll loop's `beforeCycle`: returns once this instance holds the lock, with the fence. */
  readonly beforeCycle = async (stop: AbortSignal): Promise<AbortSignal> => {
    const { lock, log } = this.o;
    if (this.active && lock.holdsLock && !lock.lockLost.aborted) return lock.lockLost;
    if (this.active) {
      this.active = false;
      this.lost = true;
      log.warn(
        { program: this.o.program, lock: lock.lockName, err: describeError(lock.lockLost.reason), standby: this.o.wait },
        "lock lost: this instance stopped publishing and commits nothing more",
      );
    }
    await this.acquire(stop, this.lost);
    this.lost = false;
    this.active = true;
    this.o.onLeadership?.(true);
    if (this.o.onActive) await this.o.onActive();
    return lock.lockLost;
  };

  private async acquire(stop: AbortSignal, stepBack: boolean): Promise<void> {
    const { lock, log, program } = this.o;
    const now = this.o.now ?? Date.now;
    const wait = this.o.sleep ?? sleep;
    this.o.onLeadership?.(false);
    if (!this.o.wait) {
      await lock.open(stop);
      log.info({ program, lock: lock.lockName }, "active: holding the program lock");
      return;
    }
    // Having just lost the lock, give a waiting standby (which tries every interval) the first go.
    if (stepBack) await wait(STEP_BACK_INTERVALS * this.o.retryMs, stop);
    const since = now();
    let said: string | undefined;
    let saidAt = 0;
    /** One line when what the standby sees changes, and then every STANDBY_LOG_INTERVAL_MS. */
    const say = (key: string, write: () => void) => {
      if (key === said && now() - saidAt < STANDBY_LOG_INTERVAL_MS) return;
      said = key;
      saidAt = now();
      write();
    };
    for (;;) {
      let attempt: Awaited<ReturnType<ProgramLock["tryAcquire"]>>;
      try {
        attempt = await lock.tryAcquire(stop);
      } catch (err) {
        if (stop.aborted) throw stop.reason;
        // A refusal that a retry cannot change (credentials, privileges) ends the service.
        if ((err as { transient?: boolean }).transient === false || err instanceof LockError) throw err;
        const text = describeError(err);
        say(`error:${text}`, () =>
          log.warn({ program, lock: lock.lockName, err: text }, "standby: cannot check the program lock (MariaDB unreachable?); retrying"),
        );
        await wait(this.o.retryMs, stop);
        continue;
      }
      if (attempt.acquired) {
        const waited = (now() - since) / 1000;
        log.info({ program, lock: lock.lockName, waited_s: +waited.toFixed(3) }, "active: took the program lock");
        return;
      }
      const h = attempt.holder;
      say(`holder:${h?.connectionId}:${h?.host}`, () =>
        log.info(
          {
            program,
            lock: lock.lockName,
            holder_connection_id: h?.connectionId ?? null,
            holder_host: h?.host ?? null,
            holder_user: h?.user ?? null,
            waiting_s: Math.round((now() - since) / 1000),
          },
          "standby: another instance holds the program lock; waiting (KILL CONNECTION <holder_connection_id> frees an orphaned lock)",
        ),
      );
      await wait(this.o.retryMs, stop);
    }
  }
}
