/**
 * One read() of the Oracle source: a Readable of SourceRow pages over one cursor and one held
 * connection (see oracle-source.ts for the design and docs/ORACLE.md for why a cursor).
 */
import { Readable } from "node:stream";
import { SourceError } from "../errors";
import type { ReadOptions, SourceRow, Watermark } from "../pipeline/types";
import type { OracleConnection, OracleResultSet } from "./oracle-driver";
import { isTransientOracleError } from "./oracle-errors";
import type { OracleSource } from "./oracle-source";
import { TS_TEXT } from "./oracle-sql";

/**
 * One read(): one cursor over one held connection, a page per `_read()`. On a transient
 * failure the cursor and connection are dropped and, after the backoff, a new cursor is
 * opened after the last row emitted, so nothing is repeated or skipped. In `pages` mode the
 * cursor is closed after every page and re-opened for the next (the earlier design, kept
 * so that the live suite can measure both).
 */
export class OracleReader extends Readable {
  private conn: OracleConnection | null = null;
  private cursor: OracleResultSet | null = null;
  private upper: string | null = null;
  private position: Watermark | null;
  private emitted = 0;
  private started = false;
  private inFlight: Promise<unknown> | null = null;
  private readonly stop = new AbortController();

  constructor(
    private readonly source: OracleSource,
    private readonly options: ReadOptions,
  ) {
    super({ objectMode: true, highWaterMark: 1 });
    this.position = options.after;
  }

  override _read(): void {
    const work = this.next();
    this.inFlight = work;
    work.then(
      () => {
        this.inFlight = null;
      },
      (err: unknown) => {
        this.inFlight = null;
        this.destroy(err as Error);
      },
    );
  }

  /** Destroys the read and resolves once its connection is back. */
  async abort(err: Error): Promise<void> {
    if (!this.destroyed) this.destroy(err);
    if (!this.closed) await new Promise((resolve) => this.once("close", resolve));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stop.abort(err ?? new Error("read destroyed"));
    // A call in flight cannot be taken back: let it settle (callTimeout bounds it), then release.
    const settled = this.inFlight ? this.inFlight.catch(() => undefined) : Promise.resolve();
    void settled
      .then(() => this.closeCursor())
      .then(() => this.releaseConnection(false))
      .then(() => callback(err));
  }

  private async next(): Promise<void> {
    const { limit, pageSize } = this.options;
    if (!this.started) {
      this.started = true;
      this.validate();
    }
    const n = Math.min(pageSize, limit - this.emitted);
    if (n <= 0) return this.finish();
    const rows = await this.source.retrying("read", () => this.fetch(n), this.stop.signal);
    if (this.destroyed) return;
    const last = rows[rows.length - 1];
    if (last !== undefined) {
      this.emitted += rows.length;
      this.position = { ts: last.eventTimestamp, id: last.id };
    }
    // A short page means nothing else is at or below the upper bound.
    if (rows.length < n || this.emitted >= limit) {
      await this.closeCursor();
      await this.releaseConnection(false);
      if (rows.length > 0) this.push(rows);
      this.push(null);
      return;
    }
    this.push(rows);
  }

  private async fetch(n: number): Promise<SourceRow[]> {
    try {
      // Each step re-checks for destroy()/close(): a destroyed read must not start another call.
      const signal = this.stop.signal;
      signal.throwIfAborted();
      if (!this.conn) this.conn = await this.source.acquire();
      signal.throwIfAborted();
      // Taken once per read: later pages keep the same bound even across a reconnect.
      if (this.upper === null) this.upper = await this.source.upperBound(this.conn, this.options.safetyLagSeconds);
      signal.throwIfAborted();
      const pages = this.source.readMode === "pages";
      if (!this.cursor) this.cursor = await this.source.openCursor(this.conn, this.position, this.upper, pages ? n : this.options.limit - this.emitted, n);
      signal.throwIfAborted();
      const rows = await this.source.rows(this.conn, this.cursor, n);
      if (pages) await this.closeCursor();
      return rows;
    } catch (err) {
      // The next attempt opens a new cursor on a fresh connection; a possibly dead one is dropped from the pool.
      await this.closeCursor();
      await this.releaseConnection(isTransientOracleError(err));
      throw err;
    }
  }

  private async finish(): Promise<void> {
    await this.closeCursor();
    await this.releaseConnection(false);
    this.push(null);
  }

  private async closeCursor(): Promise<void> {
    const cursor = this.cursor;
    this.cursor = null;
    if (cursor) await this.source.closeCursor(cursor);
  }

  private async releaseConnection(broken: boolean): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn) await this.source.release(conn, broken);
  }

  private validate(): void {
    const { after, limit, pageSize, safetyLagSeconds } = this.options;
    const bad = (what: string) => new SourceError(`Oracle read of ${this.source.table}: ${what}`, false);
    if (!Number.isInteger(pageSize) || pageSize < 1) throw bad(`pageSize must be an integer >= 1, got ${pageSize}`);
    if (!Number.isInteger(limit) || limit < 0) throw bad(`limit must be an integer >= 0, got ${limit}`);
    if (!Number.isFinite(safetyLagSeconds) || safetyLagSeconds < 0) throw bad(`safetyLagSeconds must be >= 0, got ${safetyLagSeconds}`);
    if (after && !TS_TEXT.test(after.ts)) throw bad(`watermark timestamp ${JSON.stringify(after.ts)} is not YYYY-MM-DD HH:MM:SS.ffffff`);
    if (after && !/^-?\d+$/.test(after.id)) throw bad(`watermark id ${JSON.stringify(after.id)} is not an integer`);
  }
}
