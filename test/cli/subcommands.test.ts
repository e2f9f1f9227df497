/**
 * The operator commands through the real binary (`node dist/main.js ...`) against the real
 * MariaDB and NATS, each test with a fixture table, stream and program of its own.
 */
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { connectLocal, sampleRows } from "../../scripts/lib/txlog-table";
import { MariadbTracking, trackingOptions } from "../../src/adapters/mariadb-tracking";
import { SUBCOMMANDS } from "../../src/cli/args";
import { loadConfig } from "../../src/config/load";
import { runCli } from "../helpers/cli";
import { rawConfig } from "../helpers/config";
import { type Fixture, fixture } from "../helpers/fixture";
import { quietLog } from "../helpers/run";
import { uniqueName, writeConfig } from "../helpers/services";

type Raw = ReturnType<typeof rawConfig>;

function configWith(f: Fixture, edit: (raw: Raw) => void = () => undefined, overrides: Parameters<typeof rawConfig>[1] = {}): string {
  const raw = rawConfig(f, overrides);
  edit(raw);
  return writeConfig(f.dir, raw, `${uniqueName("cfg")}.yaml`);
}

async function streamMessages(f: Fixture): Promise<number | null> {
  const jsm = await jetstreamManager(f.nc);
  return jsm.streams
    .info(f.stream)
    .then((i) => i.state.messages)
    .catch(() => null);
}

