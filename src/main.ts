/**
 * Command line (src/cli/args.ts has every form and `--help` prints them):
 *   node dist/main.js [run] [--config FILE] [--once] [--dry-run [--limit N] [--count]]
 *   node dist/main.js status|check|rewind ...   (operator commands, src/cli)
 *
 * --once: one poll cycle (at most publisher.max_records_per_run rows), commit, exit 0.
 * Without it: a long-lived service polling every publisher.polling_interval seconds.
 * SIGTERM/SIGINT/SIGHUP: stop reading, wait for in-flight acks (at most
 * publisher.shutdown_timeout), commit what is acknowledged, close connections, exit 0, also
 * when the signal ends a failing cycle or a start-up still waiting for a service. A second
 * signal closes at once (exit 0; the cycle gets KILL_GRACE_MS to commit); the shutdown timeout
 * expiring closes too, and exits 1.
 * Any failure: one line `oracle-nats-publisher: error: <cause>` on stderr, exit code 1
 * (2 for usage and configuration errors). README "Running it" has the table.
 */
import { createService } from "./app";
import { liveEnvironment } from "./cli/live-ports";
import { runCli } from "./cli/run-cli";
import type { Config } from "./config/schema";
import { ConfigError, describeError, UsageError } from "./errors";
import { createLogger, type Logger } from "./log";
import { Ops } from "./ops/ops";

function fail(err: unknown, log?: Logger): never {
  const line = describeError(err).replace(/\s*\n\s*/g, " ");
  log?.fatal({ err: line, code: (err as { code?: string }).code }, "exiting");
  process.stderr.write(`oracle-nats-publisher: error: ${line}\n`);
  process.exit(err instanceof ConfigError || err instanceof UsageError ? 2 : 1);
}

/** Why the service was closed before its in-flight acks were in, if it was. */
type KillReason = "second signal" | "shutdown timeout";

/**
 * The stop and kill signals, driven by SIGTERM, SIGINT and SIGHUP: the first asks for a clean
 * stop and starts the shutdown timeout; a second signal, or the timeout, closes at once.
 */
function shutdownSignals(config: Config, log: Logger) {
  const stop = new AbortController();
  const kill = new AbortController();
  const state: { killedBy: KillReason | null } = { killedBy: null };
  const closeNow = (reason: KillReason) => {
    if (kill.signal.aborted) return;
    state.killedBy = reason;
    kill.abort(new Error(reason));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      log.info({ signal, shutdown_timeout_s: config.publisher.shutdown_timeout }, "stopping: no new reads, waiting for in-flight acks");
      stop.abort(new Error(signal));
      setTimeout(() => {
        log.warn(
          { shutdown_timeout_s: config.publisher.shutdown_timeout },
          "shutdown timeout expired: closing now; unacknowledged rows will be re-read next time",
        );
        closeNow("shutdown timeout");
      }, config.publisher.shutdown_timeout * 1000).unref();
    } else {
      log.warn({ signal }, "second signal: closing now; unacknowledged rows will be re-read next time");
      closeNow("second signal");
    }
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, onSignal);
  return { stop: stop.signal, kill: kill.signal, state };
}

/** Exit code once the service has stopped: 0, or 1 (with its one stderr line) when the shutdown timeout cut it short. */
function exitAfterStop(log: Logger, state: { killedBy: KillReason | null }): never {
  log.info({ closed_by: state.killedBy ?? undefined }, "stopped");
  if (state.killedBy !== "shutdown timeout") process.exit(0);
  process.stderr.write("oracle-nats-publisher: error: shutdown timeout expired before every in-flight ack came; unacknowledged rows will be re-read\n");
  process.exit(1);
}

/** The service (run, run --once): never returns, it exits with the code the table in the header gives. */
async function runService(config: Config, args: { once: boolean; configPath: string }): Promise<never> {
  let log: Logger | undefined;
  try {
    const logger = createLogger(config);
    log = logger;
    const { stop, kill, state } = shutdownSignals(config, logger);
    logger.info(
      {
        config: args.configPath,
        once: args.once,
        source: config.source.kind,
        table: config.source.table,
        stream: config.intime_txlog_events.stream_name,
        subject: config.intime_txlog_events.subject,
      },
      "starting",
    );
    const ops = new Ops({ metrics: config.metrics, heartbeatInterval: config.logging.heartbeat_interval, timeZone: config.source.time_zone }, logger);
    // The endpoint comes up first: /healthz answers while start-up waits for a service, /readyz says which.
    await ops.start();
    let service: Awaited<ReturnType<typeof createService>>;
    try {
      service = await createService(config, logger, stop, ops);
    } catch (err) {
      await ops.close();
      if (!stop.aborted) throw err;
      logger.info({ err: describeError(err) }, "stop requested during start-up");
      exitAfterStop(logger, state);
    }
    try {
      await service.run({ once: args.once, stop, kill, progress: args.once ? process.stderr : undefined });
    } catch (err) {
      // A failure the stop request caused, or met, ends like the stop itself.
      if (!stop.aborted) throw err;
    } finally {
      await service.close();
      await ops.close();
    }
    exitAfterStop(logger, state);
  } catch (err) {
    fail(err, log);
  }
}

async function main(): Promise<void> {
  const env = liveEnvironment({
    runService,
    // The commands print their own lines: their adapters log nothing.
    log: (config) => createLogger({ logging: { ...config.logging, level: "silent" } }),
  });
  const code = await runCli(process.argv.slice(2), env);
  process.exit(code);
}

void main();
