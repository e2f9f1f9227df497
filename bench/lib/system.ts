/**
 * What else runs on the machine: the nats-server and mariadbd processes the bench talks to
 * (found through /proc: the process listening on the port, else by name; only read, never
 * signalled) and their CPU seconds, so each run can say how much of a core the servers used,
 * and the load average the run was measured under.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { loadavg } from "node:os";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

export function findPid(comm: string): number | null {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === comm) return Number(entry);
      } catch {
        // the process went away meanwhile
      }
    }
  } catch {
    // no /proc (not Linux): no server CPU figures
  }
  return null;
}

/** The process listening on TCP `port` (tests may run private servers of the same name). */
export function findListener(port: number): number | null {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is field 10.
        if (f.length > 9 && f[3] === "0A" && Number.parseInt(f[1]?.split(":")[1] ?? "", 16) === port) inodes.add(f[9] as string);
      }
    } catch {
      // no such table
    }
  }
  if (inodes.size === 0) return null;
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
          if (link.startsWith("socket:[") && inodes.has(link.slice(8, -1))) return Number(pid);
        } catch {
          // closed meanwhile
        }
      }
    }
  } catch {
    // no /proc
  }
  return null;
}

/** User + system CPU seconds of a process, or NaN when it cannot be read. */
export function cpuSeconds(pid: number | null | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return Number.NaN;
  }
}

export function load1(): number {
  return loadavg()[0] as number;
}
