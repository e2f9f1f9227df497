/**
 * The operations endpoint of the running binary, over real HTTP: /metrics with real values
 * after rows were published, /healthz, and /readyz going 503 while NATS (a private
 * nats-server, stopped by PID) is down and back to 200 by itself once it is restarted on the
 * same port. Every state is observed by polling with a generous deadline, never by sleeping.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { startCli } from "../helpers/cli";
import { rawConfig } from "../helpers/config";
import { fixture } from "../helpers/fixture";
import { freePort, natsConnection, uniqueName, writeConfig } from "../helpers/services";

const DEADLINE_MS = 60_000;

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = DEADLINE_MS): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A nats-server with JetStream on `port`, its store in `dir` (kept across restarts, so the stream survives). */
async function natsServer(port: number, dir: string): Promise<{ stop(): Promise<void> }> {
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: "${dir}/js" }\n`);
  const child: ChildProcess = spawn("/usr/sbin/nats-server", ["-c", conf], { stdio: "ignore" });
  const reap = () => child.exitCode === null && child.kill("SIGKILL");
  process.once("exit", reap);
  await until("the private nats-server to listen", async () => ((await portOpen(port)) ? true : undefined), 20_000);
  return {
    async stop() {
      if (child.exitCode !== null || !child.pid) return;
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(child.pid, "SIGTERM");
      await exited;
    },
  };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

t.test("/metrics, /healthz and /readyz of the running publisher; /readyz is 503 while NATS is down and 200 again after it is back", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "onp-ops-nats-"));
  const port = await freePort();
  let nats = await natsServer(port, dir);
  t.teardown(async () => {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `nats://127.0.0.1:${port}`;
  const f = await fixture(t, url);
  await f.insert(sampleRows(40));
  const raw = rawConfig(f, { logging: { level: "info", heartbeat_interval: 0.5 }, nats: { servers: [url] } });
  raw.metrics = { enabled: true, host: "127.0.0.1", port: 0 };
  const configFile = writeConfig(f.dir, raw, `${uniqueName("ops")}.yaml`);

  const service = startCli(["--config", configFile]);
  let stdout = "";
  service.child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  t.teardown(async () => {
    if (service.child.exitCode === null) service.child.kill("SIGKILL");
    await service.result;
  });

  // The endpoint logs where it listens (port 0: a free one).
  const base = await until("the endpoint's url in the log", async () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout)?.[1]);

  const published = await until("all 40 rows in the metrics", async () => {
    const m = await get(`${base}/metrics`);
    // Counted as the acks come; the cycle's end (and its commit) follows.
    const done = metric(m.body, "onp_rows_published_total") === 40 && /^onp_cycles_total\{outcome="rows"\} [1-9]/m.test(m.body);
    return done ? m : undefined;
  });
  t.equal(published.status, 200);
  t.equal(metric(published.body, "onp_rows_read_total"), 40, "rows read");
  t.equal(metric(published.body, "onp_publish_ack_latency_seconds_count"), 40, "one ack latency per message");
  t.equal(metric(published.body, "onp_instance_active"), 1, "this instance is the active one");
  t.match(published.body, /^onp_cycle_duration_seconds_count [1-9]/m, "cycles timed");
  t.match(published.body, /^process_cpu_user_seconds_total /m, "the default process metrics are included");
  t.match(published.body, /^onp_errors_total\{kind="nats"\} 0$/m);
  t.ok((metric(published.body, "onp_last_commit_timestamp_seconds") ?? 0) > 1.7e9, "a commit time was recorded");
  // Caught up: the waiting-rows sample of a later cycle says 0 and the lag is 0.
  const idle = await until("an idle sample", async () => {
    const m = await get(`${base}/metrics`);
    return /^onp_cycles_total\{outcome="idle"\} [1-9]/m.test(m.body) ? m : undefined;
  });
  t.equal(metric(idle.body, "onp_rows_waiting"), 0, "nothing waiting");
  t.equal(metric(idle.body, "onp_lag_seconds"), 0, "an idle table has lag 0");

  // The heartbeat on an idle table: rows 0, lag, rows waiting, watermark.
  const beat = await until("the idle heartbeat line", async () => stdout.split("\n").find((l) => l.includes('"msg":"idle: no new rows"')));
  t.match(JSON.parse(beat), { rows: 0, lag_s: 0, rows_waiting: 0, watermark: { id: "40" } });

  const health = await get(`${base}/healthz`);
  t.equal(health.status, 200);
  t.same(JSON.parse(health.body), { live: true });
  const ready = await until("/readyz 200", async () => {
    const r = await get(`${base}/readyz`);
    return r.status === 200 ? r : undefined;
  });
  t.same(JSON.parse(ready.body), { ready: true });

  await nats.stop();
  const down = await until("/readyz 503 while NATS is down", async () => {
    const r = await get(`${base}/readyz`);
    return r.status === 503 ? r : undefined;
  });
  const reason = JSON.parse(down.body) as { ready: boolean; reason: string };
  t.equal(reason.ready, false);
  t.match(reason.reason, /nats/, `names NATS: ${reason.reason}`);
  t.equal(down.body.trim().split("\n").length, 1, "one line of JSON");
  t.equal((await get(`${base}/healthz`)).status, 200, "the process is still alive");
  const gauge = await get(`${base}/metrics`);
  t.match(gauge.body, /^onp_dependency_up\{dependency="nats"\} 0$/m, "the dependency gauge says NATS is down");

  nats = await natsServer(port, dir);
  await until("/readyz 200 after NATS is back", async () => ((await get(`${base}/readyz`)).status === 200 ? true : undefined));
  t.pass("ready again by itself");

  // And it publishes again.
  await f.insert(sampleRows(10, { firstId: 41n, start: "2026-01-02 00:00:00.000000" }));
  await until("50 rows published", async () => (metric((await get(`${base}/metrics`)).body, "onp_rows_published_total") === 50 ? true : undefined));
  // A fresh connection: the fixture's own may still be reconnecting to the restarted server.
  const stored = await until("the stream's count", async () => {
    const nc = await natsConnection(url);
    try {
      return (await (await jetstreamManager(nc)).streams.info(f.stream)).state.messages;
    } finally {
      await nc.close();
    }
  });
  t.equal(stored, 50, "the stream holds every row once");

  service.child.kill("SIGTERM");
  const result = await service.result;
  t.equal(result.code, 0, result.stderr);
});
