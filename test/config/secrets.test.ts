/**
 * Secrets: every secret key from the YAML, its environment variable, or a file named by
 * `<VAR>_FILE`; never in logs (pino redact) or error messages, checked on the real binary's
 * output with a real password.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import t, { type Test } from "tap";
import { connectLocal, createTxlogTable, insertTxlogRows, sampleRows } from "../../scripts/lib/txlog-table";
import { parseConfig } from "../../src/config/load";
import { schema } from "../../src/config/schema";
import { envVariables, redactPaths, secretKeys } from "../../src/config/secrets";
import { ConfigError } from "../../src/errors";
import { createLogger } from "../../src/log";
import { runCli } from "../helpers/cli";
import { rawConfig, type TestNames } from "../helpers/config";
import { freePort, startNatsWith, tempDir } from "../helpers/secure-nats";
import { uniqueName, writeConfig } from "../helpers/services";

const dir = tempDir("onp-secrets-");
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const oracleYaml = "oracle_db: {user: u, dsn: 'db:1521/X'}\n";

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function problem(text: string, env: Record<string, string>): string {
  try {
    parseConfig(text, "cfg.yaml", env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

/** A password no test output could contain by chance. */
const secret = () => `Pw-${uniqueName("s3cr3t")}-x!`;

t.test("the secret keys are the passwords, the tokens, the NKey seed and the wallet password", async (t) => {
  t.same(secretKeys(schema).sort(), [
    "mariadb.password",
    "nats.nkey_seed",
    "nats.password",
    "nats.token",
    "oracle_db.password",
    "oracle_db.wallet_password",
    "source.mariadb.password",
  ]);
});

t.test("every secret variable can be given as <VAR>_FILE; one trailing newline is stripped", async (t) => {
  const seed = `SU${"A".repeat(56)}`;
  const values: Record<string, string> = {
    ORACLE_PASSWORD: "oracle pw",
    ORACLE_WALLET_PASSWORD: "wallet pw",
    MARIADB_PASSWORD: "maria pw",
    SOURCE_MARIADB_PASSWORD: "source pw",
    NATS_PASSWORD: "nats pw",
    NATS_TOKEN: "nats token",
    NATS_NKEY_SEED: seed,
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) env[`${name}_FILE`] = file(`${name}.txt`, `${value}\n`);
  const c = parseConfig(`${oracleYaml}source: {mariadb: {host: h}}\n`, "cfg.yaml", env);
  t.equal(c.oracle_db?.password, "oracle pw");
  t.equal(c.oracle_db?.wallet_password, "wallet pw");
  t.equal(c.mariadb.password, "maria pw");
  t.equal(c.source.mariadb?.password, "source pw");
  t.equal(c.nats.password, "nats pw");
  t.equal(c.nats.token, "nats token");
  t.equal(c.nats.nkey_seed, seed);
  t.equal(parseConfig(oracleYaml, "cfg.yaml", { ORACLE_PASSWORD_FILE: file("crlf.txt", "pw\r\n") }).oracle_db?.password, "pw", "a CRLF ending too");
  t.equal(parseConfig(oracleYaml, "cfg.yaml", { ORACLE_PASSWORD_FILE: file("two.txt", "pw\n\n") }).oracle_db?.password, "pw\n", "only one newline");
  t.equal(
    parseConfig(oracleYaml, "cfg.yaml", { ORACLE_PASSWORD_FILE: file("inner.txt", " a b ") }).oracle_db?.password,
    " a b ",
    "inner and other spaces kept",
  );
});

t.test("precedence: the variable or its file wins over the YAML", async (t) => {
  const yaml = "oracle_db: {user: u, dsn: 'db:1521/X', password: from-yaml}\n";
  t.equal(parseConfig(yaml, "cfg.yaml", {}).oracle_db?.password, "from-yaml");
  t.equal(parseConfig(yaml, "cfg.yaml", { ORACLE_PASSWORD: "from-env" }).oracle_db?.password, "from-env");
  t.equal(parseConfig(yaml, "cfg.yaml", { ORACLE_PASSWORD_FILE: file("p.txt", "from-file") }).oracle_db?.password, "from-file");
});

