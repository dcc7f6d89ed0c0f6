/**
 * `POST /api/v1/endpoints/{tenant}/{endpoint}/query`: asking an endpoint over plain HTTP.
 * `{ "query", "topK"?, "minScore"? }` in; out, by `Accept`, one JSON answer (the fields of
 * GraphQL's `queryEndpoint`) or Server-Sent Events (the events of the `endpointQuery`
 * subscription: passage, answerDelta, usage, completed, or a final failed).
 *
 * Through the ConsumerDoor (credential, per-principal limit, allow-list, the `rest.query`
 * audit event ended when the response is), then the one query path,
 * `services.queries.prepare(...).events(signal)`. Refusals before the answer starts are RFC
 * 9457 problem details with GraphQL's codes; a caller who goes away aborts the query (usage
 * recorded CANCELLED). JSON bodies only: a cross-site page cannot send one without a preflight.
 */
import type { Plugin } from 'graphql-yoga';
import { shownPassage, type ShownPassage } from './shown-passage.js';
import { z } from 'zod';
import type { Citation, PreparedQuery, QueryEvent, QueryUsage } from '../domains/endpoint-queries/query.service.js';
import { codedOrMasked, problemResponse, requestNamedBy, RequestRefusal, type PresentDetails } from '../platform/errors/index.js';
import { isJsonContent, readJsonBody } from '../platform/http/json-body.js';
import { decodePathSegment } from '../platform/http/path-segments.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { EVENT_STREAM, eventStreamBody, prefersEventStream, type ServerSentEvent } from '../platform/http/server-sent-events.js';
import type { Logger } from '../platform/logging/logger.js';
import { lostStanding, outcomeOf, type ConsumerDoor, type OpenedDoor } from './consumer-door.js';
import { whenAborted } from '../platform/lifecycle/when-aborted.js';

/** `{tenant}` and `{endpoint}` are one path segment each. */
/** `POST /api/v1/endpoints/{tenant}/{endpoint}/query`. */
export const QUERY_PATH = /^\/api\/v1\/endpoints\/([^/]+)\/([^/]+)\/query$/;

/** The request body; also the OpenAPI document's schema of it (routes/openapi/query-paths.ts). */
export const QueryRequestBody = z.strictObject({
  query: z.string().describe('What to ask: words, "quoted phrases", or -excluded (1–8192 characters).'),
  topK: z.int().optional().describe('Override the endpoint’s topK (1–50).'),
  minScore: z.number().optional().describe('Override the endpoint’s minScore: within its mode’s scores (KEYWORD at least 0, SEMANTIC −1 to 1, HYBRID 0 to 2/61), else 400 MIN_SCORE_OUT_OF_RANGE.'),
});

/**
 * The query text is at most 8192 characters (code points): 12 bytes each at worst in JSON (an
 * astral character written as two `\uXXXX` escapes), with room for the rest.
 */
const MAX_BODY_BYTES = 128 * 1024;

export interface RestQueryOptions {
  door: ConsumerDoor;
  logger: Logger;
  /** How error details are shown (the same ids GraphQL shows). @default as they are */
  presentDetails?: PresentDetails;
  /** @default 15000 */
  keepAliveMs?: number;
}

export interface RestQueryAnswer {
  passages: ShownPassage[];
  answer: string;
  citations: Citation[];
  usage: QueryUsage;
  latencyMs: number;
}

export function useRestQuery({ door, logger, presentDetails = (details) => details, keepAliveMs }: RestQueryOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      const path = QUERY_PATH.exec(url.pathname);
      if (!path) return;
      const requestId = requestIdOf(request);
      const problem = (failure: unknown, headers?: Record<string, string>) => {
        const error = codedOrMasked(failure, (err) => logger.error({ err, requestId }, 'REST query failed unexpectedly'));
        return problemResponse(fetchAPI, new RequestRefusal(error.code, error.message, presentDetails(error.details)), requestId, headers);
      };
      if (request.method !== 'POST') return endResponse(problem(new RequestRefusal('METHOD_NOT_ALLOWED', 'Use POST.'), { allow: 'POST' }));
      // Before the credential is looked at: a form post from another site goes no further.
      if (!isJsonContent(request)) return endResponse(problem(new RequestRefusal('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with Content-Type: application/json.')));

      let opened: OpenedDoor;
      try {
        // The endpoint the path names: a refusal at the door goes on its decision log (where the caller could reach it).
        opened = await door.open({ request, serverContext, action: 'rest.query', endpointRef: pathEndpointRef(path[1]!, path[2]!) });
      } catch (error) {
        return endResponse(problem(error)); // the door recorded the refusal
      }
      const stream = prefersEventStream(request.headers.get('accept'));
      const audited = { stream, endpoint: null as string | null };
      const controller = new AbortController();
      const abort = () => controller.abort();
      // The credential watch cuts the query (and its model call) as it cuts a subscription.
      const cut = () => controller.abort(opened.standing.reason);
      const stopAborting = whenAborted(request.signal, abort);
      const stopCutting = whenAborted(opened.standing, cut);
      const finish = (outcome: string) => {
        stopAborting();
        stopCutting();
        opened.finish(outcome, audited); // once: later calls do nothing
      };
      try {
        const endpointRef = endpointRefOf(path[1]!, path[2]!);
        audited.endpoint = endpointRef.slice(0, 200);
        const body = await readJsonBody(request, QueryRequestBody, { maxBytes: MAX_BODY_BYTES });
        const prepared = await opened.services.queries.prepare(endpointRef, body.query, { topK: body.topK, minScore: body.minScore });
        if (stream) {
          const events = restEvents(prepared, controller, opened, (error) => logger.error({ err: error, requestId }, 'REST query failed mid-stream'), requestId);
          const sse = eventStreamBody(events, { keepAliveMs, onEnd: () => finish(events.outcome()) });
          // A response stuck on a gone client's backpressure never asks for the next event, so
          // the query (suspended at a yield) would never unwind: end it here, which records it.
          const endOnAbort = () =>
            void events
              .return()
              .catch((error: unknown) => logger.error({ err: error, requestId }, 'a cancelled REST query did not end cleanly'))
              .finally(() => finish(events.outcome()));
          // A client gone before this line (while the query was admitted) ends it now.
          whenAborted(request.signal, endOnAbort);
          return endResponse(
            new fetchAPI.Response(sse, {
              status: 200,
              headers: { 'content-type': `${EVENT_STREAM}; charset=utf-8`, 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
            }),
          );
        }
        const answer = await answerOf(prepared, controller.signal);
        finish('ok');
        return endResponse(new fetchAPI.Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } }));
      } catch (error) {
        const lost = lostStanding(opened);
        if (lost) {
          finish(lost.code);
          return endResponse(problem(lost));
        }
        const cancelled = controller.signal.aborted;
        finish(cancelled ? 'CANCELLED' : outcomeOf(error));
        // No one is left to read the answer of a cancelled query, and it is no fault to log.
        return endResponse(cancelled ? problem(new RequestRefusal('BAD_REQUEST', 'The caller went away.')) : problem(error));
      }
    },
  };
}

