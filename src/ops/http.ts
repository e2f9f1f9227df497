/**
 * The operations endpoint (node:http, no framework):
 *
 *   GET /metrics  Prometheus text exposition (content type from prom-client's registry)
 *   GET /healthz  200 {"live":true} while the poll loop ticks; 503 {"live":false,"reason":...}
 *   GET /readyz   200 {"ready":true} while source, tracking store and NATS are connected and the
 *                 last cycle did not fail (or failed within the grace); else 503 with a reason
 *
 * HEAD is answered like GET without a body; anything else is 405, other paths 404. It binds
 * `metrics.host`, 127.0.0.1 by default: the metrics and probes describe the service's
 * operation (table, lag, error counts) and should not reach the network unless an operator
 * asks (`0.0.0.0` in a container, where the port is only published on purpose).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readiness } from "./readiness";

export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  metrics: MetricsSource;
  readiness: Readiness;
}

export interface OpsServer {
  readonly host: string;
  readonly port: number;
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

const JSON_TYPE = "application/json; charset=utf-8";

async function handle(options: OpsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  const head = req.method === "HEAD";
  if (req.method !== "GET" && !head) {
    res.setHeader("allow", "GET, HEAD");
    send(res, 405, JSON_TYPE, `${JSON.stringify({ error: "method not allowed" })}\n`, head);
    return;
  }
  switch (path) {
    case "/metrics": {
      const text = await options.metrics.render();
      send(res, 200, options.metrics.contentType, text, head);
      return;
    }
    case "/healthz": {
      const v = options.readiness.live();
      send(res, v.ok ? 200 : 503, JSON_TYPE, `${JSON.stringify(v.ok ? { live: true } : { live: false, reason: v.reason })}\n`, head);
      return;
    }
    case "/readyz": {
      const v = options.readiness.ready();
      send(res, v.ok ? 200 : 503, JSON_TYPE, `${JSON.stringify(v.ok ? { ready: true } : { ready: false, reason: v.reason })}\n`, head);
      return;
    }
    default:
      send(res, 404, JSON_TYPE, `${JSON.stringify({ error: "not found", paths: ["/metrics", "/healthz", "/readyz"] })}\n`, head);
  }
}

/** Starts listening; rejects when the address cannot be bound (in use, not local). */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      // A collector that throws must not take the process down; the scrape fails instead.
      if (!res.headersSent) send(res, 500, JSON_TYPE, `${JSON.stringify({ error: (err as Error).name ?? "error" })}\n`, false);
      else res.destroy();
    });
  });
  // Probes come every few seconds: an idle keep-alive socket has no reason to hold a close.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = options.host;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    host,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
