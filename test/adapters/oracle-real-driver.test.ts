/**
 * OracleSource with the REAL node-oracledb module (Thin mode) but no database: local sockets
 * that refuse, hang up or stay silent make the driver raise its genuine connection errors.
 * This checks the pool attributes pass the driver's own validation, that real error objects
 * are classified as the fake's are, and that the fake's constants match the module's.
 */

import { createServer, type Socket } from "node:net";
import t from "tap";
import { OracleSource, type OracleSourceOptions } from "../../src/adapters/oracle-source";
import { SourceError } from "../../src/errors";
import { FakeOracle } from "../fakes/fake-oracledb";

const PASSWORD = "real-driver-secret";

/** A local TCP listener; `stop()` also ends any socket the driver left open. */
async function listen(onConnection: (s: Socket) => void): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { port: (server.address() as { port: number }).port, stop };
}

function realSource(dsn: string, maxRetries: number, warnings: string[]): OracleSource {
  const options: OracleSourceOptions = {
    user: "publisher",
    password: PASSWORD,
    dsn,
    poolMin: 0,
    poolMax: 1,
    poolTimeoutSeconds: 30,
    fetchArraySize: 100,
    prefetchRows: 100,
    callTimeoutMs: 2000,
    retry: { maxRetries, initialBackoff: 0.01, maxBackoff: 0.02, backoffMultiplier: 2 },
    timeZone: "UTC",
    logger: { warn: (_o, msg) => warnings.push(msg), info() {}, debug() {} },
  }; // no `driver`: the real require("oracledb")
  return new OracleSource(options);
}

async function firstError(source: OracleSource): Promise<SourceError> {
  try {
    for await (const _ of source.read({ after: null, limit: 10, pageSize: 10, safetyLagSeconds: 0 })) void _;
  } catch (err) {
    return err as SourceError;
  }
  throw new Error("the read unexpectedly succeeded");
}

t.test("a refused connection is a transient NJS-503, retried, then surfaced without the password", async (t) => {
  const { port, stop } = await listen(() => {});
  await stop(); // the port is now closed
  const warnings: string[] = [];
  const source = realSource(`127.0.0.1:${port}/FREEPDB1`, 2, warnings);
  const err = await firstError(source);
  await source.close();
  t.ok(err instanceof SourceError);
  t.equal(err.transient, true);
  t.match(err.message, /spc\.TXLOG_EVENTS.*NJS-503/);
  t.equal((err.cause as { code?: string }).code, "NJS-503", "the driver's error is the cause");
  t.equal(warnings.length, 2, "retried twice");
  t.notOk(err.message.includes(PASSWORD));
});

t.test("a listener that hangs up is NJS-500 (wrapping NJS-521): transient", async (t) => {
  const { port, stop } = await listen((s) => s.destroy());
  t.teardown(stop);
  const source = realSource(`127.0.0.1:${port}/FREEPDB1`, 0, []);
  const err = await firstError(source);
  await source.close();
  t.equal(err.transient, true);
  t.match(err.message, /NJS-500/);
});

t.test("a silent listener hits the connect timeout, NJS-510: transient", async (t) => {
  const { port, stop } = await listen(() => {});
  t.teardown(stop);
  const source = realSource(`127.0.0.1:${port}/FREEPDB1?connect_timeout=1`, 0, []);
  const err = await firstError(source);
  await source.close();
  t.equal(err.transient, true);
  t.match(err.message, /NJS-510/);
});

t.test("a malformed connect string is permanent (NJS-515) and not retried", async (t) => {
  const warnings: string[] = [];
  const source = realSource("dbhost:notaport/FREEPDB1", 3, warnings);
  const err = await firstError(source);
  await source.close();
  t.equal(err.transient, false);
  t.match(err.message, /NJS-515/);
  t.equal(warnings.length, 0, "no retry");
});

t.test("the fake's constants are the real module's", async (t) => {
  const real = require("oracledb") as Record<string, { num?: number; name?: string; columnTypeName?: string } | number>;
  const fake = new FakeOracle().driver as unknown as Record<string, unknown>;
  for (const name of ["OUT_FORMAT_OBJECT", "OUT_FORMAT_ARRAY"]) t.equal(fake[name], real[name], name);
  for (const name of [
    "STRING",
    "NUMBER",
    "DB_TYPE_VARCHAR",
    "DB_TYPE_NUMBER",
    "DB_TYPE_CLOB",
    "DB_TYPE_NCLOB",
    "DB_TYPE_DATE",
    "DB_TYPE_TIMESTAMP",
    "DB_TYPE_TIMESTAMP_TZ",
    "DB_TYPE_TIMESTAMP_LTZ",
  ]) {
    const r = real[name] as { num: number; name: string; columnTypeName: string };
    const f = fake[name] as { num: number; name: string; columnTypeName: string };
    t.same([f.num, f.name, f.columnTypeName], [r.num, r.name, r.columnTypeName], name);
  }
  t.equal(typeof real.initOracleClient, "function", "the module offers thick mode; the adapter never calls it");
});
