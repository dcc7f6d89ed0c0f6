/**
 * A hostile server: a small local HTTP and WebSocket (graphql-transport-ws) server, not Sluice,
 * that answers the CLI's operations with terminal escape sequences where Sluice would send ids,
 * scopes, dates, stages and counts (an OSC 52 clipboard write, a screen clear, a window title).
 * The point is a server misbehaving: the real one never sends these (its enums and scalars
 * cannot hold them), but a compromised or impersonated one would, and the CLI printed them raw:
 * `keys create` cleaned only the key's name, the progress view neither the stage nor its figures.
 * The compiled CLI in a child process, pointed at it over loopback.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { cliUser } from '../support/cli.js';

const CLIPBOARD = '\u001b]52;c;aGFja2Vk\u0007';
const CLEAR = '\u001b[2J\u001b[H';
const TITLE = '\u001b]0;owned\u0007';
/** Any control character but tab and newline, C1 controls and bidirectional overrides: none may reach the terminal. */
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

const dataset = { id: 'dataset-1', slug: 'handbook', name: 'Handbook', embedding: { model: { id: 'model-1', name: 'emb' }, servingModel: { id: 'model-1', name: 'emb' }, embeddedChunks: 10, totalChunks: 10 } };
const progress = { jobId: 'job-1', kind: 'REEMBED', documentsTotal: 0, documentsDone: 0, documentsFailed: 0, chunksDone: 0, bytesDone: 0, bytesTotal: 0, error: null, errorReason: null, documents: [] };

/** The data this server answers each operation with, by operation name. */
const ANSWERS: Record<string, unknown> = {
  CreateApiKey: {
    createApiKey: {
      secret: 'slk_hostile',
      apiKey: { id: `key-1${CLIPBOARD}`, name: 'deploy', prefix: 'slk_ho', scopes: ['READ', CLEAR], expiresAt: `2030-01-01T00:00:00.000Z${TITLE}`, lastUsedAt: null, revokedAt: null },
    },
  },
  Dataset: { dataset },
  ReembedDataset: { reembedDataset: { id: 'job-1', stage: 'QUEUED', documents: [] } },
};

/** What the subscription sends: a stage and figures with escapes, then the end. */
const PROGRESS_EVENTS = [
  { ...progress, stage: `${CLIPBOARD}EMBEDDING${CLEAR}`, percent: 40, etaSeconds: `5${TITLE}`, chunksEmbedded: `4${CLEAR}`, chunksToEmbed: `10${CLIPBOARD}`, sequence: 1 },
  { ...progress, stage: 'COMPLETED', percent: 100, etaSeconds: null, chunksEmbedded: 10, chunksToEmbed: 10, sequence: 2 },
];

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const name = /^\s*(?:query|mutation)\s+(\w+)/.exec(JSON.parse(body).query)?.[1] ?? '';
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: ANSWERS[name] ?? null }));
  });
  // graphql-transport-ws, as little as the CLI needs: ack, then the events, then complete.
  new WebSocketServer({ server }).on('connection', (socket) => {
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw));
      if (message.type === 'connection_init') socket.send(JSON.stringify({ type: 'connection_ack' }));
      if (message.type !== 'subscribe') return;
      for (const event of PROGRESS_EVENTS) socket.send(JSON.stringify({ id: message.id, type: 'next', payload: { data: { ingestionProgress: event } } }));
      socket.send(JSON.stringify({ id: message.id, type: 'complete' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
});
afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

// Each command is a child process (the compiled CLI): most of a second each on a busy machine.
describe('sluice against a server that sends terminal escapes', { timeout: 120_000 }, () => {
  it("keys create prints the key's id, scopes and expiry cleaned, not only its name", async () => {
    const run = await cliUser('hostile-keys').sluice(['keys', 'create', '--name', 'deploy', '--url', url], { env: { SLUICE_API_KEY: 'slk_caller' } });
    expect(run).toEqual({
      code: 0,
      stdout: 'slk_hostile\n',
      stderr: 'Created API key deploy (key-1), scopes READ, , expires 2030-01-01T00:00:00.000Z. The secret, shown once:\n',
    });
  });

  it("the progress of a job shows the server's stage and figures cleaned", async () => {
    const run = await cliUser('hostile-progress').sluice(['datasets', 'reembed', 'handbook', '--url', url], { env: { SLUICE_API_KEY: 'slk_caller' } });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(UNSAFE);
    expect(run.stdout).not.toMatch(UNSAFE);
    expect(run.stderr.split('\n')).toEqual([
      'Re-embedding handbook with emb',
      're-embed EMBEDDING  40% | chunks embedded 4/10 | ETA 5s',
      're-embed COMPLETED 100% | chunks embedded 10/10 | done',
      '',
    ]);
  });
});
