/**
 * Where the embedded PostgreSQL of a data directory listens, recorded in
 * `<dataDir>/embedded-postgres.json` when Sluice starts it. Two uses:
 * - the port stays the same across restarts (a tool pointed at it once keeps working): the
 *   next start asks for the recorded port again, and takes another only if that one is taken;
 * - operator commands (`sluice migrate`, `keys create`, `audit verify`, `worker`…) run beside
 *   a server that holds the database connect to the PostgreSQL it started instead of refusing.
 * No secret is recorded: the password is in `secrets.json`, beside it.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface EmbeddedAddress {
  host: string;
  port: number;
  /** The postmaster's process id, to tell whether the record is of the server running now. */
  pid: number;
  /** ISO time of the start that wrote the record. */
  startedAt: string;
}

export const ADDRESS_FILE = 'embedded-postgres.json';

export async function readEmbeddedAddress(dataDir: string): Promise<EmbeddedAddress | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dataDir, ADDRESS_FILE), 'utf8')) as Partial<EmbeddedAddress>;
    const valid = typeof parsed.host === 'string' && Number.isInteger(parsed.port) && Number.isInteger(parsed.pid);
    return valid ? (parsed as EmbeddedAddress) : undefined;
  } catch {
    // Absent (first start) or unreadable (written by hand): the start picks a port and rewrites it.
    return undefined;
  }
}

export async function recordEmbeddedAddress(dataDir: string, address: EmbeddedAddress): Promise<void> {
  const file = path.join(dataDir, ADDRESS_FILE);
  // Written beside and renamed over: a command reading it meanwhile never sees half a file.
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(address, null, 2)}\n`, { mode: 0o644 });
  await rename(partial, file);
}

/** The port and readiness a running postmaster wrote in its `postmaster.pid` (lines 4 and 8). */
export async function postmasterAddress(directory: string): Promise<{ pid: number; port: number; ready: boolean } | undefined> {
  try {
    const lines = (await readFile(path.join(directory, 'postmaster.pid'), 'utf8')).split('\n');
    const pid = Number.parseInt(lines[0] ?? '', 10);
    const port = Number.parseInt(lines[3] ?? '', 10);
    if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
    return { pid, port, ready: (lines[7] ?? '').trim() === 'ready' };
  } catch {
    return undefined;
  }
}
