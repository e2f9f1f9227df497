/**
 * `rewind --to <ISO timestamp | earliest> [--yes]`: move the program's watermark on purpose.
 *
 *   1. refuse at once when an instance holds the program's lock (it owns the watermark);
 *   2. plan: the current watermark, the target, about how many rows will be replayed (or
 *      skipped, when the target lies ahead), and, for a replay, about how many of them were
 *      published longer ago than the stream's duplicate window: JetStream stores those again
 *      (within the window, the Nats-Msg-Id absorbs the repeat);
 *   3. ask for confirmation on a terminal unless --yes (off a terminal, --yes is required);
 *   4. take the lock, check the watermark did not move meanwhile, write it (clearing the
 *      restart scan's resume sequence, so the replayed rows are really published), release.
 *
 * The estimate of rows stored again: the replayed rows are the newest ones before the current
 * watermark, and the newest messages are the ones still inside the duplicate window; so
 * about max(0, replayed - messages stored within the window) are stored again.
 */
import { describeError } from "../errors";
import { BEFORE_ALL_IDS, wallClock } from "../pipeline/start-position";
import type { LockHolder, Output, ProgramLock, SourceCounter, StreamProbe, TrackingReader, Watermark } from "./ports";

/** Before every row: what `--to earliest` sets (DATETIME's smallest value, an id below all ids). */
export const EARLIEST: Watermark = { ts: "1000-01-01 00:00:00.000000", id: BEFORE_ALL_IDS };

/** Rows counted at most for the estimates (they say "at least" beyond). */
export const REWIND_COUNT_LIMIT = 1_000_000;

/** The watermark `--to` means: just before that instant (rows stamped at it are published again). */
export function rewindTarget(to: string, timeZone: string): Watermark {
  if (to === "earliest") return EARLIEST;
  return { ts: wallClock(to, timeZone), id: BEFORE_ALL_IDS };
}

function compare(a: Watermark, b: Watermark): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  const x = BigInt(a.id);
  const y = BigInt(b.id);
  return x === y ? 0 : x < y ? -1 : 1;
}

export interface RewindPlan {
  program: string;
  current: Watermark | null;
  target: Watermark;
  direction: "back" | "forward" | "none" | "new";
  /** Rows between the two positions (replayed going back, skipped going forward); null when not counted. */
  rows: number | null;
  rowsAtLeast: boolean;
  /** Going back: rows published longer ago than the duplicate window, stored again; null when unknown. */
  storedAgain: number | null;
  duplicateWindowSeconds: number | null;
  /** Why an estimate is missing (one line), if it is. */
  estimateError: string | null;
}

const num = (n: number) => n.toLocaleString("en-US");
const about = (n: number, atLeast: boolean) => `${atLeast ? "at least" : "about"} ${num(n)}`;
const position = (w: Watermark | null) => (w === null ? "none" : w.id === BEFORE_ALL_IDS ? `${w.ts} (before every row at that time)` : `${w.ts}  id ${w.id}`);

/** The plan as lines: what moves where, how many rows, and any warning. */
export function renderPlan(plan: RewindPlan): { lines: string[]; warnings: string[] } {
  const target =
    plan.target === EARLIEST || (plan.target.ts === EARLIEST.ts && plan.target.id === EARLIEST.id) ? "earliest (before every row)" : position(plan.target);
  const lines = [`program ${plan.program}`, `watermark now:  ${position(plan.current)}`, `watermark after: ${target}`];
  const warnings: string[] = [];
  if (plan.estimateError) warnings.push(`warning: cannot estimate the rows concerned: ${plan.estimateError}`);
  switch (plan.direction) {
    case "new":
      lines.push("the program has no watermark yet: the next run starts after the new one");
      break;
    case "none":
      lines.push("the watermark is already there: nothing to do");
      break;
    case "forward":
      if (plan.rows !== null) lines.push(`moves forward: skips ${about(plan.rows, plan.rowsAtLeast)} rows`);
      warnings.push("warning: moving the watermark forward skips rows: they will never be published");
      break;
    case "back":
      if (plan.rows !== null) lines.push(`moves back: replays ${about(plan.rows, plan.rowsAtLeast)} rows`);
      if (plan.storedAgain !== null && plan.storedAgain > 0) {
        warnings.push(
          `warning: ${about(plan.storedAgain, plan.rowsAtLeast)} of these rows were published longer ago than the stream's duplicate window (${num(plan.duplicateWindowSeconds ?? 0)} s): JetStream will store them again, and consumers will see them twice`,
        );
      }
      break;
  }
  return { lines, warnings };
}

