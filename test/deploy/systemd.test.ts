/**
 * deploy/oracle-nats-publisher.service: parsed as a unit file and checked; verified by
 * systemd-analyze where systemd is installed (it reports problems on stderr, exit code 0).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type NumberField, type SectionField, schema } from "../../src/config/schema";
import { envVariables } from "../../src/config/secrets";

const unitFile = join(__dirname, "../../deploy/oracle-nats-publisher.service");

/** section -> key -> values (a key may repeat: Environment=, LoadCredential=). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] as string, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** systemd time spans: 45, 45s, 1min 30s, 2min. */
function seconds(span: string): number {
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+)\s*(min|s|ms)?/g)) total += Number(n) * (unit === "min" ? 60 : unit === "ms" ? 0.001 : 1);
  return total;
}

const unit = parseUnit(readFileSync(unitFile, "utf8"));
const service = unit.get("Service") as Map<string, string[]>;
const one = (key: string) => service.get(key)?.at(-1);
const defaultShutdown = ((schema.fields.publisher as SectionField).fields.shutdown_timeout as NumberField).default as number;

t.test("restarts always, stops with SIGTERM and waits longer than shutdown_timeout", async (t) => {
  t.equal(one("Restart"), "always");
  t.equal(one("KillSignal"), "SIGTERM");
  const stop = seconds(one("TimeoutStopSec") ?? "0");
  t.ok(stop > defaultShutdown, `TimeoutStopSec ${stop} s > shutdown_timeout ${defaultShutdown} s`);
  t.equal(unit.get("Unit")?.get("StartLimitIntervalSec")?.[0], "0", "no start rate limit to give up on");
  t.match(one("ExecStart"), /\/node \S+\/dist\/main\.js --config \S+\.yaml$/);
  t.match(service.get("Environment")?.join(" "), /TZ=UTC/);
});

t.test("secrets come as credentials files named by *_FILE variables the loader reads", async (t) => {
  const credentials = new Set((service.get("LoadCredential") ?? []).map((c) => c.split(":")[0]));
  const env = (service.get("Environment") ?? []).flatMap((e) => e.split(/\s+/));
  const fileVars = env.filter((e) => /^\w+_FILE=/.test(e));
  t.ok(fileVars.length >= 3);
  for (const e of fileVars) {
    const [name, value] = e.split("=") as [string, string];
    t.ok(envVariables(schema, true).includes(name.slice(0, -"_FILE".length)), `${name} is a secret variable of the schema`);
    const cred = /^%d\/(.+)$/.exec(value)?.[1];
    t.ok(cred && credentials.has(cred), `${name} points at the credential ${cred}`);
  }
  t.notOk(
    env.some((e) => /^\w+_(PASSWORD|TOKEN|SEED)=/.test(e)),
    "no secret in the environment",
  );
});

t.test("hardened: no root, no new privileges, a read-only system", async (t) => {
  t.ok(one("DynamicUser") === "yes" || (one("User") ?? "root") !== "root", "not root");
  for (const [key, value] of [
    ["NoNewPrivileges", "yes"],
    ["ProtectSystem", "strict"],
    ["ProtectHome", "yes"],
    ["PrivateTmp", "yes"],
    ["PrivateDevices", "yes"],
    ["RestrictSUIDSGID", "yes"],
    ["CapabilityBoundingSet", ""],
  ]) {
    t.equal(one(key as string), value, `${key}=${value}`);
  }
  t.equal(one("MemoryDenyWriteExecute"), undefined, "left off: V8's JIT needs writable and executable memory");
});

t.test("systemd-analyze verify reports nothing", { skip: existsSync("/usr/bin/systemd-analyze") ? false : "systemd-analyze not installed" }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "onp-unit-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, "oracle-nats-publisher.service");
  copyFileSync(unitFile, copy);
  const r = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
  const stderr = `${r.stdout}${r.stderr}`;
  // Only lines about our unit: systemd may warn about unrelated units of the host.
  t.same(
    stderr.split("\n").filter((l) => l.includes("oracle-nats-publisher.service")),
    [],
  );
});
