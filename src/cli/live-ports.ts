/**
 * The real ports of the commands: the CliEnvironment main.ts hands runCli, over the configured
 * source, the tracking database (ETL_PRMREC and the program's lock) and NATS.
 *
 * Every port makes one attempt (the source and the lock store get a retry policy of 0 retries):
 * an operator wants an answer in seconds, not a retry backoff.
 */

import { natsOptions } from "../adapters/jetstream";
import { trackingOptions } from "../adapters/mariadb-tracking";
import { leaseWatermark, probeNats, StreamProbe, TrackingProbe } from "../adapters/ops-probes";
import { createSource } from "../app";
import { loadConfig } from "../config/load";
import type { Config } from "../config/schema";
import { eventJson, formatEvent } from "../event/txlog-event";
import type { Logger } from "../log";
import { cycleSettings } from "../pipeline/cycle";
import { eventMsgId } from "../pipeline/message-id";
import { startPosition } from "../pipeline/start-position";
import type { RowSource, SourceRow, Watermark } from "../pipeline/types";
import type { CheckTarget } from "./check";
import type { SourceCounter } from "./ports";
import type { CliEnvironment, CommandPorts, CommandSettings } from "./run-cli";
import { confirm, isInteractive, lineOutput } from "./terminal";

/** The config with no retries anywhere a command connects: one attempt each. */
export function oneAttempt(config: Config): Config {
  const none = { ...config.mariadb.retry, max_retries: 0 };
  return {
    ...config,
    mariadb: { ...config.mariadb, retry: none },
    nats: { ...config.nats, retry: { ...config.nats.retry, max_retries: 0 } },
    ...(config.oracle_db ? { oracle_db: { ...config.oracle_db, retry: { ...config.oracle_db.retry, max_retries: 0 } } } : {}),
  };
}

function counter(source: RowSource): SourceCounter {
  return {
    countAfter(after, upperLagSeconds, limit) {
      if (!source.countAfter) throw new Error(`source ${source.table} cannot count rows`);
      return source.countAfter(after, upperLagSeconds, limit);
    },
    countBetween(after, through, limit) {
      if (!source.countBetween) throw new Error(`source ${source.table} cannot count rows`);
      return source.countBetween(after, through, limit);
    },
  };
}

/** The ports of status, rewind and the dry run; connections open on first use. */
export async function openPorts(loaded: Config, log: Logger): Promise<CommandPorts> {
  const config = oneAttempt(loaded);
  const events = config.intime_txlog_events;
  const tracking = new TrackingProbe(trackingOptions(config, log));
  const stream = new StreamProbe(natsOptions(config), events.stream_name, events.subject);
  let source: RowSource | null = null;
  const theSource = () => {
    source ??= createSource(config, log);
    return source;
  };
  const settings = cycleSettings(config);
  const lazyCounter: SourceCounter = {
    countAfter: (a, l, n) => counter(theSource()).countAfter(a, l, n),
    countBetween: (a, b, n) => counter(theSource()).countBetween(a, b, n),
  };
  return {
    tracking,
    lock: {
      holder: () => tracking.holder(),
      tryAcquire: () =>
        leaseWatermark(trackingOptions(config, log), async () => {
          const row = await tracking.read().catch(() => null);
          return Number(row?.recordsProcessed ?? 0);
        }),
    },
    stream,
    source: lazyCounter,
    rows: (after: Watermark | null, limit: number): AsyncIterable<SourceRow[]> =>
      theSource().read({ after, limit, pageSize: Math.min(limit, settings.batchSize), safetyLagSeconds: settings.safetyLagSeconds }),
    format: (row: SourceRow) => ({
      subject: events.subject,
      msgId: eventMsgId(theSource().table, row.id),
      payload: eventJson(formatEvent(row, settings.format)),
    }),
    startPosition: () => startPosition(config.publisher.start_from, theSource(), settings.safetyLagSeconds, config.source.time_zone),
    async close() {
      await Promise.all([tracking.close(), stream.close(), source?.close().catch(() => undefined)]);
    },
  };
}

/** `check`'s steps: the source, the tracking store, NATS, the stream; each one attempt. */
export function checkTargets(loaded: Config, log: Logger): CheckTarget[] {
  const config = oneAttempt(loaded);
  const events = config.intime_txlog_events;
  const kind = config.source.kind === "oracle" ? "Oracle" : "MariaDB";
  return [
    {
      name: "source",
      async probe() {
        const source = createSource(config, log);
        try {
          const check = (source as { check?: () => Promise<void> }).check;
          if (check) await check.call(source);
          const { dbNow } = await counter(source).countAfter(null, 0, 1);
          return `${kind} table ${source.table} readable (database clock ${dbNow})`;
        } finally {
          await source.close().catch(() => undefined);
        }
      },
    },
    {
      name: "tracking store",
      async probe(signal) {
        const probe = new TrackingProbe(trackingOptions(config, log));
        try {
          return await probe.check(signal);
        } finally {
          await probe.close();
        }
      },
    },
    { name: "NATS", probe: (signal) => probeNats(natsOptions(config), signal) },
    {
      name: "stream",
      needs: "NATS",
      async probe() {
        const probe = new StreamProbe(natsOptions(config), events.stream_name);
        try {
          const info = await probe.info().catch((err: unknown) => {
            if (/stream not found/i.test(String((err as Error).message))) return null;
            throw err;
          });
          if (info === null) return `${events.stream_name} does not exist yet: the first run creates it`;
          const missing = [events.subject, events.dead_letter_subject].filter((s) => !info.subjects.includes(s));
          const note = missing.length > 0 ? `; created or widened on the first run to capture ${missing.join(", ")}` : "";
          return `${info.name}: ${info.messages} messages, duplicate window ${info.duplicateWindowSeconds} s${note}`;
        } finally {
          await probe.close();
        }
      },
    },
  ];
}

function commandSettings(config: Config): CommandSettings {
  return { program: config.publisher.program_name, timeZone: config.source.time_zone, safetyLagSeconds: config.publisher.safety_lag_seconds };
}

/**
 * The environment of the real binary. `runService` runs the publisher (main.ts keeps the
 * signal handling); `quietLog` builds the logger the commands' adapters use (quiet: the
 * commands print their own lines).
 */
export function liveEnvironment(options: {
  runService: CliEnvironment<Config>["runService"];
  log: (config: Config) => Logger;
  env?: NodeJS.ProcessEnv;
}): CliEnvironment<Config> {
  return {
    loadConfig: (path) => loadConfig(path, options.env),
    settings: commandSettings,
    openPorts: (config) => openPorts(config, options.log(config)),
    checkTargets: (config) => checkTargets(config, options.log(config)),
    runService: options.runService,
    output: lineOutput(process.stdout, process.stderr),
    interactive: isInteractive(process.stdin, process.stdout),
    confirm: (question) => confirm(question, process.stdin, process.stdout),
  };
}
