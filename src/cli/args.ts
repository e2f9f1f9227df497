/**
 * The command line: subcommands of one binary, their options, and their --help.
 *
 *   node dist/main.js [run] [--config FILE] [--once] [--dry-run [--limit N] [--count]]
 *   node dist/main.js status  [--config FILE] [--json]
 *   node dist/main.js check   [--config FILE]
 *   node dist/main.js rewind  [--config FILE] --to <ISO timestamp | earliest> [--yes]
 *   node dist/main.js help [COMMAND] | --help | COMMAND --help
 *
 * Exit codes (all commands): 0 done, 1 failed (a service, a check, a refusal), 2 usage or
 * configuration error.
 */
import { PublisherError } from "../errors";
import { wallClock } from "../pipeline/start-position";

/** A command line that cannot be understood: exit 2, with the usage. */
export class UsageError extends PublisherError {
  constructor(message: string) {
    super("E_USAGE", message);
  }
}

export const SUBCOMMANDS = ["run", "status", "check", "rewind"] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

export const DEFAULT_CONFIG = "config/config.yaml";
/** Rows a dry run prints unless --limit says otherwise. */
export const DEFAULT_DRY_RUN_LIMIT = 10;

export type Command =
  | { command: "run"; config: string; once: boolean; dryRun: boolean; limit: number; count: boolean }
  | { command: "status"; config: string; json: boolean }
  | { command: "check"; config: string }
  | { command: "rewind"; config: string; to: string; yes: boolean }
  | { command: "help"; topic: Subcommand | null };

const PROGRAM = "node dist/main.js";

/** One line per form; the run form comes first and without `run`, as most people type it. */
export const USAGE: Record<Subcommand, string> = {
  run: `${PROGRAM} [run] [--config FILE] [--once] [--dry-run [--limit N] [--count]]`,
  status: `${PROGRAM} status [--config FILE] [--json]`,
  check: `${PROGRAM} check [--config FILE]`,
  rewind: `${PROGRAM} rewind [--config FILE] --to <ISO timestamp | earliest> [--yes]`,
};

const SUMMARY: Record<Subcommand, string> = {
  run: "Publish TXLOG_EVENTS rows to NATS JetStream (the service; the default command).",
  status: "Show the program's watermark, last run, stream, lag, rows waiting and lock holder.",
  check: "Validate the configuration, then try each service once: source, tracking store, NATS, stream.",
  rewind: "Move the program's watermark on purpose (refused while an instance holds the lock).",
};

const CONFIG_OPTION: [string, string] = ["--config FILE", `Configuration file (default ${DEFAULT_CONFIG}).`];

const OPTIONS: Record<Subcommand, [string, string][]> = {
  run: [
    CONFIG_OPTION,
    ["--once", "Run one cycle (at most publisher.max_records_per_run rows), commit, exit. On a terminal, shows a progress line on stderr."],
    ["--dry-run", "Read and format the rows after the watermark and print them (JSON lines); publish nothing, commit nothing. Implies --once."],
    ["--limit N", `With --dry-run: rows to print at most (default ${DEFAULT_DRY_RUN_LIMIT}).`],
    ["--count", "With --dry-run: only count the rows waiting up to the read bound."],
  ],
  status: [CONFIG_OPTION, ["--json", "Print one JSON object instead of a table."]],
  check: [CONFIG_OPTION],
  rewind: [
    CONFIG_OPTION,
    [
      "--to WHEN",
      "New watermark: an ISO-8601 timestamp (wall-clock in source.time_zone unless it has a zone; rows at or after it are published again) or earliest.",
    ],
    ["--yes", "Do not ask for confirmation (required when not on a terminal)."],
  ],
};

const COMMON_TAIL = ["", "Exit codes: 0 done, 1 failed (named on stderr), 2 usage or configuration error."];

function optionLines(command: Subcommand): string[] {
  const rows = [...OPTIONS[command], ["-h, --help", "Show this help."] as [string, string]];
  const width = Math.max(...rows.map(([o]) => o.length));
  return rows.map(([o, d]) => `  ${o.padEnd(width)}  ${d}`);
}

