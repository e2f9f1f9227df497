/** pino logger: JSON lines by default, pretty for a terminal; secrets redacted wherever they appear. */
import pino from "pino";
import { type Config, schema } from "./config/schema";
import { redactPaths } from "./config/secrets";
import { describeError } from "./errors";

export type Logger = pino.Logger;

const LEGACY_REDACT = ["password", "*.password", "*.*.password", "token", "*.token", "config.*.password", "config.*.*.password"];
/** Every secret key of the schema (passwords, tokens, nkey_seed, wallet_password), wherever it is logged. */
export const REDACT = [...new Set([...LEGACY_REDACT, ...redactPaths(schema)])];

export function createLogger(config: Pick<Config, "logging">, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logging.level,
    base: { service: "oracle-nats-publisher" },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (config.logging.format === "pretty") {
    // Synchronous pretty printing: no worker thread, lines are written before a fatal exit.
    const pretty = require("pino-pretty") as (opts: object) => pino.DestinationStream;
    return pino(options, pretty({ colorize: process.stdout.isTTY, sync: true, translateTime: "SYS:standard" }));
  }
  return pino(options, pino.destination({ dest: 1, sync: true }));
}

/** The `onRetry` callback every adapter takes: one warning per retry, naming the client. */
export function logRetry(log: Pick<Logger, "warn">, client: string): (err: unknown, attempt: number, waitMs: number) => void {
  return (err, attempt, waitMs) => log.warn({ client, attempt, wait_ms: waitMs, err: describeError(err) }, "transient error: retrying");
}
