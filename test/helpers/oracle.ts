/**
 * Shared setup for the OracleSource tests over the node-oracledb fake: a row builder, the
 * source options (with a logger that captures warnings) and a fake with a filled table.
 */
import { OracleSource, type OracleSourceOptions } from "../../src/adapters/oracle-source";
import type { RetryPolicy } from "../../src/pipeline/retry";
import { type FakeColumnTypes, FakeOracle, type FakeRow } from "../fakes/fake-oracledb";

export const TABLE = "spc.TXLOG_EVENTS";

/** The default password; tests that check it never leaks assert against this. */
export const PASSWORD = "Tr0ub4dor&3-secret";

export const FAST_RETRY: RetryPolicy = { maxRetries: 3, initialBackoff: 0.001, maxBackoff: 0.005, backoffMultiplier: 2 };

export interface CapturedWarning {
  obj: object;
  msg: string;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** A row whose EVENT_TIMESTAMP is `id` seconds after 2026-01-01 00:00:00 (ids below 3600) unless overridden. */
export function fakeRow(id: number | string, overrides: Partial<FakeRow> = {}): FakeRow {
  const n = Number(id);
  return {
    ID: String(id),
    CASE_ID: "c",
    EVENT_TYPE: "e",
    EVENT_DATA: "{}",
    EVENT_TIMESTAMP: `2026-01-01 00:${pad2(Math.floor(n / 60))}:${pad2(n % 60)}.000000`,
    CREATED_AT: null,
    ...overrides,
  };
}

/** Options for a source over `fake`; warnings the source logs are pushed onto `warnings`. */
export function oracleOptions(fake: FakeOracle, overrides: Partial<OracleSourceOptions> = {}, warnings: CapturedWarning[] = []): OracleSourceOptions {
  return {
    user: "publisher",
    password: PASSWORD,
    dsn: "dbhost:1521/FREEPDB1",
    poolMin: 0,
    poolMax: 2,
    fetchArraySize: 100,
    prefetchRows: 100,
    callTimeoutMs: 5000,
    retry: FAST_RETRY,
    timeZone: "UTC",
    driver: fake.driver,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }), info() {}, debug() {} },
    ...overrides,
  };
}

/** A fake holding TABLE with `rows` (or fakeRow(1..rows)), and a source over it. */
export function setupFake(rows: number | FakeRow[] = [], options: Partial<OracleSourceOptions> = {}, types: Partial<FakeColumnTypes> = {}) {
  const fake = new FakeOracle();
  fake.createTable(TABLE, typeof rows === "number" ? Array.from({ length: rows }, (_, i) => fakeRow(i + 1)) : rows, types);
  const warnings: CapturedWarning[] = [];
  const source = new OracleSource(oracleOptions(fake, options, warnings));
  return { fake, source, warnings };
}
