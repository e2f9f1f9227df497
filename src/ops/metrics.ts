/**
 * Prometheus metrics of one publisher process, in a registry of its own (not prom-client's
 * global one, so tests and embedders can create as many as they like), with prom-client's
 * default process metrics (CPU, memory, event-loop lag, GC) collected into it.
 *
 *   pipeline --PipelineObserver--> Metrics <--cycleDone/cycleFailed/setLag/...-- poll loop
 *                                     |
 *                                  /metrics (src/ops/http.ts)
 *
 * Labels come from closed sets only (`ErrorKind`, `CycleOutcome`): never a message, a table
 * name or anything that could carry a secret, and a bounded number of series.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { PublisherError } from "../errors";
import type { PipelineObserver } from "../pipeline/types";

/** What the pipeline reports while a cycle runs: the pipeline's own interface (src/pipeline/types.ts). */
export type { PipelineObserver };

/** A PipelineObserver that does nothing: the default when metrics are off. */
export const NO_OBSERVER: PipelineObserver = {
  rowsRead: () => undefined,
  published: () => undefined,
  duplicates: () => undefined,
  recovered: () => undefined,
  deadLettered: () => undefined,
  retried: () => undefined,
  inFlight: () => undefined,
  ackLatency: () => undefined,
};

/** Calls every observer in turn (metrics and the --once progress line, say). */
export function combineObservers(...observers: PipelineObserver[]): PipelineObserver {
  const all = (method: keyof PipelineObserver) => (value: number) => {
    for (const o of observers) o[method](value);
  };
  return {
    rowsRead: all("rowsRead"),
    published: all("published"),
    duplicates: all("duplicates"),
    recovered: all("recovered"),
    deadLettered: all("deadLettered"),
    retried: all("retried"),
    inFlight: all("inFlight"),
    ackLatency: all("ackLatency"),
  };
}

/** The `kind` label of onp_errors_total: a closed set, so a label never carries a message. */
export const ERROR_KINDS = ["source", "tracking", "nats", "config", "fenced", "other"] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** The `outcome` label of onp_cycles_total: rows published, nothing to do, or failed. */
export const CYCLE_OUTCOMES = ["rows", "idle", "failed"] as const;
export type CycleOutcome = (typeof CYCLE_OUTCOMES)[number];

/** The dependencies /readyz and onp_dependency_up report on. */
export const DEPENDENCIES = ["source", "tracking", "nats"] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/**
 * The error kind of a failure, from the stable `code` of the first PublisherError in its cause
 * chain (a CycleError carries its cause's code): E_CONFIG -> config, E_SOURCE* -> source,
 * E_TRACKING* -> tracking, E_PUBLISH / E_UNPUBLISHABLE / E_NATS* -> nats, E_FENCED* and
 * E_LOCKED -> fenced (another instance owns the program), anything else -> other.
 */
