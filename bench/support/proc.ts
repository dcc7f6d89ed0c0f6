/** What the benchmarks read of a process from /proc (Linux only): memory and CPU time. */
import { readdir, readFile } from 'node:fs/promises';

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

/**
 * CPU seconds (user + system) a PostgreSQL server on this machine has used so far, all its
 * processes: the postmaster's own and its reaped children's (cutime, cstime), plus every live
 * child's (backends, checkpointer, walwriter, autovacuum). Only meaningful for a server the
 * benchmark alone uses (the embedded one), never for a shared server.
 */
export async function serverCpuSecondsOf(postmasterPid: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue; // exited meanwhile: its time is in the postmaster's cutime now
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(entry) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    else if (Number(fields[1]) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}
