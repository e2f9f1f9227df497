/**
 * `check`: validate the configuration, then try each service in turn (source, tracking store,
 * NATS, stream), one attempt each with a short timeout and no retry backoff, and print one
 * verdict line per step:
 *
 *   ok    config          config/config.yaml
 *   ok    source          MariaDB 127.0.0.1:3306/test, table TXLOG_EVENTS readable (12 ms)
 *   FAIL  NATS            cannot connect to NATS at nats://127.0.0.1:4222: ... (5001 ms)
 *   skip  stream          needs NATS
 *   check failed: NATS, stream
 *
 * Exit 0 when every step passed, 1 naming the failed ones, 2 when the configuration is invalid.
 */
import { describeError } from "../errors";
import type { Output } from "./ports";

export interface CheckTarget {
  /** As printed: "source", "tracking store", "NATS", "stream". */
  name: string;
  /** A target that must have passed first (the stream needs NATS); skipped otherwise. */
  needs?: string;
  /**
   * One attempt. Resolves with a short detail (what was reached, without secrets); rejects with
   * the reason. When `signal` aborts (the timeout), give up and release what was opened.
   */
  probe(signal: AbortSignal): Promise<string>;
}

export interface CheckDeps<C> {
  /** Loads and validates the configuration; throws a ConfigError naming the key. */
  loadConfig(): C;
  /** What to say about the loaded configuration (its path, say). */
  configDetail: string;
  /** The services to try, built from the configuration. */
  targets(config: C): CheckTarget[];
  /** Per target (default 5000 ms). */
  timeoutMs?: number;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
}

export type VerdictState = "ok" | "FAIL" | "skip";
export interface CheckVerdict {
  name: string;
  state: VerdictState;
  detail: string;
  ms?: number;
}

/** One verdict line. */
export function renderVerdict(v: CheckVerdict, width = 14): string {
  const detail = v.detail.replace(/\s+/g, " ").trim();
  return `${v.state.padEnd(4)}  ${v.name.padEnd(width)}  ${detail}${v.ms !== undefined ? ` (${v.ms} ms)` : ""}`;
}

class CheckTimeout extends Error {}

async function attempt(target: CheckTarget, timeoutMs: number): Promise<string> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new CheckTimeout(`no answer within ${timeoutMs} ms`));
      reject(new CheckTimeout(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([target.probe(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `check`; prints a line per step as it completes; returns the exit code. */
export async function runCheck<C>(deps: CheckDeps<C>, output: Output): Promise<number> {
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 5000;
  let config: C;
  try {
    config = deps.loadConfig();
  } catch (err) {
    output.out(renderVerdict({ name: "config", state: "FAIL", detail: describeError(err) }));
    output.err("check failed: config");
    return 2;
  }
  output.out(renderVerdict({ name: "config", state: "ok", detail: deps.configDetail }));
  const passed = new Set<string>();
  const failed: string[] = [];
  for (const target of deps.targets(config)) {
    if (target.needs !== undefined && !passed.has(target.needs)) {
      output.out(renderVerdict({ name: target.name, state: "skip", detail: `needs ${target.needs}` }));
      failed.push(target.name);
      continue;
    }
    const started = now();
    try {
      const detail = await attempt(target, timeoutMs);
      passed.add(target.name);
      output.out(renderVerdict({ name: target.name, state: "ok", detail, ms: Math.round(now() - started) }));
    } catch (err) {
      failed.push(target.name);
      output.out(renderVerdict({ name: target.name, state: "FAIL", detail: describeError(err), ms: Math.round(now() - started) }));
    }
  }
  if (failed.length > 0) {
    output.err(`check failed: ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}
