/**
 * The one place that decides which node-oracledb failures are worth retrying, and the one
 * place that turns a driver error into a SourceError.
 *
 * node-oracledb errors carry `code` ("ORA-00942", "NJS-500") and, for database
 * errors, `errorNum`. `isRecoverable` is not reliable (it is not set for every transient failure in Thin mode), so it is ignored. Thin
 * mode rewrites dead-connection ORA codes (ORA-03113, ORA-03135, ORA-01089, ORA-12537, ...)
 * to NJS-500 and keeps the original on a later line of the message
 * (node_modules/oracledb/lib/errors.js, `adjustErrorXref` / `transformErr`), so both the
 * `code` property and codes at the start of message lines are looked at.
 */
import { SourceError } from "../errors";

/** Retrying on a fresh connection may help: the connection, network, listener or instance hiccuped. */
export const TRANSIENT_ORACLE_CODES: ReadonlySet<string> = new Set([
  "NJS-500", // connection closed or broken (thin maps many ORA- connection errors here)
  "NJS-501", // connection terminated unexpectedly
  "NJS-503", // connection could not be established
  "NJS-510", // connect timed out
  "NJS-511", // listener refused the connection
  "NJS-521", // end-of-file on communication channel
  "NJS-040", // pool queue timeout: every pooled connection busy
  "NJS-076", // pool queue full
  "NJS-123", // call timeout exceeded
  "ORA-01033", // initialization or shutdown in progress
  "ORA-01089", // immediate shutdown or close in progress
  "ORA-00018", // maximum number of sessions exceeded: frees up as other sessions end
  "ORA-00020", // maximum number of processes exceeded: likewise
  "ORA-01555", // snapshot too old: a fresh query (from the last row emitted) takes a new snapshot
  "ORA-08103", // object no longer exists: the segment was moved or truncated under the query
  "ORA-00060", // deadlock detected while waiting for resource
  "ORA-03113", // end-of-file on communication channel
  "ORA-03114", // not connected to Oracle
  "ORA-03135", // connection lost contact
  "ORA-12541", // no listener
  "ORA-12170", // connect timeout
  "ORA-12537", // connection closed
]);

/** Retrying cannot help: credentials, privileges, schema or configuration are wrong. */
export const PERMANENT_ORACLE_CODES: ReadonlySet<string> = new Set([
  "ORA-01017", // invalid username/password
  "ORA-28000", // account locked
  "ORA-00942", // table or view does not exist
  "ORA-00904", // invalid identifier (a column is missing)
  "ORA-01031", // insufficient privileges
  "NJS-514", // invalid connect string syntax
  "NJS-515", // invalid EZConnect syntax
  "NJS-517", // TNS alias not found
  "NJS-138", // server version not supported by Thin mode (Oracle Database before 12.1)
]);

/**
 * The listener does not know the service: after a database restart the service registers a
 * few seconds after the listener is up (transient), but a misspelt service name in the DSN
 * never registers. So these are transient only once the source has connected at least once.
 */
export const UNREGISTERED_SERVICE_CODES: ReadonlySet<string> = new Set([
  "NJS-518", // Thin's form of ORA-12514
  "ORA-12514", // listener does not currently know of the service
]);

/** What the caller knows that the error alone does not say. */
export interface ClassifyContext {
  /** A connection to this DSN has succeeded before (in this process). */
  connectedBefore: boolean;
}

const CODE_AT_LINE_START = /^(ORA|NJS|DPI)-(\d{3,5})\b/gm;

/** Every driver code the error names: its `code`, its `errorNum`, then codes leading a message line. */
export function oracleErrorCodes(err: unknown): string[] {
  if (err === null || typeof err !== "object") return [];
  const codes: string[] = [];
  const { code, errorNum, message } = err as { code?: unknown; errorNum?: unknown; message?: unknown };
  if (typeof code === "string" && /^(ORA|NJS|DPI)-\d+$/.test(code)) codes.push(code);
  if (typeof errorNum === "number" && errorNum > 0) codes.push(`ORA-${String(errorNum).padStart(5, "0")}`);
  if (typeof message === "string") {
    for (const m of message.matchAll(CODE_AT_LINE_START)) codes.push(m[0]);
  }
  return [...new Set(codes)];
}

/**
 * True when retrying the operation on a fresh connection may succeed. Anything not known to
 * be transient is permanent, so an unexpected failure surfaces at once instead of being
 * retried blindly. A SourceError keeps the decision made when it was created.
 */
export function isTransientOracleError(err: unknown, context: ClassifyContext = { connectedBefore: true }): boolean {
  if (err instanceof SourceError) return err.transient;
  // The first code the table knows decides: `code` is the driver's own verdict, later lines
  // only say what it was wrapped from.
  for (const code of oracleErrorCodes(err)) {
    if (UNREGISTERED_SERVICE_CODES.has(code)) return context.connectedBefore;
    if (TRANSIENT_ORACLE_CODES.has(code)) return true;
    if (PERMANENT_ORACLE_CODES.has(code)) return false;
  }
  return false;
}

/**
 * Wraps a driver failure as a SourceError naming the table and the driver code, with the
 * driver error as `cause`. `secrets` (the password) are cut out of the text in case a
 * driver message ever echoes connect data.
 */
export function toSourceError(
  err: unknown,
  table: string,
  action: string,
  secrets: readonly string[] = [],
  context: ClassifyContext = { connectedBefore: true },
): SourceError {
  if (err instanceof SourceError) return err;
  const codes = oracleErrorCodes(err);
  const code = codes[0];
  const raw = err instanceof Error ? err.message : String(err);
  // Thin appends "Help: <url>" lines to ORA errors; keep the diagnostic lines only.
  const lines = raw
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("Help:"));
  let text = lines.join(" / ") || "unknown error";
  if (code !== undefined && !text.includes(code)) text = `${code}: ${text}`;
  if (!context.connectedBefore && codes.some((c) => UNREGISTERED_SERVICE_CODES.has(c))) text += " / check the service name in oracle_db.dsn";
  if (codes.includes("NJS-138")) text += " / Thin mode needs Oracle Database 12.1 or later";
  for (const secret of secrets) {
    if (secret.length > 0) text = text.split(secret).join("***");
  }
  return new SourceError(`Oracle ${action} on ${table} failed: ${text}`, isTransientOracleError(err, context), { cause: err });
}
