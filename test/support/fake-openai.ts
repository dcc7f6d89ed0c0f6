/**
 * A test double for a third-party model server we cannot reach from tests: a real HTTP server
 * on 127.0.0.1 speaking the OpenAI chat completions protocol (`POST /v1/chat/completions`,
 * `stream: true` answered as server-sent `chat.completion.chunk` events ending in `[DONE]`) and
 * the embeddings protocol (`POST /v1/embeddings`: `{data: [{object: 'embedding', index,
 * embedding}], usage}`), over real HTTP. Its vectors are hashed character trigrams, normalised,
 * so texts that share words are neighbours. Tests script what it answers and read what it received.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeScript {
  /** The answer's text pieces, one event each. */
  deltas?: string[];
  /** Answered in turn before a request succeeds: `[{status: 429}]` is one 429, then the answer. */
  failures?: { status: number; retryAfter?: string }[];
  /** Stream this many pieces, then keep the connection open and send nothing (a hung server). 0: headers only. */
  hangAfter?: number;
  /** Pause between pieces. */
  delayMs?: number;
  /** Hold each chat request (before its failure or answer) until this settles: a model the test releases. */
  until?: Promise<unknown>;
  /** Reported in the last event (`stream_options.include_usage`); null: report none. */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  /** false: ignore `stream` and answer with one JSON body. */
  stream?: boolean;
  /** Send this instead of the events (a server that is not what it claims). */
  garbage?: string;
  /** Answer every request with this redirect (HTTP 301 to `location`). */
  redirect?: string;
  /** Whitespace sent before a JSON answer (chat without streaming, embeddings): valid JSON, this many bytes larger. */
  padding?: number;
  /** One streamed piece of this many characters, written as one event line (a line larger than any real event). */
  longPiece?: number;
  // Hostile shapes within the byte bounds, written as the client reads (a closed connection stops them: `finished` false).
  /** Stream `text` as `times` pieces after the `deltas` (an answer of many `[1]` markers, or one too long). */
  repeat?: { text: string; times: number };
  /** Before the answer, one event of `lines` `data:` lines of `lineChars` characters each (`[{},{},…]` in all). */
  multilineEvent?: { lines: number; lineChars: number };
  /** Add `"padding":[{},{},…]`, this many empty objects, to the JSON answer and the first streamed event. */
  extraValues?: number;
  /** How `/v1/embeddings` answers (failures, hangAfter and delayMs apply to it too; hangAfter: headers only). */
  embeddings?: {
    /** Vector size when the request names no `dimensions` (default 16). */
    dimension?: number;
    /** Answer `dimension`-sized vectors even when the request names `dimensions` (a server that does not support it). */
    ignoreDimensions?: boolean;
    /** Reported usage; null: report none. Default: one token per 4 characters, as prompt and total tokens. */
    usage?: { prompt_tokens: number; total_tokens: number } | null;
    /** A server that breaks the protocol: one vector too few, one vector shorter, a number that overflows to Infinity, indexes repeated, not JSON. */
    malformed?: 'count' | 'dimension' | 'not-finite' | 'indexes' | 'garbage' | 'zeros';
    /** Every number of every vector multiplied by this (a server that does not normalise, as llama.cpp's need not): 0 sends zeros. */
    scale?: number;
    /** Answer only once this settles (a server the test holds mid-request, to look at the world meanwhile). */
    until?: Promise<unknown>;
    /**
     * A hostile server: one vector `[1,0,0,…]` (2 bytes a number) of about `bytes` in all, sent
     * in 64 KiB pieces as the client reads them; `onPiece` hears the bytes sent so far after each.
     */
    flood?: { bytes: number; onPiece?: (sent: number) => void };
  };
}

export interface FakeRequest {
  headers: IncomingHttpHeaders;
  body: any;
  /** The status the fake answered. */
  status: number;
  /** Whether the fake finished the response itself (false: the client closed it first). */
  finished: boolean;
  /** Resolves when the connection for this request is closed, by either side. */
  closed: Promise<void>;
}

