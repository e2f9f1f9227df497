/**
 * mariadb.ssl end to end: a private MariaDB that requires TLS (started here on its own port,
 * with certificates made by openssl) serves as source and tracking store of a full `--once`
 * run of the real binary; a CA that did not sign its certificate fails at once; without the
 * ssl section the server refuses the connection, so the good run really used TLS.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { runCli } from "../helpers/cli";
import { rawConfig, type TestNames } from "../helpers/config";
import { mariadbAvailable, type PrivateMariadb, startTlsMariadb } from "../helpers/secure-mariadb";
import { makeCerts, tempDir } from "../helpers/secure-nats";
import { deleteStream, natsConnection, readStream, uniqueName, writeConfig } from "../helpers/services";

t.test("MariaDB over TLS", { skip: mariadbAvailable ? false : "mariadbd / mariadb-install-db not installed" }, async (t) => {
  const work = tempDir("onp-mdbtls-");
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  mkdirSync(join(work, "certs"));
  const certs = makeCerts(join(work, "certs"));
  const server: PrivateMariadb = await startTlsMariadb(join(work, "mariadb"), certs);
  t.teardown(() => server.stop());

  const base = uniqueName("ONPMTLS");
  const names: TestNames = {
    table: `${base}_EVENTS`,
    stream: `${base}_STREAM`,
    subject: `${base.toLowerCase()}.txlog.events`,
    program: `${base.toLowerCase()}_prog`,
  };
  const db = await server.connect();
  t.teardown(() => db.end());
  await createTxlogTable(db, names.table);
  await insertTxlogRows(db, names.table, sampleRows(7));
  const nc = await natsConnection();
  t.teardown(async () => {
    await deleteStream(nc, names.stream);
    await nc.close();
  });

  const configFile = (ssl: object | undefined) => {
    const raw = rawConfig(names, { logging: { level: "debug" } });
    raw.mariadb = {
      host: "127.0.0.1",
      port: server.port,
      user: "root",
      password: "",
      database: "test",
      retry: { max_retries: 5, initial_backoff: 20, max_backoff: 20, backoff_multiplier: 1 },
      ...(ssl ? { ssl } : {}),
    };
    return writeConfig(work, raw, `${uniqueName("cfg")}.yaml`);
  };

  t.test("with mariadb.ssl.ca the binary reads the source and commits ETL_PRMREC over TLS", async (t) => {
    const r = await runCli(["--config", configFile({ ca: certs.ca }), "--once"]);
    t.equal(r.code, 0, r.stderr);
    t.equal((await readStream(nc, names.stream)).length, 7, "every row published");
    const rows = (await db.query("SELECT STATUS, CAST(LAST_SUCCESSFUL_ID AS CHAR) AS id FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [names.program])) as Array<{
      STATUS: string;
      id: string;
    }>;
    t.same(rows, [{ STATUS: "SUCCESS", id: "7" }], "the watermark is committed on the TLS server");
  });

  t.test("a CA that did not sign the server certificate fails at once with one line", async (t) => {
    const r = await runCli(["--config", configFile({ ca: certs.otherCa }), "--once"]);
    t.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    t.equal(lines.length, 1, r.stderr);
    t.match(lines[0], new RegExp(`MariaDB 127\\.0\\.0\\.1:${server.port}/test.*(SELF_SIGNED_CERT_IN_CHAIN|certificate)`));
    t.notMatch(r.stdout, /retrying/, "a certificate that does not verify is not retried");
  });

  t.test("without mariadb.ssl the server refuses: the successful run was TLS", async (t) => {
    const r = await runCli(["--config", configFile(undefined), "--once"]);
    t.equal(r.code, 1);
    t.match(r.stderr, /Access denied|insecure transport/i);
  });
});
