/**
 * `sluice audit tail --follow --action config.apiKey.* --json` as a child process against the
 * real server: the followed events are the ones the server's filter selects (the CLI passes
 * --action to the subscription and filters nothing itself); SIGINT ends it with exit 0.
 * Lines are awaited as the CLI prints them, never by sleeping.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { cliUser } from '../support/cli.js';
import { createApiKey, signUp } from '../support/identity.js';
import { childEnv } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('sluice audit tail --follow', () => {
  it('streams only the events --action selects, filtered by the server', { timeout: 60_000 }, async () => {
    const owner = await signUp(server);
    const { home, logIn } = cliUser('audit-follow');
    await logIn(server.url, owner);
    const child = spawn(process.execPath, ['bin/sluice.js', 'audit', 'tail', '-n', '0', '--follow', '--action', 'config.apiKey.*', '--json'], {
      env: childEnv({ HOME: home, SLUICE_CONFIG_DIR: join(home, 'config') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines: { action: string; details: { after?: { name?: string } } }[] = [];
    const gotTwo = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(JSON.parse(line));
        if (lines.length >= 2) resolve();
      });
    });
    try {
      // The subscription has started, with the filter, once its own start is in the trail.
      const started = await auditEventsOf(server, owner.accessToken, 1, { action: 'graphql.subscription' }, 20_000, (event) => event.details?.operationName === 'AuditEventsLive');
      expect(started.find((event) => event.details?.operationName === 'AuditEventsLive')?.details.fields[0].arguments.filter).toEqual({ action: 'config.apiKey.*' });
      // Each key writes config.apiKey.create, then graphql.mutation (which the filter leaves
      // out). The stream's start point is read just after that start event is recorded, so
      // keys are made until two arrive rather than assuming the first is already after it.
      // One at a time: two creations in flight together may commit in either order, and the
      // trail (rightly) follows the commits, not the names.
      const written: { body: { errors?: unknown } }[] = [];
      let enough = false;
      const writer = (async () => {
        while (!enough) written.push(await createApiKey(server, owner.accessToken, { name: `key-${written.length}`, scopes: ['READ'] }));
      })();
      try {
        await Promise.race([gotTwo, writer, exit.then((code) => Promise.reject(new Error(`the CLI exited (${code}): ${stderr}`)))]);
      } finally {
        enough = true;
        await writer;
      }
      for (const write of written) expect(write.body.errors).toBeUndefined();
      expect(lines.map((line) => line.action)).toEqual(lines.map(() => 'config.apiKey.create'));
      const numbers = lines.map((line) => Number(/^key-(\d+)$/.exec(line.details.after?.name ?? '')?.[1]));
      expect(numbers.every(Number.isInteger)).toBe(true);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    } finally {
      child.kill('SIGINT');
    }
    expect(await exit).toBe(0);
    expect(stderr).toBe('');
  });
});
