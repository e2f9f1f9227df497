/**
 * `npm run bench`: seeds its own MariaDB tables, runs every case in a fresh child process
 * (bench/child.ts) against the local MariaDB and NATS, several repetitions in alternating
 * order, then prints a table, saves JSON and an SVG chart under bench/results/, and removes
 * the tables and streams it made (also on Ctrl-C).
 *
 *   seed BENCH_<pid>_<size>_<rows> tables
 *   for rep in 1..reps: for case in (rep odd ? cases : reversed cases):
 *     create stream BENCH_<pid>_<n> -> fork child(case) -> check the stream holds every message -> delete stream
 *   table + targets + (--report) recommended config -> bench/results/bench-<time>.json, throughput.svg
 *
 * Flags: --rows N (200000) --reps N (3) --case A,B (names containing A or B; see --list)
 *        --quick --rss --latency MS[,MS] --report --list --keep-tables --node-option FLAG
 *        --default KEY=VALUE (try another default: max_in_flight, batch_size, serialization,
 *        workers, ack_mode, max_records_per_run; the schema's are used otherwise)
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectLocal, local } from "../scripts/lib/txlog-table";
import type { CaseResult, CaseSpec } from "./cases/types";
import { renderChart } from "./chart";
import { NATS_URL } from "./lib/local";
import { DEFAULTS, type PlannedCase, plan, SIZES, select } from "./lib/plan";
import { recommend, targets } from "./lib/report";
import { dropTable, seedTable } from "./lib/seed";
import { type CaseSummary, summarize, table } from "./lib/stats";
import { findListener, findPid, load1 } from "./lib/system";

interface Args {
  rows: number;
  reps: number;
  cases: string[];
  quick: boolean;
  rss: boolean;
  latency: number[];
  report: boolean;
  list: boolean;
  keepTables: boolean;
  nodeOptions: string[];
  defaults: string[];
}

const USAGE = `usage: npm run bench -- [--rows N] [--reps N] [--case NAME[,NAME]] [--quick] [--rss] [--latency MS[,MS]] [--report] [--list] [--keep-tables] [--node-option FLAG] [--default KEY=VALUE]`;

/** `--default KEY=VALUE`: config keys the bench can take another default for. */
function overrideDefault(setting: string): void {
  const [key, raw] = setting.split("=", 2) as [string, string | undefined];
  const number = () => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--default ${key} needs a positive integer`);
    return n;
  };
  if (key === "max_in_flight") DEFAULTS.window = number();
  else if (key === "batch_size") DEFAULTS.batchSize = number();
  else if (key === "workers") DEFAULTS.workers = number();
  else if (key === "max_records_per_run") DEFAULTS.maxRecordsPerRun = number();
  else if (key === "serialization" && (raw === "inline" || raw === "piscina")) DEFAULTS.serialization = raw;
  else if (key === "ack_mode" && (raw === "inbox" || raw === "stock")) DEFAULTS.ackMode = raw;
  else
    throw new Error(
      `--default ${setting}: expected max_in_flight, batch_size, workers, max_records_per_run=N, serialization=inline|piscina or ack_mode=inbox|stock`,
    );
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    rows: 200_000,
    reps: 3,
    cases: [],
    quick: false,
    rss: false,
    latency: [],
    report: false,
    list: false,
    keepTables: false,
    nodeOptions: [],
    defaults: [],
  };
  let rowsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value; ${USAGE}`);
      return v;
    };
    const positive = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer; ${USAGE}`);
      return n;
    };
    if (flag === "--rows") {
      a.rows = positive();
      rowsGiven = true;
    } else if (flag === "--reps") a.reps = positive();
    else if (flag === "--case") a.cases.push(...value().split(",").filter(Boolean));
    else if (flag === "--quick") a.quick = true;
    else if (flag === "--rss") a.rss = true;
    else if (flag === "--latency") a.latency = value().split(",").map(Number);
    else if (flag === "--report") a.report = true;
    else if (flag === "--list") a.list = true;
    else if (flag === "--keep-tables") a.keepTables = true;
    else if (flag === "--node-option") a.nodeOptions.push(value());
    else if (flag === "--default") {
      a.defaults.push(value());
      overrideDefault(a.defaults[a.defaults.length - 1] as string);
    } else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown flag ${flag}; ${USAGE}`);
  }
  if (a.latency.some((ms) => !Number.isFinite(ms) || ms < 0)) throw new Error(`--latency needs milliseconds, e.g. --latency 1,5`);
  if (a.quick && !rowsGiven) a.rows = 100_000;
  return a;
}

