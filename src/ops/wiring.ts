/**
 * How the service reports to `Ops`: the few calls app.ts makes, in one place.
 *
 *   createService(config, log, signal, ops)
 *     after opening:      ops.dependency(tracking|nats, true); NATS status events -> nats up/down
 *     cycle deps:         instrumentDeps(ops, deps)   observer + a store that reports commits
 *     each cycle:         instrumentCycle(ops, ...)   tick, time, waiting-rows sample, ops.cycle()
 *     poll-loop sleep:    tickingSleep(ops)           the loop is alive while it waits
 *
 * Hot standby: call `ops.leadership(true)` when this instance takes the program's lock and
 * `ops.leadership(false)` when it waits as a standby or loses the lock (createService starts
 * active, as the single-instance service takes the lock on open).
 */
import type { CycleDeps, CycleResult } from "../pipeline/cycle";
import { sleep } from "../pipeline/retry";
import type { PipelineObserver, RowSource, Watermark, WatermarkStore } from "../pipeline/types";
import { WAITING_ROWS_LIMIT } from "./lag";
import { combineObservers, errorKindOf } from "./metrics";
import type { CycleReport } from "./ops";
import { ProgressLine, type ProgressStream } from "./progress";

/** What the service calls on the operations side: `Ops` implements it. */
export interface ServiceOps {
  readonly observer: PipelineObserver;
  tick(): void;
  cycle(report: CycleReport): void;
  leadership(active: boolean): void;
  dependency(dependency: "source" | "tracking" | "nats", up: boolean, reason?: string): void;
  committed(at?: Date | number): void;
  failed(err: unknown): void;
}

/** A WatermarkStore that calls `onCommit` after each successful checkpoint and finish (the others pass through). */
export function reportingStore(store: WatermarkStore, onCommit: () => void): WatermarkStore {
  return {
    load: (...args: unknown[]) => (store.load as (...a: unknown[]) => ReturnType<WatermarkStore["load"]>)(...args),
    begin: (...args: unknown[]) => (store.begin as (...a: unknown[]) => Promise<void>)(...args),
    async checkpoint(...args: Parameters<WatermarkStore["checkpoint"]>) {
      await (store.checkpoint as (...a: unknown[]) => Promise<void>)(...args);
      onCommit();
    },
    async finish(...args: Parameters<WatermarkStore["finish"]>) {
      await (store.finish as (...a: unknown[]) => Promise<void>)(...args);
      onCommit();
    },
  };
}

/** The cycle's deps with the ops observer (and `extra`, e.g. a progress line) and a store that reports commits. */
export function instrumentDeps(ops: ServiceOps, deps: CycleDeps, extra?: PipelineObserver): CycleDeps {
  const observers = [ops.observer, ...(deps.observer ? [deps.observer] : []), ...(extra ? [extra] : [])];
  return { ...deps, observer: combineObservers(...observers), store: reportingStore(deps.store, () => ops.committed()) };
}

export interface WaitingSample {
  rows: number;
  dbNow: string;
}

/**
 * The waiting-rows sample after a cycle: `source.countAfter(watermark, safetyLag, limit)`.
 * undefined when the source cannot count or the count failed (the lag keeps its last value).
 */
export async function sampleWaiting(source: RowSource, watermark: Watermark | null, safetyLagSeconds: number): Promise<WaitingSample | undefined> {
  if (!source.countAfter) return undefined;
  try {
    return await source.countAfter(watermark, safetyLagSeconds, WAITING_ROWS_LIMIT);
  } catch {
    return undefined;
  }
}

export interface CycleProbe {
  source: RowSource;
  safetyLagSeconds: number;
  /** The watermark the cycle started from is unknown here; after a failure, the last one seen. */
  lastWatermark(): Watermark | null;
}

/**
 * Runs one cycle and reports it: ticks, times it, samples the waiting rows, tells `ops` how it
 * went, and marks the source and tracking store up (success) or the failing one down.
 */
export async function instrumentCycle(ops: ServiceOps, probe: CycleProbe, run: () => Promise<CycleResult>): Promise<CycleResult> {
  ops.tick();
  const started = performance.now();
  try {
    const result = await run();
    ops.dependency("source", true);
    ops.dependency("tracking", true);
    const waiting = await sampleWaiting(probe.source, result.watermark, probe.safetyLagSeconds);
    ops.cycle({ rows: result.rows, seconds: result.seconds, watermark: result.watermark, waiting });
    return result;
  } catch (err) {
    const kind = errorKindOf(err);
    if (kind === "fenced") {
      // Another instance owns the program now: this one is a standby, not a failing publisher.
      ops.leadership(false);
      ops.failed(err);
      throw err;
    }
    if (kind === "source" || kind === "tracking") ops.dependency(kind, false, "failing");
    const partial = (err as { result?: CycleResult }).result;
    ops.cycle({
      rows: partial?.rows ?? 0,
      seconds: partial?.seconds ?? (performance.now() - started) / 1000,
      watermark: partial?.watermark ?? probe.lastWatermark(),
      error: err,
    });
    throw err;
  }
}

/** The poll loop's sleep, ticking the liveness first. */
export function tickingSleep(ops: ServiceOps): (ms: number, signal: AbortSignal) => Promise<void> {
  return (ms, signal) => {
    ops.tick();
    return sleep(ms, signal);
  };
}

/**
 * The `--once` progress line: the rows to do are counted first (the rows after the committed
 * watermark up to the read bound, at most max_records_per_run); nothing is drawn off a TTY.
 */
export async function onceProgress(
  stream: ProgressStream,
  store: Pick<WatermarkStore, "load">,
  source: RowSource,
  config: { publisher: { safety_lag_seconds: number; max_records_per_run: number } },
): Promise<ProgressLine | undefined> {
  if (stream.isTTY !== true) return undefined;
  let total: number | null = null;
  try {
    const committed = await store.load();
    const waiting = await sampleWaiting(source, committed?.watermark ?? null, config.publisher.safety_lag_seconds);
    if (waiting) total = Math.min(waiting.rows, config.publisher.max_records_per_run);
  } catch {
    // No total: the line shows rows and rate only.
  }
  return new ProgressLine(stream, { total });
}
