/**
 * CPU use of local processes from /proc (Linux), so a benchmark can say which process was the
 * limit: the load generator, workerd, the fake origin or nginx all share this machine's cores.
 */
import { readdirSync, readFileSync } from "node:fs";

/** CPU time (ms) a process has used; NaN when it cannot be read (gone, or not Linux). */
export function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return NaN;
  }
}

/** Pids whose command line contains `needle`, e.g. the workerd processes Miniflare started. */
export function pidsMatching(needle: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
