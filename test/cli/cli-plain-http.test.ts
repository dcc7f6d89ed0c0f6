/**
 * `sluice` refuses plain http to a host other than this machine's loopback: `login` sent the
 * password there in the clear, and every other command the session's tokens or the API key (the
 * ws:// of its subscriptions too), with no word of warning. Allowed with --insecure-http or
 * SLUICE_ALLOW_INSECURE_HTTP=1, and then said on stderr every time. The compiled CLI in a child
 * process against the real server, reached through a TCP proxy listening on one of the
 * machine's non-loopback addresses (what a server across a network looks like to the CLI).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliUser, expectFailure } from '../support/cli.js';
import { createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/** An IPv4 address of this machine that is not loopback, if it has one. */
const remoteAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;

let server: TestServer;
let owner: SignedUp;
let proxy: TcpProxy;
/** The real server's GraphQL URL as seen across a network: http:// to a non-loopback address. */
let remoteUrl: string;

beforeAll(async () => {
  if (!remoteAddress) return;
  server = await startTestServer({ worker: false });
  owner = await signUp(server);
  const target = new URL(server.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) }, { listenOn: remoteAddress });
  remoteUrl = proxy.through(server.url);
});
afterAll(() => Promise.all([server?.close(), proxy?.close()]));

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The one line of a refusal, after `sluice <command>: `. */
const refusal = () =>
  new RegExp(
    `^sluice [a-z ]+: ${escaped(`refusing plain http to ${new URL(remoteUrl).host}: your password, session tokens or API key would cross the network unencrypted; use https, or --insecure-http (SLUICE_ALLOW_INSECURE_HTTP=1) to send them anyway`)}\n$`,
  );
const warning = () => `sluice: warning: plain http to ${new URL(remoteUrl).host}: your password, session tokens or API key cross the network unencrypted\n`;

// Each command is a child process (the compiled CLI): most of a second each on a busy machine.
describe.skipIf(!remoteAddress)('sluice over plain http to another host', { timeout: 120_000 }, () => {
  it('refuses to send a password, an API key or a stored session there (exit 2), and nothing reaches the server', async () => {
    const user = cliUser('plain-http-refused');
    const login = await user.sluice(['login', '--url', remoteUrl, '--email', owner.email, '--password-stdin'], { input: `${owner.password}\n` });
    expectFailure(login, 2, refusal());

    const key = (await createApiKey(server, owner.accessToken, { name: 'plain-http', scopes: ['READ'] })).body.data.createApiKey.secret;
    expectFailure(await user.sluice(['whoami'], { env: { SLUICE_URL: remoteUrl, SLUICE_API_KEY: key } }), 2, refusal());

    // A login stored for this server (made with the opt-in): a later command without it refuses
    // too, before its refresh token or access token goes anywhere.
    await user.logIn(server.url, owner);
    const file = join(user.home, 'config', 'credentials.json');
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...stored, url: remoteUrl, session: { ...stored.session, expiresAt: 0 } }));
    expectFailure(await user.sluice(['whoami']), 2, refusal());
    expectFailure(await user.sluice(['datasets', 'list']), 2, refusal());
    // logout still forgets the login here (it must not depend on the server), without sending
    // the session's token in the clear to tell it.
    expect(await user.sluice(['logout'])).toEqual({
      code: 0,
      stdout: `Logged out of ${remoteUrl} (the server was not told: its session token would cross the network unencrypted; the session ends when it expires)\n`,
      stderr: '',
    });
    expect(() => readFileSync(file)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(proxy.counts.passed).toBe(0);
  });

  it('sends them with --insecure-http or SLUICE_ALLOW_INSECURE_HTTP=1, saying so on stderr each time', async () => {
    const user = cliUser('plain-http-allowed');
    const login = await user.sluice(['login', '--url', remoteUrl, '--email', owner.email, '--password-stdin', '--insecure-http'], { input: `${owner.password}\n` });
    expect(login).toEqual({ code: 0, stdout: `Logged in to ${remoteUrl} as ${owner.email} (tenant ${owner.tenant.slug}, OWNER)\n`, stderr: warning() });

    const whoami = await user.sluice(['whoami', '--json'], { env: { SLUICE_ALLOW_INSECURE_HTTP: '1' } });
    expect({ code: whoami.code, stderr: whoami.stderr }).toEqual({ code: 0, stderr: warning() });
    expect(JSON.parse(whoami.stdout)).toMatchObject({ url: remoteUrl, kind: 'USER', email: owner.email });
    // Any other value is no opt-in.
    expectFailure(await user.sluice(['whoami'], { env: { SLUICE_ALLOW_INSECURE_HTTP: 'yes' } }), 2, refusal());
  });

  it('says nothing for loopback (localhost, 127.0.0.0/8, ::1) and refuses other schemes as before', async () => {
    const user = cliUser('plain-http-loopback');
    const port = new URL(server.url).port;
    for (const url of [server.url, `http://localhost:${port}/graphql`]) {
      const catalog = await user.sluice(['catalog', '--url', url, '--json']);
      expect({ url, code: catalog.code, stderr: catalog.stderr }).toEqual({ url, code: 0, stderr: '' });
    }
    // ::1 and the rest of 127/8 are loopback too: refused only as unreachable (nothing listens there), never as plain http.
    for (const url of ['http://[::1]:9/graphql', 'http://127.1.2.3:9/graphql']) {
      const run = await user.sluice(['catalog', '--url', url]);
      expect({ url, code: run.code }).toEqual({ url, code: 4 });
      expect(run.stderr).not.toContain('plain http');
    }
    expectFailure(await user.sluice(['catalog', '--url', 'ftp://example.com/graphql']), 2, /must be an http or https URL/);
  });
});
