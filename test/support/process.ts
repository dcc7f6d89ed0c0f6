/**
 * Child processes of the tests: the real `sluice` (start-up, shutdown, operator commands) and
 * plain `node` scripts. Every one gets its environment from `childEnv`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TEST_JWT_SECRET, TEST_MASTER_KEY } from './config.js';

/** A child's environment: `undefined` leaves a variable out. */
export type Env = Record<string, string | undefined>;

/**
 * What a child `sluice` needs to run against a test database: the test secrets and the
 * database's two URLs. `extra` adds or overrides settings.
 */
export function sluiceEnv(database: { ownerUrl: string; appUrl: string }, extra: Env = {}): Env {
  return {
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    SLUICE_MASTER_KEY: TEST_MASTER_KEY,
    DATABASE_URL: database.ownerUrl,
    DATABASE_APP_URL: database.appUrl,
    ...extra,
  };
}

/** The environment of every child process a test starts: no variable of the test run leaks in. */
export function childEnv(env: Env): Env {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

/** What a local `sluice` runs with, as on a developer's machine: its own data directory. */
export function developmentEnv(dataDir: string, extra: Env = {}): Env {
  return { NODE_ENV: 'development', SLUICE_DATA_DIR: dataDir, ...extra };
}

/**
 * `node` arguments that run Sluice from this checkout, as `npm start` does: the compiled
 * JavaScript in dist/, which global-setup.ts brings up to date once before any test starts (so
 * no two children compile at once). Through tsx every child compiled the sources again: about a
 * second more per start, some 50 starts a run.
 */
const SLUICE_MAIN = ['bin/sluice.js'];

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node …args` to its end in `childEnv(env)`, with `input` on its standard input. Resolves
 * whatever the exit code: the caller asserts on it.
 */
export function runNode(args: string[], options: { env?: Env; input?: string; cwd?: string } = {}): Promise<NodeRun> {
  const child = spawn(process.execPath, args, { cwd: options.cwd ?? process.cwd(), env: childEnv(options.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `runNode` that rejects, as `execFile` does, unless the exit code is 0: the error carries `code`, `stdout` and `stderr`. */
export async function execNode(args: string[], options: { env?: Env; cwd?: string } = {}): Promise<NodeRun> {
  const run = await runNode(args, options);
  if (run.code !== 0) throw Object.assign(new Error(`node exited with ${run.code}:\n${run.stderr}`), run);
  return run;
}

/** An operator command (`sluice audit verify …`) run to its end, whatever its exit code: the caller asserts on it. */
export function runSluice(args: string[], env: Env): Promise<NodeRun> {
  return runNode([...SLUICE_MAIN, ...args], { env });
}

/** An operator command (`sluice keys create …`) run to its end, rejecting on a non-zero exit like `execNode`. */
export function execSluice(args: string[], env: Env): Promise<NodeRun> {
  return execNode([...SLUICE_MAIN, ...args], { env });
}

export interface SpawnOptions {
  /** The checkout to run (another one: a benchmark comparing two commits). */
  cwd?: string;
  /**
   * Its own process group (a terminal's job), so a test can signal the whole group as Ctrl-C
   * does: `process.kill(-child.pid, 'SIGINT')`.
   */
  processGroup?: boolean;
}

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

export function spawnSluice(args: string[], env: Env, options: string | SpawnOptions = {}): SluiceProcess {
  const { cwd = process.cwd(), processGroup = false } = typeof options === 'string' ? { cwd: options } : options;
  const child = spawn(process.execPath, [...SLUICE_MAIN, ...args], {
    cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: processGroup,
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
  // 'close', not 'exit': by then every line it wrote has been read (its last log line included).
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
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
export async function serve(env: Env, options?: string | SpawnOptions): Promise<SluiceProcess & { baseUrl: string }> {
  const proc = spawnSluice(['serve'], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }, options);
  const line = await proc.waitForLog((log) => typeof log.msg === 'string' && log.msg.startsWith('Sluice is listening on'));
  return Object.assign(proc, { baseUrl: String(line.url).replace(/\/graphql$/, '') });
}

/** SIGTERM, then the exit code. */
export async function stop(proc: SluiceProcess): Promise<number | null> {
  if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
  return proc.exit;
}
