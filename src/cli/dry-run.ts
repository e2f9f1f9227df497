/**
 * `--once --dry-run`: read the rows after the committed watermark (up to the read bound,
 * database now - safety lag), format them exactly as the pipeline would, and print them as JSON
 * lines on stdout: `{"subject":...,"msg_id":...,"event":<the payload as published>}`; or, with
 * --count, only count them. Nothing is published and nothing is committed: the dependencies
 * below hold no publisher and no write to the tracking store.
 */
import type { FormattedMessage, Output, SourceCounter, SourceRow, TrackingReader, Watermark } from "./ports";

export interface DryRunDeps {
  tracking: TrackingReader;
  /** Where a program without a watermark starts (publisher.start_from: startPosition()). */
  startPosition(): Promise<Watermark | null>;
  /**
   * Rows after `after` up to the read bound, in order, at most `limit` in all, in chunks
   * (RowSource.read({after, limit, pageSize, safetyLagSeconds}) is such an iterable; destroy it
   * when the loop stops early, which `for await` does).
   */
  rows(after: Watermark | null, limit: number): AsyncIterable<SourceRow[]>;
  source: Pick<SourceCounter, "countAfter">;
  /** publisher.safety_lag_seconds */
  safetyLagSeconds: number;
  /** The pipeline's formatting of one row (subject, Nats-Msg-Id, payload text). */
  format(row: SourceRow): FormattedMessage;
  /** --limit */
  limit: number;
  /** --count */
  count: boolean;
  /** Bound of the count (default 1,000,000). */
  countLimit?: number;
}

/** One JSON line; the payload is embedded as is (it is JSON already, ids exact). */
export function renderMessage(m: FormattedMessage): string {
  return `{"subject":${JSON.stringify(m.subject)},"msg_id":${JSON.stringify(m.msgId)},"event":${m.payload}}`;
}

const where = (w: Watermark | null) => (w === null ? "the start of the table" : `${w.ts} id ${w.id}`);

/** Runs the dry run; returns the exit code. Errors of the source propagate (exit 1 by the caller). */
export async function runDryRun(deps: DryRunDeps, output: Output): Promise<number> {
  const row = await deps.tracking.read();
  const after = row?.watermark ?? (await deps.startPosition());
  const countLimit = deps.countLimit ?? 1_000_000;
  if (deps.count) {
    const { rows } = await deps.source.countAfter(after, deps.safetyLagSeconds, countLimit);
    output.out(`${rows >= countLimit ? "at least " : ""}${rows.toLocaleString("en-US")} rows waiting after ${where(after)}`);
    output.err("dry run: nothing published, nothing committed");
    return 0;
  }
  let printed = 0;
  for await (const chunk of deps.rows(after, deps.limit)) {
    for (const r of chunk) {
      if (printed >= deps.limit) break;
      output.out(renderMessage(deps.format(r)));
      printed++;
    }
    if (printed >= deps.limit) break;
  }
  output.err(`dry run: ${printed} row${printed === 1 ? "" : "s"} formatted after ${where(after)} (limit ${deps.limit}); nothing published, nothing committed`);
  return 0;
}
