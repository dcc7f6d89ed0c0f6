/**
 * Subscriptions over Server-Sent Events: the fallback where WebSockets are unavailable (no
 * WebSocket implementation, or a proxy that refuses upgrades). The operation is POSTed with
 * `accept: text/event-stream` (GraphQL over SSE, "distinct connections" mode, which Yoga
 * serves on /graphql); each `next` event carries one execution result, `complete` ends it.
 * Uses only fetch and a stream parser, so it runs in browsers and Node alike.
 */
import { createParser } from 'eventsource-parser';
import { reach } from './reach.js';

export interface WireResult {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/**
 * `requestId` goes as `x-request-id`: the server logs the stream under it, and its errors name it.
 * `credential.tenant` goes as `x-sluice-tenant` (which tenant an external token acts in).
 */
export async function* sseResults(
  url: string,
  query: string,
  variables: Record<string, unknown> | undefined,
  credential: { authorization?: string; tenant?: string },
  requestId: string,
): AsyncGenerator<WireResult> {
  const abort = new AbortController();
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId };
  if (credential.authorization) headers.authorization = credential.authorization;
  if (credential.tenant) headers['x-sluice-tenant'] = credential.tenant;
  try {
    const response = await reach(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: abort.signal }, { requestId });
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || !response.body) {
      // Refused before the stream began (bad credentials, invalid operation): one JSON answer.
      const payload = (await response.json().catch(() => undefined)) as WireResult | undefined;
      yield payload?.errors?.length ? payload : { errors: [{ message: `HTTP ${response.status}`, extensions: { code: 'INTERNAL' } }] };
      return;
    }
    const queued: WireResult[] = [];
    let completed = false;
    const parser = createParser({
      onEvent(event) {
        if (event.event === 'complete') completed = true;
        else if (event.event === 'next' || event.event === undefined) queued.push(JSON.parse(event.data) as WireResult);
      },
    });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    while (!completed) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      while (queued.length > 0) yield queued.shift()!;
    }
    while (queued.length > 0) yield queued.shift()!;
  } finally {
    // The consumer stopped early (or the stream ended): close the connection either way.
    abort.abort();
  }
}