async function resumeSeq(f: Fixture): Promise<string | null> {
  const rows = (await f.db.query("SELECT CAST(RESUME_STREAM_SEQ AS CHAR) AS r FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [f.program])) as Array<{
    r: string | null;
  }>;
  return rows[0]?.r ?? null;
}

t.test("--help lists every subcommand and option, exit 0", async (t) => {
  const r = await runCli(["--help"]);
  t.equal(r.code, 0, r.stderr);
  for (const c of [...SUBCOMMANDS, "help"]) t.match(r.stdout, new RegExp(`^  ${c} `, "m"), `lists ${c}`);
  for (const o of ["--config FILE", "--once", "--dry-run", "--limit N", "--count", "--json", "--to WHEN", "--yes", "-h, --help"])
    t.ok(r.stdout.includes(o), `lists ${o}`);
  const one = await runCli(["rewind", "--help"]);
  t.equal(one.code, 0);
  t.match(one.stdout, /^usage: node dist\/main\.js rewind /);
});

t.test("status: a table and --json with watermark, stream, lag, rows waiting and lock; never the password", async (t) => {
  const f = await fixture(t);
  // A MariaDB account of its own with a real password, so that there is a secret to leak.
  const user = uniqueName("onp_st").toLowerCase();
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const root = await connectLocal();
  await root.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
  await root.query(`GRANT ALL ON test.* TO '${user}'@'%'`);
  await root.query(`GRANT PROCESS ON *.* TO '${user}'@'%'`);
  t.teardown(async () => {
    await root.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await root.end();
  });
  const config = configWith(f, (raw) => Object.assign(raw.mariadb as object, { user, password }), { nats: { duplicate_window: 90 } });
  await f.insert(sampleRows(30));
  const run = await runCli(["--once", "--config", config]);
  t.equal(run.code, 0, run.stderr);
  await f.insert(sampleRows(5, { firstId: 31n, start: "2026-01-02 00:00:00.000000" }));

  const table = await runCli(["status", "--config", config]);
  t.equal(table.code, 0, table.stderr);
  t.comment(`status output:\n${table.stdout}`);
  t.match(table.stdout, new RegExp(`^program\\s+${f.program}$`, "m"));
  t.match(table.stdout, /^watermark\s+2026-01-01 00:00:00\.029000 {2}id 30$/m);
  t.match(table.stdout, /^status\s+SUCCESS$/m);
  t.match(table.stdout, new RegExp(`^stream\\s+${f.stream}: 30 messages, \\d`, "m"));
  t.match(table.stdout, /^dup window\s+90 s$/m);
  t.match(table.stdout, /^lag\s+\d+ d \d+ h, 5 rows waiting$/m, "behind since 2026-01-01, 5 rows waiting");
  t.match(table.stdout, /^lock\s+free: no instance is running$/m);
  t.notOk((table.stdout + table.stderr).includes(password), "no password in the table");

  const json = await runCli(["status", "--json", "--config", config]);
  t.equal(json.code, 0, json.stderr);
  const lines = json.stdout.trim().split("\n");
  t.equal(lines.length, 1, "one JSON object");
  const o = JSON.parse(lines[0] as string);
  t.match(o, {
    program: f.program,
    watermark: { ts: "2026-01-01 00:00:00.029000", id: "30" },
    status: "SUCCESS",
    stream: { name: f.stream, messages: 30, subjects: [f.subject, `${f.subject}.dlq`], duplicate_window_s: 90 },
    rows_waiting: 5,
    rows_waiting_at_least: false,
    lock_held: false,
    lock_holder: null,
    errors: {},
  });
  t.ok(typeof o.lag_s === "number" && o.lag_s > 86400, `lag ${o.lag_s} s`);
  t.ok(o.stream.bytes > 0, "stream bytes");
  t.notOk((json.stdout + json.stderr).includes(password), "no password in the JSON");

  // With an instance holding the lock, status names its connection.
  const store = new MariadbTracking(trackingOptions(loadConfig(config), quietLog));
  await store.open();
  t.teardown(() => store.close());
  const held = await runCli(["status", "--json", "--config", config]);
  const h = JSON.parse(held.stdout);
  t.equal(h.lock_held, true);
  t.match(h.lock_holder, { connection_id: /^\d+$/ });
  t.notOk((held.stdout + held.stderr).includes(password));
});

t.test("check: one verdict line per service, exit 0; NATS on a closed port: exit 1 naming NATS, one attempt without backoff", async (t) => {
  const f = await fixture(t);
  const fresh = await runCli(["check", "--config", configWith(f)]);
  t.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
  t.match(fresh.stdout, new RegExp(`^ok {4}stream {10}${f.stream} does not exist yet: the first run creates it`, "m"));
  const published = await runCli(["--once", "--config", configWith(f)]);
  t.equal(published.code, 0, published.stderr);
  const good = await runCli(["check", "--config", configWith(f)]);
  t.equal(good.code, 0, good.stdout + good.stderr);
  const lines = good.stdout.trim().split("\n");
  t.equal(lines.length, 5, good.stdout);
  for (const [i, name] of ["config", "source", "tracking store", "NATS", "stream"].entries()) t.match(lines[i], new RegExp(`^ok {4}${name}`), `${name} ok`);
  t.match(lines[4], new RegExp(`^ok {4}stream {10}${f.stream}: 0 messages, duplicate window 120 s \\(\\d+ ms\\)$`));

  // A retry backoff of 30 s is configured: a verdict well under it means no retry was made.
  const closed = configWith(f, (raw) => {
    (raw.nats as Record<string, unknown>).servers = ["nats://127.0.0.1:1"];
    (raw.nats as Record<string, unknown>).retry = { max_retries: 5, initial_backoff: 30, max_backoff: 60, backoff_multiplier: 2 };
  });
  const started = Date.now();
  const bad = await runCli(["check", "--config", closed]);
  const ms = Date.now() - started;
  t.equal(bad.code, 1);
  t.match(bad.stdout, /^FAIL {2}NATS {12}cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/m);
  t.match(bad.stdout, /^skip {2}stream {10}needs NATS$/m);
  t.match(bad.stdout, /^ok {4}source/m, "the other services are still tried");
  t.match(bad.stderr, /^check failed: NATS, stream$/m);
  t.ok(ms < 25_000, `no retry backoff (${ms} ms against a configured 30 s)`);
});

t.test(
  "rewind: refused while an instance holds the lock; warns about rows past the duplicate window; moves the watermark and clears RESUME_STREAM_SEQ",
  async (t) => {
    const f = await fixture(t);
    // A 1 s duplicate window: the published rows soon lie outside it.
    const config = configWith(f, () => undefined, { nats: { duplicate_window: 1 } });
    await f.insert(sampleRows(30));
    const run = await runCli(["--once", "--config", config]);
    t.equal(run.code, 0, run.stderr);
    t.match(await f.tracking(), { id: "30" });

    // What a crashed run leaves: the resume sequence of the restart scan, which rewind must clear.
    await f.db.query("UPDATE ETL_PRMREC SET RESUME_STREAM_SEQ = 7 WHERE PROGRAM_NAME = ?", [f.program]);
    const store = new MariadbTracking(trackingOptions(loadConfig(config), quietLog));
    await store.open();
    const refused = await runCli(["rewind", "--to", "earliest", "--yes", "--config", config]);
    t.equal(refused.code, 1);
    t.match(
      refused.stderr,
      new RegExp(`^rewind refused: an instance holds the lock of program ${f.program} \\(connection \\d+ from [^)]+\\); stop it first$`, "m"),
    );
    t.match(await f.tracking(), { id: "30" }, "the watermark did not move");
    await store.close();

    // Off a terminal without --yes nothing is done; the plan and its warning are printed. Once the
    // rows are older than the 1 s window, the warning says how many are stored again.
    const plan = await (async () => {
      const end = Date.now() + 60_000;
      for (;;) {
        const r = await runCli(["rewind", "--to", "earliest", "--config", config]);
        if (/published longer ago than the stream's duplicate window/.test(r.stderr) || Date.now() > end) return r;
      }
    })();
    t.equal(plan.code, 2, "no --yes off a terminal");
    t.match(plan.stdout, /^moves back: replays about 30 rows$/m);
    t.match(
      plan.stderr,
      /^warning: about 30 of these rows were published longer ago than the stream's duplicate window \(1 s\): JetStream will store them again/m,
    );
    t.match(plan.stderr, /add --yes/);
    t.match(await f.tracking(), { id: "30" }, "still unchanged");
    t.equal(await resumeSeq(f), "7", "RESUME_STREAM_SEQ still there");

    const moved = await runCli(["rewind", "--to", "2026-01-01T00:00:00.010", "--yes", "--config", config]);
    t.equal(moved.code, 0, moved.stderr);
    t.match(moved.stdout, /watermark moved/);
    t.match(await f.tracking(), { ts: "2026-01-01 00:00:00.010000", id: "-99999999999999999999999999999999999999" });
    t.equal(await resumeSeq(f), null, "RESUME_STREAM_SEQ cleared");

    // The next run publishes the rows from 00:00:00.010 on (ids 11..30) again: the window is past, so they are stored again.
    const again = await runCli(["--once", "--config", config]);
    t.equal(again.code, 0, again.stderr);
    t.equal(await streamMessages(f), 50);
    t.match(await f.tracking(), { id: "30" });
  },
);

t.test("--once --dry-run prints formatted rows, publishes nothing, commits nothing; --count counts", async (t) => {
  const f = await fixture(t);
  const config = configWith(f);
  await f.insert(sampleRows(12));
  const r = await runCli(["--once", "--dry-run", "--limit", "5", "--config", config]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  t.equal(lines.length, 5);
  const first = JSON.parse(lines[0] as string);
  t.match(first, { subject: f.subject, msg_id: `${f.table}:1`, event: { id: 1, event_timestamp: "2026-01-01T00:00:00.000000Z", data_type: "txlog_event" } });
  t.match(r.stderr, /dry run: 5 rows formatted .* nothing published, nothing committed/);

  const count = await runCli(["--dry-run", "--count", "--config", config]);
  t.equal(count.code, 0, count.stderr);
  t.match(count.stdout, /^12 rows waiting after the start of the table$/m);

  t.equal(await streamMessages(f), null, "no stream was even created");
  t.equal(await f.tracking(), undefined, "no ETL_PRMREC row");
});
