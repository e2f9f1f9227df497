/**
 * Creates and fills TXLOG_EVENTS-shaped tables in MariaDB: used by the demo, the benchmark
 * and the tests (never by the service itself).
 */
import * as mariadb from "mariadb";

export interface TxlogRow {
  id: string | bigint;
  caseId: string | null;
  eventType: string | null;
  eventData: string | null;
  /** `YYYY-MM-DD HH:MM:SS.ffffff` */
  eventTimestamp: string;
  createdAt: string | null;
}

export const local = {
  host: process.env.MARIADB_HOST ?? "127.0.0.1",
  port: Number(process.env.MARIADB_PORT ?? 3306),
  user: process.env.MARIADB_USER ?? "root",
  password: process.env.MARIADB_PASSWORD ?? "",
  database: process.env.MARIADB_DATABASE ?? "test",
};

export function connectLocal(database = local.database): Promise<mariadb.Connection> {
  return mariadb.createConnection({ ...local, database, autoJsonMap: false, bigIntAsNumber: false });
}

/** Drops and creates the table, shaped like spc.TXLOG_EVENTS, with the keyset index. */
export async function createTxlogTable(conn: mariadb.Connection, table: string): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
  await conn.query(`CREATE TABLE \`${table}\` (
    ID BIGINT NOT NULL PRIMARY KEY,
    CASE_ID VARCHAR(64) NULL,
    EVENT_TYPE VARCHAR(64) NULL,
    EVENT_DATA LONGTEXT NULL,
    EVENT_TIMESTAMP DATETIME(6) NOT NULL,
    CREATED_AT DATETIME(6) NULL,
    KEY IX_${table}_TS_ID (EVENT_TIMESTAMP, ID)
  ) DEFAULT CHARSET=utf8mb4`);
}

export async function insertTxlogRows(conn: mariadb.Connection, table: string, rows: TxlogRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await conn.batch(
      `INSERT INTO \`${table}\` (ID, CASE_ID, EVENT_TYPE, EVENT_DATA, EVENT_TIMESTAMP, CREATED_AT) VALUES (?, ?, ?, ?, ?, ?)`,
      chunk.map((r) => [typeof r.id === "bigint" ? r.id : BigInt(r.id), r.caseId, r.eventType, r.eventData, r.eventTimestamp, r.createdAt]),
    );
  }
}

/** `base` plus `micros` microseconds, as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC arithmetic). */
export function addMicros(base: string, micros: number): string {
  const ms = Date.parse(`${base.slice(0, 10)}T${base.slice(11, 19)}Z`);
  const totalMicros = BigInt(ms) * 1000n + BigInt(Number(base.slice(20, 26) || "0")) + BigInt(micros);
  const secs = totalMicros / 1_000_000n;
  const frac = (totalMicros % 1_000_000n).toString().padStart(6, "0");
  const iso = new Date(Number(secs) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac}`;
}

/** Rows with sequential ids from `firstId`, `perTimestamp` rows sharing each timestamp, a payload of about `dataBytes`. */
export function sampleRows(count: number, options: { firstId?: bigint; start?: string; perTimestamp?: number; dataBytes?: number } = {}): TxlogRow[] {
  const firstId = options.firstId ?? 1n;
  const start = options.start ?? "2026-01-01 00:00:00.000000";
  const per = options.perTimestamp ?? 1;
  const filler = "x".repeat(Math.max(0, (options.dataBytes ?? 600) - 80));
  const rows: TxlogRow[] = [];
  for (let i = 0; i < count; i++) {
    const ts = addMicros(start, Math.floor(i / per) * 1000);
    rows.push({
      id: (firstId + BigInt(i)).toString(),
      caseId: `CASE-${(i % 1000).toString().padStart(4, "0")}`,
      eventType: ["CREATED", "UPDATED", "CLOSED"][i % 3] as string,
      eventData: JSON.stringify({ seq: i, amount: (i * 7) % 1000, note: filler }),
      eventTimestamp: ts,
      createdAt: ts,
    });
  }
  return rows;
}
