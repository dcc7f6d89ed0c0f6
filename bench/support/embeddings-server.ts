/**
 * The benchmark's embeddings server: a stand-in for a third-party model server (none is
 * reachable here), a real HTTP server on 127.0.0.1 speaking the OpenAI-compatible
 * `POST /v1/embeddings` protocol with hashed character-trigram vectors (test/support's
 * fake-openai makes the same ones). It keeps when each request was in flight, so that the
 * ingestion benchmark can leave the embedding server's time out of Sluice's, as issue 19 asks.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trigramVector } from '../../test/support/fake-openai.js';

export interface BenchEmbeddingsServer {
  /** The model's `baseUrl` (…/v1). */
  baseUrl: string;
  /** Requests answered, and the texts they carried. */
  stats(): { requests: number; inputs: number };
  /** Seconds during which at least one request was in flight (the union of their intervals). */
  busySeconds(): number;
  close(): Promise<void>;
}

export async function startEmbeddingsServer(defaultDimensions: number): Promise<BenchEmbeddingsServer> {
  const intervals: [number, number][] = [];
  let inputs = 0;
  const server = createServer(async (req, res) => {
    const arrived = performance.now();
    const raw: Buffer[] = [];
    for await (const part of req) raw.push(part as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(Buffer.concat(raw).toString());
    const texts: string[] = typeof body.input === 'string' ? [body.input] : body.input;
    const dimensions: number = body.dimensions ?? defaultDimensions;
    const data = texts.map((text, index) => ({ object: 'embedding', index, embedding: trigramVector(text, dimensions) }));
    const tokens = texts.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }), () => {
      intervals.push([arrived, performance.now()]);
      inputs += texts.length;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    stats: () => ({ requests: intervals.length, inputs }),
    busySeconds: () => unionMilliseconds(intervals) / 1000,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The length of the union of [start, end] intervals: overlapping requests count once. */
export function unionMilliseconds(intervals: readonly (readonly [number, number])[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [from, to] of sorted) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}