export function errorKindOf(err: unknown): ErrorKind {
  let e: unknown = err;
  for (let depth = 0; e !== null && e !== undefined && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (e instanceof PublisherError || (typeof code === "string" && code.startsWith("E_"))) {
      const c = String(code);
      if (c === "E_CONFIG" || c === "E_USAGE") return "config";
      if (c.startsWith("E_SOURCE")) return "source";
      if (c.startsWith("E_TRACKING")) return "tracking";
      if (c === "E_PUBLISH" || c === "E_UNPUBLISHABLE" || c.startsWith("E_NATS") || c.startsWith("E_STREAM")) return "nats";
      if (c.startsWith("E_FENCED") || c === "E_LOCKED") return "fenced";
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return "other";
}

/**
 * Ack latency buckets, in seconds: 0.5 ms (an ack from a local server) to 10 s (the default
 * publish_timeout, after which a publish counts as an unknown outcome).
 */
export const ACK_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Cycle duration buckets, in seconds: an idle poll (milliseconds) to a full 500k-row cycle (minutes). */
export const CYCLE_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface MetricsOptions {
  /** Collect prom-client's default process metrics into the registry (default true). */
  processMetrics?: boolean;
}

export class Metrics implements PipelineObserver {
  readonly registry: Registry;
  private readonly rowsReadTotal: Counter;
  private readonly publishedTotal: Counter;
  private readonly duplicatesTotal: Counter;
  private readonly recoveredTotal: Counter;
  private readonly deadLetteredTotal: Counter;
  private readonly retriesTotal: Counter;
  private readonly inFlightGauge: Gauge;
  private readonly ackLatencyHistogram: Histogram;
  private readonly cycleDuration: Histogram;
  private readonly cyclesTotal: Counter<"outcome">;
  private readonly errorsTotal: Counter<"kind">;
  private readonly lag: Gauge;
  private readonly waiting: Gauge;
  private readonly lastCommit: Gauge;
  private readonly active: Gauge;
  private readonly dependencyUp: Gauge<"dependency">;

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
    const registers = [registry];
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });

    this.rowsReadTotal = counter("onp_rows_read_total", "Rows read from the source table.");
    this.publishedTotal = counter("onp_rows_published_total", "Rows newly stored by JetStream (duplicates and dead letters not included).");
    this.duplicatesTotal = counter("onp_publish_duplicates_total", "Publishes JetStream acknowledged as duplicates (already stored, absorbed by Nats-Msg-Id).");
    this.recoveredTotal = counter("onp_rows_recovered_total", "Rows found already stored in the stream after a restart, and not published again.");
    this.deadLetteredTotal = counter("onp_rows_dead_lettered_total", "Rows sent to the dead-letter subject because JetStream can never take them.");
    this.retriesTotal = counter("onp_publish_retries_total", "Publishes sent again after a timeout or a transient rejection.");
    this.inFlightGauge = gauge("onp_publish_in_flight", "Publishes awaiting their ack (the window's occupancy, bounded by publisher.max_in_flight).");
    this.ackLatencyHistogram = new Histogram({
      name: "onp_publish_ack_latency_seconds",
      help: "Time from a publish to its PubAck.",
      buckets: ACK_LATENCY_BUCKETS,
      registers,
    });
    this.cycleDuration = new Histogram({
      name: "onp_cycle_duration_seconds",
      help: "Duration of a poll cycle (failed ones included).",
      buckets: CYCLE_DURATION_BUCKETS,
      registers,
    });
    this.cyclesTotal = new Counter({ name: "onp_cycles_total", help: "Poll cycles by outcome: rows, idle, failed.", labelNames: ["outcome"], registers });
    this.errorsTotal = new Counter({
      name: "onp_errors_total",
      help: "Failures by kind: source, tracking, nats, config, fenced, other.",
      labelNames: ["kind"],
      registers,
    });
    this.lag = gauge(
      "onp_lag_seconds",
      "Database clock minus the watermark's EVENT_TIMESTAMP; 0 when no row is waiting; NaN while no watermark exists and rows are waiting.",
    );
    this.waiting = gauge("onp_rows_waiting", "Rows past the watermark up to the read bound (database now - safety lag), counted up to a limit.");
    this.lastCommit = gauge("onp_last_commit_timestamp_seconds", "Unix time of the last successful watermark commit.");
    this.active = gauge("onp_instance_active", "1 while this instance is the active publisher of its program, 0 on standby.");
    this.dependencyUp = new Gauge({
      name: "onp_dependency_up",
      help: "1 while connected to a dependency (source, tracking, nats), else 0.",
      labelNames: ["dependency"],
      registers,
    });
    // Every labelled series exists from the start, so rate() and absent() work before the first error.
    for (const kind of ERROR_KINDS) this.errorsTotal.inc({ kind }, 0);
    for (const outcome of CYCLE_OUTCOMES) this.cyclesTotal.inc({ outcome }, 0);
    for (const dependency of DEPENDENCIES) this.dependencyUp.set({ dependency }, 0);
    this.active.set(0);
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Names of the metrics this registry defines (without the _bucket/_sum/_count suffixes). */
  async names(): Promise<string[]> {
    return (await this.registry.getMetricsAsJSON()).map((m) => m.name);
  }

  // PipelineObserver
  rowsRead(n: number): void {
    this.rowsReadTotal.inc(n);
  }
  published(n: number): void {
    this.publishedTotal.inc(n);
  }
  duplicates(n: number): void {
    this.duplicatesTotal.inc(n);
  }
  recovered(n: number): void {
    this.recoveredTotal.inc(n);
  }
  deadLettered(n: number): void {
    this.deadLetteredTotal.inc(n);
  }
  retried(n: number): void {
    this.retriesTotal.inc(n);
  }
  inFlight(n: number): void {
    this.inFlightGauge.set(n);
  }
  ackLatency(seconds: number): void {
    this.ackLatencyHistogram.observe(seconds);
  }

  // The poll loop
  /** A cycle ended normally: `rows` acknowledged in `seconds`. */
  cycleDone(result: { rows: number; seconds: number }): void {
    this.cycleDuration.observe(result.seconds);
    this.cyclesTotal.inc({ outcome: result.rows > 0 ? "rows" : "idle" });
  }

  /** A cycle failed with an error of `kind` (see errorKindOf) after `seconds`, when known. */
  cycleFailed(kind: ErrorKind, seconds?: number): void {
    if (seconds !== undefined) this.cycleDuration.observe(seconds);
    this.cyclesTotal.inc({ outcome: "failed" });
    this.errorsTotal.inc({ kind });
  }

  /** A failure outside a cycle (connecting, leadership, configuration reload). */
  error(kind: ErrorKind): void {
    this.errorsTotal.inc({ kind });
  }

  setActive(active: boolean): void {
    this.active.set(active ? 1 : 0);
  }

  /** `lagSeconds` from `lagSeconds()` in src/ops/lag.ts; null (unknown) is exported as NaN. */
  setLag(lagSeconds: number | null, waitingRows: number): void {
    this.lag.set(lagSeconds ?? Number.NaN);
    this.waiting.set(waitingRows);
  }

  /** The watermark was committed at `time` (a Date or Unix milliseconds). */
  committed(time: Date | number): void {
    this.lastCommit.set((typeof time === "number" ? time : time.getTime()) / 1000);
  }

  setDependency(dependency: Dependency, up: boolean): void {
    this.dependencyUp.set({ dependency }, up ? 1 : 0);
  }
}
