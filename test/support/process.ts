/** The real `sluice` process, for start-up and shutdown tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SluiceProcess {
  child: ChildProcess;
  /** Parsed JSON log lines from stdout, as they arrive. */
  logs: Record<string, any>[];
  /** All output, raw (stdout then stderr interleaved as received). */
  output(): string;
  exit: Promise<number | null>;
  /** Resolves with the first log line `predicate` accepts. */
  waitForLog(predicate: (line: Record<string, any>) => boolean): Promise<Record<string, any>>;
}

/** `cwd`: the checkout to run (another one: a benchmark comparing two commits). */
export function spawnSluice(args: string[], env: Record<string, string | undefined>, cwd = process.cwd()): SluiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  const waiters: { predicate: (line: Record<string, any>) => boolean; resolve: (line: Record<string, any>) => void }[] = [];
  let raw = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    raw += `${line}\n`;
    let parsed: Record<string, any>;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    logs.push(parsed);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(parsed)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(parsed);
      }
    }
  });
  child.stderr!.on('data', (chunk) => (raw += String(chunk)));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    output: () => raw,
    exit,
    waitForLog(predicate) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Record<string, any>>((resolve) => waiters.push({ predicate, resolve })),
        exit.then((code) => {
          throw new Error(`sluice exited (${code}) before the expected log line:\n${raw}`);
        }),
      ]);
    },
  };
}

/** Starts `sluice serve` and resolves with its base URL once it listens. */
export async function serve(env: Record<string, string | undefined>, cwd?: string): Promise<SluiceProcess & { baseUrl: string }> {
  const proc = spawnSluice(['serve'], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }, cwd);
  const line = await proc.waitForLog((log) => typeof log.msg === 'string' && log.msg.startsWith('Sluice is listening on'));
  return Object.assign(proc, { baseUrl: String(line.url).replace(/\/graphql$/, '') });
}

/** SIGTERM, then the exit code. */
export async function stop(proc: SluiceProcess): Promise<number | null> {
  if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
  return proc.exit;
}
