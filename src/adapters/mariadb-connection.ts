/**
 * MariaDB connections that can neither crash the process nor hang it, shared by the tracking
 * store and the MariaDB source.
 *
 * - Every connection gets an `error` listener the moment it exists: the connector rethrows a
 *   socket error (KILL, server restart, network reset) from its socket handler when nobody
 *   listens, which is an uncaught exception that kills the process.
 * - Every call has a deadline measured here, in JavaScript. The connector's own `queryTimeout`
 *   is server-side (max_statement_time) and does nothing for a network that stopped answering,
 *   and its `socketTimeout` would also close an idle connection that must stay open (the lock's).
 *   A missed deadline destroys the connection (its socket may still deliver a late answer) and
 *   rejects with a transient `MariadbDeadlineError`.
 * - Every call takes an AbortSignal: an abort destroys the connection and rejects at once with
 *   the signal's reason, so a shutdown never waits on a server that does not answer.
 * - TCP keepalive is on, so a peer that vanished without closing TCP is noticed by the kernel.
 */
import * as mariadb from "mariadb";
import { connectionEnded, MariadbDeadlineError } from "./mariadb-errors";

export interface MariadbEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Idle time (ms) before the kernel sends the first TCP keepalive probe (the driver's keepAliveDelay). */
export const KEEPALIVE_DELAY_MS = 10_000;

/** close() waits this long for a polite COM_QUIT before it destroys the socket. */
const CLOSE_GRACE_MS = 1_000;

export function connectionConfig(endpoint: MariadbEndpoint, connectTimeoutMs: number): mariadb.ConnectionConfig {
  const { host, port, user, password, database } = endpoint;
  return {
    host,
    port,
    user,
    password,
    database,
    connectTimeout: connectTimeoutMs,
    keepAliveDelay: KEEPALIVE_DELAY_MS,
    // UPDATE reports the rows it matched, not only those it changed: a fenced write that
    // matched nothing is then told apart from one that rewrote equal values.
    foundRows: true,
    autoJsonMap: false,
    bigIntAsNumber: false,
  };
}

/**
 * Races `work` against a deadline and a signal. On either, `onGiveUp` runs (it destroys the
 * connection) and the promise rejects; a late outcome of `work` is swallowed.
 */
export function bounded<T>(work: Promise<T>, options: { ms: number; signal?: AbortSignal; onGiveUp: () => void; deadline: () => Error }): Promise<T> {
  const { ms, signal, onGiveUp, deadline } = options;
  work.catch(() => undefined);
  if (signal?.aborted) {
    onGiveUp();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const giveUp = (err: unknown) => {
      done();
      onGiveUp();
      reject(err);
    };
    const onAbort = () => giveUp(signal?.reason);
    const timer = setTimeout(() => giveUp(deadline()), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        done();
        resolve(value);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}

/**
 * Opens a connection with its `error` listener attached, within `connect_timeout` (the
 * driver's own timer) and abortable. `onLost` hears every later error or end of the connection.
 */
export async function openConnection(
  endpoint: MariadbEndpoint,
  connectTimeoutMs: number,
  signal: AbortSignal | undefined,
  onLost: (conn: mariadb.Connection, err: unknown) => void,
): Promise<mariadb.Connection> {
  let abandoned = false;
  const pending = mariadb.createConnection(connectionConfig(endpoint, connectTimeoutMs)).then((conn) => {
    conn.on("error", (err: unknown) => onLost(conn, err));
    conn.on("end", () => onLost(conn, connectionEnded(endpoint.host, endpoint.port)));
    if (abandoned) conn.destroy();
    return conn;
  });
  return bounded(pending, {
    // The driver enforces connectTimeout itself; this bound only catches a driver that does not.
    ms: connectTimeoutMs + 1_000,
    signal,
    onGiveUp: () => {
      abandoned = true;
    },
    deadline: () => new MariadbDeadlineError("connecting", endpoint.host, endpoint.port, connectTimeoutMs),
  });
}

/** Runs one statement within `ms`; a miss or an abort destroys `conn`. */
export function queryWithin<T>(
  conn: mariadb.Connection,
  endpoint: MariadbEndpoint,
  what: string,
  ms: number,
  signal: AbortSignal | undefined,
  sql: string | mariadb.QueryOptions,
  params: unknown[] = [],
): Promise<T> {
  return bounded(conn.query(sql, params) as Promise<T>, {
    ms,
    signal,
    onGiveUp: () => conn.destroy(),
    deadline: () => new MariadbDeadlineError(what, endpoint.host, endpoint.port, ms),
  });
}

/** Ends `conn` politely if it answers within a second, else destroys it: never hangs. */
export async function closeConnection(conn: mariadb.Connection | null | undefined): Promise<void> {
  if (!conn) return;
  if (!conn.isValid()) {
    conn.destroy();
    return;
  }
  await bounded(conn.end(), {
    ms: CLOSE_GRACE_MS,
    onGiveUp: () => conn.destroy(),
    deadline: () => new Error("close"),
  }).catch(() => conn.destroy());
}
