/**
 * Giving a MariaDB connection up (deadline, abort) destroys our own socket: the connector's
 * destroy() would open a second connection to KILL the statement in flight, wait for it
 * (forever, on a dead network) and leave its failure as an unhandled rejection.
 */
import t from "tap";
import { connectLocal, local } from "../../scripts/lib/txlog-table";
import { abandon, openConnection, queryWithin } from "../../src/adapters/mariadb-connection";
import { startTcpProxy, until } from "../helpers/tcp-proxy";

t.test("an aborted statement's connection is given up at once, without a second connection to KILL it", async (t) => {
  const proxy = await startTcpProxy();
  const admin = await connectLocal();
  t.teardown(async () => {
    await proxy.close();
    await admin.end();
  });
  const endpoint = { ...local, port: proxy.port };
  const errors: unknown[] = [];
  const conn = await openConnection(endpoint, 5000, undefined, (_c, err) => errors.push(err));
  const id = conn.threadId;
  t.equal(proxy.accepted, 1);
  const stop = new AbortController();
  const sleeping = queryWithin(conn, endpoint, "sleeping", 60_000, stop.signal, "SELECT SLEEP(30)").catch((e: unknown) => e);
  await until(async () => {
    const rows = (await admin.query("SELECT COMMAND, INFO FROM information_schema.PROCESSLIST WHERE ID = ?", [id])) as Array<{ INFO: string | null }>;
    return rows[0]?.INFO?.includes("SLEEP") ?? false;
  }, "the statement runs on the server");
  stop.abort(new Error("SIGTERM"));
  abandon(conn); // a second give-up in the same tick, as the store's own bookkeeping does
  t.match(await sleeping, { message: "SIGTERM" }, "the statement rejects with the signal's reason");
  await until(() => errors.length > 0, "the connection's listener hears of the loss");
  t.notOk(conn.isValid(), "the connection is closed");
  t.equal(proxy.accepted, 1, "no second connection was opened (the connector's KILL path)");
});
