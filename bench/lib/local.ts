/** The local services the bench runs against, and the settings every case shares. */

import { local } from "../../scripts/lib/txlog-table";
import { MariadbSource } from "../../src/adapters/mariadb-source";
import type { FormatOptions } from "../../src/event/txlog-event";
import type { RetryPolicy } from "../../src/pipeline/retry";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

export const noRetry: RetryPolicy = { maxRetries: 0, initialBackoff: 1, maxBackoff: 1, backoffMultiplier: 2 };
/** Publish retries as the service's defaults (nats.retry). */
export const publishRetry: RetryPolicy = { maxRetries: 5, initialBackoff: 1, maxBackoff: 30, backoffMultiplier: 2 };

export function benchSource(table: string): MariadbSource {
  return new MariadbSource({ ...local, table, retry: noRetry });
}

export function formatOptions(table: string): FormatOptions {
  return { timeZone: "UTC", dataType: "txlog_event", traceId: "uuid4", table };
}

/** A logger that drops everything (the pipeline's Log interface). */
export const silentLog = { info() {}, warn() {}, error() {}, debug() {} };
