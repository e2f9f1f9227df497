/** Runs the service in-process (as main.ts does) against a test config. */

import { readFileSync } from "node:fs";
import pino from "pino";
import { createService } from "../../src/app";
import { parseConfig } from "../../src/config/load";
import type { CycleResult } from "../../src/pipeline/cycle";

export const quietLog = pino({ level: "silent" });

export async function runOnce(configFile: string): Promise<CycleResult | null> {
  const config = parseConfig(readFileSync(configFile, "utf8"), configFile, {});
  const service = await createService(config, quietLog);
  try {
    return await service.run({ once: true, stop: new AbortController().signal, kill: new AbortController().signal });
  } finally {
    await service.close();
  }
}

/** Starts the long-lived loop; `stop()` asks it to finish like SIGTERM does. */
export async function startLoop(configFile: string): Promise<{ done: Promise<CycleResult | null>; stop: () => Promise<CycleResult | null> }> {
  const config = parseConfig(readFileSync(configFile, "utf8"), configFile, {});
  const service = await createService(config, quietLog);
  const stop = new AbortController();
  const done = service.run({ once: false, stop: stop.signal, kill: new AbortController().signal }).finally(() => service.close());
  return {
    done,
    stop: async () => {
      stop.abort();
      return done;
    },
  };
}
