/**
 * The source conformance suite against the real MariaDB on this machine, under two time
 * zones of the Node process (the source must not depend on TZ). Each run uses a database of
 * its own, so killing "the source's sessions" cannot touch another test's connections.
 */

import type * as mariadb from "mariadb";
import t from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, local } from "../../scripts/lib/txlog-table";
import { MariadbSource } from "../../src/adapters/mariadb-source";
import { uniqueName } from "../helpers/services";
import type { SourceHarness } from "./harness";
import { runSourceConformance } from "./source-conformance";

function mariadbHarness(zone: string): SourceHarness {
  const database = uniqueName("onp_conf").toLowerCase();
  const table = "TXLOG_EVENTS";
  let admin: mariadb.Connection;
  return {
    name: `mariadb (TZ=${zone})`,
    async setup() {
      process.env.TZ = zone;
      admin = await connectLocal();
      await admin.query(`CREATE DATABASE \`${database}\``);
      await admin.query(`USE \`${database}\``);
      await createTxlogTable(admin, table);
    },
    async insert(rows) {
      await insertTxlogRows(admin, table, rows);
    },
    async dbNow() {
      const rows = (await admin.query({ sql: "SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')", rowsAsArray: true })) as string[][];
      return rows[0]?.[0] as string;
    },
    source() {
      return new MariadbSource({ ...local, database, table, retry: { maxRetries: 3, initialBackoff: 0.05, maxBackoff: 0.2, backoffMultiplier: 2 } });
    },
    async killSourceSessions() {
      const rows = (await admin.query({ sql: "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", rowsAsArray: true }, [
        database,
      ])) as bigint[][];
      for (const [id] of rows) await admin.query(`KILL CONNECTION ${id}`).catch(() => undefined);
      if (rows.length === 0) throw new Error("no source session found to kill");
    },
    async teardown() {
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await admin.end();
    },
  };
}

for (const zone of ["Asia/Tokyo", "America/Los_Angeles"]) {
  t.test(`source conformance: ${zone}`, async (t) => runSourceConformance(t, mariadbHarness(zone)));
}
