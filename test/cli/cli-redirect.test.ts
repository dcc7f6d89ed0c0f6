/**
 * `sluice` does not follow redirects (it talks through the SDK, which refuses them): a `--url`
 * that answered 307 got the password of `sluice login`, or the stored session's single-use
 * refresh token, sent on to its Location. The compiled CLI in a child process, a redirector
 * and a sink (real HTTP servers, test/support/redirect.ts), and a real user of the real server.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliUser } from '../support/cli.js';
import { refresh, signUp, type SignedUp } from '../support/identity.js';
import { startRedirector, type Redirector } from '../support/redirect.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
// One redirector for both tests: each expects its sink to have received nothing.
let redirector: Redirector;
beforeAll(async () => {
  [server, redirector] = await Promise.all([startTestServer({ worker: false }), startRedirector()]);
  owner = await signUp(server);
});
afterAll(() => Promise.all([server?.close(), redirector?.close()]));

const refusal = ({ url, sinkUrl }: Redirector) =>
  `${url} answered 307, redirecting to ${sinkUrl}: redirects are not followed, since the request would go again with its body (passwords, tokens) to that address; use the final URL instead (--url or SLUICE_URL)\n`;

// Each command is a child process (the compiled CLI): most of a second each on a busy machine.
describe('sluice against a URL that redirects', { timeout: 120_000 }, () => {
  it('refuses to log in, exit 4 naming the Location, and sends the password nowhere', async () => {
    const run = await cliUser('redirect-login').sluice(['login', '--url', redirector.url, '--email', owner.email, '--password-stdin'], { input: `${owner.password}\n` });
    expect(redirector.received).toEqual([]);
    expect(run).toEqual({ code: 4, stdout: '', stderr: `sluice login: ${refusal(redirector)}` });
  });

  it('refuses to refresh the stored session there, and its refresh token stays unspent', async () => {
    const user = cliUser('redirect-session');
    await user.logIn(server.url, owner);
    // The server logged in to now redirects (a proxy's new rule, a hijacked host): the same
    // stored login, pointed at the redirector, with its access token expired so a refresh comes first.
    const file = join(user.home, 'config', 'credentials.json');
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...stored, url: redirector.url, session: { ...stored.session, expiresAt: 0 } }));
    const run = await user.sluice(['whoami', '--url', redirector.url]);
    expect(redirector.received).toEqual([]);
    expect(run).toEqual({ code: 4, stdout: '', stderr: `sluice whoami: ${refusal(redirector)}` });
    const { body } = await refresh(server, stored.session.refreshToken);
    expect(body.data?.refreshSession.accessToken).toEqual(expect.any(String));
  });
});
