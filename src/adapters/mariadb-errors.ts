/** The one place that says which MariaDB errors are worth retrying with a fresh connection. */
import { IDENTIFIER_MAX_LENGTH, isTableName } from "../config/patterns";

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ER_SOCKET_UNEXPECTED_CLOSE",
  "ER_CONNECTION_TIMEOUT",
  "ER_GET_CONNECTION_TIMEOUT",
  "ER_CONNECTION_ALREADY_CLOSED",
  "ER_CMD_CONNECTION_CLOSED",
  "ER_SOCKET_TIMEOUT",
  "ER_POOL_ALREADY_CLOSED",
  "ER_CON_COUNT_ERROR", // 1040 too many connections
  "ER_SERVER_SHUTDOWN", // 1053
  "ER_CONNECTION_KILLED", // 1927
  "ER_QUERY_INTERRUPTED", // 1317
  "ER_LOCK_DEADLOCK", // 1213
  "ER_LOCK_WAIT_TIMEOUT", // 1205
  "ER_STATEMENT_TIMEOUT",
  "ER_CLIENT_INTERRUPTED",
  "E_MARIADB_DEADLINE",
]);

/** Bad credentials, unknown database/table/column, syntax and privilege errors are permanent. */
export function isTransientMariadbError(err: unknown): boolean {
  const e = err as { code?: string; fatal?: boolean; errno?: number };
  if (!e || typeof e !== "object") return false;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  // Server-side errno for connection loss while a query ran (2006 gone away, 2013 lost).
  if (e.errno === 2006 || e.errno === 2013 || e.errno === 1927 || e.errno === 1053) return true;
  return false;
}

/** The table name, checked before it is inlined into SQL (values are always bound). */
export function quoteTable(table: string): string {
  if (!isTableName(table, IDENTIFIER_MAX_LENGTH.mariadb)) {
    throw new TypeError(`invalid table name ${JSON.stringify(table)}: expected NAME or SCHEMA.NAME`);
  }
  return table
    .split(".")
    .map((part) => `\`${part}\``)
    .join(".");
}

/** A MariaDB call missed its deadline (`mariadb.query_timeout`); its connection was destroyed. */
export class MariadbDeadlineError extends Error {
  readonly code = "E_MARIADB_DEADLINE";
  constructor(what: string, host: string, port: number, ms: number) {
    super(`${what}: no answer from MariaDB ${host}:${port} within ${ms / 1000} s (connection destroyed)`);
    this.name = "MariadbDeadlineError";
  }
}

/** The connection ended (closed by the server, killed, or destroyed). */
export function connectionEnded(host: string, port: number): Error {
  return Object.assign(new Error(`connection to MariaDB ${host}:${port} closed`), { code: "ER_SOCKET_UNEXPECTED_CLOSE" });
}
