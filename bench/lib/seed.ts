/**
 * Bench tables: TXLOG_EVENTS-shaped (scripts/lib/txlog-table.ts), filled by MariaDB itself
 * from its SEQUENCE engine (`seq_1_to_N`): a million rows take seconds, not minutes, and never
 * pass through this process. Rows look like `sampleRows`: one timestamp per row, 1 ms apart,
 * EVENT_DATA a small JSON object padded so each published message is about `messageBytes`.
 */
import type { Connection } from "mariadb";
import { createTxlogTable } from "../../scripts/lib/txlog-table";

/** Bytes of a message besides EVENT_DATA (ids, timestamps, trace_id, data_type, JSON syntax). */
const ENVELOPE = 235;
/** Bytes of EVENT_DATA (as escaped in the message) besides the padding. */
const DATA_OVERHEAD = 45;

export function paddingFor(messageBytes: number): number {
  return Math.max(0, messageBytes - ENVELOPE - DATA_OVERHEAD);
}

export async function seedTable(conn: Connection, table: string, rows: number, messageBytes: number): Promise<void> {
  await createTxlogTable(conn, table);
  const pad = paddingFor(messageBytes);
  const chunk = 100_000;
  for (let first = 1; first <= rows; first += chunk) {
    const last = Math.min(rows, first + chunk - 1);
    try {
      await conn.query(
        `INSERT INTO \`${table}\` (ID, CASE_ID, EVENT_TYPE, EVENT_DATA, EVENT_TIMESTAMP, CREATED_AT)
         SELECT seq, CONCAT('CASE-', LPAD(seq MOD 1000, 4, '0')), ELT(seq MOD 3 + 1, 'CREATED', 'UPDATED', 'CLOSED'),
                CONCAT('{"seq":', seq, ',"amount":', (seq * 7) MOD 1000, ',"note":"', REPEAT('x', ?), '"}'),
                TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq * 1000 MICROSECOND,
                TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq * 1000 MICROSECOND
         FROM seq_${first}_to_${last}`,
        [pad],
      );
    } catch (err) {
      if ((err as { errno?: number }).errno === 1146) throw new Error(`seeding ${table} needs MariaDB's SEQUENCE engine (seq_1_to_N tables)`, { cause: err });
      throw err;
    }
  }
}

export async function dropTable(conn: Connection, table: string): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
}
