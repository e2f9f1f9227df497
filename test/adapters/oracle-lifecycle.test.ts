/**
 * OracleSource's resources: the lazily created pool, the connection a read holds (released on
 * end, error, destroy and close), and backpressure (nothing fetched that nobody asked for).
 */

import { setTimeout as delay } from "node:timers/promises";
import t from "tap";
import type { OracleSourceOptions } from "../../src/adapters/oracle-source";
import { SourceError } from "../../src/errors";
import type { SourceRow } from "../../src/pipeline/types";
import type { FakeOracle } from "../fakes/fake-oracledb";
import { setupFake } from "../helpers/oracle";

/** This file's pool and fetch settings: the first test asserts them as the driver sees them. */
const POOL: Partial<OracleSourceOptions> = {
  password: "pw",
  poolMax: 3,
  poolTimeoutSeconds: 60,
  fetchArraySize: 50,
  prefetchRows: 20,
  callTimeoutMs: 7000,
  retry: { maxRetries: 1, initialBackoff: 0.001, maxBackoff: 0.002, backoffMultiplier: 2 },
};

const setup = (rowCount: number, options: Partial<OracleSourceOptions> = {}) => setupFake(rowCount, { ...POOL, ...options });

const readOpts = (pageSize: number, limit = 10_000) => ({ after: null, limit, pageSize, safetyLagSeconds: 0 });
const pageQueries = (fake: FakeOracle) => fake.executed(/FETCH FIRST :n/);

t.test("creates the pool lazily, once, in Thin mode, with the configured attributes", async (t) => {
  const { fake, source } = setup(3);
  t.equal(fake.pools.length, 0, "constructing does not connect");
  for await (const _ of source.read(readOpts(10))) void _;
  await source.latest(0);
  t.equal(fake.pools.length, 1, "one pool for every read");
  t.same(fake.pools[0]?.attributes, {
    user: "publisher",
    password: "pw",
    connectString: "dbhost:1521/FREEPDB1",
    poolMin: 0,
    poolMax: 3,
    poolIncrement: 1,
    poolTimeout: 60,
    expireTime: 1,
  });
  t.equal(fake.initOracleClientCalls, 0, "never leaves Thin mode");
  t.ok(
    fake.connections.every((c) => c.callTimeout === 7000),
    "callTimeout is set on every connection",
  );
  const opts = pageQueries(fake)[0]?.options ?? {};
  t.same([opts.resultSet, opts.fetchArraySize, opts.prefetchRows], [true, 10, 10], "a cursor; the first round trip bounded by the page of 10");
  await source.close();
});

t.test("a failed pool creation is not cached", async (t) => {
  const { fake, source } = setup(2, { retry: { maxRetries: 0, initialBackoff: 0.001, maxBackoff: 0.001, backoffMultiplier: 1 } });
  fake.inject({ on: "createPool", error: "NJS-514" });
  await t.rejects(source.latest(0), { name: "SourceError", transient: false, message: /NJS-514/ });
  t.same(await source.latest(0), { ts: "2026-01-01 00:00:02.000000", id: "2" }, "the next call creates the pool again");
  await source.close();
});

t.test("close() drains nothing, closes the pool with drain time 0, and is idempotent", async (t) => {
  const { fake, source } = setup(3);
  await source.close();
  t.equal(fake.pools.length, 0, "closing an unused source creates no pool");
  const { fake: f2, source: s2 } = setup(3);
  await s2.latest(0);
  await s2.close();
  await s2.close();
  t.equal(f2.poolsClosed, 1, "closed once");
  t.equal(f2.pools[0]?.status, "closed");
  await t.rejects(s2.latest(0), { name: "SourceError", message: /closed/ }, "a closed source refuses work");
  void fake;
});

t.test("releases the connection when a read ends normally", async (t) => {
  const { fake, source } = setup(25);
  t.teardown(() => source.close());
  const stream = source.read(readOpts(10));
  let total = 0;
  stream.on("data", (chunk: SourceRow[]) => {
    total += chunk.length;
  });
  await new Promise((resolve) => stream.on("end", resolve));
  t.equal(total, 25);
  t.equal(fake.connectionsOut, 0, "released by the time 'end' fires");
  t.same(
    fake.connections.map((c) => c.state),
    ["released"],
  );
});

