/**
 * One end-to-end fixture: a MariaDB source table, a JetStream stream and a program name of
 * its own, the real services, and the ETL_PRMREC row to read back.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type * as mariadb from "mariadb";
import type { Test } from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, type TxlogRow } from "../../scripts/lib/txlog-table";
import { rawConfig, type TestNames } from "./config";
import { deleteStream, natsConnection, readStream, type StoredMessage, uniqueName, writeConfig } from "./services";

export interface Fixture extends TestNames {
  db: mariadb.Connection;
  nc: NatsConnection;
  dir: string;
  insert(rows: TxlogRow[]): Promise<void>;
  /** The program's ETL_PRMREC row. */
  tracking(): Promise<{ STATUS: string; ts: string | null; id: string | null; RECORDS_PROCESSED: bigint | null; ERROR_MESSAGE: string | null } | undefined>;
  messages(): Promise<StoredMessage[]>;
  configFile(overrides?: Parameters<typeof rawConfig>[1], natsUrl?: string): string;
}

export async function fixture(t: Test, natsUrl?: string): Promise<Fixture> {
  const base = uniqueName("ONP");
  const names: TestNames = {
    table: `${base}_EVENTS`,
    stream: `${base}_STREAM`,
    subject: `${base.toLowerCase()}.txlog.events`,
    program: `${base.toLowerCase()}_prog`,
  };
  const db = await connectLocal();
  await createTxlogTable(db, names.table);
  const nc = await natsConnection(natsUrl);
  const dir = mkdtempSync(join(tmpdir(), "onp-e2e-"));
  t.teardown(async () => {
    await db.query(`DROP TABLE IF EXISTS \`${names.table}\``);
    await db.query("DELETE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [names.program]).catch(() => undefined);
    await db.end();
    await deleteStream(nc, names.stream).catch(() => undefined);
    await nc.close().catch(() => undefined);
  });
  return {
    ...names,
    db,
    nc,
    dir,
    insert: (rows) => insertTxlogRows(db, names.table, rows),
    async tracking() {
      const rows = (await db.query(
        "SELECT STATUS, DATE_FORMAT(LAST_SUCCESSFUL_TIME, '%Y-%m-%d %H:%i:%s.%f') AS ts, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id, RECORDS_PROCESSED, ERROR_MESSAGE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?",
        [names.program],
      )) as Array<{ STATUS: string; ts: string | null; id: string | null; RECORDS_PROCESSED: bigint | null; ERROR_MESSAGE: string | null }>;
      return rows[0];
    },
    messages: () => readStream(nc, names.stream),
    configFile(overrides = {}, url) {
      const raw = rawConfig(names, overrides);
      if (url) (raw.nats as Record<string, unknown>).servers = [url];
      return writeConfig(dir, raw, `${uniqueName("cfg")}.yaml`);
    },
  };
}

/** Asserts that `ids` holds each of `expected` exactly once; returns the duplicates and the missing. */
export function exactlyOnce(ids: string[], expected: string[]): { duplicates: string[]; missing: string[] } {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return { duplicates: [...seen].filter(([, n]) => n > 1).map(([id]) => id), missing: expected.filter((id) => !seen.has(id)) };
}
