/**
 * The service as a child process (`node dist/main.js`), with its JSON log lines collected, for
 * tests that run several instances and break things under them. States are observed from the
 * process's own log lines and from the services, never waited for by time.
 */
import type { ChildProcess } from "node:child_process";
import type { Test } from "tap";
import { type CliResult, startCli } from "./cli";
import { until } from "./tcp-proxy";

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface Instance {
  name: string;
  child: ChildProcess;
  lines: LogLine[];
  result: Promise<CliResult>;
  readonly exited: boolean;
  /** Resolves with the first line (seen so far or later) matching `test`. */
  waitLog(test: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Index of the first line from `from` on matching `test`, or -1. */
  find(test: (line: LogLine) => boolean, from?: number): number;
}

/** Starts an instance; the test's teardown SIGKILLs it if it is still running. */
export function startInstance(t: Test, name: string, configFile: string, env: Record<string, string> = {}): Instance {
  const { child, result } = startCli(["--config", configFile], env);
  const lines: LogLine[] = [];
  let exited = false;
  let buffered = "";
  child.stdout?.on("data", (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const text of parts) {
      if (!text.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // not a log line
      }
    }
  });
  void result.then(() => {
    exited = true;
  });
  t.teardown(async () => {
    if (!exited) {
      child.kill("SIGKILL");
      await result;
    }
  });
  const find = (test: (line: LogLine) => boolean, from = 0) => {
    for (let i = from; i < lines.length; i++) if (test(lines[i] as LogLine)) return i;
    return -1;
  };
  return {
    name,
    child,
    lines,
    result,
    get exited() {
      return exited;
    },
    find,
    async waitLog(test, what, timeoutMs = 60_000) {
      await until(() => find(test) >= 0 || exited, `${name}: ${what}`, timeoutMs);
      const i = find(test);
      if (i < 0) {
        const r = await result;
        throw new Error(`${name} exited (${r.code ?? r.signal}) before ${what}: ${r.stderr.slice(0, 2000)} ${JSON.stringify(lines.slice(-3))}`);
      }
      return lines[i] as LogLine;
    },
  };
}

export const isActive = (l: LogLine) => typeof l.msg === "string" && l.msg.startsWith("active:");
export const isStandby = (l: LogLine) => typeof l.msg === "string" && l.msg.startsWith("standby: another instance holds");
export const isLockLost = (l: LogLine) => typeof l.msg === "string" && l.msg.startsWith("lock lost");