export interface RewindDeps {
  program: string;
  /** --to as given. */
  to: string;
  /** source.time_zone */
  timeZone: string;
  yes: boolean;
  /** stdin and stdout are a terminal: a question can be asked. */
  interactive: boolean;
  /** Asks a yes/no question on the terminal (default answer no). */
  confirm(question: string): Promise<boolean>;
  tracking: TrackingReader;
  lock: ProgramLock;
  stream: StreamProbe;
  source: Pick<SourceCounter, "countBetween">;
  countLimit?: number;
}

function holderText(h: LockHolder | null): string {
  return h === null ? "another process" : `connection ${h.connectionId}${h.host ? ` from ${h.host}` : ""}`;
}

const same = (a: Watermark | null, b: Watermark | null) => (a === null || b === null ? a === b : a.ts === b.ts && a.id === b.id);

export async function planRewind(deps: RewindDeps, current: Watermark | null): Promise<RewindPlan> {
  const target = rewindTarget(deps.to, deps.timeZone);
  const limit = deps.countLimit ?? REWIND_COUNT_LIMIT;
  const plan: RewindPlan = {
    program: deps.program,
    current,
    target,
    direction: current === null ? "new" : ((["back", "none", "forward"] as const)[compare(target, current) + 1] as RewindPlan["direction"]),
    rows: null,
    rowsAtLeast: false,
    storedAgain: null,
    duplicateWindowSeconds: null,
    estimateError: null,
  };
  if (current === null || plan.direction === "none") return plan;
  try {
    const [from, through] = plan.direction === "back" ? [target, current] : [current, target];
    plan.rows = await deps.source.countBetween(from, through, limit);
    plan.rowsAtLeast = plan.rows >= limit;
    if (plan.direction === "back") {
      const info = await deps.stream.info();
      plan.duplicateWindowSeconds = info.duplicateWindowSeconds;
      const recent = await deps.stream.storedWithin(info.duplicateWindowSeconds);
      plan.storedAgain = Math.max(0, plan.rows - recent);
    }
  } catch (err) {
    plan.estimateError = describeError(err);
  }
  return plan;
}

/** Runs `rewind`; returns the exit code (0 moved or nothing to do, 1 refused/cancelled/failed, 2 no --yes off a terminal). */
export async function runRewind(deps: RewindDeps, output: Output): Promise<number> {
  const holder = await deps.lock.holder();
  if (holder !== null) {
    output.err(`rewind refused: an instance holds the lock of program ${deps.program} (${holderText(holder)}); stop it first`);
    return 1;
  }
  const before = (await deps.tracking.read())?.watermark ?? null;
  const plan = await planRewind(deps, before);
  const { lines, warnings } = renderPlan(plan);
  for (const line of lines) output.out(line);
  for (const line of warnings) output.err(line);
  if (plan.direction === "none") return 0;
  if (!deps.yes) {
    if (!deps.interactive) {
      output.err("rewind not done: not a terminal, add --yes to confirm");
      return 2;
    }
    if (!(await deps.confirm("Move the watermark? [y/N] "))) {
      output.err("rewind cancelled: the watermark is unchanged");
      return 1;
    }
  }
  const lease = await deps.lock.tryAcquire();
  if (lease === null) {
    output.err(`rewind refused: an instance took the lock of program ${deps.program} meanwhile (${holderText(await deps.lock.holder().catch(() => null))})`);
    return 1;
  }
  try {
    const now = (await deps.tracking.read())?.watermark ?? null;
    if (!same(now, before)) {
      output.err(`rewind not done: the watermark moved meanwhile (now ${position(now)}); run it again`);
      return 1;
    }
    await lease.setWatermark(plan.target);
  } finally {
    await lease.release();
  }
  output.out(`watermark moved: the next run publishes the rows after ${position(plan.target)}`);
  return 0;
}
