/**
 * SIGTERM while a real `sluice serve` process is busy: no request it accepted is cut, and no
 * audit event is lost.
 *
 * - 100 "held" requests (half `createDataset` mutations, half queries) have their headers and
 *   half their body on the server before the signal; the rest of each body is sent after the
 *   server has logged that it is shutting down. Every one must get a complete 200 answer.
 * - 100 "racing" requests are sent a few milliseconds apart around the signal: each either
 *   gets a complete 200 answer or never reaches the server (connection refused, or closed
 *   before a byte of it was read); both are counted, nothing in between is allowed.
 * - Every operation is audited once (`graphql.<type>`, src/plugins/audit.ts), with the
 *   caller's `x-request-id`: once the process has exited, the tenant's trail holds exactly
 *   one event per request answered, and the tenant has exactly one dataset per mutation
 *   answered.
 */
import { request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { AccessTokens } from '../../src/domains/identity/access-token.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { serve, sluiceEnv, stop, type SluiceProcess } from '../support/process.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { TEST_JWT_SECRET } from '../support/server.js';

const HELD = 100;
const RACING = 100;

let database: TestDatabase;
let sluice: (SluiceProcess & { baseUrl: string }) | undefined;
let tenant: SeededTenant;
let token: string;

beforeAll(async () => {
  database = await createTestDatabase();
  tenant = await seedTenant(database.ownerUrl);
  const user = tenant.users[0]!;
  ({ token } = await new AccessTokens(TEST_JWT_SECRET, 900).sign({ userId: user.id, email: user.email, tenantId: tenant.id, tenantSlug: tenant.slug, role: user.role }));
  sluice = await serve(sluiceEnv(database, {
    SLUICE_WORKER: 'off',
    SLUICE_RATE_LIMITS: 'off',
    // Far beyond what the held requests need: the timeout's forced close is not under test.
    SLUICE_SHUTDOWN_TIMEOUT_MS: '120000',
  }));
}, 60_000);
afterAll(async () => {
  if (sluice) await stop(sluice);
  await database?.drop();
});

type Outcome = { kind: 'answered'; status: number; body: any } | { kind: 'refused'; code: string };

/** The operation for request `id`: even ones create a dataset, odd ones read the viewer. */
function operation(id: string, index: number) {
  return index % 2 === 0
    ? { query: 'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { slug } }', variables: { input: { name: id, slug: id } } }
    : { query: '{ viewer { kind tenant { slug } } }' };
}

/**
 * One request on a connection of its own. `split` sends the headers and half the body, and
 * returns a function that sends the rest; otherwise the whole request goes at once.
 */
function send(url: string, id: string, index: number, split: boolean): { outcome: Promise<Outcome>; finish: () => void } {
  const body = JSON.stringify(operation(id, index));
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}`, 'x-request-id': id },
  });
  const outcome = new Promise<Outcome>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      // A cut answer fails JSON.parse below, which the test reports as what it is.
      res.on('end', () => resolve({ kind: 'answered', status: res.statusCode ?? 0, body: JSON.parse(text) }));
      res.on('error', (error) => resolve({ kind: 'answered', status: -1, body: String(error) }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'refused', code: error.code ?? error.message }));
  });
  const half = Math.floor(body.length / 2);
  if (!split) {
    req.end(body);
    return { outcome, finish: () => undefined };
  }
  req.flushHeaders();
  req.write(body.slice(0, half));
  return { outcome, finish: () => req.end(body.slice(half)) };
}

/**
 * Established connections to `port` on this machine whose bytes the server has read (its
 * receive queue is empty), from /proc/net/tcp: a request is "on the server" once Node has
 * read its headers, which it parses in the same tick.
 */
async function readByServer(port: number): Promise<number> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1);
  return lines
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '01')
    .filter((fields) => fields[4]!.split(':')[1] === '00000000').length;
}

const expectedAnswer = (id: string, index: number) =>
  index % 2 === 0 ? { data: { createDataset: { slug: id } } } : { data: { viewer: { kind: 'USER', tenant: { slug: tenant.slug } } } };

it.runIf(process.platform === 'linux')('answers every accepted request in full and audits each one, across a SIGTERM', async () => {
  const proc = sluice!;
  const url = `${proc.baseUrl}/graphql`;
  const port = Number(new URL(proc.baseUrl).port);

  const held = Array.from({ length: HELD }, (_, i) => ({ id: `held-${i}`, index: i, ...send(url, `held-${i}`, i, true) }));
  // Every held request's headers are read by the server before the signal.
  const deadline = Date.now() + 20_000;
  while ((await readByServer(port)) < HELD && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await readByServer(port)).toBeGreaterThanOrEqual(HELD);

  // Racing requests, a few milliseconds apart; the signal goes when the first is answered, so
  // some finish before it, some are in flight at it, and the rest come after it.
  const racing: { id: string; index: number; outcome: Promise<Outcome> }[] = [];
  let signalled = false;
  const signal = () => {
    if (!signalled) proc.child.kill('SIGTERM');
    signalled = true;
  };
  for (let i = 0; i < RACING; i += 1) {
    const request = { id: `racing-${i}`, index: i, ...send(url, `racing-${i}`, i, false) };
    racing.push(request);
    void request.outcome.then((outcome) => outcome.kind === 'answered' && signal());
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  signal();
  await proc.waitForLog((line) => line.msg === 'shutting down: finishing in-flight work');
  for (const request of held) request.finish();

  const heldOutcomes = await Promise.all(held.map((request) => request.outcome));
  const racingOutcomes = await Promise.all(racing.map((request) => request.outcome));
  expect(await proc.exit).toBe(0);

  // Held: all answered, completely, with the right data.
  expect(heldOutcomes).toEqual(held.map(({ id, index }) => ({ kind: 'answered', status: 200, body: expectedAnswer(id, index) })));
  // Racing: answered in full, or refused before any answer; nothing cut half-way.
  const answeredRacing = racing.filter((_, i) => racingOutcomes[i]!.kind === 'answered');
  for (const [i, outcome] of racingOutcomes.entries()) {
    if (outcome.kind === 'answered') expect(outcome).toEqual({ kind: 'answered', status: 200, body: expectedAnswer(racing[i]!.id, racing[i]!.index) });
    else expect(['ECONNREFUSED', 'ECONNRESET']).toContain(outcome.code);
  }
  const refusals = racingOutcomes.flatMap((outcome) => (outcome.kind === 'refused' ? [outcome.code] : []));
  console.log(`racing requests: ${answeredRacing.length} answered, ${refusals.length} refused (${[...new Set(refusals)].join(', ')})`);

  // The trail: exactly one event per answered request, none for a refused one.
  const answered = [...held, ...answeredRacing];
  const { events, datasets } = await withClient(database.ownerUrl, async (client) => ({
    events: (await client.query(`select action, outcome, payload->>'requestId' as "requestId" from audit_events where tenant_id = $1`, [tenant.id])).rows,
    datasets: (await client.query('select slug from datasets where tenant_id = $1', [tenant.id])).rows.map((row) => row.slug as string),
  }));
  const sorted = (values: string[]) => [...values].sort();
  expect(sorted(events.map((event) => event.requestId))).toEqual(sorted(answered.map((request) => request.id)));
  expect(events.every((event) => event.outcome === 'ok')).toBe(true);
  expect(sorted(events.filter((event) => event.action === 'graphql.mutation').map((event) => event.requestId))).toEqual(
    sorted(answered.filter((request) => request.index % 2 === 0).map((request) => request.id)),
  );
  expect(sorted(datasets)).toEqual(sorted(answered.filter((request) => request.index % 2 === 0).map((request) => request.id)));
  expect(proc.output()).not.toMatch(/could not be written|audit event after the audit log closed/);
}, 120_000);