t.test("only secrets are read from files: NATS_CREDS already names a file, and its content must never become a path in a message", async (t) => {
  t.same(envVariables(schema, true).sort(), [
    "MARIADB_PASSWORD",
    "NATS_NKEY_SEED",
    "NATS_PASSWORD",
    "NATS_TOKEN",
    "ORACLE_PASSWORD",
    "ORACLE_WALLET_PASSWORD",
    "SOURCE_MARIADB_PASSWORD",
  ]);
  const c = parseConfig(oracleYaml, "cfg.yaml", {
    NATS_CREDS_FILE: file("x.creds", "-----BEGIN NATS USER JWT-----\n"),
    ORACLE_USER_FILE: file("user.txt", "reader"),
  });
  t.equal(c.nats.creds, "", "NATS_CREDS_FILE is not read");
  t.equal(c.oracle_db?.user, "u", "ORACLE_USER_FILE is not read");
});

t.test("a variable and its _FILE both set is an error naming both, and neither value", async (t) => {
  const pw = secret();
  const msg = problem(oracleYaml, { ORACLE_PASSWORD: pw, ORACLE_PASSWORD_FILE: file("both.txt", pw) });
  t.match(msg, /ORACLE_PASSWORD and ORACLE_PASSWORD_FILE are both set/);
  t.notOk(msg.includes(pw));
});

t.test("a missing, unreadable or empty-named file is an error naming the variable and the path", async (t) => {
  t.match(problem(oracleYaml, { ORACLE_PASSWORD_FILE: join(dir, "absent.txt") }), /ORACLE_PASSWORD_FILE: cannot read .*absent\.txt: file not found/);
  const sub = join(dir, "a-directory");
  mkdirSync(sub);
  t.match(problem(oracleYaml, { MARIADB_PASSWORD_FILE: sub }), /MARIADB_PASSWORD_FILE: cannot read .*a-directory: is a directory/);
  t.match(problem(oracleYaml, { NATS_TOKEN_FILE: "" }), /NATS_TOKEN_FILE is set but empty/);
});

t.test("a secret that fails validation is not echoed", async (t) => {
  const bad = `not-a-seed-${secret()}`;
  const msg = problem(oracleYaml, { NATS_NKEY_SEED_FILE: file("badseed.txt", bad) });
  t.match(msg, /nats\.nkey_seed: must be a user NKey seed/);
  t.notOk(msg.includes(bad));
});

t.test("pino redacts every secret path, in the config and in objects logged with a secret field", async (t) => {
  let out = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  const pw = secret();
  const config = parseConfig(`${oracleYaml}source: {mariadb: {host: h}}\n`, "cfg.yaml", {
    ORACLE_PASSWORD: `${pw}-oracle`,
    ORACLE_WALLET_PASSWORD: `${pw}-wallet`,
    MARIADB_PASSWORD: `${pw}-maria`,
    SOURCE_MARIADB_PASSWORD: `${pw}-source`,
    NATS_PASSWORD: `${pw}-nats`,
    NATS_TOKEN: `${pw}-token`,
    NATS_NKEY_SEED: `SU${"B".repeat(56)}`,
  });
  const log = createLogger(config, sink);
  log.info({ config }, "the whole config");
  log.info({ nats: config.nats, oracle_db: config.oracle_db }, "sections");
  log.info({ mariadb: config.source.mariadb }, "a connection");
  log.info({ client: { mariadb: config.mariadb } }, "nested");
  log.info(config.nats, "a section as the object");
  t.equal(out.trim().split("\n").length, 5);
  t.notOk(out.includes(pw), "no password or token");
  t.notOk(out.includes("B".repeat(56)), "no NKey seed");
  t.match(out, /\[redacted\]/);
  t.ok(redactPaths(schema).includes("config.oracle_db.wallet_password"));
});

// ---- The real binary, with a real password in a file ----