/** The help of one command, or of the whole program (every command with every option). */
export function helpText(topic: Subcommand | null): string {
  if (topic !== null) return [`usage: ${USAGE[topic]}`, "", SUMMARY[topic], "", "options:", ...optionLines(topic), ...COMMON_TAIL].join("\n");
  const lines = [
    `usage: ${PROGRAM} [COMMAND] [OPTIONS]`,
    "",
    "Streams TXLOG_EVENTS rows into NATS JetStream exactly once, with a watermark in ETL_PRMREC.",
    "",
    "commands:",
  ];
  for (const c of SUBCOMMANDS) lines.push(`  ${c.padEnd(7)} ${SUMMARY[c]}`);
  lines.push(`  ${"help".padEnd(7)} This text; \`help COMMAND\` or \`COMMAND --help\` for one command.`);
  for (const c of SUBCOMMANDS) lines.push("", `${USAGE[c]}`, ...optionLines(c));
  lines.push(...COMMON_TAIL);
  return lines.join("\n");
}

/** The one-line usage quoted by a usage error. */
export function shortUsage(command: Subcommand | null): string {
  if (command !== null && command !== "run") return `usage: ${USAGE[command]}`;
  return `usage: ${PROGRAM} [--config FILE] [--once] [--dry-run [--limit N] [--count]] | status | check | rewind; see --help`;
}

/** Parses argv (without node and the script). Throws UsageError naming the offending argument. */
export function parseArgs(argv: readonly string[]): Command {
  let i = 0;
  let command: Subcommand | "help" = "run";
  const first = argv[0];
  if (first !== undefined && (SUBCOMMANDS as readonly string[]).includes(first)) {
    command = first as Subcommand;
    i = 1;
  } else if (first === "help") {
    const topic = argv[1];
    if (topic === undefined) return { command: "help", topic: null };
    if (!(SUBCOMMANDS as readonly string[]).includes(topic) || argv.length > 2) {
      throw new UsageError(`unknown command ${JSON.stringify(argv.slice(1).join(" "))}; ${shortUsage(null)}`);
    }
    return { command: "help", topic: topic as Subcommand };
  }
  const explicit = i === 1;
  const fail = (message: string): never => {
    throw new UsageError(`${message}; ${shortUsage(explicit ? (command as Subcommand) : null)}`);
  };
  const allowed = new Set(OPTIONS[command as Subcommand].map(([o]) => o.split(" ")[0] as string));
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h") return { command: "help", topic: explicit ? (command as Subcommand) : null };
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!allowed.has(name)) {
      if (!arg.startsWith("-") && !explicit && i === 0) fail(`unknown command ${JSON.stringify(arg)}`);
      fail(`unknown argument ${JSON.stringify(arg)}`);
    }
    const takesValue = OPTIONS[command as Subcommand].some(([o]) => o.startsWith(`${name} `));
    if (takesValue) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) fail(`${name} needs a value`);
      values[name] = value as string;
    } else {
      if (eq > 0) fail(`${name} takes no value`);
      flags.add(name);
    }
  }
  const config = values["--config"] ?? DEFAULT_CONFIG;
  switch (command) {
    case "run": {
      const dryRun = flags.has("--dry-run");
      if (!dryRun && (values["--limit"] !== undefined || flags.has("--count")))
        fail(`${values["--limit"] !== undefined ? "--limit" : "--count"} needs --dry-run`);
      let limit = DEFAULT_DRY_RUN_LIMIT;
      if (values["--limit"] !== undefined) {
        if (!/^[1-9]\d{0,8}$/.test(values["--limit"])) fail(`--limit must be a positive integer (got ${JSON.stringify(values["--limit"])})`);
        limit = Number(values["--limit"]);
      }
      return { command: "run", config, once: flags.has("--once") || dryRun, dryRun, limit, count: flags.has("--count") };
    }
    case "status":
      return { command: "status", config, json: flags.has("--json") };
    case "check":
      return { command: "check", config };
    default: {
      const to = values["--to"];
      if (to === undefined) return fail("rewind needs --to <ISO timestamp | earliest>");
      if (to !== "earliest") {
        try {
          wallClock(to, "UTC");
        } catch {
          fail(`--to must be an ISO-8601 timestamp like 2026-01-31T00:00:00 or earliest (got ${JSON.stringify(to)})`);
        }
      }
      return { command: "rewind", config, to, yes: flags.has("--yes") };
    }
  }
}

/** The exit code for an error that ends a command: 2 for usage and configuration errors, else 1. */
export function exitCodeOf(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "E_USAGE" || code === "E_CONFIG" ? 2 : 1;
}
