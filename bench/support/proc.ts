/** What the benchmarks read of a process from /proc (Linux only): memory and CPU time. */
import { readFile } from 'node:fs/promises';

/** What a process holds now (VmRSS) and at most so far (VmHWM), in bytes, from /proc. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const value = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
    if (!value) throw new Error(`no ${field} in /proc/${pid}/status: memory is measured on Linux only`);
    return Number(value) * 1024;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. Per request,
 * this is the figure least disturbed by other work on a shared machine: contention lowers
 * throughput, but barely changes what one request costs.
 */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100;

export const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