/** The path's reference, or undefined when it cannot be decoded (refused after the door). */
function pathEndpointRef(tenant: string, endpoint: string): string | undefined {
  try {
    return endpointRefOf(tenant, endpoint);
  } catch {
    return undefined;
  }
}

/** `tenant/endpoint` from the path's two segments (percent-decoded; the service checks the shape). */
function endpointRefOf(tenant: string, endpoint: string): string {
  return `${decodePathSegment(tenant, 'tenant')}/${decodePathSegment(endpoint, 'endpoint')}`;
}

/** The whole answer, as `queryEndpoint` gives it. */
async function answerOf(prepared: PreparedQuery, signal: AbortSignal): Promise<RestQueryAnswer> {
  const passages: ShownPassage[] = [];
  let usage: QueryUsage | undefined;
  for await (const event of prepared.events(signal)) {
    if (event.kind === 'retrieved') passages.push(shownPassage(event.rank, event.passage));
    if (event.kind === 'usage') usage = event.usage;
    if (event.kind === 'completed') return { passages, answer: event.answer, citations: event.citations, usage: usage!, latencyMs: event.latencyMs };
  }
  throw new Error(signal.aborted ? 'the caller went away' : 'the query ended without completing');
}

/** The subscription's events as SSE; the payloads are the GraphQL event types' fields. */
function serverSentEventOf(event: QueryEvent): ServerSentEvent {
  switch (event.kind) {
    case 'retrieved':
      return { event: 'passage', data: { passage: shownPassage(event.rank, event.passage) } };
    case 'answerDelta':
      return { event: 'answerDelta', data: { text: event.text } };
    case 'usage':
      return { event: 'usage', data: { usage: event.usage } };
    case 'completed':
      return { event: 'completed', data: { answer: event.answer, citations: event.citations, latencyMs: event.latencyMs } };
  }
}

interface RestEvents extends AsyncIterator<ServerSentEvent> {
  return(value?: unknown): Promise<IteratorResult<ServerSentEvent>>;
  /** The audit outcome so far: ok once completed, the failure's code, or CANCELLED. */
  outcome(): string;
}

/**
 * The query's events; a failure after the stream started is a last `failed` event (its code,
 * or INTERNAL with the request id, logged), and so is the credential watch's cut (the code a
 * GraphQL subscription ends with). Ending the iterator aborts the query at once: an async
 * generator's own return() would wait for its pending await (a model still thinking).
 */
function restEvents(prepared: PreparedQuery, controller: AbortController, opened: OpenedDoor, onUnexpected: (error: unknown) => void, requestId: string): RestEvents {
  let outcome = 'CANCELLED';
  let cut: string | undefined;
  const { signal } = controller;
  const inner = (async function* (): AsyncGenerator<ServerSentEvent> {
    let failure: unknown;
    try {
      for await (const event of prepared.events(signal)) {
        if (event.kind === 'completed') outcome = 'ok';
        yield serverSentEventOf(event);
      }
    } catch (error) {
      failure = error;
    }
    // An aborted query may end quietly or throw: either way, the watch's reason, if it cut it.
    const lost = lostStanding(opened);
    if (lost && outcome !== 'ok') {
      cut = lost.code;
      yield { event: 'failed', data: { code: lost.code, message: lost.message } };
      return;
    }
    if (failure === undefined || signal.aborted) return;
    const coded = codedOrMasked(failure, onUnexpected);
    outcome = coded.code;
    // A masked or transient failure names the request id (a masked one's log line carries it).
    const named = requestNamedBy(coded, requestId);
    yield { event: 'failed', data: { code: coded.code, message: coded.message, ...(named ? { requestId: named } : {}) } };
  })();
  return {
    outcome: () => cut ?? (signal.aborted && outcome !== 'ok' ? 'CANCELLED' : outcome),
    next: () => inner.next(),
    return: (value?: unknown) => {
      controller.abort();
      return inner.return(value as undefined);
    },
  };
}
