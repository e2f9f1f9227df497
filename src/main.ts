/**
 * Command line:
 *   node dist/main.js [--config FILE] [--once]
 *
 * --once: one poll cycle (at most publisher.max_records_per_run rows), commit, exit 0.
 * Without it: a long-lived service polling every publisher.polling_interval seconds.
 * SIGTERM/SIGINT: stop reading, wait for in-flight acks (at most publisher.shutdown_timeout),
 * commit what is acknowledged, close connections, exit 0. A second signal closes at once.
 * Any failure: one line `oracle-nats-publisher: error: <cause>` on stderr, exit code 1
 * (2 for usage and configuration errors).
 */
import { createService } from "./app";
import { loadConfig } from "./config/load";
import { ConfigError, describeError } from "./errors";
import { createLogger, type Logger } from "./log";

const USAGE = "usage: node dist/main.js [--config FILE] [--once]";

class UsageError extends ConfigError {}

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
  process.exit(err instanceof ConfigError ? 2 : 1);
}

async function main(): Promise<void> {
  let log: Logger | undefined;
  try {
    const args = parseArgs(process.argv.slice(2));
    const config = loadConfig(args.config);
    log = createLogger(config);
    const stop = new AbortController();
    const kill = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        log?.info({ signal, shutdown_timeout_s: config.publisher.shutdown_timeout }, "stopping: no new reads, waiting for in-flight acks");
        stop.abort(new Error(signal));
        setTimeout(() => kill.abort(new Error("shutdown timeout")), config.publisher.shutdown_timeout * 1000).unref();
      } else {
        log?.warn({ signal }, "second signal: closing now; unacknowledged rows will be re-read next time");
        kill.abort(new Error(signal));
      }
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    log.info(
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
    const service = await createService(config, log);
    try {
      await service.run({ once: args.once, stop: stop.signal, kill: kill.signal });
    } finally {
      await service.close();
    }
    log.info({}, "stopped");
    process.exit(kill.signal.aborted && !stop.signal.aborted ? 1 : 0);
  } catch (err) {
    fail(err, log);
  }
}

void main();
