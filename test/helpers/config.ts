/** Config objects for tests: the real services, a MariaDB source table, unique names. */

import { dump } from "js-yaml";
import { parseConfig } from "../../src/config/load";
import type { Config } from "../../src/config/schema";
import { NATS_URL } from "./services";

export interface TestNames {
  table: string;
  stream: string;
  subject: string;
  program: string;
}

/** A plain config object (as it would be written in YAML) for a MariaDB-sourced test run. */
export function rawConfig(
  names: TestNames,
  overrides: { nats?: object; publisher?: object; source?: object; events?: object; logging?: object } = {},
): Record<string, unknown> {
  return {
    source: { kind: "mariadb", table: names.table, ...overrides.source },
    mariadb: {
      host: "127.0.0.1",
      port: 3306,
      user: "root",
      password: "",
      database: "test",
      retry: { max_retries: 2, initial_backoff: 0.05, max_backoff: 0.2, backoff_multiplier: 2 },
    },
    nats: {
      servers: [NATS_URL],
      publish_timeout: 2,
      retry: { max_retries: 3, initial_backoff: 0.05, max_backoff: 0.5, backoff_multiplier: 2 },
      ...overrides.nats,
    },
    intime_txlog_events: { stream_name: names.stream, subject: names.subject, data_type: "txlog_event", ...overrides.events },
    publisher: {
      program_name: names.program,
      polling_interval: 0.2,
      batch_size: 100,
      max_records_per_run: 100000,
      safety_lag_seconds: 0,
      checkpoint_interval: 0.2,
      ...overrides.publisher,
    },
    logging: { level: "warn", ...overrides.logging },
  };
}

export function testConfig(names: TestNames, overrides: Parameters<typeof rawConfig>[1] = {}): Config {
  return parseConfig(dump(rawConfig(names, overrides)), "test-config.yaml", {});
}
