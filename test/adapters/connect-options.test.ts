/**
 * How the security settings reach the drivers: NATS TLS material and authenticators, the
 * MariaDB `ssl` option, and Oracle's TCPS/wallet attributes (recorded by the node-oracledb
 * fake). The shared MariaDB has no TLS: an `ssl` section is shown to reach the driver by the
 * server's refusal.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import t from "tap";
import { natsConnectOptions } from "../../src/adapters/jetstream";
import { MariadbSource } from "../../src/adapters/mariadb-source";
import { MariadbTracking } from "../../src/adapters/mariadb-tracking";
import { oracleNetAttributes } from "../../src/adapters/oracle-driver";
import { mariadbSsl, readTlsFiles, TlsFileError } from "../../src/adapters/tls-files";
import { parseConfig } from "../../src/config/load";
import { setupFake } from "../helpers/oracle";
import { makeCerts, makeOperator, tempDir } from "../helpers/secure-nats";
import { uniqueName } from "../helpers/services";

const dir = tempDir("onp-connopts-");
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certDir = join(dir, "certs");
mkdirSync(certDir);
const certs = makeCerts(certDir);
const pem = (path: string) => readFileSync(path, "utf8");
const base = { servers: ["tls://127.0.0.1:4443"], name: "n", connectTimeoutMs: 1000 };
const noRetry = { maxRetries: 0, initialBackoff: 0.01, maxBackoff: 0.01, backoffMultiplier: 1 };

t.test("nats.tls: the PEM files' text goes to the client's tls option; an empty section still requires TLS", async (t) => {
  const o = natsConnectOptions({ ...base, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
  t.same(o.tls, { ca: pem(certs.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) });
  t.same(natsConnectOptions({ ...base, tls: {} }).tls, {}, "tls: {} -> TLS against the system CAs");
  t.equal(natsConnectOptions(base).tls, undefined, "no section, no tls option (a tls:// URL still asks for TLS)");
});

t.test("nats.tls: cert without key, a missing file and a non-PEM file are refused with the key and path", async (t) => {
  t.throws(() => readTlsFiles({ cert: certs.clientCert }, "nats.tls"), /nats\.tls: cert and key go together/);
  t.throws(() => readTlsFiles({ ca: join(dir, "missing.pem") }, "nats.tls"), /nats\.tls\.ca: cannot read .*missing\.pem: file not found/);
  const notPem = join(dir, "not.pem");
  writeFileSync(notPem, "secret-looking content\n");
  let err: Error | undefined;
  try {
    readTlsFiles({ ca: notPem }, "mariadb.ssl");
  } catch (e) {
    err = e as Error;
  }
  t.type(err, TlsFileError);
  t.match(err?.message, /mariadb\.ssl\.ca: .*not\.pem is not a PEM file/);
  t.notMatch(err?.message, /secret-looking/, "the content is never quoted");
});

t.test("nats.nkey_seed: an NKey authenticator signs the server's nonce with the seed's key", async (t) => {
  const user = createUser();
  const o = natsConnectOptions({ ...base, nkeySeed: new TextDecoder().decode(user.getSeed()) });
  t.equal(o.user, undefined);
  t.equal(o.pass, undefined);
  const auth = (o.authenticator as unknown as (nonce?: string) => Record<string, unknown>)("NONCE");
  t.equal(auth.nkey, user.getPublicKey());
  t.ok(user.verify(new TextEncoder().encode("NONCE"), Uint8Array.from(Buffer.from(String(auth.sig), "base64url"))), "the signature verifies");
  t.throws(() => natsConnectOptions({ ...base, nkeySeed: `SU${"A".repeat(56)}` }), /nats\.nkey_seed is not a valid NKey seed/);
});

t.test("nats.creds: the .creds file's JWT and a signature go to the server", async (t) => {
  const op = await makeOperator(dir);
  const creds = join(dir, "u.creds");
  writeFileSync(creds, await op.userCreds());
  const o = natsConnectOptions({ ...base, creds });
  const auth = (o.authenticator as unknown as (nonce?: string) => Record<string, unknown>)("NONCE");
  t.match(String(auth.jwt), /^eyJ/, "the user JWT");
  t.ok(auth.sig, "the nonce signed with the user seed");
  t.throws(() => natsConnectOptions({ ...base, creds: join(dir, "none.creds") }), /nats\.creds: cannot read .*none\.creds: file not found/);
});

t.test("user/password and token go through as they did", async (t) => {
  const o = natsConnectOptions({ ...base, user: "u", password: "p" });
  t.equal(o.user, "u");
  t.equal(o.pass, "p");
  t.equal(o.authenticator, undefined);
  t.equal(natsConnectOptions({ ...base, token: "tk" }).token, "tk");
});

t.test("mariadb.ssl: PEM text and a verified server certificate for the connector", async (t) => {
  t.same(mariadbSsl({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }, "mariadb.ssl"), {
    ca: pem(certs.ca),
    cert: pem(certs.clientCert),
    key: pem(certs.clientKey),
    rejectUnauthorized: true,
  });
  t.same(mariadbSsl({ ca: "", cert: "", key: "" }, "mariadb.ssl"), { rejectUnauthorized: true }, "ssl: {} verifies against the system CAs");
});

t.test("mariadb.ssl reaches the driver: the shared MariaDB (no TLS) refuses the TLS connection", async (t) => {
  const config = parseConfig("source: {kind: mariadb}\nmariadb: {ssl: {}}\n", "cfg.yaml", {});
  t.same(config.mariadb.ssl, { ca: "", cert: "", key: "" });
  t.same(config.source.mariadb?.ssl, { ca: "", cert: "", key: "" }, "the source falls back to the tracking connection, ssl included");
  const store = new MariadbTracking({
    ...config.mariadb,
    connectTimeoutMs: 5000,
    programName: uniqueName("ssl_prog"),
    retry: noRetry,
    table: uniqueName("SSLTRACK"),
  });
  await t.rejects(store.open(), /ssl not enabled in the server/i);
  await store.close();
  const source = new MariadbSource({ ...(config.source.mariadb as NonNullable<typeof config.source.mariadb>), table: "NO_SUCH_TABLE", retry: noRetry });
  await t.rejects(source.latest(0), /ssl not enabled in the server/i);
  await source.close();
  const plain = new MariadbSource({ ...config.mariadb, ssl: undefined, table: "NO_SUCH_TABLE", retry: noRetry });
  await t.rejects(plain.latest(0), /doesn't exist/, "without ssl the same connection gets as far as the query");
  await plain.close();
});

t.test("oracle_db TCPS keys map to Thin mode's createPool attributes, only when set", async (t) => {
  const none = parseConfig("oracle_db: {user: u, dsn: 'db:1521/X'}\n", "cfg.yaml", {});
  t.same(oracleNetAttributes(none.oracle_db as NonNullable<typeof none.oracle_db>), {}, "defaults add nothing");
  const tcps = parseConfig(
    "oracle_db: {user: u, dsn: 'tcps://db:2484/X', wallet_location: /etc/onp/wallet, config_dir: /etc/onp/tns, ssl_server_dn_match: false, ssl_server_cert_dn: 'CN=db'}\n",
    "cfg.yaml",
    { ORACLE_WALLET_PASSWORD: "wallet-pw" },
  );
  const net = oracleNetAttributes(tcps.oracle_db as NonNullable<typeof tcps.oracle_db>);
  t.same(net, { walletLocation: "/etc/onp/wallet", walletPassword: "wallet-pw", configDir: "/etc/onp/tns", sslServerDNMatch: false, sslServerCertDN: "CN=db" });

  const { fake, source } = setupFake(1, { net });
  t.teardown(() => source.close());
  await source.latest(0);
  const attrs = fake.pools[0]?.attributes ?? {};
  t.match(attrs, { connectString: "dbhost:1521/FREEPDB1", ...net }, "createPool got every attribute");
});
