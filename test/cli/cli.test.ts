/** The command line: exit codes and one-line errors that name the cause. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import t, { type Test } from "tap";
import { sampleRows } from "../../scripts/lib/txlog-table";
import { runCli } from "../helpers/cli";
import { rawConfig } from "../helpers/config";
import { fixture } from "../helpers/fixture";
import { startLoop } from "../helpers/run";
import { writeConfig } from "../helpers/services";

t.test("--once publishes, commits and exits 0", async (t) => {
  const f = await fixture(t);
  await f.insert(sampleRows(25));
  const r = await runCli(["--config", f.configFile(), "--once"]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, "");
  t.equal((await f.messages()).length, 25);
  t.match(await f.tracking(), { STATUS: "SUCCESS", id: "25", RECORDS_PROCESSED: 25n });
});

const oneLine = (t: Test, stderr: string, pattern: RegExp) => {
  const lines = stderr.trim().split("\n");
  t.equal(lines.length, 1, `one line: ${stderr}`);
  t.match(lines[0], /^oracle-nats-publisher: error: /);
  t.match(lines[0], pattern);
  t.notMatch(stderr, /\n\s+at /, "no stack trace");
};

t.test("configuration errors exit 2 with one line naming the cause, never a stack trace or a password", async (t) => {
  const f = await fixture(t);
  const missing = await runCli(["--config", join(f.dir, "absent.yaml"), "--once"]);
  t.equal(missing.code, 2);
  oneLine(t, missing.stderr, /cannot read config file .*absent\.yaml: file not found/);

  const badYaml = join(f.dir, "bad.yaml");
  writeFileSync(badYaml, "publisher:\n  batch_size: [1\n");
  const yaml = await runCli(["--config", badYaml]);
  t.equal(yaml.code, 2);
  oneLine(t, yaml.stderr, /invalid YAML in .*bad\.yaml:\d+:\d+/);

  const badValue = f.configFile({ publisher: { max_in_flight: -5 } });
  const value = await runCli(["--config", badValue, "--once"], { MARIADB_PASSWORD: "topsecret-pw" });
  t.equal(value.code, 2);
  oneLine(t, value.stderr, /publisher\.max_in_flight: must be at least 1 \(got -5\)/);
  t.notMatch(value.stderr + value.stdout, /topsecret-pw/);

  const usage = await runCli(["--bogus"]);
  t.equal(usage.code, 2);
  oneLine(t, usage.stderr, /unknown argument "--bogus"; usage: node dist\/main\.js \[--config FILE\] \[--once\]/);
});

t.test("unreachable or refusing services exit 1 naming which one, without the password", async (t) => {
  const f = await fixture(t);
  const fast = { max_retries: 0, initial_backoff: 0.05, max_backoff: 0.1, backoff_multiplier: 2 };
  const nats = await runCli(["--config", f.configFile({ nats: { servers: ["nats://127.0.0.1:1"], retry: fast } }), "--once"]);
  t.equal(nats.code, 1);
  oneLine(t, nats.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);

  const denied = await runCli(["--config", f.configFile(), "--once"], { MARIADB_USER: "nobody_here", MARIADB_PASSWORD: "sekrit-123" });
  t.equal(denied.code, 1);
  oneLine(t, denied.stderr, /ETL_PRMREC on MariaDB 127\.0\.0\.1:3306\/test\) failed: ER_ACCESS_DENIED_ERROR/);
  t.notMatch(denied.stderr + denied.stdout, /sekrit-123/);

  const oracleConfig = rawConfig(f, { source: { kind: "oracle", table: "spc.TXLOG_EVENTS" }, publisher: { max_retries: 0 } });
  oracleConfig.oracle_db = { user: "publisher", dsn: "127.0.0.1:1/FREEPDB1", retry: fast };
  const oracle = await runCli(["--config", writeConfig(f.dir, oracleConfig, "oracle.yaml"), "--once"], { ORACLE_PASSWORD: "oracle-secret-pw" });
  t.equal(oracle.code, 1);
  oneLine(t, oracle.stderr, /Oracle .*spc\.TXLOG_EVENTS.*NJS-50\d/);
  t.notMatch(oracle.stderr + oracle.stdout, /oracle-secret-pw/);

  const noTable = await runCli(["--config", f.configFile({ source: { table: "NO_SUCH_TABLE_XYZ" }, publisher: { max_retries: 0 } }), "--once"]);
  t.equal(noTable.code, 1);
  oneLine(t, noTable.stderr, /NO_SUCH_TABLE_XYZ .*ER_NO_SUCH_TABLE/);
  t.match(await f.tracking(), { STATUS: "FAILED", ERROR_MESSAGE: /NO_SUCH_TABLE_XYZ/ }, "the failure is recorded in ETL_PRMREC");
});

t.test("a stream that exists without our subjects is refused before anything is published", async (t) => {
  const f = await fixture(t);
  await (await jetstreamManager(f.nc)).streams.add({ name: f.stream, subjects: [`${f.subject}.other`] });
  await f.insert(sampleRows(3));
  const r = await runCli(["--config", f.configFile(), "--once"]);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, new RegExp(`stream ${f.stream} exists but does not capture ${f.subject.replace(/\./g, "\\.")} and`));
});

t.test("a second instance for the same program is refused while the first runs", async (t) => {
  const f = await fixture(t);
  const loop = await startLoop(f.configFile());
  const second = await runCli(["--config", f.configFile(), "--once"]);
  await loop.stop();
  t.equal(second.code, 1);
  oneLine(t, second.stderr, /another instance is already running program/);
});
