/** An in-memory WatermarkStore: the bench measures the pipeline, not ETL_PRMREC writes. */
import type { Checkpoint, WatermarkStore } from "../../src/pipeline/types";

export class MemoryWatermarkStore implements WatermarkStore {
  committed: Checkpoint | null = null;
  rows = 0;
  checkpoints = 0;
  async load(): Promise<Checkpoint | null> {
    return this.committed;
  }
  async begin(): Promise<void> {}
  async checkpoint(checkpoint: Checkpoint, rows: number): Promise<void> {
    this.committed = checkpoint;
    this.rows = rows;
    this.checkpoints++;
  }
  async finish(result: { checkpoint: Checkpoint | null; rows: number; error?: string }): Promise<void> {
    if (result.error) throw new Error(result.error);
    this.committed = result.checkpoint;
    this.rows = result.rows;
  }
}
