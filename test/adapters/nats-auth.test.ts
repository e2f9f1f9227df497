/**
 * NATS TLS, NKey and JWT (.creds) authentication against private nats-servers started here:
 * a good configuration publishes end to end, a bad credential fails at once (no retry
 * backoff) with one line naming the server and the cause, and never prints the secret.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { createUser } from "@nats-io/nkeys";
import t, { type Test } from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { connectNats, ensureStream, isTransientNatsError, NatsAuthError, type NatsOptions, NatsSetupError } from "../../src/adapters/jetstream";
import { runCli } from "../helpers/cli";
import { rawConfig, type TestNames } from "../helpers/config";
import { makeCerts, makeOperator, type SecureNats, startNatsWith, tempDir, tlsBlock } from "../helpers/secure-nats";
import { readStream, uniqueName, writeConfig } from "../helpers/services";

const work = tempDir("onp-nats-auth-");
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const certDir = join(work, "certs");
mkdirSync(certDir);
const certs = makeCerts(certDir);

const ROWS = 5;

/** A MariaDB source table with ROWS rows and names of its own; dropped at teardown. */
async function sourceTable(t: Test): Promise<TestNames> {
  const base = uniqueName("ONPSEC");
  const names: TestNames = {
    table: `${base}_EVENTS`,
    stream: `${base}_STREAM`,
    subject: `${base.toLowerCase()}.txlog.events`,
    program: `${base.toLowerCase()}_prog`,
  };
  const db = await connectLocal();
  await createTxlogTable(db, names.table);
  await insertTxlogRows(db, names.table, sampleRows(ROWS));
  t.teardown(async () => {
    await db.query(`DROP TABLE IF EXISTS \`${names.table}\``);
    await db.query("DELETE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [names.program]).catch(() => undefined);
    await db.end();
  });
  return names;
}

/** A config file for the binary; `retry` makes any retry visible and slow, so "at once" is checked by its absence. */
function configFile(names: TestNames, nats: Record<string, unknown>): string {
  const raw = rawConfig(names, {
    nats: { retry: { max_retries: 5, initial_backoff: 20, max_backoff: 20, backoff_multiplier: 1 }, ...nats },
    logging: { level: "debug" },
  });
  return writeConfig(work, raw, `${uniqueName("cfg")}.yaml`);
}

async function server(t: Test, body: string): Promise<SecureNats> {
  const s = await startNatsWith(body);
  t.teardown(() => s.stop());
  return s;
}

/** Reads the stream back over a connection made by the adapter itself with `auth`. */
async function storedIds(url: string, names: TestNames, auth: Partial<NatsOptions>): Promise<number> {
  const nc = await connectNats({ servers: [url], name: "test-reader", connectTimeoutMs: 10_000, ...auth });
  try {
    return (await readStream(nc, names.stream)).filter((m) => m.subject === names.subject).length;
  } finally {
    await nc.close();
  }
}

/** connectNats + ensureStream + one JetStream publish. */
async function publishOne(options: NatsOptions): Promise<number> {
  const nc = await connectNats(options);
  try {
    const stream = uniqueName("ONPSEC_ONE");
    await ensureStream(nc, stream, [`${stream.toLowerCase()}.a`], 60);
    const ack = await jetstream(nc).publish(`${stream.toLowerCase()}.a`, "hello", { msgID: "one" });
    return ack.seq;
  } finally {
    await nc.close();
  }
}

/** The binary failed at once: exit 1, one line on stderr, no retry logged, `secret` printed nowhere. */
function failedAtOnce(t: Test, r: { code: number | null; stdout: string; stderr: string }, line: RegExp, secret?: string): void {
  t.equal(r.code, 1, "exit code 1");
  const lines = r.stderr.trim().split("\n");
  t.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  t.match(lines[0], line);
  t.notMatch(r.stdout, /retrying/, "no retry: a refused credential is permanent");
  if (secret) {
    t.notOk(r.stdout.includes(secret), "the secret is not in stdout");
    t.notOk(r.stderr.includes(secret), "the secret is not in stderr");
  }
}

t.test("TLS: with nats.tls {ca, cert, key} the binary publishes end to end over tls:// to a server that verifies clients", async (t) => {
  const s = await server(t, tlsBlock(certs));
  const names = await sourceTable(t);
  const url = `tls://127.0.0.1:${s.port}`;
  const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
  const r = await runCli(["--config", configFile(names, { servers: [url], tls }), "--once"]);
  t.equal(r.code, 0, r.stderr);
  t.equal(await storedIds(url, names, { tls }), ROWS, "every row is in the stream");
});

t.test("TLS: connectNats over a nats:// URL with nats.tls, ensureStream and a publish", async (t) => {
  const s = await server(t, tlsBlock(certs));
  const seq = await publishOne({ servers: [s.url], name: "t", connectTimeoutMs: 10_000, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
  t.equal(seq, 1);
});

t.test("TLS: a CA that did not sign the server certificate fails at once with one line naming the server and TLS", async (t) => {
  const s = await server(t, tlsBlock(certs));
  const names = await sourceTable(t);
  const r = await runCli([
    "--config",
    configFile(names, { servers: [s.url], tls: { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey } }),
    "--once",
  ]);
  failedAtOnce(t, r, new RegExp(`NATS at nats://127\\.0\\.0\\.1:${s.port}: TLS failed .*nats\\.tls\\.ca`));

  const err = await connectNats({ servers: [s.url], name: "t", connectTimeoutMs: 10_000, tls: { ca: certs.otherCa } }).then(
    () => null,
    (e: unknown) => e,
  );
  t.type(err, NatsSetupError);
  t.type((err as Error).cause, NatsAuthError, "the cause is permanent");
  t.equal(isTransientNatsError((err as Error).cause), false, "the retry predicate gives up on it");
});

t.test("TLS: without a client certificate a verifying server only times out; the message says what to set", async (t) => {
  const s = await server(t, tlsBlock(certs));
  const err = await connectNats({ servers: [s.url], name: "t", connectTimeoutMs: 2000, tls: { ca: certs.ca } }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /timeout \(if the server verifies client certificates, set nats\.tls\.cert and nats\.tls\.key\)/);
});

t.test("TLS: a missing certificate file is named with its key and path before any connection", async (t) => {
  const err = await connectNats({ servers: ["nats://127.0.0.1:1"], name: "t", connectTimeoutMs: 1000, tls: { ca: join(work, "nope.pem") } }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /nats\.tls\.ca: cannot read .*nope\.pem: file not found/);
  t.equal(isTransientNatsError(err?.cause), false);
});

t.test("NKey: the user's seed connects, ensures the stream and publishes", async (t) => {
  const user = createUser();
  const s = await server(t, `authorization { users = [ {nkey: ${user.getPublicKey()}} ] }`);
  const seed = new TextDecoder().decode(user.getSeed());
  t.equal(await publishOne({ servers: [s.url], name: "t", connectTimeoutMs: 10_000, nkeySeed: seed }), 1);
});

t.test("NKey: a wrong seed (from NATS_NKEY_SEED_FILE) fails at once with one line and is never printed", async (t) => {
  const user = createUser();
  const s = await server(t, `authorization { users = [ {nkey: ${user.getPublicKey()}} ] }`);
  const names = await sourceTable(t);
  const wrong = new TextDecoder().decode(createUser().getSeed());
  const seedFile = join(work, `${uniqueName("seed")}.nk`);
  writeFileSync(seedFile, `${wrong}\n`);
  const r = await runCli(["--config", configFile(names, { servers: [s.url] }), "--once"], { NATS_NKEY_SEED_FILE: seedFile });
  failedAtOnce(t, r, new RegExp(`NATS at nats://127\\.0\\.0\\.1:${s.port}: authentication failed .*nats\\.nkey_seed`), wrong);
});

t.test("JWT: a .creds file of the operator's account publishes end to end through the binary", async (t) => {
  const op = await makeOperator(work);
  const s = await server(t, op.serverConfig);
  const names = await sourceTable(t);
  const creds = join(work, `${uniqueName("user")}.creds`);
  writeFileSync(creds, await op.userCreds());
  const r = await runCli(["--config", configFile(names, { servers: [s.url], creds }), "--once"]);
  t.equal(r.code, 0, r.stderr);
  t.equal(await storedIds(s.url, names, { creds }), ROWS, "every row is in the stream");
});

t.test("JWT: creds of an account the server does not trust fail at once with one line", async (t) => {
  const op = await makeOperator(work);
  const s = await server(t, op.serverConfig);
  const names = await sourceTable(t);
  const creds = join(work, `${uniqueName("stranger")}.creds`);
  const content = await op.strangerCreds();
  writeFileSync(creds, content);
  const r = await runCli(["--config", configFile(names, { servers: [s.url], creds }), "--once"]);
  const seed = /SU[A-Z2-7]{56}/.exec(new TextDecoder().decode(content))?.[0];
  failedAtOnce(t, r, new RegExp(`NATS at nats://127\\.0\\.0\\.1:${s.port}: authentication failed .*nats\\.creds`), seed);
});

t.test("JWT: a file that is not a .creds file is refused before connecting", async (t) => {
  const bad = join(work, "not.creds");
  writeFileSync(bad, "hello\n");
  const err = await connectNats({ servers: ["nats://127.0.0.1:1"], name: "t", connectTimeoutMs: 1000, creds: bad }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /nats\.creds: .*not\.creds is not a \.creds file/);
  t.equal(isTransientNatsError(err?.cause), false);
});

t.test("token: the right token publishes; a wrong one from NATS_TOKEN_FILE fails at once and is never printed", async (t) => {
  const token = uniqueName("tok");
  const s = await server(t, `authorization { token: "${token}" }`);
  t.equal(await publishOne({ servers: [s.url], name: "t", connectTimeoutMs: 10_000, token }), 1);
  const names = await sourceTable(t);
  const wrong = uniqueName("wrongtok");
  const tokenFile = join(work, `${uniqueName("token")}.txt`);
  writeFileSync(tokenFile, `${wrong}\n`);
  const r = await runCli(["--config", configFile(names, { servers: [s.url] }), "--once"], { NATS_TOKEN_FILE: tokenFile });
  failedAtOnce(t, r, new RegExp(`NATS at nats://127\\.0\\.0\\.1:${s.port}: authentication failed .*nats\\.token`), wrong);
});

t.test("two authentication methods at once are refused, naming both keys", async (t) => {
  const err = await connectNats({ servers: ["nats://127.0.0.1:1"], name: "t", connectTimeoutMs: 1000, token: "x", creds: "/x.creds" }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /set only one of nats\.token, nats\.creds/);
});
