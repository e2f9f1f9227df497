/**
 * The Oracle source's output must not depend on the Node process's TZ. Thin mode sets the
 * session time zone from the process's offset, and the fake does the same, so anything that
 * leaked through LOCALTIMESTAMP, a naive/zoned comparison or a JS Date would change here.
 *
 * The same scenarios run in this process and in child processes under TZ=Asia/Tokyo and
 * TZ=America/Los_Angeles (this file re-run with ORACLE_TZ_OUT set); every result must be
 * identical, while a deliberately TZ-dependent control query must differ.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { OracleSource } from "../../src/adapters/oracle-source";
import type { SourceRow, Watermark } from "../../src/pipeline/types";
import { type FakeColumnTypes, FakeOracle, type FakeRow } from "../fakes/fake-oracledb";
import { fakeRow, oracleOptions, TABLE } from "../helpers/oracle";

const row = (id: string, ts: string, created: string | null = ts): FakeRow => fakeRow(id, { EVENT_TIMESTAMP: ts, CREATED_AT: created });

interface Scenario {
  name: string;
  types: Partial<FakeColumnTypes>;
  rows: FakeRow[];
  timeZone: string;
  dbOsZone: string;
  after: Watermark | null;
}

const SCENARIOS: Scenario[] = [
  {
    name: "TIMESTAMP columns",
    types: {},
    rows: [
      row("1", "2026-03-01 08:00:00.000001"),
      row("2", "2026-03-01 08:00:00.000001", null),
      row("3", "2026-03-01 20:59:00.999999"),
      row("4", "2026-03-01 21:00:00.000000"),
    ],
    timeZone: "+09:00",
    dbOsZone: "+09:00",
    after: { ts: "2026-03-01 08:00:00.000001", id: "1" },
  },
  {
    name: "DATE columns",
    types: { EVENT_TIMESTAMP: "DATE", CREATED_AT: "DATE" },
    rows: [row("1", "2026-03-01 03:00:00"), row("2", "2026-03-01 03:00:00"), row("3", "2026-03-01 06:59:00")],
    timeZone: "UTC",
    dbOsZone: "-05:00",
    after: null,
  },
  {
    name: "TIMESTAMP WITH TIME ZONE columns shown in a fixed offset",
    types: { EVENT_TIMESTAMP: "TIMESTAMP WITH TIME ZONE", CREATED_AT: "TIMESTAMP WITH TIME ZONE" },
    rows: [
      row("1", "2026-03-01 09:00:00.000001 +09:00"), // 00:00:00.000001 UTC
      row("2", "2026-03-01 00:00:00.000001 +00:00"), // the same instant: a tie
      row("3", "2026-02-28 16:00:00.000002 -08:00"), // 00:00:00.000002 UTC
      row("4", "2026-03-01 11:59:00.000000 +00:00"),
      row("5", "2026-03-01 20:59:30.000000 +09:00"), // 11:59:30 UTC: inside the 60 s lag
    ],
    timeZone: "+09:00",
    dbOsZone: "+00:00",
    after: { ts: "2026-03-01 09:00:00.000001", id: "1" },
  },
  {
    name: "TIMESTAMP WITH TIME ZONE columns shown in a region",
    types: { EVENT_TIMESTAMP: "TIMESTAMP WITH TIME ZONE", CREATED_AT: "TIMESTAMP WITH TIME ZONE" },
    rows: [row("1", "2026-03-01 01:00:00.000000 +00:00"), row("2", "2026-03-01 05:00:00.500000 -03:00")],
    timeZone: "America/New_York",
    dbOsZone: "+01:00",
    after: null,
  },
];

interface Outcome {
  rows: SourceRow[][];
  latest: Watermark | null;
  sql: string[];
  binds: Record<string, unknown>[];
}

async function runScenario(s: Scenario): Promise<Outcome> {
  const fake = new FakeOracle();
  fake.nowUtc = "2026-03-01 12:00:00.000000";
  fake.dbOsZone = s.dbOsZone;
  fake.createTable(TABLE, s.rows, s.types);
  const source = new OracleSource(
    oracleOptions(fake, {
      user: "u",
      password: "p",
      dsn: "d",
      poolMax: 1,
      fetchArraySize: 10,
      prefetchRows: 10,
      callTimeoutMs: 0,
      retry: { maxRetries: 0, initialBackoff: 0.001, maxBackoff: 0.001, backoffMultiplier: 1 },
      timeZone: s.timeZone,
    }),
  );
  const rows: SourceRow[][] = [];
  for await (const chunk of source.read({ after: s.after, limit: 100, pageSize: 2, safetyLagSeconds: 60 })) rows.push(chunk as SourceRow[]);
  const latest = await source.latest(60);
  await source.close();
  return { rows, latest, sql: fake.executes.map((e) => e.sql), binds: fake.executes.map((e) => e.binds) };
}

/** Deliberately TZ-dependent (LOCALTIMESTAMP follows the session zone): proves the harness can see a leak. */
async function control(): Promise<string> {
  const fake = new FakeOracle();
  const conn = await (await fake.driver.createPool({})).getConnection();
  const r = await conn.execute(
    "SELECT TO_CHAR(LOCALTIMESTAMP, 'YYYY-MM-DD HH24:MI:SS.FF6') AS NOW_TEXT FROM DUAL",
    {},
    { outFormat: fake.driver.OUT_FORMAT_OBJECT },
  );
  return ((r.rows ?? [])[0] as { NOW_TEXT: string }).NOW_TEXT;
}

