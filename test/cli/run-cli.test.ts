/** The dispatcher: each command reaches its runner with the loaded settings; failures are one line with the right exit code. */
import t from "tap";
import type { CliEnvironment, CommandPorts } from "../../src/cli/run-cli";
import { runCli } from "../../src/cli/run-cli";
import { ConfigError, TrackingError } from "../../src/errors";

interface FakeConfig {
  path: string;
}

function env(over: Partial<CliEnvironment<FakeConfig>> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: string[] = [];
  const ports: CommandPorts = {
    tracking: {
      read: async () => ({
        programName: "p",
        watermark: { ts: "2026-03-01 12:00:00.000000", id: "9" },
        status: "SUCCESS",
        lastRunTime: null,
        recordsProcessed: "1",
        errorMessage: null,
        updatedAt: null,
      }),
    },
    lock: { holder: async () => null, tryAcquire: async () => ({ setWatermark: async () => void calls.push("write"), release: async () => undefined }) },
    stream: { info: async () => ({ name: "S", messages: 1, bytes: 2, subjects: ["a"], duplicateWindowSeconds: 120 }), storedWithin: async () => 0 },
    source: { countAfter: async () => ({ rows: 0, dbNow: "2026-03-01 12:00:10.000000" }), countBetween: async () => 5 },
    rows: async function* () {
      yield [{ id: "10", caseId: null, eventType: null, eventData: null, eventTimestamp: "2026-03-01 12:00:01.000000", createdAt: null }];
    },
    format: (row) => ({ subject: "s", msgId: `T:${row.id}`, payload: `{"id":${row.id}}` }),
    startPosition: async () => null,
    close: async () => void calls.push("close"),
  };
  const e: CliEnvironment<FakeConfig> = {
    loadConfig: (path) => {
      calls.push(`load ${path}`);
      if (path === "bad.yaml") throw new ConfigError("bad.yaml: publisher.batch_size: must be at least 1 (got 0)");
      return { path };
    },
    settings: () => ({ program: "p", timeZone: "UTC", safetyLagSeconds: 5 }),
    openPorts: async () => {
      calls.push("open");
      return ports;
    },
    checkTargets: () => [{ name: "source", probe: async () => "fine" }],
    runService: async (config, options) => {
      calls.push(`service ${config.path} once=${options.once}`);
      return 0;
    },
    output: { out: (l) => out.push(l), err: (l) => err.push(l) },
    interactive: false,
    confirm: async () => false,
    ...over,
  };
  return { e, out, err, calls };
}

t.test("help: the whole, and one command's, exit 0, nothing loaded", async (t) => {
  const h = env();
  t.equal(await runCli(["--help"], h.e), 0);
  t.match(h.out[0], /^usage: node dist\/main\.js \[COMMAND\]/);
  t.same(h.calls, []);
  const r = env();
  t.equal(await runCli(["rewind", "--help"], r.e), 0);
  t.match(r.out[0], /^usage: node dist\/main\.js rewind/);
});

t.test("run and --once go to the service", async (t) => {
  const h = env();
  t.equal(await runCli(["--config", "c.yaml", "--once"], h.e), 0);
  t.same(h.calls, ["load c.yaml", "service c.yaml once=true"]);
});

t.test("--dry-run prints formatted rows, closes its ports, never runs the service", async (t) => {
  const h = env();
  t.equal(await runCli(["--config", "c.yaml", "--once", "--dry-run"], h.e), 0);
  t.same(h.out, ['{"subject":"s","msg_id":"T:10","event":{"id":10}}']);
  t.same(h.calls, ["load c.yaml", "open", "close"]);
});

t.test("status --json prints one object and closes its ports", async (t) => {
  const h = env();
  t.equal(await runCli(["status", "--config", "c.yaml", "--json"], h.e), 0);
  t.equal(h.out.length, 1);
  t.match(JSON.parse(h.out[0] as string), { program: "p", lag_s: 0, rows_waiting: 0, lock_held: false });
  t.same(h.calls.at(-1), "close");
});

t.test("check validates the config itself (a verdict line, exit 2) and tries the targets", async (t) => {
  const bad = env();
  t.equal(await runCli(["check", "--config", "bad.yaml"], bad.e), 2);
  t.match(bad.out[0], /^FAIL {2}config +bad\.yaml: publisher\.batch_size/);
  const good = env();
  t.equal(await runCli(["check", "--config", "c.yaml"], good.e), 0);
  t.match(good.out, [/^ok {4}config +c\.yaml is valid$/, /^ok {4}source +fine/]);
});

t.test("rewind off a terminal without --yes writes nothing (exit 2); with --yes it writes", async (t) => {
  const no = env();
  t.equal(await runCli(["rewind", "--config", "c.yaml", "--to", "earliest"], no.e), 2);
  t.notOk(no.calls.includes("write"));
  t.equal(no.calls.at(-1), "close");
  const yes = env();
  t.equal(await runCli(["rewind", "--config", "c.yaml", "--to", "earliest", "--yes"], yes.e), 0);
  t.ok(yes.calls.includes("write"));
});

t.test("failures are one line naming the cause: usage and config exit 2, the rest 1; ports closed", async (t) => {
  const usage = env();
  t.equal(await runCli(["--bogus"], usage.e), 2);
  t.same(usage.err, [
    'oracle-nats-publisher: error: unknown argument "--bogus"; usage: node dist/main.js [--config FILE] [--once] [--dry-run [--limit N] [--count]] | status | check | rewind; see --help',
  ]);

  const config = env();
  t.equal(await runCli(["status", "--config", "bad.yaml"], config.e), 2);
  t.same(config.err, ["oracle-nats-publisher: error: bad.yaml: publisher.batch_size: must be at least 1 (got 0)"]);

  const down = env();
  const failing = await down.e.openPorts({ path: "x" });
  down.e.openPorts = async () => ({
    ...failing,
    tracking: { read: () => Promise.reject(new TrackingError("reading ETL_PRMREC failed:\n ER_LOCK_WAIT_TIMEOUT", true)) },
  });
  t.equal(await runCli(["rewind", "--config", "c.yaml", "--to", "earliest", "--yes"], down.e), 1);
  t.same(down.err, ["oracle-nats-publisher: error: reading ETL_PRMREC failed: ER_LOCK_WAIT_TIMEOUT"]);
  t.equal(down.calls.at(-1), "close", "ports closed after a failure");
});