async function sourceTable(t: Test): Promise<TestNames> {
  const base = uniqueName("ONPPW");
  const names: TestNames = {
    table: `${base}_EVENTS`,
    stream: `${base}_STREAM`,
    subject: `${base.toLowerCase()}.txlog.events`,
    program: `${base.toLowerCase()}_prog`,
  };
  const db = await connectLocal();
  await createTxlogTable(db, names.table);
  await insertTxlogRows(db, names.table, sampleRows(3));
  t.teardown(async () => {
    await db.query(`DROP TABLE IF EXISTS \`${names.table}\``);
    await db.query("DELETE FROM ETL_PRMREC WHERE PROGRAM_NAME = ?", [names.program]).catch(() => undefined);
    await db.end();
  });
  return names;
}

function assertHidden(t: Test, r: { stdout: string; stderr: string }, pw: string): void {
  t.notOk(r.stdout.includes(pw), "the password is not in stdout");
  t.notOk(r.stderr.includes(pw), "the password is not in stderr");
}

t.test("binary: a MariaDB password from MARIADB_PASSWORD_FILE that the server refuses is never printed", async (t) => {
  const names = await sourceTable(t);
  const pw = secret();
  const config = writeConfig(dir, rawConfig(names, { logging: { level: "trace" } }), `${uniqueName("cfg")}.yaml`);
  const r = await runCli(["--config", config, "--once"], { MARIADB_PASSWORD_FILE: file(`${uniqueName("pw")}.txt`, `${pw}\n`) });
  t.equal(r.code, 1);
  t.match(r.stderr, /Access denied for user 'root'/, "the failure is the refused password");
  assertHidden(t, r, pw);
});

t.test("binary: an Oracle password from ORACLE_PASSWORD_FILE with an unreachable database is never printed", async (t) => {
  const names = await sourceTable(t);
  const pw = secret();
  const port = await freePort();
  const raw = rawConfig(names, { source: { kind: "oracle" }, publisher: { max_retries: 0 }, logging: { level: "trace" } });
  raw.oracle_db = { user: "reader", dsn: `127.0.0.1:${port}/NOPDB`, retry: { max_retries: 0, initial_backoff: 0.05, max_backoff: 0.1, backoff_multiplier: 1 } };
  const r = await runCli(["--config", writeConfig(dir, raw, `${uniqueName("cfg")}.yaml`), "--once"], {
    ORACLE_PASSWORD_FILE: file(`${uniqueName("pw")}.txt`, `${pw}\n`),
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /Oracle/, "the failure is the Oracle connection");
  assertHidden(t, r, pw);
});

t.test("binary: a NATS password from NATS_PASSWORD_FILE works, and a wrong one fails without being printed", async (t) => {
  const right = secret();
  const s = await startNatsWith(`authorization { users = [ {user: publisher, password: "${right}"} ] }`);
  t.teardown(() => s.stop());
  const names = await sourceTable(t);
  const raw = rawConfig(names, { nats: { servers: [s.url], user: "publisher" }, logging: { level: "trace" } });
  const config = writeConfig(dir, raw, `${uniqueName("cfg")}.yaml`);
  const ok = await runCli(["--config", config, "--once"], { NATS_PASSWORD_FILE: file(`${uniqueName("pw")}.txt`, `${right}\n`) });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /"rows":3/, "the run published the rows");
  assertHidden(t, ok, right);
  const wrong = secret();
  const bad = await runCli(["--config", config, "--once"], { NATS_PASSWORD_FILE: file(`${uniqueName("pw")}.txt`, `${wrong}\n`) });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /authentication failed/);
  assertHidden(t, bad, wrong);
  assertHidden(t, bad, right);
});

t.test("binary: a missing secret file is a configuration error (exit 2) naming the variable and path", async (t) => {
  const names = await sourceTable(t);
  const config = writeConfig(dir, rawConfig(names), `${uniqueName("cfg")}.yaml`);
  const r = await runCli(["--config", config, "--once"], { MARIADB_PASSWORD_FILE: join(dir, "no-such-secret") });
  t.equal(r.code, 2);
  t.match(r.stderr, /MARIADB_PASSWORD_FILE: cannot read .*no-such-secret: file not found/);
});
