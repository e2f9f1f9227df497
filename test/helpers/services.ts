/**
 * Test access to the real services on this machine (MariaDB 127.0.0.1:3306, NATS
 * 127.0.0.1:4222), unique names per test file, reading a stream back, and private
 * nats-servers for fault injection (started on their own port, stopped by PID only).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, createConnection as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { dump } from "js-yaml";

export const NATS_URL = "nats://127.0.0.1:4222";

/** A short unique suffix, so parallel test files never share a table, stream or program. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString("hex").toUpperCase()}`;
}

export async function natsConnection(servers = NATS_URL): Promise<NatsConnection> {
  return connect({ servers, noAsyncTraces: true });
}

export async function deleteStream(nc: NatsConnection, name: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(name).catch(() => undefined);
}

export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  json: Record<string, unknown>;
  text: string;
}

/** Every message in the stream, in stream order (an ordered consumer from the start). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info(stream)).state.messages;
  const out: StoredMessage[] = [];
  if (total === 0) return out;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream);
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(5000, total - out.length), expires: 5000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      const text = m.string();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // kept as text
      }
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get("Nats-Msg-Id"), json, text });
    }
    if (got === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

/** Ids of messages on `subject`, as decimal strings read from the raw JSON (exact beyond 2^53). */
export function idsOf(messages: StoredMessage[], subject: string): string[] {
  return messages.filter((m) => m.subject === subject).map((m) => /^\{"id":(-?\d+),/.exec(m.text)?.[1] ?? "?");
}

export interface PrivateNats {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A nats-server of our own, with JetStream, on a free port, for tests that break it. */
/** A port nothing listens on now: the kernel's pick for an ephemeral listener, released at once. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startPrivateNats(options: { maxPayload?: number } = {}): Promise<PrivateNats> {
  const dir = mkdtempSync(join(tmpdir(), "onp-nats-"));
  const conf = join(dir, "nats.conf");
  // A loaded machine can take seconds to start a server, and a port can be taken between our
  // pick and the server's bind (the server then exits): wait for the port with a generous
  // deadline while the server runs, and try another port if it exited.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: "${dir}/js" }\n${options.maxPayload ? `max_payload: ${options.maxPayload}\n` : ""}`);
    const child = spawn("/usr/sbin/nats-server", ["-c", conf], { stdio: "ignore" });
    // Never outlive the test process, even when a test fails before its teardown.
    const reap = () => child.exitCode === null && child.kill("SIGKILL");
    process.once("exit", reap);
    const deadline = Date.now() + 30_000;
    while (child.exitCode === null && child.signalCode === null && Date.now() < deadline && !(await portOpen(port))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (child.exitCode === null && child.signalCode === null && (await portOpen(port))) return privateNats(child, port, dir);
    reap();
    if (attempt >= 3) throw new Error(`private nats-server did not start (last port ${port})`);
  }
}

function privateNats(child: ChildProcess, port: number, dir: string): PrivateNats {
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    pause: () => child.pid && process.kill(child.pid, "SIGSTOP"),
    resume: () => child.pid && process.kill(child.pid, "SIGCONT"),
    async stop() {
      if (child.exitCode === null && child.pid) {
        process.kill(child.pid, "SIGCONT");
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a config file for the CLI and returns its path. */
export function writeConfig(dir: string, config: object, name = "config.yaml"): string {
  const path = join(dir, name);
  writeFileSync(path, dump(config));
  return path;
}
