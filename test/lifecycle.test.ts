/**
 * The real `sluice serve` on an embedded PostgreSQL, ended the rough ways it is ended in life:
 * Ctrl-C at a terminal (SIGINT to the whole process group, the database included), a SIGKILL
 * that leaves the database running, and a shutdown whose tracing collector is unreachable.
 * One data directory for the file: the cluster is created once, each test starts on it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { findFreePort } from '../src/db/free-port.js';
import { untilSubscriptionTopics } from './support/metrics.js';
import { developmentEnv, serve, stop, type SluiceProcess } from './support/process.js';
import { graphqlAt } from './support/server.js';

let dataDir: string;
const started: SluiceProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'sluice-lifecycle-'));
});
afterAll(async () => {
  for (const proc of started) if (proc.child.exitCode === null && proc.child.signalCode === null) await stop(proc);
  await stopOrphanedPostmaster();
  await rm(dataDir, { recursive: true, force: true });
});

async function serveHere(env: Record<string, string> = {}, processGroup = false) {
  const proc = await serve(developmentEnv(dataDir, env), { processGroup });
  started.push(proc);
  return proc;
}

const postmasterPidFile = () => path.join(dataDir, 'postgres', 'postmaster.pid');

/** The live postmaster of the data directory, if any. */
async function postmasterPid(): Promise<number | undefined> {
  const pid = Number.parseInt((await readFile(postmasterPidFile(), 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Clean-up if a test failed half-way: no PostgreSQL of ours outlives the file. */
async function stopOrphanedPostmaster() {
  const pid = await postmasterPid();
  if (pid === undefined) return;
  process.kill(pid, 'SIGINT');
  while ((await postmasterPid()) !== undefined) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Signs up (an OWNER of a new tenant) and returns the access token. */
async function ownerToken(baseUrl: string): Promise<string> {
  const { body } = await graphqlAt(`${baseUrl}/graphql`)(
    'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
    { variables: { input: { email: `owner-${Date.now()}@example.test`, password: 'a long enough passphrase', tenantName: 'Lifecycle' } } },
  );
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.signUp.accessToken;
}

/**
 * A graphql-ws socket following the tenant's audit trail (what `sluice audit tail --follow`
 * does), resolved once one event arrived through it, so the subscription is known to be live.
 */
async function followAuditTrail(baseUrl: string, token: string) {
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: any[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  let created: Promise<unknown> | undefined;
  const firstEvent = new Promise<void>((resolve, reject) => {
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString());
      messages.push(message);
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { auditEvents { action } }' } }));
        // Something to audit once the subscription has joined the tenant's audit topic (the one
        // shared reader in this fresh process), so its event cannot be missed.
        created = untilSubscriptionTopics({ baseUrl }, 1).then(() =>
          graphqlAt(`${baseUrl}/graphql`)('mutation { createDataset(input: { name: "Audited", slug: "audited" }) { id } }', { token }),
        );
        created.catch(reject);
      } else if (message.type === 'next') resolve();
      else if (message.type === 'error') reject(new Error(JSON.stringify(message.payload)));
    });
  });
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
  await firstEvent;
  // The event can come before the mutation's answer: the dataset is known created only once that
  // has arrived (twice on a busy machine, the in-flight request after it listed no dataset).
  await created;
  return { closed, messages };
}

/** A request whose body is half sent: in flight when the shutdown starts, finished after. */
function requestInFlight(baseUrl: string, token: string) {
  const body = JSON.stringify({ query: '{ datasets(first: 5) { edges { node { slug } } } }' });
  const half = Math.floor(body.length / 2);
  const req = httpRequest(`${baseUrl}/graphql`, {
    method: 'POST',
    // With `Expect: 100-continue`, Node's server answers 100 as soon as it has parsed the headers:
    // the client's 'continue' event says the request is in the server's hands.
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}`, expect: '100-continue' },
  });
  const seen = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  const sentHalf = new Promise<void>((resolve) => req.write(body.slice(0, half), () => resolve()));
  return { sentHalf, seen, response, finish: () => req.end(body.slice(half)) };
}

it('Ctrl-C at a terminal (SIGINT to the process group, embedded PostgreSQL included) shuts down as gracefully as SIGINT to sluice alone', { timeout: 300_000 }, async () => {
  const proc = await serveHere({}, true);
  const token = await ownerToken(proc.baseUrl);
  const follower = await followAuditTrail(proc.baseUrl, token);
  const inFlight = requestInFlight(proc.baseUrl, token);
  await inFlight.sentHalf;
  await inFlight.seen;

  // What a terminal does on Ctrl-C: the signal goes to every process of the foreground group.
  process.kill(-proc.child.pid!, 'SIGINT');
  await proc.waitForLog((line) => /shutting down/.test(line.msg));
  inFlight.finish();

  expect(await inFlight.response).toEqual({ status: 200, body: JSON.stringify({ data: { datasets: { edges: [{ node: { slug: 'audited' } }] } } }) });
  expect(await follower.closed).toEqual({ code: 1001, reason: 'Going away' });
  // The subscription ended without an error message (no INTERNAL on its way out).
  expect(follower.messages.filter((message) => message.type === 'error')).toEqual([]);
  expect(await proc.exit).toBe(0);
  // No crash and no error or fatal line. (PostgreSQL got the same Ctrl-C: the queue's idle
  // connections it ends are warnings whose error says severity FATAL, which is no crash of ours.)
  expect(proc.output()).not.toMatch(/Unhandled|uncaught/i);
  expect(proc.logs.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
  // Sluice stopped its database itself, as the last step.
  expect(proc.logs.slice(-3).map((line) => line.msg)).toEqual(expect.arrayContaining(['embedded PostgreSQL stopped', 'shutdown complete']));
  expect(existsSync(postmasterPidFile())).toBe(false);
});

it('after a SIGKILL left the embedded PostgreSQL running, the next start stops that orphan and serves', { timeout: 300_000 }, async () => {
  const killed = await serveHere();
  const orphan = await postmasterPid();
  expect(orphan).toBeGreaterThan(0);
  killed.child.kill('SIGKILL');
  await killed.exit;
  // The database outlived it, as it does after `kill -9` of node.
  expect(await postmasterPid()).toBe(orphan);

  const next = await serveHere();
  expect(next.logs.find((line) => /left running/.test(line.msg))).toMatchObject({ postgresPid: orphan });
  expect(await postmasterPid()).not.toBe(orphan);
  const { body } = await graphqlAt(`${next.baseUrl}/graphql`)('{ viewer { kind } }');
  expect(body).toEqual({ data: { viewer: { kind: 'ANONYMOUS' } } });
  expect(await stop(next)).toBe(0);
  expect(existsSync(postmasterPidFile())).toBe(false);
});

it('an unreachable tracing collector at shutdown neither fails the exit nor skips the steps after it', { timeout: 300_000 }, async () => {
  // A port nothing listens on: every export is refused.
  const collector = `http://127.0.0.1:${await findFreePort()}`;
  // The exporter's own time limit (10 s by default) bounds its retries: a second is enough to fail.
  const proc = await serveHere({ OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_BSP_SCHEDULE_DELAY: '600000', OTEL_EXPORTER_OTLP_TIMEOUT: '1000' });
  // A span waits in the exporter's buffer: shutdown has to flush it, and cannot.
  const { body } = await graphqlAt(`${proc.baseUrl}/graphql`)('{ viewer { kind } }');
  expect(body).toEqual({ data: { viewer: { kind: 'ANONYMOUS' } } });

  expect(await stop(proc)).toBe(0);
  expect(proc.logs.find((line) => line.step === 'tracing' && line.level >= 40)).toBeDefined();
  // The steps after the failed one ran: the pool closed, the database stopped, the last line written.
  expect(proc.logs.slice(-3).map((line) => line.msg)).toEqual(expect.arrayContaining(['embedded PostgreSQL stopped', 'shutdown complete']));
  expect(existsSync(postmasterPidFile())).toBe(false);
});
