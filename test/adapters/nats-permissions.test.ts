/**
 * The README's sample nats-server authorization block is enough, and nothing more is needed:
 * a private server with exactly those permissions (names substituted) serves full `--once`
 * runs of the real binary in both ack modes and the restart ledger's scan, and refuses what
 * the block does not allow.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { connectNats } from "../../src/adapters/jetstream";
import { JetStreamLedger } from "../../src/adapters/jetstream-ledger";
import { runCli } from "../helpers/cli";
import { rawConfig, type TestNames } from "../helpers/config";
import { startNatsWith, tempDir } from "../helpers/secure-nats";
import { readStream, uniqueName, writeConfig } from "../helpers/services";

const dir = tempDir("onp-perms-");
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The fenced block between the README's nats-permissions markers. */
function readmeBlock(): string {
  const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
  const start = readme.indexOf("<!-- nats-permissions:start -->");
  const end = readme.indexOf("<!-- nats-permissions:end -->");
  if (start < 0 || end < start) throw new Error("README has no nats-permissions block");
  const fenced = readme.slice(start, end);
  return fenced.slice(fenced.indexOf("```") + 3, fenced.lastIndexOf("```")).replace(/^[^\n]*\n/, "");
}

t.test("a user with exactly the README's permissions runs the publisher, both ack modes and the ledger scan", async (t) => {
  const base = uniqueName("ONPPERM");
  const names: TestNames = {
    table: `${base}_EVENTS`,
    stream: `${base}_STREAM`,
    subject: `${base.toLowerCase()}.txlog.events`,
    program: `${base.toLowerCase()}_prog`,
  };
  const password = uniqueName("pw");
  const block = readmeBlock();
  t.match(block, /\$JS\.API\.STREAM\.INFO\.TXLOG_EVENTS/, "the block is the one documented");
  const conf = block.replaceAll("TXLOG_EVENTS", names.stream).replaceAll("intime.txlog.events", names.subject).replace('"CHANGE-ME"', `"${password}"`);
  const s = await startNatsWith(conf);
  t.teardown(() => s.stop());

  const db = await connectLocal();
  await createTxlogTable(db, names.table);
  t.teardown(async () => {
    await db.query(`DROP TABLE IF EXISTS \`${names.table}\``);
    await db.query("DELETE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [names.program]).catch(() => undefined);
    await db.end();
  });
  await insertTxlogRows(db, names.table, sampleRows(10));

  const nats = { servers: [s.url], user: "publisher", password };
  const config = (ackMode: string) =>
    writeConfig(dir, rawConfig(names, { nats: { ...nats, ack_mode: ackMode }, logging: { level: "warn" } }), `${uniqueName("cfg")}.yaml`);
  const first = await runCli(["--config", config("inbox"), "--once"]);
  t.equal(first.code, 0, `inbox run (creates the stream): ${first.stderr}`);
  t.notMatch(first.stdout, /Permissions Violation|permission/i, "no permission error logged");

  await insertTxlogRows(db, names.table, sampleRows(5, { firstId: 11n, start: "2026-01-02 00:00:00.000000" }));
  const second = await runCli(["--config", config("stock"), "--once"]);
  t.equal(second.code, 0, `stock run (stream exists): ${second.stderr}`);
  t.notMatch(second.stdout, /Permissions Violation|permission/i);

  const nc = await connectNats({ servers: [s.url], user: "publisher", password, name: "t", connectTimeoutMs: 10_000 });
  t.teardown(() => nc.close());
  const ledger = new JetStreamLedger(nc, names.stream, [names.subject, `${names.subject}.dlq`]);
  t.equal(await ledger.lastSeq(), 15);
  const stored = await ledger.storedSince(1);
  t.equal(stored.size, 15, "the ledger's ordered-consumer scan works with these permissions");
  t.equal((await readStream(nc, names.stream)).length, 15, "each row once");

  // What the block does not allow is refused: deleting the stream, publishing elsewhere.
  const jsm = await jetstreamManager(nc);
  await t.rejects(jsm.streams.delete(names.stream), "STREAM.DELETE is not granted");
  await t.rejects(nc.request(`${names.subject}.other`, "x", { timeout: 2000 }), "another subject is not granted");
});