const tag = process.pid;
const out = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Everything this run made, removed at the end or on Ctrl-C. */
const made = { tables: new Set<string>(), streams: new Set<string>(), files: new Set<string>() };
let child: ChildProcess | null = null;
let proxies: ChildProcess[] = [];
let nc: NatsConnection | null = null;

async function cleanup(keepTables: boolean): Promise<void> {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  for (const f of made.files) rmSync(f, { force: true });
  made.files.clear();
  for (const p of proxies) if (p.exitCode === null) p.kill();
  proxies = [];
  if (nc && !nc.isClosed()) {
    const jsm = await jetstreamManager(nc);
    for (const s of made.streams) await jsm.streams.delete(s).catch(() => undefined);
    made.streams.clear();
    await nc.close();
  }
  if (!keepTables && made.tables.size > 0) {
    const conn = await connectLocal();
    for (const t of made.tables) await dropTable(conn, t);
    made.tables.clear();
    await conn.end();
  }
}

function tableName(key: { size: string; rows: number }, keep: boolean): string {
  return `BENCH_${keep ? "KEEP" : tag}_${key.size.toUpperCase()}_${key.rows}`;
}

async function seed(cases: PlannedCase[], keep: boolean): Promise<void> {
  const conn = await connectLocal();
  try {
    const keys = new Map<string, { size: string; rows: number }>();
    for (const c of cases) keys.set(tableName(c.tableKey, keep), c.tableKey);
    for (const [name, key] of keys) {
      if (keep) {
        const rows = (await conn.query(`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`, [
          name,
        ])) as Array<{ n: bigint }>;
        if (Number(rows[0]?.n ?? 0) > 0) {
          const count = (await conn.query(`SELECT COUNT(*) AS n FROM \`${name}\``)) as Array<{ n: bigint }>;
          if (Number(count[0]?.n) === key.rows) {
            out(`table ${name}: kept from an earlier run`);
            continue;
          }
        }
      } else made.tables.add(name);
      const t0 = Date.now();
      await seedTable(conn, name, key.rows, SIZES[key.size] as number);
      out(`table ${name}: ${fmt(key.rows)} rows of ~${key.size} seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await conn.end();
  }
}

/** A delaying proxy per distinct delay, each in its own process. */
async function startProxies(delays: number[]): Promise<Map<number, string>> {
  const urls = new Map<number, string>();
  const target = new URL(NATS_URL.replace(/^nats:/, "http:"));
  for (const delayMs of new Set(delays)) {
    const p = fork(join(__dirname, "proxy.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    proxies.push(p);
    const port = await new Promise<number>((resolve, reject) => {
      p.once("message", (m: { port?: number; error?: string }) => (m.port ? resolve(m.port) : reject(new Error(m.error))));
      p.once("exit", () => reject(new Error("proxy exited")));
      p.send({ targetHost: target.hostname, targetPort: Number(target.port || 4222), delayMs });
    });
    urls.set(delayMs, `nats://127.0.0.1:${port}`);
  }
  return urls;
}

function runChild(spec: CaseSpec): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const c = fork(join(__dirname, "child.js"), [], { execArgv: spec.execArgv ?? [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child = c;
    let answer: { result?: CaseResult; error?: string } | null = null;
    c.once("message", (m: { result?: CaseResult; error?: string }) => {
      answer = m;
    });
    c.once("exit", (code) => {
      child = null;
      if (answer?.result) resolve(answer.result);
      else reject(new Error(`${spec.name}: ${answer?.error ?? `child exited with code ${code}`}`));
    });
    c.send(spec);
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const planned = select(plan({ rows: args.rows, quick: args.quick, rss: args.rss, latency: args.latency, execArgv: args.nodeOptions }), args.cases);
  if (args.list || planned.length === 0) {
    for (const c of planned) out(`${c.name.padEnd(44)} ${c.kind.padEnd(8)} ${fmt(c.rows)} rows`);
    if (planned.length === 0) throw new Error(`no case matches ${args.cases.join(", ")} (see --list)`);
    return;
  }
  const started = new Date();
  const onSignal = () => {
    out("\ninterrupted: removing the streams and tables this run made");
    cleanup(args.keepTables).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const natsPort = Number(new URL(NATS_URL.replace(/^nats:/, "http:")).port || 4222);
  const servers = {
    nats: findListener(natsPort) ?? findPid("nats-server"),
    db: findListener(local.port) ?? findPid("mariadbd") ?? findPid("mysqld"),
  };
  out(`bench: ${planned.length} cases x ${args.reps} reps, ${fmt(args.rows)} rows (8 KB cases: a quarter), ${cpus().length} CPUs, load ${load1().toFixed(2)}`);
  out(
    `defaults${args.defaults.length > 0 ? " (overridden)" : " (config schema)"}: max_in_flight ${DEFAULTS.window}, batch_size ${DEFAULTS.batchSize}, serialization ${DEFAULTS.serialization}, ack_mode ${DEFAULTS.ackMode}`,
  );
  await seed(planned, args.keepTables);
  nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const proxyUrls = await startProxies(planned.map((c) => c.delayMs).filter((d) => d > 0));

  const results = new Map<string, CaseResult[]>();
  const specs = new Map<string, CaseSpec>();
  let streamNo = 0;
  const total = planned.length * args.reps;
  let done = 0;
  const benchStart = Date.now();
  for (let rep = 0; rep < args.reps; rep++) {
    const order = rep % 2 === 0 ? planned : [...planned].reverse();
    for (const c of order) {
      const stream = `BENCH_${tag}_${++streamNo}`;
      const subject = `bench.${tag}.${streamNo}`;
      const { tableKey, ...rest } = c;
      const spec: CaseSpec = {
        ...rest,
        table: tableName(tableKey, args.keepTables),
        stream,
        subject,
        natsUrl: c.delayMs > 0 ? (proxyUrls.get(c.delayMs) as string) : NATS_URL,
        preloadCache: join(tmpdir(), `bench-${tag}-${tableName(tableKey, args.keepTables)}-${c.rows}-${c.batchSize}.v8`),
        servers,
      };
      made.files.add(spec.preloadCache);
      specs.set(c.name, spec);
      made.streams.add(stream);
      await jsm.streams.add({ name: stream, subjects: [subject, `${subject}.dlq`], duplicate_window: 120e9 } as Parameters<typeof jsm.streams.add>[0]);
      const r = await runChild(spec);
      const info = await jsm.streams.info(stream);
      const stored = c.kind === "source" ? c.rows : info.state.messages;
      if (stored !== c.rows || r.messages !== c.rows)
        throw new Error(`${c.name}: the stream holds ${info.state.messages} messages, the case reported ${r.messages}, expected ${c.rows}`);
      await jsm.streams.delete(stream);
      made.streams.delete(stream);
      const list = results.get(c.name) ?? [];
      list.push(r);
      results.set(c.name, list);
      done++;
      const eta = ((Date.now() - benchStart) / done) * (total - done);
      out(
        `[${String(done).padStart(3)}/${total}] rep ${rep + 1} ${c.name.padEnd(40)} ${fmt(r.rate).padStart(8)} msg/s  ${r.seconds.toFixed(1).padStart(5)} s  RSS ${fmt(r.maxRssMB).padStart(4)} MB  load ${r.load.toFixed(1)}  (eta ${Math.ceil(eta / 1000)} s)`,
      );
    }
  }
  const summaries: CaseSummary[] = planned.map((c) => summarize(specs.get(c.name) as CaseSpec, results.get(c.name) as CaseResult[]));
  const loads = [...results.values()].flat().map((r) => r.load);
  const finished = new Date();
  out("");
  out(table(summaries));
  out("");
  out(
    `load average during the runs: ${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)} on ${cpus().length} CPUs; ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s in all`,
  );
  const t = targets(summaries);
  out("");
  out("targets:");
  for (const x of t) out(`  [${x.met === null ? "?" : x.met ? "met" : "MISSED"}] ${x.name}: ${x.value}`);
  const rec = recommend(summaries);
  if (args.report) {
    out("");
    out("recommended configuration for this machine (publisher.*, nats.ack_mode):");
    for (const line of rec) out(`  ${line}`);
  }

  const dir = join(__dirname, "..", "..", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  const json = join(dir, `bench-${stamp}.json`);
  writeFileSync(
    json,
    `${JSON.stringify(
      {
        started,
        finished,
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadRange: [Math.min(...loads), Math.max(...loads)] },
        args,
        defaults: DEFAULTS,
        targets: t,
        recommended: rec,
        cases: summaries.map((s) => ({ ...s, spec: { ...s.spec, servers: undefined } })),
      },
      null,
      2,
    )}\n`,
  );
  const subtitle = `${fmt(args.rows)} rows, medians of ${args.reps}, ${cpus().length} CPUs, load ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}, ${started.toISOString().slice(0, 16)}Z`;
  // Only the full sweep replaces the committed chart; a partial run overwrites last-run.svg.
  const svg = join(dir, args.cases.length > 0 || args.quick ? "last-run.svg" : "throughput.svg");
  writeFileSync(svg, renderChart(summaries, subtitle));
  out("");
  out(`saved ${json}`);
  out(`saved ${svg}`);
  await cleanup(args.keepTables);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench: error: ${err instanceof Error ? err.message : String(err)}\n`);
  await cleanup(false).catch(() => undefined);
  process.exit(1);
});
