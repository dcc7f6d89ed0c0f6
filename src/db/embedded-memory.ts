/**
 * How much memory the embedded PostgreSQL keeps pages in (`shared_buffers`).
 *
 * PostgreSQL's own default, 128 MB, is sized to start on any machine, not to serve: a search
 * over a large dataset then reads most of its pages back from the operating system's cache on
 * every question (measured 2026-12-04 on 1 M chunks: 40 questions asked a second time read
 * 18 021 pages again, and took 1.7 times as long as with their pages held; docs/benchmarks.md).
 * PostgreSQL's documentation gives a quarter of the machine's memory as the reasonable
 * starting point for a server, and managed services set about that; so does Sluice, within
 * the memory the process may use (a container's limit, not the host's) and at most 8 GB.
 * PostgreSQL takes that memory only as it reads pages into it. `SLUICE_EMBEDDED_SHARED_BUFFERS`
 * sets another amount (passed as `-c`, it overrides the cluster's own configuration files); a
 * server behind DATABASE_URL is configured by whoever runs it.
 */
import os from 'node:os';

const MB = 1024 * 1024;
/** PostgreSQL's default, and the least Sluice sets. */
const FLOOR_MB = 128;
const CEILING_MB = 8 * 1024;

/** `shared_buffers` for a machine whose usable memory is `memoryBytes` (a quarter of it, in MB, between 128 MB and 8 GB). */
export function sharedBuffersFor(memoryBytes: number): string {
  const quarter = Math.floor(memoryBytes / 4 / MB);
  return `${Math.min(CEILING_MB, Math.max(FLOOR_MB, quarter))}MB`;
}

/** The memory this process may use: the machine's, or its container's limit when lower. */
export function usableMemory(): number {
  const total = os.totalmem();
  // Node's cgroup reading: 0 or undefined without a limit, or a huge number for "max".
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 && constrained < total ? constrained : total;
}

/** The server settings the embedded PostgreSQL starts with: `configured` (SLUICE_EMBEDDED_SHARED_BUFFERS) or the machine's quarter. */
export function embeddedMemorySettings(configured: string | undefined): { shared_buffers: string } {
  return { shared_buffers: configured ?? sharedBuffersFor(usableMemory()) };
}
