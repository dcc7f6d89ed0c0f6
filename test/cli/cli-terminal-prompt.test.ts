/**
 * The CLI's confirmation prompt at a real terminal (a pseudo-terminal from util-linux's `script`)
 * quotes the server's data, a document's source key; it never drives the terminal. A key stored
 * before ingestion cleaned records' ids (set here in the database, as such a key would be) held
 * an OSC 52 sequence, which writes the terminal's clipboard, and an OSC 0 window title; the
 * prompt printed them raw. Escape sequences readline writes itself (cursor moves) are CSI, not
 * OSC: the test looks for OSC and for the hidden text's own sequences.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliUser } from '../support/cli.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { asOwner } from '../support/locks.js';
import { childEnv } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
const { home, sluice, json, logIn } = cliUser('cli-prompt');

beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server);
  await logIn(server.url, owner);
});
afterAll(async () => {
  await server?.close();
});

/** Runs the CLI at a pseudo-terminal, answers `answer` once the prompt is shown, and returns what the terminal received. */
function atTerminal(args: string[], answer: string): Promise<{ code: number | null; screen: string }> {
  const command = ['node', 'bin/sluice.js', ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: childEnv({ HOME: home, SLUICE_CONFIG_DIR: join(home, 'config'), TERM: 'xterm' }), stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let answered = false;
  child.stdout.on('data', (chunk) => {
    screen += String(chunk);
    if (!answered && screen.includes('to confirm:')) {
      answered = true;
      child.stdin.write(`${answer}\r`);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

it('shows a source key holding escape sequences without them, and deletes only when the shown key is typed', { timeout: 120_000 }, async () => {
  expect((await sluice(['datasets', 'create', 'handbook', '--name', 'Handbook'])).code).toBe(0);
  const file = join(home, 'old.jsonl');
  writeFileSync(file, `${JSON.stringify({ id: '1', title: 'Old handbook', text: 'The lock keeper opens the gates.' })}\n`);
  expect((await sluice(['ingest', 'handbook', file, '--json-id-field', 'id'])).code).toBe(0);
  const hostile = 'old.jsonl#1\u001b]52;c;ZWNobyBwd25lZA==\u0007\u001b[2K\u001b[1Ghidden\u001b]0;PWNED-TITLE\u0007';
  await asOwner(server, (client) => client.query(`update documents set source_key = $1 where source_key = 'old.jsonl#1'`, [hostile]));

  const refused = await atTerminal(['documents', 'delete', 'handbook', 'Old handbook'], 'no');
  expect(refused.code).toBe(1);
  expect(refused.screen).toContain('This deletes document old.jsonl#1hidden with its 1 chunks for good. Type old.jsonl#1hidden to confirm:');
  expect(refused.screen).not.toContain('\u001b]');
  expect(refused.screen).not.toContain('\u001b[2K\u001b[1Ghidden');
  expect(refused.screen).toContain('not confirmed; nothing was deleted');

  const confirmed = await atTerminal(['documents', 'delete', 'handbook', 'Old handbook'], 'old.jsonl#1hidden');
  expect(confirmed.code).toBe(0);
  expect(confirmed.screen).not.toContain('\u001b]');
  expect(await json(['documents', 'list', 'handbook'])).toEqual([]);
});