async function everything(): Promise<{ offsetMinutes: number; outcomes: Record<string, Outcome>; control: string }> {
  const outcomes: Record<string, Outcome> = {};
  for (const s of SCENARIOS) outcomes[s.name] = await runScenario(s);
  return { offsetMinutes: new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset(), outcomes, control: await control() };
}

function runChild(tz: string): ReturnType<typeof everything> extends Promise<infer R> ? R : never {
  const dir = mkdtempSync(join(tmpdir(), "oracle-tz-"));
  try {
    const out = join(dir, "result.json");
    // Same Node flags and environment as this process (they load TypeScript), another TZ.
    const env: NodeJS.ProcessEnv = { ...process.env, TZ: tz, ORACLE_TZ_OUT: out };
    const child = spawnSync(process.execPath, [...process.execArgv, __filename], { env, encoding: "utf8", timeout: 60_000 });
    if (child.status !== 0) throw new Error(`child under TZ=${tz} failed (${child.status}): ${child.stderr}`);
    return JSON.parse(readFileSync(out, "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const childOut = process.env.ORACLE_TZ_OUT;
if (childOut) {
  // Child mode: compute and hand the result back; the parent does the asserting.
  t.test("child run", async (t) => {
    writeFileSync(childOut, JSON.stringify(await everything()));
    t.pass("written");
  });
} else {
  t.test("gives identical rows, watermarks and SQL under TZ=Asia/Tokyo and TZ=America/Los_Angeles", async (t) => {
    const here = await everything();
    const tokyo = runChild("Asia/Tokyo");
    const la = runChild("America/Los_Angeles");
    t.equal(tokyo.offsetMinutes, -540, "the Tokyo child really runs at UTC+9");
    t.equal(la.offsetMinutes, 480, "the Los Angeles child really runs at UTC-8");
    for (const s of SCENARIOS) {
      t.same(tokyo.outcomes[s.name], here.outcomes[s.name], `${s.name}: Tokyo matches this process`);
      t.same(la.outcomes[s.name], here.outcomes[s.name], `${s.name}: Los Angeles matches this process`);
    }
    t.not(tokyo.control, la.control, "control: a LOCALTIMESTAMP query does differ, so a leak would be caught");
  });

  t.test("converts TIMESTAMP WITH TIME ZONE to the configured zone and pages by instant", async (t) => {
    const [tstz, region] = [await runScenario(SCENARIOS[2] as Scenario), await runScenario(SCENARIOS[3] as Scenario)];
    t.same(
      tstz.rows.flat().map((r) => [r.id, r.eventTimestamp, r.createdAt]),
      [
        ["2", "2026-03-01 09:00:00.000001", "2026-03-01 09:00:00.000001"],
        ["3", "2026-03-01 09:00:00.000002", "2026-03-01 09:00:00.000002"],
        ["4", "2026-03-01 20:59:00.000000", "2026-03-01 20:59:00.000000"],
      ],
      "same-instant rows tie, are ordered by id, and row 5 is inside the lag",
    );
    t.same(tstz.latest, { ts: "2026-03-01 20:59:00.000000", id: "4" });
    const page = tstz.sql.find((s) => s.includes("FETCH FIRST :n")) ?? "";
    t.match(page, /TO_CHAR\(\(EVENT_TIMESTAMP AT TIME ZONE :zone\), 'YYYY-MM-DD HH24:MI:SS\.FF6'\) AS EVENT_TS/);
    t.match(page, /EVENT_TIMESTAMP > FROM_TZ\(TO_TIMESTAMP\(:t, 'YYYY-MM-DD HH24:MI:SS\.FF6'\), :zone\)/);
    t.equal(tstz.binds.find((b) => "t" in b)?.zone, "+09:00");
    t.same(
      region.rows.flat().map((r) => r.eventTimestamp),
      ["2026-02-28 20:00:00.000000", "2026-03-01 03:00:00.500000"],
      "UTC-5 in winter",
    );
  });

  t.test("the upper bound follows the database clock in the configured zone, not the server OS zone", async (t) => {
    const out = await runScenario(SCENARIOS[1] as Scenario); // DB OS zone -05:00, configured zone UTC
    const dual = out.binds[out.sql.findIndex((s) => s.includes("FROM DUAL"))];
    t.same(dual, { zone: "+00:00", lag: 60 });
    t.same(out.binds.find((b) => "upper" in b)?.upper, "2026-03-01 11:59:00.000000");
    t.same(
      out.rows.flat().map((r) => r.eventTimestamp),
      ["2026-03-01 03:00:00.000000", "2026-03-01 03:00:00.000000", "2026-03-01 06:59:00.000000"],
    );
  });

  t.test("no statement uses the session time zone", async (t) => {
    for (const s of SCENARIOS) {
      for (const sql of (await runScenario(s)).sql) {
        t.notMatch(sql, /LOCALTIMESTAMP|CURRENT_TIMESTAMP|CURRENT_DATE|SYSDATE|SESSIONTIMEZONE|AT LOCAL/, `${s.name}: ${sql.slice(0, 60)}...`);
      }
    }
  });
}
