/**
 * Which node-oracledb failures OracleSource retries, and what it surfaces when it gives up.
 */

import type { Readable } from "node:stream";
import t from "tap";
import { isTransientOracleError, toSourceError } from "../../src/adapters/oracle-errors";
import type { OracleSource } from "../../src/adapters/oracle-source";
import { SourceError } from "../../src/errors";
import type { SourceRow } from "../../src/pipeline/types";
import { driverError, FakeOracle } from "../fakes/fake-oracledb";
import { PASSWORD, setupFake, TABLE } from "../helpers/oracle";

async function collect(stream: Readable): Promise<{ rows: SourceRow[]; error?: unknown }> {
  const rows: SourceRow[] = [];
  try {
    for await (const chunk of stream) rows.push(...(chunk as SourceRow[]));
    return { rows };
  } catch (error) {
    return { rows, error };
  }
}

const readAll = (source: OracleSource, pageSize = 10) => collect(source.read({ after: null, limit: 1000, pageSize, safetyLagSeconds: 0 }));

t.test("classifies every listed driver code", async (t) => {
  const transient = [
    "NJS-500",
    "NJS-501",
    "NJS-503",
    "NJS-510",
    "NJS-511",
    "NJS-521",
    "NJS-040",
    "NJS-076",
    "NJS-123",
    "ORA-01033",
    "ORA-01089",
    "ORA-12514",
    "NJS-518",
    "ORA-00060",
    "ORA-03113",
    "ORA-03114",
    "ORA-03135",
    "ORA-12541",
    "ORA-12170",
    "ORA-12537",
  ];
  const permanent = ["ORA-01017", "ORA-28000", "ORA-00942", "ORA-00904", "ORA-01031", "NJS-514", "NJS-515", "NJS-517", "ORA-01722", "NJS-003", "ORA-99999"];
  for (const code of transient) t.equal(isTransientOracleError(driverError(code)), true, `${code} is transient`);
  for (const code of permanent) t.equal(isTransientOracleError(driverError(code)), false, `${code} is permanent`);
  // Bare shapes, not only the fake's: a code property alone, an errorNum alone, a message alone.
  t.equal(isTransientOracleError(Object.assign(new Error("x"), { code: "ORA-00060" })), true, "code property");
  t.equal(isTransientOracleError(Object.assign(new Error("lost"), { errorNum: 3135 })), true, "errorNum 3135 is ORA-03135");
  t.equal(isTransientOracleError(new Error("ORA-12514: TNS:listener does not currently know of service")), true, "code leading the message");
  t.equal(
    isTransientOracleError(new Error("NJS-500: connection to Oracle Database was closed or broken\nORA-03113: end-of-file")),
    true,
    "thin's NJS-500 wrapper",
  );
  t.equal(isTransientOracleError(new Error("something mentions ORA-03113 mid-sentence")), false, "a code not at a line start is ignored");
  t.equal(isTransientOracleError(new Error("boom")), false, "unknown errors are permanent");
  t.equal(isTransientOracleError("ORA-03113"), false, "non-objects are permanent");
  t.equal(isTransientOracleError(null), false);
  t.equal(isTransientOracleError(new SourceError("x", true)), true, "a SourceError keeps its verdict");
  t.equal(isTransientOracleError(new SourceError("x", false)), false);
  t.equal(driverError("ORA-03113").code, "NJS-500", "the fake maps dead-connection ORA codes as thin does");
});

t.test("wraps driver errors as SourceError naming the table and code, without the password", async (t) => {
  const cause = driverError("ORA-01017");
  const err = toSourceError(cause, TABLE, "connect", [PASSWORD]);
  t.ok(err instanceof SourceError);
  t.equal(err.transient, false);
  t.equal(err.cause, cause);
  t.match(err.message, /spc\.TXLOG_EVENTS/);
  t.match(err.message, /ORA-01017/);
  t.notMatch(err.message, /Help: https/, "thin's help link is trimmed");
  const leaky = toSourceError(new Error(`NJS-503: could not connect as publisher/${PASSWORD}@dbhost`), TABLE, "connect", [PASSWORD]);
  t.notOk(leaky.message.includes(PASSWORD), "a password echoed by the driver is cut out");
  t.match(leaky.message, /publisher\/\*\*\*@dbhost/);
  t.equal(leaky.transient, true);
});