export interface FakeOpenAI {
  /** What to give as the model's `baseUrl` (…/v1). */
  baseUrl: string;
  requests: FakeRequest[];
  /** Resolves once `count` requests have arrived (at once if they have): an event, not a poll. */
  requestsReached(count: number): Promise<void>;
  /** Replaces the script for the requests that follow. */
  script(script: FakeScript): void;
  close(): Promise<void>;
}

const chunk = (id: string, delta: Record<string, unknown>, usage: unknown = null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ ...extra, id, object: 'chat.completion.chunk', created: 0, model: 'fake', choices: delta ? [{ index: 0, delta, finish_reason: null }] : [], usage })}\n\n`;

/** Hashed character trigrams of the text, L2-normalised: shared words make close vectors. */
export function trigramVector(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  const padded = ` ${text.toLowerCase()} `;
  for (let at = 0; at + 3 <= padded.length; at++) {
    let hash = 2166136261;
    for (const char of padded.slice(at, at + 3)) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    vector[hash % dimension]! += 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

async function answerEmbeddings(script: FakeScript, record: FakeRequest, res: import('node:http').ServerResponse): Promise<void> {
  const options = script.embeddings ?? {};
  const inputs: string[] = typeof record.body.input === 'string' ? [record.body.input] : record.body.input;
  const dimension: number = (options.ignoreDimensions ? undefined : record.body.dimensions) ?? options.dimension ?? 16;
  if (script.delayMs) await new Promise((resolve) => setTimeout(resolve, script.delayMs));
  if (options.until) await options.until;
  res.writeHead(200, { 'content-type': 'application/json' });
  if (script.hangAfter !== undefined) {
    res.flushHeaders();
    return;
  }
  if (options.malformed === 'garbage') {
    res.end('<html>Bad gateway</html>');
    record.finished = true;
    return;
  }
  if (options.flood) {
    await flood(res, options.flood, record);
    return;
  }
  const scale = options.scale ?? 1;
  let data = inputs.map((input, index) => ({ object: 'embedding', index, embedding: trigramVector(input, dimension).map((value) => value * scale) }));
  if (options.malformed === 'count') data = data.slice(1);
  if (options.malformed === 'dimension') data[data.length - 1]!.embedding.pop();
  // JSON has no Infinity, but a number too large for a double parses as one.
  if (options.malformed === 'not-finite') data[0]!.embedding[0] = 12345.678;
  if (options.malformed === 'indexes') data = data.map((item) => ({ ...item, index: 0 }));
  if (options.malformed === 'zeros') data[1]!.embedding = data[1]!.embedding.map(() => 0);
  const tokens = inputs.reduce((sum, input) => sum + Math.ceil(input.length / 4), 0);
  const usage = options.usage === undefined ? { prompt_tokens: tokens, total_tokens: tokens } : options.usage;
  if (script.padding) res.write(' '.repeat(script.padding));
  res.end(JSON.stringify({ object: 'list', data, model: record.body.model, ...(usage ? { usage } : {}) }).replace('12345.678', '1e999'));
  record.finished = true;
}

async function flood(res: import('node:http').ServerResponse, { bytes, onPiece }: { bytes: number; onPiece?: (sent: number) => void }, record: FakeRequest): Promise<void> {
  const piece = ',0'.repeat(32 * 1024);
  let sent = 0;
  const write = (text: string) => {
    sent += text.length;
    return writeAsRead(res, text);
  };
  if (!(await write('{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1'))) return;
  while (sent < bytes) {
    if (!(await write(piece))) return;
    onPiece?.(sent);
  }
  res.end(']}]}');
  record.finished = true;
}

/** Writes `text` once the client has read what came before: false when the connection closed. */
function writeAsRead(res: import('node:http').ServerResponse, text: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (res.destroyed) return resolve(false);
    if (res.write(text)) return resolve(true);
    const settle = (ok: boolean) => () => {
      res.off('drain', drained).off('close', closed);
      resolve(ok);
    };
    const drained = settle(true);
    const closed = settle(false);
    res.once('drain', drained).once('close', closed);
  });
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  let current: FakeScript = { deltas: ['Hello.'] };
  let failures: NonNullable<FakeScript['failures']> = [];
  const requests: FakeRequest[] = [];
  const arrivals = new EventEmitter();
  let counter = 0;

  const server = createServer(async (req, res) => {
    const raw: Buffer[] = [];
    for await (const part of req) raw.push(part as Buffer);
    if (req.method !== 'POST' || (req.url !== '/v1/chat/completions' && req.url !== '/v1/embeddings')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const script = current;
    let markClosed!: () => void;
    const record: FakeRequest = { headers: req.headers, body: JSON.parse(Buffer.concat(raw).toString()), status: 200, finished: false, closed: new Promise((resolve) => (markClosed = resolve)) };
    requests.push(record);
    arrivals.emit('request');
    res.on('close', () => markClosed());

    if (script.redirect) {
      record.status = 301;
      res.writeHead(301, { location: script.redirect }).end();
      record.finished = true;
      return;
    }
    if (req.url === '/v1/chat/completions' && script.until) await script.until;
    const failure = failures.shift();
    if (failure) {
      record.status = failure.status;
      res.writeHead(failure.status, { 'content-type': 'application/json', ...(failure.retryAfter ? { 'retry-after': failure.retryAfter } : {}) });
      res.end(JSON.stringify({ error: { message: `scripted ${failure.status}`, type: 'fake' } }));
      record.finished = true;
      return;
    }
    if (req.url === '/v1/embeddings') {
      await answerEmbeddings(script, record, res);
      return;
    }
    const id = `chatcmpl-${++counter}`;
    const deltas = script.deltas ?? [];
    const usage = script.usage === undefined ? { prompt_tokens: 42, completion_tokens: deltas.length } : script.usage;
    const padding = script.extraValues ? { padding: new Array(script.extraValues).fill({}) } : {};
    if (script.stream === false) {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (script.padding) res.write(' '.repeat(script.padding));
      res.end(JSON.stringify({ id, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: deltas.join('') }, finish_reason: 'stop' }], usage, ...padding }));
      record.finished = true;
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    if (script.garbage !== undefined) {
      res.end(`data: ${script.garbage}\n\n`);
      record.finished = true;
      return;
    }
    if (script.multilineEvent) {
      const { lines, lineChars } = script.multilineEvent;
      const line = `data: ${'{},'.repeat(Math.floor(lineChars / 3))}\n`;
      if (!(await writeAsRead(res, 'data: [\n'))) return;
      for (let at = 0; at < lines; at++) if (!(await writeAsRead(res, line))) return;
      if (!(await writeAsRead(res, 'data: {}]\n\n'))) return;
    }
    res.write(chunk(id, { role: 'assistant', content: '' }, null, padding));
    if (script.longPiece) res.write(chunk(id, { content: 'a'.repeat(script.longPiece) }));
    for (const [index, text] of deltas.entries()) {
      if (script.hangAfter !== undefined && index >= script.hangAfter) return;
      if (script.delayMs) await new Promise((resolve) => setTimeout(resolve, script.delayMs));
      if (res.destroyed) return;
      res.write(chunk(id, { content: text }));
    }
    if (script.repeat) {
      const piece = chunk(id, { content: script.repeat.text });
      for (let at = 0; at < script.repeat.times; at++) if (!(await writeAsRead(res, piece))) return;
    }
    if (script.hangAfter !== undefined) return;
    if (usage) res.write(chunk(id, undefined as never, usage));
    res.end('data: [DONE]\n\n');
    record.finished = true;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    requestsReached(count) {
      return new Promise<void>((resolve) => {
        const check = () => {
          if (requests.length < count) return;
          arrivals.off('request', check);
          resolve();
        };
        arrivals.on('request', check);
        check();
      });
    },
    script(script) {
      current = script;
      failures = [...(script.failures ?? [])];
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether the double's request `index` was closed by its client (Sluice) before it finished answering. */
export async function closedBeforeItsEnd(fake: FakeOpenAI, index: number): Promise<boolean> {
  await fake.requests[index]!.closed;
  return !fake.requests[index]!.finished;
}
