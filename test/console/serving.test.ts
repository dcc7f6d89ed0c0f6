/**
 * How the console is served, and what the retired classic page's test checked that the
 * application's tests did not: the page and bundle with their Content-Security-Policy and
 * types, nothing else under /console (no file reached by path), the classic addresses
 * redirected to the application, WebSocket upgrades from the page's own origin only, and, in a
 * real Chromium, sign-in refusals (wrong password, the per-email rate limit, said with their
 * codes), the session kept in this tab's sessionStorage only, and a session ended elsewhere
 * taking the page back to sign-in, which says so. Real server and PostgreSQL.
 *
 * The browser part needs Debian's chromium at /usr/bin/chromium: skipped without it, unless
 * SLUICE_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CONSOLE_POLICY } from '../../src/platform/http/security-headers.js';
import { browserSkipReason, sharedChromium, networkSettled } from '../support/browser.js';
import { consolePage, signInThroughConsole } from '../support/console-view.js';
import { must } from '../support/endpoints.js';
import { signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skipReason = browserSkipReason('test/console/serving');
const API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

describe('the console, as served', () => {
  let server: TestServer;
  let owner: SignedUp;
  let browser: Browser | undefined;

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        // No origin of its own on the allow-list: the page's WebSocket must pass as same-origin.
        CORS_ORIGINS: 'https://elsewhere.example.test',
        // Sign-in limits on (three attempts per email), everything else out of the way.
        SLUICE_RATE_LIMITS: 'on',
        SLUICE_AUTH_LIMIT_PER_EMAIL: '3/15m',
        SLUICE_AUTH_LIMIT_PER_IP: '1000/15m',
        SLUICE_RATE_LIMIT_PER_SECOND: '1000',
        SLUICE_RATE_LIMIT_BURST: '1000',
        SLUICE_IP_RATE_LIMIT_PER_SECOND: '1000',
        SLUICE_IP_RATE_LIMIT_BURST: '1000',
      },
    });
    owner = await signUp(server, { tenantName: 'Harbour Works' });
    if (!skipReason) browser = await sharedChromium();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the application at /console/ and every in-app path, its bundle, with the console Content-Security-Policy; nothing else', async () => {
    const redirect = await fetch(`${server.baseUrl}/console`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([308, '/console/']);
    for (const path of ['/console/', '/console/datasets/some-slug']) {
      const page = await fetch(`${server.baseUrl}${path}`);
      expect({ path, status: page.status, type: page.headers.get('content-type'), csp: page.headers.get('content-security-policy'), frames: page.headers.get('x-frame-options') }).toEqual({
        path,
        status: 200,
        type: 'text/html; charset=utf-8',
        csp: CONSOLE_POLICY,
        frames: 'DENY',
      });
      expect(await page.text()).toContain('<script type="module" src="/console/assets/app.js"></script>');
    }
    for (const file of ['assets/app.js', 'assets/app.css']) {
      const response = await fetch(`${server.baseUrl}/console/${file}`);
      expect({ file, status: response.status, csp: response.headers.get('content-security-policy') }).toEqual({ file, status: 200, csp: CONSOLE_POLICY });
      expect(response.headers.get('content-type')).toMatch(file.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      // One bundle: a browser cannot resolve bare imports, and the page loads nothing else.
      const imports = [...(await response.text()).matchAll(/^\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]/gm)].map(([, path]) => path);
      expect(imports).toEqual([]);
    }
    expect((await fetch(`${server.baseUrl}/console/../src/config.ts`)).status).not.toBe(200);
    for (const path of ['/console/serve.ts', '/console/app/main.tsx', '/console/assets/other.js']) expect({ path, status: (await fetch(`${server.baseUrl}${path}`)).status }).toEqual({ path, status: 404 });
    expect((await fetch(`${server.baseUrl}/console/`, { method: 'POST', body: 'x' })).status).toBe(405);
    // The API (and a path that only starts like the console's) keeps its own policy.
    const api = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { kind } }"}' });
    expect(api.headers.get('content-security-policy')).toBe(API_POLICY);
    expect((await fetch(`${server.baseUrl}/consoles`)).headers.get('content-security-policy')).toBe(API_POLICY);
  });

  it("redirects the retired classic page's addresses to the application's datasets view, permanently", async () => {
    for (const path of ['/console/classic', '/console/classic/', '/console/classic/main.js', '/console/classic/vendor/graphql-ws/client.js']) {
      const response = await fetch(`${server.baseUrl}${path}`, { redirect: 'manual' });
      expect({ path, status: response.status, location: response.headers.get('location') }).toEqual({ path, status: 308, location: '/console/datasets' });
    }
  });

  it("accepts the WebSocket of a page of the server's own origin, not of look-alikes, whatever CORS_ORIGINS lists", async () => {
    const own = new URL(server.baseUrl);
    const upgrade = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { origin });
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
      });
    expect(await upgrade(own.origin)).toBe(101);
    expect(await upgrade(`https://${own.host}`)).toBe(101);
    expect(await upgrade('https://evil.example')).toBe(403);
    expect(await upgrade(`http://${own.hostname}.evil.example:${own.port}`)).toBe(403);
    expect(await upgrade(`http://${own.hostname}:1`)).toBe(403);
  });

  it.skipIf(skipReason !== undefined)(
    `lets the page open its own WebSocket and no other${skipReason ? ` (${skipReason})` : ''}`,
    { timeout: 60_000 },
    async () => {
      // connect-src listed ws: and wss:, every host: a script on the console's origin could
      // send the session's tokens to any WebSocket server (attacker review, December).
      const elsewhere = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      let reached = 0;
      elsewhere.on('connection', (socket) => {
        reached += 1;
        socket.close();
      });
      await new Promise((resolve) => elsewhere.once('listening', resolve));
      const context = await browser!.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${server.baseUrl}/console/sign-in`);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        const attempt = (url: string, protocol?: string) =>
          page.evaluate(
            ([target, subprotocol]) =>
              new Promise<string>((resolve) => {
                const violations: string[] = [];
                document.addEventListener('securitypolicyviolation', (event) => violations.push(event.effectiveDirective));
                // The page's own WebSocket: the name in this file is the ws package's.
                const PageSocket = window.WebSocket;
                let socket: InstanceType<typeof PageSocket>;
                try {
                  socket = subprotocol ? new PageSocket(target!, subprotocol) : new PageSocket(target!);
                } catch (error) {
                  return resolve(`refused: ${(error as Error).name}`);
                }
                socket.onopen = () => {
                  socket.close();
                  resolve('opened');
                };
                socket.onerror = () => setTimeout(() => resolve(`error: ${violations.join(',')}`), 0);
              }),
            [url, protocol] as const,
          );
        const port = (elsewhere.address() as { port: number }).port;
        expect(await attempt(server.wsUrl, 'graphql-transport-ws')).toBe('opened');
        expect(await attempt(`ws://127.0.0.1:${port}/`)).toMatch(/^(refused: SecurityError|error: connect-src)$/);
        expect(reached).toBe(0);
      } finally {
        await context.close();
        await new Promise((resolve) => elsewhere.close(resolve));
      }
    },
  );

  it.skipIf(skipReason !== undefined)(
    `says why sign-in is refused, keeps the session in this tab only, and returns to sign-in when it ends elsewhere${skipReason ? ` (${skipReason})` : ''}`,
    { timeout: 120_000 },
    async () => {
      const { context, page, blocked, problems } = await consolePage(browser!, server.baseUrl);
      try {
        // The old address of the classic page lands on the application (signed out: its sign-in view).
        await page.goto(`${server.baseUrl}/console/classic/`);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await networkSettled(page);

        // An unknown account three times, then the per-email limit, then a wrong password.
        const stranger = uniqueEmail('stranger');
        const refusal = page.getByRole('alert');
        for (const expected of [/Invalid email or password\s*UNAUTHENTICATED/, /Invalid email or password\s*UNAUTHENTICATED/, /Invalid email or password\s*UNAUTHENTICATED/, /Too many sign-in attempts.*RATE_LIMITED/]) {
          await signIn(page, stranger, 'not the password');
          await refusal.filter({ hasText: expected }).waitFor();
        }
        await signIn(page, owner.email, 'wrong password!');
        await refusal.filter({ hasText: /Invalid email or password/ }).waitFor();
        expect(new URL(page.url()).pathname).toBe('/console/sign-in');

        await signInThroughConsole(page, server.baseUrl, owner);
        // The datasets view loaded before the reload (its queries answered, not cut off).
        await networkSettled(page);
        // The session stays in this tab's sessionStorage, never in localStorage; a reload keeps it.
        expect(await page.evaluate(() => [localStorage.length, Object.keys(sessionStorage)])).toEqual([0, ['sluice.console.app']]);
        await page.reload();
        await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
        await networkSettled(page);

        // The session ended elsewhere: the page's next request takes it back to sign-in, which says so.
        const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? '{}').tokens.accessToken as string);
        await must(server, token, 'mutation { logOut }');
        await page.getByRole('link', { name: 'Members', exact: true }).click();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await page.getByText(/Your session ended .*sign in again/).waitFor();
        expect(await page.evaluate(() => sessionStorage.getItem('sluice.console.app'))).toBeNull();

        expect(blocked).toEqual([]);
        expect(problems.unexpected()).toEqual([]);
        // The refusals asked for above, and the request made after the session ended.
        expect(problems.refusedStatuses().slice(0, 5)).toEqual([401, 401, 401, 429, 401]);
      } finally {
        await context.close();
      }
    },
  );
});

async function signIn(page: Page, email: string, password: string) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForResponse((response) => response.url().endsWith('/graphql')), page.getByRole('button', { name: 'Sign in' }).click()]);
}
