/**
 * Running the end-user CLI as a user would: `node bin/sluice.js …` in a child process with a
 * home and config directory of its own, and reading what it printed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runNode, type NodeRun } from './process.js';

export interface CliUser {
  /** A fresh home directory (the config directory is inside it). */
  home: string;
  sluice(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<NodeRun>;
  /** Runs with --json, expects exit 0 and a quiet stderr, and parses the one JSON document printed. */
  json(args: string[], env?: Record<string, string>): Promise<any>;
  /** `sluice login` with an email and password on stdin; expects it to succeed. */
  logIn(url: string, user: { email: string; password: string }): Promise<void>;
}

export function cliUser(label: string): CliUser {
  const home = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  const sluice: CliUser['sluice'] = (args, options = {}) =>
    runNode(['bin/sluice.js', ...args], { env: { HOME: home, SLUICE_CONFIG_DIR: join(home, 'config'), ...options.env }, input: options.input });
  return {
    home,
    sluice,
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
