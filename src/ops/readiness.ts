/**
 * Liveness and readiness, decided from what the poll loop reports (no probing of its own, so
 * a health check never adds load on the databases or NATS).
 *
 * - Live (/healthz): the loop called `tick()` within `livenessTimeoutSeconds`. The loop ticks
 *   at least once per cycle and once per sleep; a loop stuck in a call that never returns
 *   (a dead network without a timeout) stops ticking and the process gets restarted.
 * - Ready (/readyz): the source, the tracking store and NATS are all reported connected, and the
 *   last cycle did not fail, or failed less than `failureGraceSeconds` ago (one failed poll,
 *   retried at once, is not worth taking the instance out of rotation). A standby instance (not
 *   holding the program's lock) is ready when connected: it is healthy, only not publishing;
 *   `onp_instance_active` says which one is.
 */
import { DEPENDENCIES, type Dependency } from "./metrics";

export interface ReadinessOptions {
  /** metrics.ready_failure_grace */
  failureGraceSeconds: number;
  /** metrics.liveness_timeout */
  livenessTimeoutSeconds: number;
  /** Unix milliseconds; injectable for tests. */
  now?: () => number;
}

export interface Verdict {
  ok: boolean;
  /** One short line (no secrets: reasons are dependency states and error kinds, not messages). */
  reason: string;
}

const DEPENDENCY_LABEL: Record<Dependency, string> = { source: "source", tracking: "tracking store", nats: "nats" };

export class Readiness {
  private readonly options: ReadinessOptions;
  private readonly now: () => number;
  private lastTick: number;
  private readonly dependencies = new Map<Dependency, { up: boolean; reason: string }>();
  private lastFailure: { at: number; reason: string } | null = null;

  constructor(options: ReadinessOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.lastTick = this.now();
    for (const d of DEPENDENCIES) this.dependencies.set(d, { up: false, reason: "not connected yet" });
  }

  /** The loop is alive. */
  tick(): void {
    this.lastTick = this.now();
  }

  /**
   * A dependency went up or down. `reason` is a short state like "disconnected" or
   * "reconnecting": it is served on /readyz, so never put an error message (which may quote
   * a host, a user or worse) here.
   */
  setDependency(dependency: Dependency, up: boolean, reason = up ? "connected" : "disconnected"): void {
    this.dependencies.set(dependency, { up, reason });
  }

  cycleSucceeded(): void {
    this.lastFailure = null;
    this.tick();
  }

  /** `reason`: a short label such as the error kind ("source", "nats", ...). */
  cycleFailed(reason: string): void {
    this.lastFailure = { at: this.now(), reason };
    this.tick();
  }

  live(): Verdict {
    const age = (this.now() - this.lastTick) / 1000;
    if (age > this.options.livenessTimeoutSeconds) {
      return { ok: false, reason: `loop stalled: no progress for ${Math.round(age)} s (limit ${this.options.livenessTimeoutSeconds} s)` };
    }
    return { ok: true, reason: "alive" };
  }

  ready(): Verdict {
    const down = DEPENDENCIES.filter((d) => !this.dependencies.get(d)?.up);
    if (down.length > 0) return { ok: false, reason: down.map((d) => `${DEPENDENCY_LABEL[d]}: ${this.dependencies.get(d)?.reason}`).join(", ") };
    if (this.lastFailure) {
      const age = (this.now() - this.lastFailure.at) / 1000;
      if (age >= this.options.failureGraceSeconds) {
        return { ok: false, reason: `last cycle failed ${Math.round(age)} s ago (${this.lastFailure.reason})` };
      }
    }
    return { ok: true, reason: "ready" };
  }
}