t.test("retries a transient connect failure with backoff and then reads everything", async (t) => {
  const { fake, source, warnings } = setupFake(5);
  t.teardown(() => source.close());
  fake.inject({ on: "getConnection", error: "NJS-503", times: 2 });
  const { rows, error } = await readAll(source);
  t.equal(error, undefined);
  t.equal(rows.length, 5);
  t.equal(fake.getConnectionCalls, 3, "two failures, then success");
  t.equal(warnings.length, 2, "each retry is logged");
  t.notOk(JSON.stringify(warnings).includes(PASSWORD), "no password in the log lines");
});

t.test("retries a page that fails mid-read on a fresh connection, dropping the broken one", async (t) => {
  const { fake, source } = setupFake(25);
  t.teardown(() => source.close());
  fake.inject({ on: "getRows", skip: 1, error: "ORA-03113" }); // the second page's fetch
  const { rows, error } = await readAll(source, 10);
  t.equal(error, undefined);
  t.same(
    rows.map((r) => Number(r.id)),
    Array.from({ length: 25 }, (_, i) => i + 1),
    "every row once, in order",
  );
  const opens = fake.executed(/FETCH FIRST/);
  t.equal(opens.length, 2, "the cursor is opened again once");
  t.equal(opens[1]?.binds.id, "10", "after the last row emitted");
  t.not(opens[1]?.connectionId, opens[0]?.connectionId, "on a different connection");
  t.equal(fake.connections[0]?.state, "dropped", "the broken connection is dropped from the pool, not reused");
  t.equal(fake.executed(/FROM DUAL/).length, 1, "the upper bound is not taken again");
  t.equal(fake.connectionsOut, 0);
});

t.test("does not retry a permanent error and surfaces it at once", async (t) => {
  const { fake, source } = setupFake(5);
  t.teardown(() => source.close());
  fake.inject({ on: "getConnection", error: "ORA-01017", times: 10 });
  const { rows, error } = await readAll(source);
  t.same(rows, []);
  t.ok(error instanceof SourceError);
  t.equal((error as SourceError).transient, false);
  t.match((error as SourceError).message, /spc\.TXLOG_EVENTS.*ORA-01017/);
  t.equal(((error as SourceError).cause as { code?: string }).code, "ORA-01017", "the driver error is the cause");
  t.notOk((error as SourceError).message.includes(PASSWORD));
  t.equal(fake.getConnectionCalls, 1, "exactly one attempt");
});

t.test("a missing table is permanent: one attempt, ORA-00942 named, connection released", async (t) => {
  const fake = new FakeOracle();
  const { source } = setupFake(0, { driver: fake.driver, table: "spc.NO_SUCH_TABLE" });
  t.teardown(() => source.close());
  const { error } = await readAll(source);
  t.match((error as Error).message, /spc\.NO_SUCH_TABLE.*ORA-00942/);
  t.equal(fake.getConnectionCalls, 1);
  t.equal(fake.connectionsOut, 0);
});

t.test("gives up after maxRetries and reports the failure as transient", async (t) => {
  const { fake, source } = setupFake(5, { retry: { maxRetries: 2, initialBackoff: 0.001, maxBackoff: 0.002, backoffMultiplier: 2 } });
  t.teardown(() => source.close());
  fake.inject({ on: "getConnection", error: "NJS-500", times: 100 });
  const { error } = await readAll(source);
  t.equal((error as SourceError).transient, true);
  t.equal((error as SourceError).code, "E_SOURCE_TRANSIENT");
  t.equal(fake.getConnectionCalls, 3, "first attempt plus two retries");
});

t.test("a permanent failure after rows were emitted errors the stream and releases the connection", async (t) => {
  const { fake, source } = setupFake(25);
  t.teardown(() => source.close());
  fake.inject({ on: "getRows", skip: 1, error: "ORA-00904" });
  const { rows, error } = await readAll(source, 10);
  t.equal(rows.length, 10, "the first page got through");
  t.match((error as SourceError).message, /ORA-00904/);
  t.equal(fake.executed(/FETCH FIRST/).length, 1, "not retried");
  t.equal(fake.resultSetsOpen, 0, "the cursor is closed");
  t.equal(fake.connectionsOut, 0);
  t.equal(fake.connections[0]?.state, "released");
});

