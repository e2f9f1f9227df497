import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load as parseYaml } from "js-yaml";
import t from "tap";
import { loadConfig, parseConfig } from "../../src/config/load";
import { renderReference } from "../../src/config/reference";
import { type Field, type SectionField, schema } from "../../src/config/schema";
import { ConfigError } from "../../src/errors";

const dir = mkdtempSync(join(tmpdir(), "onp-config-"));
const minimalMariadb = "source:\n  kind: mariadb\n";

function problem(text: string, env: Record<string, string> = {}): string {
  try {
    parseConfig(text, "cfg.yaml", env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

t.test("a minimal MariaDB-sourced file gets every default", async (t) => {
  const c = parseConfig(minimalMariadb, "cfg.yaml");
  t.equal(c.source.kind, "mariadb");
  t.equal(c.source.table, "spc.TXLOG_EVENTS");
  t.equal(c.publisher.max_in_flight, 1024);
  t.equal(c.publisher.start_from, "earliest");
  t.equal(c.oracle_db, undefined, "no oracle_db needed when the source is MariaDB");
  t.same(c.source.mariadb, { host: "127.0.0.1", port: 3306, user: "root", password: "", database: "test" }, "source.mariadb falls back to the mariadb section");
  t.equal(c.intime_txlog_events.dead_letter_subject, "intime.txlog.events.dlq", "dead-letter subject defaults to <subject>.dlq");
  t.same(c.nats.retry, { max_retries: 5, initial_backoff: 1, max_backoff: 30, backoff_multiplier: 2 });
});

t.test("the Oracle source is the default and requires oracle_db with user and dsn", async (t) => {
  t.match(problem("publisher: {}\n"), /oracle_db: section is required/);
  t.match(problem("oracle_db: {password: x}\n"), /oracle_db\.user: required \(or set ORACLE_USER\)/);
  const c = parseConfig("oracle_db: {user: u, dsn: 'db:1521/X'}\n", "cfg.yaml", { ORACLE_PASSWORD: "s3cret" });
  t.equal(c.oracle_db?.password, "s3cret", "ORACLE_PASSWORD fills the password");
});

t.test("environment variables override the file, V7 names included", async (t) => {
  const c = parseConfig("oracle_db: {user: file_user, dsn: file_dsn}\nmariadb: {host: filehost}\nnats: {servers: [nats://file:4222]}\n", "cfg.yaml", {
    ORACLE_USER: "env_user",
    ORACLE_DSN: "env:1521/S",
    MARIADB_HOST: "envhost",
    MARIADB_PASSWORD: "pw",
    MARIADB_PORT: "3307",
    NATS_SERVERS: "nats://a:4222, nats://b:4222",
  });
  t.equal(c.oracle_db?.user, "env_user");
  t.equal(c.oracle_db?.dsn, "env:1521/S");
  t.equal(c.mariadb.host, "envhost");
  t.equal(c.mariadb.port, 3307);
  t.equal(c.mariadb.password, "pw");
  t.same(c.nats.servers, ["nats://a:4222", "nats://b:4222"]);
  t.match(problem(minimalMariadb, { MARIADB_PORT: "abc" }), /MARIADB_PORT \(environment, for mariadb\.port\): must be a number/);
});

t.test("unknown keys, wrong types and bad ranges are rejected, naming the key", async (t) => {
  t.match(problem(`${minimalMariadb}publisher:\n  max_in_flight: -5\n`), /publisher\.max_in_flight: must be at least 1 \(got -5\)/);
  t.match(problem(`${minimalMariadb}publisher:\n  batch_size: "ten"\n`), /publisher\.batch_size: must be a number/);
  t.match(problem(`${minimalMariadb}publisher:\n  batch_size: 1.5\n`), /publisher\.batch_size: must be a whole number/);
  t.match(problem(`${minimalMariadb}publisher:\n  max_inflight: 5\n`), /publisher\.max_inflight: unknown key \(keys of publisher are: .*max_in_flight/);
  t.match(problem(`${minimalMariadb}natss: {}\n`), /natss: unknown key \(sections are: source, oracle_db/);
  t.match(problem(`${minimalMariadb}nats:\n  ack_mode: fast\n`), /nats\.ack_mode: must be one of inbox, stock/);
  t.match(problem(`${minimalMariadb}publisher:\n  start_from: yesterday\n`), /publisher\.start_from: must be earliest, latest, or an ISO-8601 timestamp/);
  t.match(problem(`${minimalMariadb}intime_txlog_events:\n  subject: "a.*.b"\n`), /intime_txlog_events\.subject: must be a NATS subject without wildcards/);
  t.match(problem("source:\n  kind: mariadb\n  table: 'x; drop table y'\n"), /source\.table: must be an identifier/);
  t.match(problem(`${minimalMariadb}nats:\n  retry: {max_retries: 3, initial_backoff: 0}\n`), /nats\.retry\.initial_backoff: must be greater than 0/);
  t.match(problem(`${minimalMariadb}publisher: 5\n`), /publisher: must be a mapping/);
  const several = problem(`${minimalMariadb}publisher:\n  max_in_flight: 0\n  polling_interval: -1\n`);
  t.match(several, /max_in_flight/);
  t.match(several, /polling_interval/, "all problems are reported at once");
});

t.test("passwords never appear in error messages", async (t) => {
  const message = problem(`${minimalMariadb}mariadb:\n  password: 12345\n`);
  t.match(message, /mariadb\.password: must be a string/);
  t.notMatch(message, /12345/);
  const fromEnv = problem("oracle_db: {user: u}\n", { ORACLE_PASSWORD: "hunter2" });
  t.notMatch(fromEnv, /hunter2/);
});

t.test("a missing file and invalid YAML are named with path and line", async (t) => {
  t.throws(() => loadConfig(join(dir, "nope.yaml")), { name: "ConfigError", message: /cannot read config file .*nope\.yaml: file not found/ });
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "source:\n  kind: mariadb\npublisher:\n  batch_size: [1, 2\n");
  t.throws(() => loadConfig(bad), { name: "ConfigError", message: /invalid YAML in .*bad\.yaml:\d+:\d+/ });
  const list = join(dir, "list.yaml");
  writeFileSync(list, "- a\n- b\n");
  t.throws(() => loadConfig(list), { message: /top level must be a mapping/ });
});

/** Every leaf key of the schema, as dotted paths. */
function leafPaths(section: SectionField, prefix = ""): string[] {
  return Object.entries(section.fields).flatMap(([k, f]: [string, Field]) => (f.kind === "section" ? leafPaths(f, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

t.test("config/config.yaml is valid, uses the Oracle source, and shows every key except the optional source.mariadb", async (t) => {
  const c = loadConfig(join(__dirname, "../../config/config.yaml"), {});
  t.equal(c.source.kind, "oracle");
  const raw = parseYaml(readFileSync(join(__dirname, "../../config/config.yaml"), "utf8")) as Record<string, Record<string, unknown>>;
  const missing = leafPaths(schema).filter((path) => {
    if (path.startsWith("source.mariadb.") || /^nats\.(user|password|token|name)$/.test(path)) return false;
    // Optional sections and alternative NATS credentials are shown commented out.
    if (/^(mariadb\.ssl|nats\.tls)\./.test(path) || /^nats\.(nkey_seed|creds)$/.test(path)) return false;
    let node: unknown = raw;
    for (const part of path.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
    return node === undefined;
  });
  t.same(missing, [], "every key appears in the example");
  t.ok(loadConfig(join(__dirname, "../../config/demo.yaml"), {}), "the demo config is valid");
});

t.test("the README's configuration reference is the one generated from the schema", async (t) => {
  const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
  const start = readme.indexOf("<!-- config-reference:start");
  const end = readme.indexOf("<!-- config-reference:end -->");
  t.ok(start >= 0 && end > start, "README has the markers");
  const section = readme.slice(readme.indexOf("-->", start) + 3, end).trim();
  t.equal(section, renderReference().trim(), "run `npm run config-doc` after changing the schema");
});

t.test("V7 spellings are accepted: Python log levels, any trace_id value", async (t) => {
  const c = parseConfig(`${minimalMariadb}logging: {level: WARNING}\nintime_txlog_events: {trace_id: true}\n`, "cfg.yaml");
  t.equal(c.logging.level, "warn");
  t.equal(c.intime_txlog_events.trace_id, "uuid4");
  t.equal(parseConfig(`${minimalMariadb}logging: {level: CRITICAL}\n`, "cfg.yaml").logging.level, "fatal");
  t.equal(parseConfig(`${minimalMariadb}intime_txlog_events: {trace_id: row}\n`, "cfg.yaml").intime_txlog_events.trace_id, "row");
  t.match(problem(`${minimalMariadb}logging: {level: LOUD}\n`), /logging\.level: must be one of trace, debug, info/);
});
