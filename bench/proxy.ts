/**
 * A delaying TCP proxy: every chunk, in either direction, is forwarded `delayMs` later, in
 * order, so a round trip through it takes at least 2 x delayMs more (loopback made to look like
 * a network). Runs in its own process (forked by bench/run.ts) so its work does not land on the
 * event loop being measured:
 *
 *   child -> 127.0.0.1:<port> (this proxy, +delay each way) -> nats-server
 *
 * Forked: reads { target, delayMs } from IPC, answers { port } once listening.
 */
import { createServer, type Socket, connect as tcpConnect } from "node:net";

export interface ProxyOptions {
  targetHost: string;
  targetPort: number;
  delayMs: number;
}

/** Forwards from `from` to `to`, each chunk `delayMs` after it arrived, preserving order. */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    const now = Date.now();
    while (queue.length > 0 && (queue[0]?.due as number) <= now) to.write(queue.shift()?.chunk as Buffer);
    if (queue.length > 0) timer = setTimeout(flush, (queue[0]?.due as number) - now);
  };
  from.on("data", (chunk: Buffer) => {
    queue.push({ due: Date.now() + delayMs, chunk });
    if (!timer) timer = setTimeout(flush, delayMs);
  });
  from.on("end", () => {
    const finish = () => (queue.length > 0 ? setTimeout(finish, delayMs) : to.end());
    finish();
  });
}

export function startProxy(options: ProxyOptions): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(options.targetPort, options.targetHost);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    delayed(client, upstream, options.delayMs);
    delayed(upstream, client, options.delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({
        port,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    });
  });
}

if (require.main === module) {
  process.once("message", (options: ProxyOptions) => {
    startProxy(options).then(
      ({ port }) => process.send?.({ port }),
      (err: unknown) => {
        process.send?.({ error: String(err) });
        process.exit(1);
      },
    );
  });
  process.on("disconnect", () => process.exit(0));
}
