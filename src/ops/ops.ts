/**
 * The operations side of one publisher process, behind one object the poll loop talks to:
 *
 *   poll loop --tick/cycle/leadership/dependency/committed--> Ops --> Metrics   (/metrics)
 *                                                                 --> Readiness (/healthz, /readyz)
 *                                                                 --> Heartbeat (an "idle" log line)
 *   pipeline  --PipelineObserver (ops.observer)-------------> Metrics
 *
 * Metrics are always kept (they are cheap); the HTTP endpoint only runs when `metrics.enabled`.
 */
import type { Watermark } from "../pipeline/types";
import { Heartbeat, heartbeatFields } from "./heartbeat";
import { type OpsServer, startOpsServer } from "./http";
import { lagSeconds } from "./lag";
import { combineObservers, type Dependency, errorKindOf, Metrics, NO_OBSERVER, type PipelineObserver } from "./metrics";
import { Readiness } from "./readiness";

export interface OpsSettings {
  /** The `metrics` config section. */
  metrics: { enabled: boolean; host: string; port: number; ready_failure_grace: number; liveness_timeout: number };
  /** logging.heartbeat_interval */
  heartbeatInterval: number;
  /** source.time_zone */
  timeZone: string;
  /** Default process metrics in the registry (default true; tests may turn them off). */
  processMetrics?: boolean;
  /** Unix milliseconds; injectable for tests. */
  now?: () => number;
}

/** The logger calls Ops makes (a pino Logger fits). */
export interface OpsLog {
  info(fields: Record<string, unknown>, message: string): void;
}

/** What the poll loop reports after each cycle. */
export interface CycleReport {
  /** Rows acknowledged this cycle. */
  rows: number;
  seconds: number;
  /** The watermark after the cycle (null: none yet). */
  watermark: Watermark | null;
  /** Set when the cycle failed. */
  error?: unknown;
  /**
   * The waiting-rows sample taken after the cycle: RowSource.countAfter(watermark,
   * safety_lag_seconds, WAITING_ROWS_LIMIT). Omit it when it was not taken (the lag metric
   * keeps its last value).
   */
  waiting?: { rows: number; dbNow: string };
}

export class Ops {
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  /** Hand this to the pipeline: the metrics, and a liveness tick on every row read or acknowledged. */
  readonly observer: PipelineObserver;
  private readonly settings: OpsSettings;
  private readonly heartbeat: Heartbeat;
  private readonly log: OpsLog;
  private server: OpsServer | null = null;
  private lastLag: number | null = 0;
  private lastWaiting = 0;

  constructor(settings: OpsSettings, log: OpsLog) {
    this.settings = settings;
    this.log = log;
    const now = settings.now ?? Date.now;
    this.metrics = new Metrics({ processMetrics: settings.processMetrics });
    this.readiness = new Readiness({
      failureGraceSeconds: settings.metrics.ready_failure_grace,
      livenessTimeoutSeconds: settings.metrics.liveness_timeout,
      now,
    });
    this.heartbeat = new Heartbeat(settings.heartbeatInterval, now);
    // A long cycle is progress too: /healthz must not call a loop busy with a backlog stalled.
    const tick = () => this.readiness.tick();
    this.observer = combineObservers(this.metrics, { ...NO_OBSERVER, rowsRead: tick, published: tick });
  }

  /** Starts the HTTP endpoint when enabled; returns it (null when disabled). Fails when the port cannot be bound. */
  async start(): Promise<OpsServer | null> {
    const m = this.settings.metrics;
    if (!m.enabled || this.server) return this.server;
    this.server = await startOpsServer({ host: m.host, port: m.port, metrics: this.metrics, readiness: this.readiness });
    this.log.info({ url: this.server.url, paths: ["/metrics", "/healthz", "/readyz"] }, "operations endpoint listening");
    return this.server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.close();
  }

  /** The loop is alive (call it at least once per cycle and per sleep). */
  tick(): void {
    this.readiness.tick();
  }

  /** After every cycle, failed or not. */
  cycle(report: CycleReport): void {
    if (report.waiting) {
      this.lastWaiting = report.waiting.rows;
      this.lastLag = lagSeconds({
        dbNow: report.waiting.dbNow,
        watermarkTs: report.watermark?.ts ?? null,
        timeZone: this.settings.timeZone,
        waitingRows: report.waiting.rows,
      });
      this.metrics.setLag(this.lastLag, this.lastWaiting);
    }
    if (report.error !== undefined) {
      const kind = errorKindOf(report.error);
      this.metrics.cycleFailed(kind, report.seconds);
      this.readiness.cycleFailed(kind);
      return;
    }
    this.metrics.cycleDone(report);
    this.readiness.cycleSucceeded();
    if (this.heartbeat.due(report.rows)) {
      this.log.info(heartbeatFields({ lagSeconds: this.lastLag, rowsWaiting: this.lastWaiting, watermark: report.watermark }), "idle: no new rows");
    }
  }

  /** This instance became the active publisher (true) or a standby (false). */
  leadership(active: boolean): void {
    this.metrics.setActive(active);
  }

  /**
   * A dependency's connection went up or down. `reason` is a short state ("disconnected",
   * "reconnecting"), served on /readyz: never an error message.
   */
  dependency(dependency: Dependency, up: boolean, reason?: string): void {
    this.metrics.setDependency(dependency, up);
    this.readiness.setDependency(dependency, up, reason);
  }

  /** The watermark was committed (at `at`, default now). */
  committed(at: Date | number = (this.settings.now ?? Date.now)()): void {
    this.metrics.committed(at);
  }

  /** A failure outside a cycle (connecting, losing the lock): counted by kind. */
  failed(err: unknown): void {
    this.metrics.error(errorKindOf(err));
  }
}
