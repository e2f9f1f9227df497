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
 * - Giving a connection up destroys its socket here (`abandon`), not with the connector's
 *   destroy(): with a statement in flight, that one first opens a second connection to send
 *   KILL and closes the socket only after it answered (never, on a dead network), and leaves
 *   the KILL's failure as an unhandled rejection.
 */
import { connect as netConnect, type Socket } from "node:net";
import * as mariadb from "mariadb";
import { connectionEnded, MariadbDeadlineError } from "./mariadb-errors";

export interface MariadbEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** TLS options for the driver (`mariadb.ssl`), absent for a plain connection. */
  ssl?: mariadb.ConnectionConfig["ssl"];
}

/** Idle time (ms) before the kernel sends the first TCP keepalive probe (the driver's keepAliveDelay). */
export const KEEPALIVE_DELAY_MS = 10_000;

/** close() waits this long for a polite COM_QUIT before it destroys the socket. */
const CLOSE_GRACE_MS = 1_000;

/** The socket under each connection this module opened. */
const sockets = new WeakMap<mariadb.Connection, Socket>();

/** Open, and its socket not given up. */
export function isAlive(conn: mariadb.Connection): boolean {
  return conn.isValid() && !(sockets.get(conn)?.destroyed ?? false);
}

/**
 * Gives a connection up at once: its socket is destroyed, the connector fails whatever was in
 * flight and reports the error to the connection's listener. Never waits for the server.
 */
export function abandon(conn: mariadb.Connection, reason: Error = new Error("connection abandoned")): void {
  const socket = sockets.get(conn);
  // A socket destroyed already is enough: the connector learns of it on the next tick, and its
  // own destroy() in between would still see a statement in flight and send its KILL.
  if (socket) {
    if (!socket.destroyed) socket.destroy(reason);
    return;
  }
  if (conn.isValid()) conn.destroy();
}

export function connectionConfig(endpoint: MariadbEndpoint, connectTimeoutMs: number): mariadb.ConnectionConfig {
  const { host, port, user, password, database, ssl } = endpoint;
  return {
    ...(ssl ? { ssl } : {}),
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
 * `sessionVariables` are SET on the new session.
 */
export async function openConnection(
  endpoint: MariadbEndpoint,
  connectTimeoutMs: number,
  signal: AbortSignal | undefined,
  onLost: (conn: mariadb.Connection, err: unknown) => void,
  sessionVariables?: Record<string, number | string>,
): Promise<mariadb.Connection> {
  let socket: Socket | undefined;
  const config: mariadb.ConnectionConfig = {
    ...connectionConfig(endpoint, connectTimeoutMs),
    sessionVariables,
    stream: () => {
      socket = netConnect(endpoint.port, endpoint.host);
      return socket;
    },
  };
  const pending = mariadb.createConnection(config).then((conn) => {
    conn.on("error", (err: unknown) => onLost(conn, err));
    conn.on("end", () => onLost(conn, connectionEnded(endpoint.host, endpoint.port)));
    if (socket) sockets.set(conn, socket);
    if (socket?.destroyed) conn.destroy();
    return conn;
  });
  return bounded(pending, {
    // The driver enforces connectTimeout itself; this bound only catches a driver that does not.
    ms: connectTimeoutMs + 1_000,
    signal,
    onGiveUp: () => socket?.destroy(),
    deadline: () => new MariadbDeadlineError("connecting", endpoint.host, endpoint.port, connectTimeoutMs),
  });
}

/** Runs one statement within `ms`; a miss or an abort destroys `conn`. */
export function queryWithin<T>(
  conn: mariadb.Connection,
  endpoint: Pick<MariadbEndpoint, "host" | "port">,
  what: string,
  ms: number,
  signal: AbortSignal | undefined,
  sql: string | mariadb.QueryOptions,
  params: unknown[] = [],
): Promise<T> {
  return bounded(conn.query(sql, params) as Promise<T>, {
    ms,
    signal,
    onGiveUp: () => abandon(conn, new MariadbDeadlineError(what, endpoint.host, endpoint.port, ms)),
    deadline: () => new MariadbDeadlineError(what, endpoint.host, endpoint.port, ms),
  });
}

/** Ends `conn` politely if it answers within a second, else destroys it: never hangs. */
export async function closeConnection(conn: mariadb.Connection | null | undefined): Promise<void> {
  if (!conn) return;
  if (!isAlive(conn)) {
    abandon(conn);
    return;
  }
  await bounded(conn.end(), {
    ms: CLOSE_GRACE_MS,
    onGiveUp: () => abandon(conn),
    deadline: () => new Error("close"),
  }).catch(() => abandon(conn));
}
