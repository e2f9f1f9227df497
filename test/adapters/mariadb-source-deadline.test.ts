/**
 * The MariaDB source against a server that stops answering (a TCP proxy that black-holes):
 * every statement meets its deadline as a transient SourceError, a read torn down mid-page
 * lets its connection go at once, and close() never hangs.
 */
import type { Readable } from "node:stream";
import t, { type Test } from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, local, sampleRows } from "../../scripts/lib/txlog-table";
import { MariadbSource } from "../../src/adapters/mariadb-source";
import type { SourceRow } from "../../src/pipeline/types";
import { uniqueName } from "../helpers/services";
import { settlesWithin, startTcpProxy, until } from "../helpers/tcp-proxy";

async function setup(t: Test, rows: number) {
  const table = uniqueName("ONP_SRC_DL");
  const admin = await connectLocal();
  await createTxlogTable(admin, table);
  await insertTxlogRows(admin, table, sampleRows(rows));
  const proxy = await startTcpProxy();
  const source = new MariadbSource({
    ...local,
    port: proxy.port,
    table,
    connectTimeoutMs: 2000,
    queryTimeoutMs: 1500,
    // No retries: the error of the black-holed page itself is what the test looks at.
    retry: { maxRetries: 0, initialBackoff: 0.05, maxBackoff: 0.1, backoffMultiplier: 2 },
  });
  t.teardown(async () => {
    await source.close();
    await proxy.close();
    await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
    await admin.end();
  });
  return { proxy, source };
}

/** Reads one chunk (a page), or the stream's error. */
function nextChunk(stream: Readable): Promise<SourceRow[] | null> {
  return new Promise((resolve, reject) => {
    const onData = (rows: SourceRow[]) => {
      cleanup();
      stream.pause();
      resolve(rows);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.resume();
  });
}

t.test("a page that meets a black hole fails the read with a transient deadline error instead of hanging", async (t) => {
  const { proxy, source } = await setup(t, 30);
  const stream = source.read({ after: null, limit: 1000, pageSize: 10, safetyLagSeconds: 0 });
  const first = await nextChunk(stream);
  t.equal(first?.length, 10, "the first page arrives");
  proxy.blackhole();
  const err = await settlesWithin(
    nextChunk(stream).then(
      () => null,
      (e: unknown) => e,
    ),
    30_000,
    "a page on a black-holed connection",
  );
  t.match(err, { name: "SourceError", code: "E_SOURCE_TRANSIENT", transient: true }, "a transient SourceError");
  t.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${proxy.port}.*E_MARIADB_DEADLINE`), "naming the server and the deadline");
  proxy.forward();
  const again = source.read({
    after: { ts: first?.[9]?.eventTimestamp as string, id: first?.[9]?.id as string },
    limit: 1000,
    pageSize: 100,
    safetyLagSeconds: 0,
  });
  t.equal((await nextChunk(again))?.length, 20, "a new read reconnects and resumes after the last row");
});

t.test("latest() on a black-holed server fails with the deadline error", async (t) => {
  const { proxy, source } = await setup(t, 3);
  t.ok(await source.latest(0), "answers while the server does");
  proxy.blackhole();
  await t.rejects(settlesWithin(source.latest(0), 30_000, "latest() on a black hole"), {
    name: "SourceError",
    transient: true,
    message: /E_MARIADB_DEADLINE|ER_CONNECTION_TIMEOUT|timeout/i,
  });
});

t.test("destroying a read whose page is stuck lets its connection go at once, and close() does not hang", async (t) => {
  const { proxy, source } = await setup(t, 30);
  const stream = source.read({ after: null, limit: 1000, pageSize: 10, safetyLagSeconds: 0 });
  await nextChunk(stream);
  const accepted = proxy.accepted;
  proxy.blackhole();
  stream.resume(); // asks for the next page, which now waits on the black hole
  await until(() => stream.readableFlowing === true, "the stream asks for a page");
  stream.destroy();
  await until(() => stream.destroyed, "the stream is destroyed");
  await settlesWithin(source.close(), 10_000, "close() with a black-holed connection");
  t.equal(proxy.accepted, accepted, "no reconnect was attempted after the destroy");
});

t.test("latest() on a black-holed server gives up as soon as its signal aborts", async (t) => {
  const { proxy, source } = await setup(t, 3);
  proxy.blackhole();
  const kill = new AbortController();
  const pending = source.latest(0, kill.signal);
  kill.abort(new Error("SIGTERM"));
  await t.rejects(settlesWithin(pending, 10_000, "an aborted latest()"), { message: "SIGTERM" });
});
