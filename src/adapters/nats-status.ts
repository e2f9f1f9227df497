/**
 * NATS connection state for readiness: follows `nc.status()` (an async iterator of the
 * client's events) and reports the connection down on "disconnect" (and "close") and up again
 * on "reconnect". The reason handed on is the event type only, never a server address or an
 * error text.
 */
import type { NatsConnection } from "@nats-io/transport-node";

export function watchNatsStatus(nc: NatsConnection, onChange: (up: boolean, reason: string) => void): void {
  void (async () => {
    try {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") onChange(false, "disconnected");
        else if (s.type === "reconnecting") onChange(false, "reconnecting");
        else if (s.type === "reconnect") onChange(true, "connected");
        else if (s.type === "close") onChange(false, "closed");
      }
    } catch {
      // The iterator ends with the connection.
    }
  })();
}