t.test("a session killed mid-read with retries exhausted errors the stream and drops the connection", async (t) => {
  const { fake, source } = setupFake(25, { retry: { maxRetries: 0, initialBackoff: 0.001, maxBackoff: 0.001, backoffMultiplier: 1 } });
  t.teardown(() => source.close());
  const stream = source.read({ after: null, limit: 1000, pageSize: 10, safetyLagSeconds: 0 });
  const it = stream[Symbol.asyncIterator]();
  t.equal(((await it.next()).value as SourceRow[]).length, 10);
  fake.killSessions();
  await t.rejects(
    async () => {
      for (;;) if ((await it.next()).done) break;
    },
    { name: "SourceError", transient: true, message: /NJS-500/ },
  );
  t.equal(fake.connectionsOut, 0);
  t.equal(fake.connections[0]?.state, "dropped");
});

t.test("latest() retries transient failures and surfaces permanent ones", async (t) => {
  const { fake, source } = setupFake(3);
  t.teardown(() => source.close());
  fake.inject({ on: "execute", match: /DESC/, error: "ORA-00060" });
  t.same(await source.latest(0), { ts: "2026-01-01 00:00:03.000000", id: "3" });
  fake.inject({ on: "execute", match: /DESC/, error: "ORA-01031" });
  await t.rejects(source.latest(0), { name: "SourceError", transient: false, message: /ORA-01031/ });
  t.equal(fake.connectionsOut, 0);
});

t.test("defect 8: resource limits, snapshot too old and a vanished object are transient; Thick-only codes are gone", async (t) => {
  const table: [string, boolean, string][] = [
    ["ORA-00018", true, "maximum number of sessions exceeded: frees up as sessions end"],
    ["ORA-00020", true, "maximum number of processes exceeded: frees up as processes end"],
    ["ORA-01555", true, "snapshot too old: a fresh query from the last row emitted gets a new snapshot"],
    ["ORA-08103", true, "object no longer exists (segment moved or truncated under a query): a fresh query sees the new one"],
    ["NJS-138", false, "server version not supported by Thin mode: retrying cannot help"],
    ["DPI-1067", false, "Thick mode's call timeout: never raised in Thin mode (and Thick reports it as NJS-123)"],
    ["NJS-097", false, "a bind name not in the statement: a bug, not a hiccup"],
    ["NJS-098", false, "wrong number of bind values: a bug, not a hiccup"],
  ];
  for (const [code, transient, why] of table)
    t.equal(isTransientOracleError(driverError(code)), transient, `${code} ${transient ? "transient" : "permanent"}: ${why}`);
});

t.test("defect 8: an unknown service name is permanent until the source has connected once", async (t) => {
  for (const code of ["NJS-518", "ORA-12514"]) {
    t.equal(
      isTransientOracleError(driverError(code), { connectedBefore: false }),
      false,
      `${code} on the first connection: the DSN names a service the listener does not know`,
    );
    t.equal(
      isTransientOracleError(driverError(code), { connectedBefore: true }),
      true,
      `${code} after a successful connection: the service is re-registering after a restart`,
    );
  }
  const misconfigured = setupFake(3);
  t.teardown(() => misconfigured.source.close());
  misconfigured.fake.inject({ on: "getConnection", error: "NJS-518", times: 100 });
  const first = await readAll(misconfigured.source);
  t.type(first.error, SourceError);
  t.equal((first.error as SourceError).transient, false, "the cycle fails as permanent");
  t.match((first.error as Error).message, /NJS-518.*service name/s, "and says to check the service name");
  t.equal(misconfigured.fake.getConnectionCalls, 1, "without retrying");

  const restarting = setupFake(3);
  t.teardown(() => restarting.source.close());
  t.equal((await readAll(restarting.source)).rows.length, 3, "connected once");
  restarting.fake.inject({ on: "getConnection", error: "NJS-518", times: 2 });
  const again = await readAll(restarting.source);
  t.same([again.error, again.rows.length], [undefined, 3], "the same code later is retried until the service is back");
});

t.test("the fake raises Thin's NJS- codes for bind mistakes, before anything reaches the database", async (t) => {
  const fake = new FakeOracle();
  fake.createTable(TABLE);
  const pool = await fake.driver.createPool({ user: "u", password: "p", connectString: "db/x" });
  const conn = await pool.getConnection();
  t.teardown(() => conn.close());
  await t.rejects(conn.execute("SELECT ID FROM spc.TXLOG_EVENTS WHERE ID > :id", {}), { code: "NJS-098" }, "a placeholder without a value");
  await t.rejects(conn.execute("SELECT ID FROM spc.TXLOG_EVENTS WHERE ID > :id", { other: 1 }), { code: "NJS-097" }, "a value for no placeholder");
});
