/**
 * Running the end-user CLI as a user would: `node bin/sluice.js …` in a child process with a
 * home and config directory of its own, and reading what it printed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import { childEnv, runNode, type NodeRun } from './process.js';

export interface CliUser {
  /** A fresh home directory (the config directory is inside it). */
  home: string;
  sluice(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<NodeRun>;
  /** Starts a command and lets the test await its stderr lines as they are printed (a job's progress). */
  start(args: string[], env?: Record<string, string>): RunningCli;
  /** Runs with --json, expects exit 0 and a quiet stderr, and parses the one JSON document printed. */
  json(args: string[], env?: Record<string, string>): Promise<any>;
  /** `sluice login` with an email and password on stdin; expects it to succeed. */
  logIn(url: string, user: { email: string; password: string }): Promise<void>;
}

export interface RunningCli {
  /** The first stderr line `predicate` accepts, printed already or once it is; rejects if the command ends first. */
  stderrLine(predicate: (line: string) => boolean): Promise<string>;
  /** The whole run, once the command has exited. */
  done: Promise<NodeRun>;
}

export function cliUser(label: string): CliUser {
  const home = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  const env = { HOME: home, SLUICE_CONFIG_DIR: join(home, 'config') };
  const sluice: CliUser['sluice'] = (args, options = {}) => runNode(['bin/sluice.js', ...args], { env: { ...env, ...options.env }, input: options.input });
  return {
    home,
    sluice,
    start: (args, more) => startCli(args, { ...env, ...more }),
    async json(args, env) {
      const run = await sluice([...args, '--json'], { env });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      return JSON.parse(run.stdout);
    },
    async logIn(url, user) {
      const run = await sluice(['login', '--url', url, '--email', user.email, '--password-stdin'], { input: `${user.password}\n` });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    },
  };
}

/** A failure: exit `code`, nothing on stdout, the reason on stderr. */
export function expectFailure(run: NodeRun, code: number, pattern: RegExp): void {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code, stdout: '' });
  expect(run.stderr).toMatch(pattern);
}

function startCli(args: string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, ['bin/sluice.js', ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const printed: string[] = [];
  const waiters = new Set<() => void>();
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  createInterface({ input: child.stderr }).on('line', (line) => {
    printed.push(line);
    for (const wake of waiters) wake();
  });
  const done = new Promise<NodeRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    done,
    stderrLine(predicate) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = printed.find(predicate);
          if (line === undefined) return;
          waiters.delete(check);
          resolve(line);
        };
        waiters.add(check);
        check();
        done.then(({ code }) => {
          waiters.delete(check);
          reject(new Error(`sluice ${args[0]} exited (${code}) before the line awaited:\n${stderr}`));
        }, reject);
      });
    },
  };
}
