/**
 * Command line:
 *   node dist/main.js [--config FILE] [--once]
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
import { loadConfig } from "./config/load";
import type { Config } from "./config/schema";
import { ConfigError, describeError, UsageError } from "./errors";
import { createLogger, type Logger } from "./log";

const USAGE = "usage: node dist/main.js [--config FILE] [--once]";

function parseArgs(argv: string[]): { config: string; once: boolean } {
  let config = "config/config.yaml";
  let once = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--once") once = true;
    else if (arg === "--config") {
      const value = argv[++i];
      if (!value || value.startsWith("--")) throw new UsageError(`--config needs a file path; ${USAGE}`);
      config = value;
    } else if (arg.startsWith("--config=")) config = arg.slice("--config=".length);
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`);
  }
  return { config, once };
}

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

async function main(): Promise<void> {
  let log: Logger | undefined;
  try {
    const args = parseArgs(process.argv.slice(2));
    const config = loadConfig(args.config);
    const logger = createLogger(config);
    log = logger;
    const { stop, kill, state } = shutdownSignals(config, logger);
    logger.info(
      {
        config: args.config,
        once: args.once,
        source: config.source.kind,
        table: config.source.table,
        stream: config.intime_txlog_events.stream_name,
        subject: config.intime_txlog_events.subject,
      },
      "starting",
    );
    let service: Awaited<ReturnType<typeof createService>>;
    try {
      service = await createService(config, logger, stop);
    } catch (err) {
      if (!stop.aborted) throw err;
      logger.info({ err: describeError(err) }, "stop requested during start-up");
      exitAfterStop(logger, state);
    }
    try {
      await service.run({ once: args.once, stop, kill });
    } catch (err) {
      // A failure the stop request caused, or met, ends like the stop itself.
      if (!stop.aborted) throw err;
    } finally {
      await service.close();
    }
    exitAfterStop(logger, state);
  } catch (err) {
    fail(err, log);
  }
}

void main();
