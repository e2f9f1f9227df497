/** Timed sections: wall clock, this process's CPU, and the CPU the servers spent meanwhile. */
import type { CaseSpec } from "../cases/types";
import { cpuSeconds, load1 } from "./system";

export interface Timed {
  seconds: number;
  cpuUser: number;
  cpuSystem: number;
  natsCpu: number;
  dbCpu: number;
  load: number;
}

export async function timed(spec: CaseSpec, fn: () => Promise<void>): Promise<Timed> {
  const nats0 = cpuSeconds(spec.servers.nats);
  const db0 = cpuSeconds(spec.servers.db);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return {
    seconds,
    cpuUser: cpu.user / 1e6,
    cpuSystem: cpu.system / 1e6,
    natsCpu: cpuSeconds(spec.servers.nats) - nats0,
    dbCpu: cpuSeconds(spec.servers.db) - db0,
    load: load1(),
  };
}
