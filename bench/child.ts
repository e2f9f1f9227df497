/**
 * One case run in its own process (forked by bench/run.ts): receives a CaseSpec over IPC, runs
 * it, answers with a CaseResult including this process's peak RSS, and exits.
 */

import { runPipeline } from "./cases/pipeline";
import { runCore, runStock } from "./cases/references";
import { runSink, runSource } from "./cases/stages";
import type { CaseResult, CaseSpec } from "./cases/types";
import { runV7 } from "./cases/v7";

const runners = { stock: runStock, core: runCore, v7: runV7, pipeline: runPipeline, source: runSource, sink: runSink };

async function main(spec: CaseSpec): Promise<CaseResult> {
  const r = await runners[spec.kind](spec);
  // maxRSS is in kilobytes.
  return { ...r, maxRssMB: process.resourceUsage().maxRSS / 1024 };
}

process.once("message", (spec: CaseSpec) => {
  main(spec).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (err: unknown) => process.send?.({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
  );
});
