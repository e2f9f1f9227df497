/**
 * A TCP proxy in front of a real server (MariaDB on 127.0.0.1:3306 by default) for fault tests.
 * It listens on a port of its own (127.0.0.1, chosen by the kernel) and can, on command:
 *
 * - `refuse()`: reset every new connection at once (the server looks down);
 * - `blackhole()`: accept connections but forward nothing either way, on new and open
 *   connections alike, closes included (a stalled server or a dropped network: nothing
 *   arrives, nothing fails, and the server keeps the session of a client that gave up);
 * - `resetAll()`: reset (TCP RST) every open connection, on both sides;
 * - `forward()`: back to normal for new connections (and open ones that were black-holed).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export type ProxyMode = "forward" | "refuse" | "blackhole";

export interface TcpProxy {
  readonly port: number;
  readonly mode: ProxyMode;
  /** Connections accepted so far (a fresh connection after a fault shows up here). */
  readonly accepted: number;
  /** Bytes from clients swallowed by the black hole (a statement that is stuck shows up here). */
  readonly swallowed: number;
  forward(): void;
  refuse(): void;
  blackhole(): void;
  resetAll(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket;
}

export async function startTcpProxy(target = { host: "127.0.0.1", port: 3306 }): Promise<TcpProxy> {
  let mode: ProxyMode = "forward";
  let accepted = 0;
  let swallowed = 0;
  const pairs = new Set<Pair>();

  const server: Server = createServer((client) => {
    accepted++;
    client.on("error", () => undefined);
    if (mode === "refuse") {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(target);
    upstream.on("error", () => undefined);
    const pair = { client, server: upstream };
    pairs.add(pair);
    // Data is dropped, not buffered, while black-holed: what was sent in that time is lost,
    // as on a network that stopped delivering.
    client.on("data", (chunk: Buffer) => {
      if (mode !== "blackhole") upstream.write(chunk);
      else swallowed += chunk.length;
    });
    upstream.on("data", (chunk) => {
      if (mode !== "blackhole") client.write(chunk);
    });
    const end = (closed: Socket) => {
      // Over a black hole the other side never hears of the close: the server keeps a session
      // (and its locks) for a client that is gone, until resetAll() or close().
      if (mode === "blackhole") {
        closed.destroy();
        return;
      }
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => end(client));
    upstream.on("close", () => end(upstream));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("proxy has no TCP address");

  return {
    port: address.port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get swallowed() {
      return swallowed;
    },
    forward: () => {
      mode = "forward";
    },
    refuse: () => {
      mode = "refuse";
    },
    blackhole: () => {
      mode = "blackhole";
    },
    resetAll() {
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair.client.resetAndDestroy();
        pair.server.resetAndDestroy();
      }
    },
    async close() {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.server.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `condition` until it is true; fails after `timeoutMs` (a bound against hangs, not a speed check). */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Settles with `promise`, or rejects when it has not settled after `timeoutMs` (a hang guard). */
export function settlesWithin<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs / 1000} s: it hangs`)), timeoutMs);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}
