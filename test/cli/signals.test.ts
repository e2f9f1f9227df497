/**
 * Signals through the real binary: SIGHUP stops like SIGTERM, a second signal and the
 * shutdown timeout are each named as such, a stop during start-up retries ends at once. Each test waits for a log line (the
 * process's own report of its state), never for a time.
 */
import type { ChildProcess } from "node:child_process";
import t from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { startCli } from "../helpers/cli";
import { fixture } from "../helpers/fixture";
import { startPrivateNats } from "../helpers/services";

/** Polls `condition` until it holds (a generous overall deadline, not a timing assertion). */
async function until(condition: () => Promise<boolean>, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with the first JSON log line on the child's stdout that matches `test`. */
function logLine(child: ChildProcess, test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const text of lines) {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (test(line)) {
          child.stdout?.off("data", onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout?.on("data", onData);
    child.once("close", () => reject(new Error("the process ended before the expected log line")));
  });
}

const lines = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

t.test("SIGHUP stops the loop like SIGTERM: logged, watermark committed, exit 0", async (t) => {
  const f = await fixture(t);
  await f.insert(sampleRows(25));
  const { child, result } = startCli(["--config", f.configFile({ logging: { level: "info" } })]);
  await logLine(child, (l) => l.msg === "cycle done" && l.rows === 25);
  child.kill("SIGHUP");
  const r = await result;
  t.equal(r.signal, null, "not killed by the signal");
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, "");
  const log = lines(r.stdout);
  t.match(
    log.find((l) => l.msg === "stopping: no new reads, waiting for in-flight acks"),
    { signal: "SIGHUP" },
  );
  t.ok(
    log.some((l) => l.msg === "stopped"),
    "says it stopped",
  );
  t.match(await f.tracking(), { STATUS: "SUCCESS", id: "25" }, "the watermark is committed");
  t.equal((await f.messages()).length, 25);
});

t.test("a second signal is reported as such, not as a shutdown timeout, and exits 0", async (t) => {
  const server = await startPrivateNats();
  t.teardown(() => server.stop());
  const f = await fixture(t, server.url);
  const config = f.configFile({ logging: { level: "info" }, publisher: { shutdown_timeout: 600 } }, server.url);
  const { child, result } = startCli(["--config", config]);
  await logLine(child, (l) => l.msg === "cycle done");
  // Stall NATS (SIGSTOP), and wait until the next cycle has begun: it now waits on NATS, so
  // the first signal cannot end it and a second one is needed.
  server.pause();
  await until(async () => (await f.tracking())?.STATUS === "RUNNING");
  const stopping = logLine(child, (l) => l.msg === "stopping: no new reads, waiting for in-flight acks");
  child.kill("SIGTERM");
  t.match(await stopping, { signal: "SIGTERM" });
  child.kill("SIGINT");
  const r = await result;
  server.resume();
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, "", "no stack dump");
  const log = lines(r.stdout);
  t.match(
    log.find((l) => typeof l.msg === "string" && l.msg.startsWith("second signal")),
    { signal: "SIGINT" },
  );
  t.notOk(
    log.some((l) => /shutdown timeout/.test(String(l.msg))),
    "no shutdown timeout reported",
  );
  t.match(
    log.find((l) => l.msg === "stopped"),
    { closed_by: "second signal" },
  );
});

t.test("the shutdown timeout expiring is said as such and exits 1", async (t) => {
  const server = await startPrivateNats();
  t.teardown(() => server.stop());
  const f = await fixture(t, server.url);
  const config = f.configFile({ logging: { level: "info" }, publisher: { shutdown_timeout: 0.5 } }, server.url);
  const { child, result } = startCli(["--config", config]);
  await logLine(child, (l) => l.msg === "cycle done");
  // A cycle waiting on a stalled NATS: nothing it waits for can answer before the timeout.
  server.pause();
  await until(async () => (await f.tracking())?.STATUS === "RUNNING");
  child.kill("SIGTERM");
  const r = await result;
  server.resume();
  t.equal(r.code, 1, "a stop cut short by the timeout is not a clean one");
  t.match(r.stderr, /^oracle-nats-publisher: error: shutdown timeout expired before every in-flight ack came[^\n]*\n$/, "one line on stderr");
  const log = lines(r.stdout);
  t.ok(
    log.some((l) => typeof l.msg === "string" && l.msg.startsWith("shutdown timeout expired")),
    "says the shutdown timeout expired",
  );
  t.notOk(
    log.some((l) => typeof l.msg === "string" && l.msg.startsWith("second signal")),
    "no second signal reported",
  );
  t.match(
    log.find((l) => l.msg === "stopped"),
    { closed_by: "shutdown timeout" },
  );
});

t.test("SIGTERM while start-up waits to retry NATS stops at once and exits 0", async (t) => {
  const f = await fixture(t);
  // Without the stop signal reaching the retry, this waits out 10 retries of 60 s each (the
  // test's own timeout fails it first).
  const slow = { max_retries: 10, initial_backoff: 60, max_backoff: 60, backoff_multiplier: 1 };
  const config = f.configFile({ logging: { level: "info" }, nats: { servers: ["nats://127.0.0.1:1"], retry: slow } });
  const { child, result } = startCli(["--config", config]);
  await logLine(child, (l) => l.msg === "transient error: retrying" && l.client === "nats");
  child.kill("SIGTERM");
  const r = await result;
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, "");
  const log = lines(r.stdout);
  t.ok(
    log.some((l) => l.msg === "stop requested during start-up"),
    "says the stop came during start-up",
  );
  t.ok(
    log.some((l) => l.msg === "stopped"),
    "says it stopped",
  );
});
