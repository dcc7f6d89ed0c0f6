/**
 * OpenTelemetry over the real server: spans for operations (HTTP and graphql-ws) and for
 * resolvers that wait, exported over OTLP/HTTP to a receiver in this test.
 *
 * The receiver is the one test double: a node:http server on 127.0.0.1 speaking OTLP/HTTP as
 * @opentelemetry/exporter-trace-otlp-http sends it, `POST /v1/traces` with an
 * `application/json` ExportTraceServiceRequest (ids as hex strings), answered 200 `{}`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withClient } from '../../src/db/bootstrap.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';
import { pollUntil } from '../support/poll.js';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status?: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  service: unknown;
}

let receiver: Server;
const spans: ReceivedSpan[] = [];
const requests: { path: string; contentType: string | undefined }[] = [];
let server: TestServer;
let tenant: SeededTenant;
let token: string;

/** OTLP JSON attribute values (`{ stringValue }`, `{ arrayValue: { values } }`, …) as plain values. */
function valueOf(value: Record<string, any>): unknown {
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(valueOf);
  return value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
}
const attributesOf = (list: { key: string; value: Record<string, any> }[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, valueOf(value)]));

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
      for (const resourceSpans of JSON.parse(body).resourceSpans ?? []) {
        const service = attributesOf(resourceSpans.resource?.attributes)['service.name'];
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) spans.push({ ...span, attributes: attributesOf(span.attributes), service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  server = await startTestServer({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'sluice-test', OTEL_BSP_SCHEDULE_DELAY: '50' } });
  tenant = await seedTenant(server.database.ownerUrl);
  token = await server.tokenFor(tenant, tenant.users[0]!);
});
afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** The spans of one trace once `ready` holds for them; fails after 10 s. */
function trace(traceId: string, ready: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  return pollUntil(async () => spans.filter((span) => span.traceId === traceId), ready, {
    intervalMs: 25,
    failure: (found) => `trace ${traceId} incomplete: ${JSON.stringify(found.map((span) => span.name))}`,
  });
}

describe('operation spans', () => {
  it('export the operation and its waiting resolvers, with the trace id the logs carry', async () => {
    // Make the user lookup fail, so the operation writes a log line (the masked error's).
    await withClient(server.database.ownerUrl, (client) => client.query('revoke select on users from sluice_app'));
    let requestId: string | null;
    try {
      const { body, headers } = await server.graphql('query Viewer { viewer { kind user { email } } }', { token });
      expect(body.errors[0].extensions.code).toBe('INTERNAL');
      requestId = headers.get('x-request-id');
    } finally {
      await withClient(server.database.ownerUrl, (client) => client.query('grant select on users to sluice_app'));
    }
    const lines = server.logs.filter((line) => line.requestId === requestId);
    expect(lines.length).toBeGreaterThan(0);
    const traceIds = new Set(lines.map((line) => line.traceId));
    expect(traceIds.size).toBe(1);
    const traceId = String([...traceIds][0]);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const found = await trace(traceId, (all) => all.some((span) => span.name === 'query Viewer'));
    const operation = found.find((span) => span.name === 'query Viewer')!;
    expect(operation).toMatchObject({
      kind: 2, // SERVER
      service: 'sluice-test',
      status: { code: 2, message: 'INTERNAL' }, // ERROR
      attributes: { 'graphql.operation.type': 'query', 'graphql.operation.name': 'Viewer', 'sluice.request_id': requestId, 'graphql.error.codes': ['INTERNAL'] },
    });
    expect(operation.parentSpanId ?? '').toBe('');
    const userSpan = found.find((span) => span.attributes['graphql.field.path'] === 'viewer.user');
    expect(userSpan).toMatchObject({ parentSpanId: operation.spanId, status: { code: 2 }, attributes: { 'graphql.field.name': 'user' } });
    // No span carries arguments, variables or the document.
    expect(JSON.stringify(found)).not.toMatch(/graphql\.(document|variables|args)|Bearer/);
    expect(requests.every((request) => request.path === '/v1/traces' && request.contentType?.startsWith('application/json'))).toBe(true);
  });

  it("continue a caller's W3C trace", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const { body } = await server.graphql('query Mine { viewer { kind } }', { token, headers: { traceparent: `00-${traceId}-${parent}-01` } });
    expect(body.errors).toBeUndefined();
    const [operation] = await trace(traceId, (all) => all.some((span) => span.name === 'query Mine'));
    expect(operation).toMatchObject({ name: 'query Mine', parentSpanId: parent });
    expect(operation!.status?.code ?? 0).toBe(0);
  });

  it('end with the code of a refusal while the context is built', async () => {
    const requestId = `refused-${Date.now()}`;
    const { status } = await server.graphql('query Refused { viewer { kind } }', { token: 'not-a-token', headers: { 'x-request-id': requestId } });
    expect(status).toBe(401);
    const span = await pollUntil(async () => spans.find((candidate) => candidate.attributes['sluice.request_id'] === requestId), Boolean, {
      intervalMs: 25,
      failure: () => `no span of request ${requestId}`,
    });
    expect(span).toMatchObject({ status: { code: 2, message: 'UNAUTHENTICATED' }, attributes: { 'graphql.error.codes': ['UNAUTHENTICATED'] } });
  });

  it('cover a graphql-ws subscription until it completes', async () => {
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    try {
      const events: unknown[] = [];
      for await (const result of client.iterate({ query: 'subscription Beat { heartbeat(intervalSeconds: 1, count: 2) { sequence } }' })) events.push(result);
      expect(events).toHaveLength(2);
    } finally {
      await client.dispose();
    }
    const span = await pollUntil(async () => spans.find((candidate) => candidate.name === 'subscription Beat'), Boolean, { intervalMs: 25, failure: () => 'no span "subscription Beat"' });
    expect(span).toMatchObject({ kind: 2, attributes: { 'sluice.transport': 'ws', 'graphql.operation.type': 'subscription' } });
    // It lasted as long as the subscription did (two events a second apart).
    const durationMs = (Number(BigInt((span as any).endTimeUnixNano) - BigInt((span as any).startTimeUnixNano)) / 1e6);
    expect(durationMs).toBeGreaterThanOrEqual(900);
  });
});

describe('ingestion job spans', () => {
  it('export one span per job run by the worker, naming the job', async () => {
    const { createDataset, ingestInline, settled } = await import('../support/ingestion.js');
    const dataset = await createDataset(server, token);
    const { body } = await ingestInline(server, token, dataset.id, [{ title: 'Locks', text: 'The lock keeper opens the gates.' }]);
    const jobGlobalId = body.data.ingestDocuments.id as string;
    expect((await settled(server, token, jobGlobalId)).stage).toBe('COMPLETED');
    const jobId = databaseIdOf(jobGlobalId);
    const span = await pollUntil(async () => spans.find((candidate) => candidate.name === 'ingestion job' && candidate.attributes['sluice.job_id'] === jobId), Boolean, {
      intervalMs: 25,
      failure: () => `no "ingestion job" span of job ${jobId}`,
    });
    expect(span).toMatchObject({ kind: 5, service: 'sluice-test', attributes: { 'sluice.job_id': jobId, 'sluice.attempt': expect.anything() } });
    expect(span!.status?.code ?? 0).not.toBe(2);
  });
});
