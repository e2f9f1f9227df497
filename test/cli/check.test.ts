/** `check`: one verdict line per step, a timeout per service, exit codes naming what failed. */
import t from "tap";
import { type CheckTarget, renderVerdict, runCheck } from "../../src/cli/check";
import { ConfigError } from "../../src/errors";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

const ok = (name: string, detail: string, needs?: string): CheckTarget => ({ name, needs, probe: async () => detail });
const failing = (name: string, message: string, needs?: string): CheckTarget => ({
  name,
  needs,
  probe: async () => {
    throw new Error(message);
  },
});

t.test("all services reachable: one ok line each, exit 0", async (t) => {
  const c = capture();
  let clock = 0;
  const code = await runCheck(
    {
      loadConfig: () => ({ table: "TXLOG_EVENTS" }),
      configDetail: "config/config.yaml",
      targets: (config) => [
        {
          name: "source",
          probe: async () => {
            clock += 12;
            return `MariaDB 127.0.0.1:3306/test, table ${config.table} readable`;
          },
        },
        ok("tracking store", "ETL_PRMREC readable"),
        ok("NATS", "nats://127.0.0.1:4222, server 2.9.10"),
        ok("stream", "TXLOG_EVENTS captures both subjects", "NATS"),
      ],
      now: () => clock,
    },
    c.output,
  );
  t.equal(code, 0);
  t.same(c.out, [
    "ok    config          config/config.yaml",
    "ok    source          MariaDB 127.0.0.1:3306/test, table TXLOG_EVENTS readable (12 ms)",
    "ok    tracking store  ETL_PRMREC readable (0 ms)",
    "ok    NATS            nats://127.0.0.1:4222, server 2.9.10 (0 ms)",
    "ok    stream          TXLOG_EVENTS captures both subjects (0 ms)",
  ]);
  t.same(c.err, []);
});

t.test("a failed service is named, those needing it are skipped, the rest still tried; exit 1", async (t) => {
  const c = capture();
  const tried: string[] = [];
  const code = await runCheck(
    {
      loadConfig: () => ({}),
      configDetail: "c.yaml",
      targets: () => [
        ok("source", "fine"),
        {
          name: "tracking store",
          probe: async () => {
            tried.push("tracking");
            return "fine";
          },
        },
        failing("NATS", "cannot connect to NATS at nats://127.0.0.1:1:\n CONNECTION_REFUSED"),
        ok("stream", "never asked", "NATS"),
      ],
      now: () => 0,
    },
    c.output,
  );
  t.equal(code, 1);
  t.same(tried, ["tracking"]);
  t.equal(c.out[3], "FAIL  NATS            cannot connect to NATS at nats://127.0.0.1:1: CONNECTION_REFUSED (0 ms)", "one line, whitespace folded");
  t.equal(c.out[4], "skip  stream          needs NATS");
  t.same(c.err, ["check failed: NATS, stream"]);
});

t.test("a service that does not answer fails at the timeout, and its probe is told to give up", async (t) => {
  const c = capture();
  let aborted: unknown = null;
  const code = await runCheck(
    {
      loadConfig: () => ({}),
      configDetail: "c.yaml",
      timeoutMs: 50,
      targets: () => [
        {
          name: "source",
          probe: (signal) =>
            new Promise<string>(() => {
              signal.addEventListener("abort", () => {
                aborted = signal.reason;
              });
            }),
        },
        ok("tracking store", "fine"),
      ],
    },
    c.output,
  );
  t.equal(code, 1);
  t.match(c.out[1], /^FAIL {2}source +no answer within 50 ms \(\d+ ms\)$/);
  t.match(c.out[2], /^ok {4}tracking store/, "the next service is still tried");
  t.type(aborted, Error, "the probe's signal aborted");
  t.same(c.err, ["check failed: source"]);
});

t.test("an invalid configuration fails first, naming the key, exit 2, no service tried", async (t) => {
  const c = capture();
  let built = false;
  const code = await runCheck(
    {
      loadConfig: () => {
        throw new ConfigError("c.yaml: publisher.max_in_flight: must be at least 1 (got -5)");
      },
      configDetail: "c.yaml",
      targets: () => {
        built = true;
        return [];
      },
    },
    c.output,
  );
  t.equal(code, 2);
  t.equal(built, false);
  t.same(c.out, ["FAIL  config          c.yaml: publisher.max_in_flight: must be at least 1 (got -5)"]);
  t.same(c.err, ["check failed: config"]);
});

t.test("renders a verdict in aligned columns", async (t) => {
  t.equal(renderVerdict({ name: "stream", state: "skip", detail: "needs NATS" }), "skip  stream          needs NATS");
  t.equal(renderVerdict({ name: "NATS", state: "ok", detail: "up", ms: 3 }), "ok    NATS            up (3 ms)");
});
