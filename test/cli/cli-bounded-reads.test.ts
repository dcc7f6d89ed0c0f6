/**
 * `sluice` against a server gone wrong ends with a bounded error instead of growing without
 * end: an answer that never ends (whoami read it whole, past 2.6 GB in 20 s), pages that never
 * end (keys list asked for page after page), a server that never answers (fetch waited five
 * minutes for the headers). The compiled CLI in a child process against a small hostile HTTP
 * server of the test's own (node:http, test/support/hostile-server.ts): the real server does
 * not misbehave. Ordinary use under the same bounds is the rest of test/cli.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { cliUser } from '../support/cli.js';
import { endlessJson, silence, startHostileServer, type HostileServer } from '../support/hostile-server.js';

let hostile: HostileServer | undefined;
afterEach(() => hostile?.close());

/** A page of API keys (one a page) that always says there is another, after `cursor(index)`. */
function keysPage(cursor: (index: number) => string) {
  return (response: ServerResponse, _body: unknown, index: number) => {
    const key = { id: `key-${index}`, name: `key ${index}`, prefix: 'slk_Ab3dEf', scopes: ['read'], createdAt: '2026-12-01T00:00:00.000Z', expiresAt: null, lastUsedAt: null, revokedAt: null };
    const page = { edges: [{ cursor: cursor(index), node: key }], pageInfo: { hasNextPage: true, endCursor: cursor(index) } };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { viewer: { tenant: { apiKeys: page } } } }));
  };
}

// Each command is a child process (the compiled CLI): most of a second each on a busy machine.
describe('sluice against a hostile server', { timeout: 120_000 }, () => {
  it('whoami refuses an answer that never ends past 16 MiB (exit 4)', async () => {
    hostile = await startHostileServer(endlessJson);
    const run = await cliUser('hostile-whoami').sluice(['whoami', '--url', hostile.url]);
    expect(run).toEqual({
      code: 4,
      stdout: '',
      stderr: `sluice whoami: ${hostile.url} sent an answer larger than 16777216 bytes (maxResponseBytes): the rest was not read: is Sluice running there? (--url or SLUICE_URL)\n`,
    });
    await hostile.hungUp();
  });

  it('keys list stops after 10 000 pages that never end (exit 1)', async () => {
    hostile = await startHostileServer(keysPage((index) => `cursor-${index}`));
    const run = await cliUser('hostile-pages').sluice(['keys', 'list', '--url', hostile.url], { env: { SLUICE_API_KEY: 'slk_whatever' } });
    expect(run).toEqual({ code: 1, stdout: '', stderr: "sluice keys list: the server's pages did not end: stopped after 10000 pages (10000 items)\n" });
    expect(hostile.received.length).toBe(10_000);
  });

  it('keys list stops when a cursor comes round again (exit 1)', async () => {
    hostile = await startHostileServer(keysPage((index) => `cursor-${index % 3}`));
    const run = await cliUser('hostile-circle').sluice(['keys', 'list', '--url', hostile.url], { env: { SLUICE_API_KEY: 'slk_whatever' } });
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: "sluice keys list: the server's pages go round in a circle (page 5 would start at a cursor it gave before): stopped after 4 pages\n",
    });
    expect(hostile.received.map(({ body }) => body.variables.after ?? null)).toEqual([null, 'cursor-0', 'cursor-1', 'cursor-2']);
  });

  it('whoami gives up on a server that never answers after --timeout, or SLUICE_TIMEOUT (exit 4)', async () => {
    hostile = await startHostileServer(silence);
    const user = cliUser('hostile-timeout');
    const said = (ms: number) =>
      `sluice whoami: ${hostile!.url} did not answer within ${ms} ms: is Sluice running there? (--url or SLUICE_URL; --timeout or SLUICE_TIMEOUT to wait longer)\n`;
    expect(await user.sluice(['whoami', '--url', hostile.url, '--timeout', '0.5'])).toEqual({ code: 4, stdout: '', stderr: said(500) });
    expect(await user.sluice(['whoami', '--url', hostile.url], { env: { SLUICE_TIMEOUT: '0.3' } })).toEqual({ code: 4, stdout: '', stderr: said(300) });
    expect(await user.sluice(['whoami', '--url', hostile.url, '--timeout', 'soon'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'sluice whoami: --timeout must be a number of seconds up to 2147483 (0: wait as long as it takes)\n',
    });
    // Past what a timer holds, every request would have failed at once ("did not answer within").
    expect(await user.sluice(['whoami', '--url', hostile.url], { env: { SLUICE_TIMEOUT: '2147484' } })).toEqual({
      code: 2,
      stdout: '',
      stderr: 'sluice whoami: SLUICE_TIMEOUT must be a number of seconds up to 2147483 (0: wait as long as it takes)\n',
    });
  });
});
