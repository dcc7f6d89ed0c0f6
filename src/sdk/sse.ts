/**
 * Subscriptions over Server-Sent Events: the fallback where WebSockets are unavailable (no
 * WebSocket implementation, or a proxy that refuses upgrades). The operation is POSTed with
 * `accept: text/event-stream` (GraphQL over SSE, "distinct connections" mode, which Yoga
 * serves on /graphql); each `next` event carries one execution result, `complete` ends it.
 * Uses only fetch and a stream parser, so it runs in browsers and Node alike.
 */
import { createParser } from 'eventsource-parser';
import { deadline, readBody, timedOut, tooLarge } from './limits.js';
import { reach } from './reach.js';

export interface WireResult {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/**
 * `requestId` goes as `x-request-id`: the server logs the stream under it, and its errors name it.
 * `credential.tenant` goes as `x-sluice-tenant` (which tenant an external token acts in).
 * `limits.timeoutMs` bounds the wait for the stream to open (or for a refusal to be read), not
 * the stream; `limits.maxResponseBytes` bounds a refusal and each event (a line not yet ended
 * counts), so a server sending without end is refused rather than buffered.
 */
export async function* sseResults(
  url: string,
  query: string,
  variables: Record<string, unknown> | undefined,
  credential: { authorization?: string; tenant?: string },
  requestId: string,
  limits: { maxResponseBytes: number; timeoutMs?: number },
): AsyncGenerator<WireResult> {
  const abort = new AbortController();
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId };
  if (credential.authorization) headers.authorization = credential.authorization;
  if (credential.tenant) headers['x-sluice-tenant'] = credential.tenant;
  // The deadline aborts the connection only until the stream has opened: then it is let go.
  const connecting = deadline(limits.timeoutMs);
  const onDeadline = () => abort.abort(connecting!.reason);
  connecting?.addEventListener('abort', onDeadline, { once: true });
  try {
    let response: Response;
    let refusal: string | undefined;
    try {
      response = await reach(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: abort.signal }, { requestId });
      // Refused before the stream began (bad credentials, invalid operation): one JSON answer.
      if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || !response.body) refusal = await readBody(response, limits.maxResponseBytes, url, requestId);
    } catch (error) {
      throw connecting?.aborted ? timedOut(url, limits.timeoutMs!, requestId) : error;
    } finally {
      connecting?.removeEventListener('abort', onDeadline);
    }
    if (refusal !== undefined) {
      const payload = parsedRefusal(refusal);
      yield payload?.errors?.length ? payload : { errors: [{ message: `HTTP ${response.status}`, extensions: { code: 'INTERNAL' } }] };
      return;
    }
    const queued: WireResult[] = [];
    let completed = false;
    let overflowed = false;
    const parser = createParser({
      onEvent(event) {
        if (event.event === 'complete') completed = true;
        else if (event.event === 'next' || event.event === undefined) queued.push(JSON.parse(event.data) as WireResult);
      },
      // The parser holds an unfinished line and the event's data so far; past this it stops.
      maxBufferSize: limits.maxResponseBytes,
      onError(error) {
        if (error.type === 'max-buffer-size-exceeded') overflowed = true;
      },
    });
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    while (!completed) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      while (queued.length > 0) yield queued.shift()!;
      if (overflowed) throw tooLarge(url, 'an event', limits.maxResponseBytes, requestId, 'characters');
    }
    while (queued.length > 0) yield queued.shift()!;
  } finally {
    // The consumer stopped early (or the stream ended, or was refused): close the connection either way.
    abort.abort();
  }
}

function parsedRefusal(text: string): WireResult | undefined {
  try {
    return JSON.parse(text) as WireResult | undefined;
  } catch {
    return undefined;
  }
}
