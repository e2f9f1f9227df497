/**
 * `npm run demo`: seeds test.TXLOG_EVENTS_DEMO in the local MariaDB, runs one publisher cycle
 * (`node dist/main.js --config config/demo.yaml --once`) against the local NATS, and shows
 * what landed: the stream, two messages, and the ETL_PRMREC row. Safe to run again: it starts
 * from a fresh table, stream and tracking row each time.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "./lib/txlog-table";

const root = join(__dirname, "..", "..");
const TABLE = "TXLOG_EVENTS_DEMO";
const STREAM = "TXLOG_EVENTS_DEMO";
const PROGRAM = "demo_txlog_events";
const ROWS = 1000;

async function main(): Promise<void> {
  const db = await connectLocal();
  const nc = await connect({ servers: process.env.NATS_SERVERS ?? "nats://127.0.0.1:4222" });
  const jsm = await jetstreamManager(nc);
  try {
    console.log(`1. Seeding ${ROWS} rows into test.${TABLE} (MariaDB at 127.0.0.1:3306) ...`);
    await createTxlogTable(db, TABLE);
    await insertTxlogRows(db, TABLE, sampleRows(ROWS, { perTimestamp: 4, start: "2026-01-01 00:00:00.000000" }));
    await db.query("DELETE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [PROGRAM]).catch(() => undefined);
    await jsm.streams.delete(STREAM).catch(() => undefined);

    console.log("\n2. Running: node dist/main.js --config config/demo.yaml --once\n");
    const run = spawnSync(process.execPath, [join(root, "dist", "main.js"), "--config", join(root, "config", "demo.yaml"), "--once"], {
      stdio: "inherit",
      cwd: root,
    });
    if (run.status !== 0) throw new Error(`the publisher exited with ${run.status}`);

    const info = await jsm.streams.info(STREAM);
    console.log(`\n3. Stream ${STREAM}: ${info.state.messages} messages on ${info.config.subjects?.join(", ")}`);
    const consumer = await jetstream(nc).consumers.get(STREAM);
    const batch = await consumer.fetch({ max_messages: 2, expires: 2000 });
    for await (const m of batch) {
      console.log(`\n   seq ${m.seq}  subject ${m.subject}  Nats-Msg-Id ${m.headers?.get("Nats-Msg-Id")}`);
      const event = m.json<Record<string, unknown>>();
      event.event_data = `${String(event.event_data).slice(0, 60)}...`;
      console.log(`   ${JSON.stringify(event, null, 2).replace(/\n/g, "\n   ")}`);
    }
    const rows = (await db.query(
      "SELECT PROGRAM_NAME, DATE_FORMAT(LAST_SUCCESSFUL_TIME, '%Y-%m-%d %H:%i:%s.%f') AS LAST_SUCCESSFUL_TIME, LAST_SUCCESSFUL_ID, DATE_FORMAT(LAST_RUN_TIME, '%Y-%m-%d %H:%i:%s.%f') AS LAST_RUN_TIME, STATUS, RECORDS_PROCESSED, ERROR_MESSAGE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?",
      [PROGRAM],
    )) as Record<string, unknown>[];
    console.log("\n4. ETL_PRMREC:");
    for (const [k, v] of Object.entries(rows[0] ?? {})) console.log(`   ${k.padEnd(22)} ${v instanceof Date ? v.toISOString() : String(v)}`);
    console.log("\nRun it again with `node dist/main.js --config config/demo.yaml` (Ctrl-C to stop) to watch it poll.");
  } finally {
    await nc.close();
    await db.end();
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  console.error("Are MariaDB (127.0.0.1:3306) and NATS with JetStream (127.0.0.1:4222) running? See README, Quick start.");
  process.exit(1);
});
