/**
 * A stream that disappears under the running service (defect 3): deleted through the API, or
 * lost with a NATS server's store (a private nats-server stopped by PID, its store wiped,
 * restarted on the same port). The service sets the stream up again by itself, says so naming
 * stream and server, warns that the stream is below the stored RESUME_STREAM_SEQ, and goes on
 * publishing new rows. Each ends by reading the stream back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { exactlyOnce, type Fixture, fixture } from "../helpers/fixture";
import { isActive, type LogLine, startInstance } from "../helpers/instance";
import { freePort, idsOf, natsConnection, readStream } from "../helpers/services";
import { until } from "../helpers/tcp-proxy";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

const committed = async (f: Fixture, id: number) => {
  const row = await f.tracking();
  return row?.id === String(id) && row.STATUS === "SUCCESS";
};

const isRecreated = (stream: string) => (l: LogLine) => l.level === 40 && l.stream === stream && /was missing on NATS .*: created it again/.test(String(l.msg));
const isBelowResume = (stream: string) => (l: LogLine) =>
  l.level === 40 && l.stream === stream && typeof l.stream_last_seq === "number" && typeof l.resume_stream_seq === "number";

t.test("a stream deleted while the service runs is created again, with a warning naming both sequences; new rows go on", async (t) => {
  const f = await fixture(t);
  await f.insert(sampleRows(100));
  const a = startInstance(t, "A", f.configFile({ logging: { level: "info" } }));
  await a.waitLog(isActive, "takes the lock");
  await until(() => committed(f, 100), "the first rows are committed", 60_000);
  await (await jetstreamManager(f.nc)).streams.delete(f.stream);
  await f.insert(sampleRows(100, { firstId: 101n, start: "2026-01-02 00:00:00.000000" }));
  await until(() => committed(f, 200), "the later rows are committed into the new stream", 60_000);
  const recreated = await a.waitLog(isRecreated(f.stream), "says the stream was created again");
  t.match(recreated.server, /127\.0\.0\.1:4222/, "names the server");
  const below = await a.waitLog(isBelowResume(f.stream), "warns that the stream is below RESUME_STREAM_SEQ");
  t.ok((below.stream_last_seq as number) + 1 < (below.resume_stream_seq as number), "both numbers");
  const failures = a.lines.filter((l) => l.msg?.startsWith("cycle failed")).length;
  t.ok(failures <= 3, `a few failed cycles at most, not one per poll forever (${failures})`);
  a.child.kill("SIGTERM");
  t.equal((await a.result).code, 0);
  t.same(exactlyOnce(idsOf(await f.messages(), f.subject), range(101, 200)), { duplicates: [], missing: [] }, "the new rows exactly once");
});

/** A nats-server with JetStream on `port`, its store under `dir`; stopped by PID. */
async function natsServer(port: number, dir: string): Promise<{ process: ChildProcess; stop(): Promise<void> }> {
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: "${dir}/js" }\n`);
  const child = spawn("/usr/sbin/nats-server", ["-c", conf], { stdio: "ignore" });
  const reap = () => child.exitCode === null && child.kill("SIGKILL");
  process.once("exit", reap);
  const open = () =>
    new Promise<boolean>((resolve) => {
      const s = createConnection({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
  await until(open, `nats-server on ${port} listens`, 30_000);
  return {
    process: child,
    async stop() {
      if (child.exitCode !== null || !child.pid) return;
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(child.pid, "SIGTERM");
      await exited;
    },
  };
}

t.test("NATS restarted with an empty store: the service recreates the stream by itself and publishes the new rows", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "onp-nats-wipe-"));
  const port = await freePort();
  let server = await natsServer(port, dir);
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `nats://127.0.0.1:${port}`;
  const f = await fixture(t, url);
  await f.insert(sampleRows(100));
  const a = startInstance(t, "A", f.configFile({ logging: { level: "info" } }, url));
  await a.waitLog(isActive, "takes the lock");
  await until(() => committed(f, 100), "the first rows are committed", 60_000);

  await server.stop();
  rmSync(join(dir, "js"), { recursive: true, force: true });
  await f.insert(sampleRows(100, { firstId: 101n, start: "2026-01-02 00:00:00.000000" }));
  await until(async () => (await f.tracking())?.STATUS === "FAILED", "a cycle fails while NATS is down, and says so", 60_000);
  t.match((await f.tracking())?.ERROR_MESSAGE, /\S/, "with the reason");
  server = await natsServer(port, dir);

  await until(() => committed(f, 200), "the later rows are committed into the recreated stream", 90_000);
  await a.waitLog(isRecreated(f.stream), "says the stream was created again");
  await a.waitLog(isBelowResume(f.stream), "warns that the stream is below RESUME_STREAM_SEQ");
  a.child.kill("SIGTERM");
  const r = await a.result;
  t.equal(r.code, 0, r.stderr);
  const nc = await natsConnection(url);
  t.teardown(() => nc.close());
  t.same(exactlyOnce(idsOf(await readStream(nc, f.stream), f.subject), range(101, 200)), { duplicates: [], missing: [] }, "the new rows exactly once");
});