t.test("releases the connection when a query fails", async (t) => {
  const { fake, source } = setup(25);
  t.teardown(() => source.close());
  fake.inject({ on: "getRows", skip: 1, error: "ORA-00942" });
  const stream = source.read(readOpts(10));
  const err = await new Promise<unknown>((resolve) => {
    stream.on("data", () => {});
    stream.on("error", resolve);
  });
  t.ok(err instanceof SourceError);
  await new Promise((resolve) => (stream.closed ? resolve(null) : stream.once("close", resolve)));
  t.equal(fake.connectionsOut, 0);
});

t.test("releases the connection when the consumer destroys the stream", async (t) => {
  const { fake, source } = setup(50);
  t.teardown(() => source.close());
  const stream = source.read(readOpts(10));
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  t.equal(fake.connectionsOut, 1, "held between pages");
  stream.destroy();
  await new Promise((resolve) => stream.once("close", resolve));
  t.equal(fake.connectionsOut, 0);
  t.equal(fake.connections[0]?.state, "released");
});

t.test("a destroy during a query in flight releases the connection once the query settles", async (t) => {
  const { fake, source } = setup(50);
  t.teardown(() => source.close());
  const stream = source.read(readOpts(10));
  const release = fake.holdExecutes();
  stream.resume();
  await delay(20);
  t.equal(fake.executes.length, 1, "the upper-bound query is waiting on the database");
  stream.destroy();
  await delay(20);
  t.equal(fake.connectionsOut, 1, "not released under a running call");
  release();
  await new Promise((resolve) => (stream.closed ? resolve(null) : stream.once("close", resolve)));
  t.equal(fake.connectionsOut, 0);
  t.equal(pageQueries(fake).length, 0, "no page is fetched after the destroy");
});

t.test("close() during a read ends the read with an error and returns its connection before closing the pool", async (t) => {
  const { fake, source } = setup(50);
  const stream = source.read(readOpts(10));
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  t.equal(fake.connectionsOut, 1);
  await source.close();
  await t.rejects(it.next(), { name: "SourceError", message: /closed during a read/ });
  t.equal(fake.connections[0]?.state, "released", "returned by the reader, not force-closed by the pool");
  t.equal(fake.pools[0]?.status, "closed");
});

t.test("backpressure: a consumer that does not read makes the source fetch nothing", async (t) => {
  const { fake, source } = setup(100);
  t.teardown(() => source.close());
  const stream = source.read(readOpts(10));
  await delay(30);
  t.equal(fake.executes.length, 0, "no query before the first read");
  stream.destroy();
});

t.test("backpressure: a slow consumer is never more than about one page behind", async (t) => {
  const { fake, source } = setup(100);
  t.teardown(() => source.close());
  const stream = source.read(readOpts(10));
  const it = stream[Symbol.asyncIterator]();
  const fetched = () => pageQueries(fake).reduce((n, e) => n + e.rowsReturned, 0);
  let consumed = 0;
  for (let i = 0; i < 4; i++) {
    consumed += ((await it.next()).value as SourceRow[]).length;
    await delay(20); // the consumer is busy; the source must wait
    t.ok(pageQueries(fake).length <= i + 2, `after ${i + 1} chunks: ${pageQueries(fake).length} page queries`);
    t.ok(fetched() - consumed <= 10, `rows fetched ahead (${fetched() - consumed}) stay within one page`);
  }
  for (;;) {
    const next = await it.next();
    if (next.done) break;
    consumed += (next.value as SourceRow[]).length;
  }
  t.equal(consumed, 100);
  t.equal(pageQueries(fake).length, 1, "one cursor for the whole read");
});

t.test("two reads in parallel each hold their own connection", async (t) => {
  const { fake, source } = setup(30);
  t.teardown(() => source.close());
  const a = source.read(readOpts(10))[Symbol.asyncIterator]();
  const b = source.read(readOpts(10))[Symbol.asyncIterator]();
  await Promise.all([a.next(), b.next()]);
  t.equal(fake.connectionsOut, 2);
  await Promise.all([a.return?.(), b.return?.()]);
  await delay(10);
  t.equal(fake.connectionsOut, 0);
});
