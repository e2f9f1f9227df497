/**
 * The dispatcher: argv -> the command -> its exit code. main.ts supplies a `CliEnvironment`
 * (how to load the config, open the ports the commands need, run the service) and exits with
 * what `runCli` returns.
 *
 *   argv --parseArgs--> help | run (service) | run --dry-run | status | check | rewind
 *
 * A failure that ends a command prints one line `oracle-nats-publisher: error: <cause>` on
 * stderr (no stack trace) and exits 1, or 2 for usage and configuration errors.
 */
import { describeError } from "../errors";
import { type Command, exitCodeOf, helpText, parseArgs } from "./args";
import { type CheckTarget, runCheck } from "./check";
import { runDryRun } from "./dry-run";
import type { FormattedMessage, Output, ProgramLock, SourceCounter, SourceRow, StreamProbe, TrackingReader, Watermark } from "./ports";
import { runRewind } from "./rewind";
import { runStatus } from "./status";

/** What status, rewind and the dry run read and write, opened for one command. */
export interface CommandPorts {
  tracking: TrackingReader;
  lock: ProgramLock;
  stream: StreamProbe;
  source: SourceCounter;
  /** Rows after `after` up to the read bound, at most `limit` (RowSource.read). */
  rows(after: Watermark | null, limit: number): AsyncIterable<SourceRow[]>;
  /** The pipeline's formatting of one row. */
  format(row: SourceRow): FormattedMessage;
  /** publisher.start_from for a program without a watermark (startPosition()). */
  startPosition(): Promise<Watermark | null>;
  /** Closes every connection opened (also after a failure). */
  close(): Promise<void>;
}

/** The settings the commands need from a loaded configuration. */
export interface CommandSettings {
  /** publisher.program_name */
  program: string;
  /** source.time_zone */
  timeZone: string;
  /** publisher.safety_lag_seconds */
  safetyLagSeconds: number;
}

export interface CliEnvironment<C> {
  /** Loads and validates the file; throws a ConfigError naming the key. */
  loadConfig(path: string): C;
  settings(config: C): CommandSettings;
  /** Opens the ports (connections may be opened lazily, on first use). */
  openPorts(config: C): Promise<CommandPorts>;
  /** The services `check` tries, in order: source, tracking store, NATS, stream (needs NATS). */
  checkTargets(config: C): CheckTarget[];
  /** The service itself (run, or run --once); resolves with its exit code. */
  runService(config: C, options: { once: boolean; configPath: string }): Promise<number>;
  output: Output;
  /** stdin and stdout are a terminal. */
  interactive: boolean;
  confirm(question: string): Promise<boolean>;
  /** Per service, for check (default 5000 ms). */
  checkTimeoutMs?: number;
}

async function withPorts<C>(env: CliEnvironment<C>, config: C, use: (ports: CommandPorts) => Promise<number>): Promise<number> {
  const ports = await env.openPorts(config);
  try {
    return await use(ports);
  } finally {
    await ports.close().catch(() => undefined);
  }
}

async function dispatch<C>(command: Command, env: CliEnvironment<C>): Promise<number> {
  if (command.command === "help") {
    env.output.out(helpText(command.topic));
    return 0;
  }
  if (command.command === "check") {
    const path = command.config;
    return runCheck(
      { loadConfig: () => env.loadConfig(path), configDetail: `${path} is valid`, targets: (c) => env.checkTargets(c), timeoutMs: env.checkTimeoutMs },
      env.output,
    );
  }
  const config = env.loadConfig(command.config);
  const settings = env.settings(config);
  switch (command.command) {
    case "run":
      if (!command.dryRun) return env.runService(config, { once: command.once, configPath: command.config });
      return withPorts(env, config, (ports) =>
        runDryRun(
          {
            tracking: ports.tracking,
            startPosition: () => ports.startPosition(),
            rows: (after, limit) => ports.rows(after, limit),
            source: ports.source,
            safetyLagSeconds: settings.safetyLagSeconds,
            format: (row) => ports.format(row),
            limit: command.limit,
            count: command.count,
          },
          env.output,
        ),
      );
    case "status":
      return withPorts(env, config, (ports) =>
        runStatus({ ...settings, tracking: ports.tracking, lock: ports.lock, stream: ports.stream, source: ports.source }, { json: command.json }, env.output),
      );
    case "rewind":
      return withPorts(env, config, (ports) =>
        runRewind(
          {
            program: settings.program,
            to: command.to,
            timeZone: settings.timeZone,
            yes: command.yes,
            interactive: env.interactive,
            confirm: (q) => env.confirm(q),
            tracking: ports.tracking,
            lock: ports.lock,
            stream: ports.stream,
            source: ports.source,
          },
          env.output,
        ),
      );
  }
}

/** Runs the command line; resolves with the process exit code. */
export async function runCli<C>(argv: readonly string[], env: CliEnvironment<C>): Promise<number> {
  try {
    return await dispatch(parseArgs(argv), env);
  } catch (err) {
    env.output.err(`oracle-nats-publisher: error: ${describeError(err).replace(/\s*\n\s*/g, " ")}`);
    return exitCodeOf(err);
  }
}
