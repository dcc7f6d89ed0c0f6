/**
 * `POST /v1/chat/completions`, OpenAI's chat completions protocol over an endpoint: `model` is
 * the endpoint's reference ("tenant-slug/endpoint-slug") and the answer is the endpoint's
 * answer to the last user message, grounded in its retrieval (the passages and citations in
 * the extra field `sluice`, openai-completion.ts). With `stream: true`, server-sent
 * `chat.completion.chunk` events ending in `data: [DONE]`. The same query service as every
 * other door (one path: policies, limits, usage, decision log, audit); a caller who goes away
 * cancels the query. Errors in OpenAI's shape (openai-errors.ts).
 */
import type { Plugin } from 'graphql-yoga';
import type { PreparedQuery } from '../domains/endpoint-queries/query.service.js';
import { CodedError, codedOrMasked, RequestRefusal, ValidationError } from '../platform/errors/index.js';
import { isJsonContent } from '../platform/http/json-body.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { jsonTextOf, RefusedBodyError } from '../platform/input/utf8-text.js';
import type { Logger } from '../platform/logging/logger.js';
import { lostStanding, outcomeOf, type ConsumerDoor, type OpenedDoor } from './consumer-door.js';
import { parseChatRequest, type ChatRequest } from './openai-chat-request.js';
import { CompletionWriter } from './openai-completion.js';
import { openAIErrorBody, openAIErrorResponse, UnreadableBodyError } from './openai-errors.js';
import { whenAborted } from '../platform/lifecycle/when-aborted.js';

export const OPENAI_CHAT_PATH = '/v1/chat/completions';

export interface OpenAIRouteOptions {
  door: ConsumerDoor;
  logger: Logger;
}

export function useOpenAIChat({ door, logger }: OpenAIRouteOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== OPENAI_CHAT_PATH) return;
      const requestId = requestIdOf(request);
      const refuse = (error: unknown) => endResponse(openAIErrorResponse(fetchAPI, coded(error, logger, requestId), requestId));
      if (request.method !== 'POST') return endResponse(methodNotAllowed(fetchAPI, requestId));
      // The body is read (bounded, as always) before the door, so a per-caller or IP allow-list
      // refusal can be written to the decision log of the endpoint it asked (`model`). A bad
      // body is refused after the door, so it is audited on the caller's chain as before.
      let chat: ChatRequest | undefined;
      let badBody: unknown;
      try {
        // JSON only, as the REST query: a cross-site page can send a text/plain or form POST
        // without a preflight, never an application/json one (and its visitors' browsers would
        // spend the anonymous limits of their addresses on the page's questions).
        if (!isJsonContent(request)) throw new RequestRefusal('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with Content-Type: application/json.');
        chat = parseChatRequest(await jsonOf(request));
      } catch (error) {
        badBody = error;
      }
      let opened: OpenedDoor;
      try {
        opened = await door.open({ request, serverContext, action: 'openai.chat', endpointRef: chat?.model });
      } catch (error) {
        return refuse(error);
      }
      // Aborted when the caller goes away (whatwg-node aborts the request's signal) or ends the
      // stream, or when the credential watch cuts the request (its reason is then the answer).
      const cancel = new AbortController();
      whenAborted(request.signal, () => cancel.abort());
      whenAborted(opened.standing, () => cancel.abort(opened.standing.reason));
      let prepared: PreparedQuery;
      try {
        if (!chat) throw badBody;
        prepared = await opened.services.queries.prepare(chat.model, chat.question, {}).catch((error: unknown) => {
          throw inOpenAITerms(error);
        });
      } catch (error) {
        // The endpoint asked for, once the request is read: a refusal's audit event names it.
        opened.finish(outcomeOf(error), chat ? { endpoint: chat.model, stream: chat.stream } : {});
        return refuse(error);
      }
      const writer = new CompletionWriter(chat.model);
      const details = { endpoint: chat.model, stream: chat.stream };
      if (chat.stream) {
        const finish = (outcome: string) => opened.finish(outcome, details);
        return endResponse(streamed(fetchAPI, { prepared, writer, includeUsage: chat.includeUsage, cancel, gone: request.signal, lost: () => lostStanding(opened), finish, logger, requestId }));
      }
      try {
        for await (const event of prepared.events(cancel.signal)) writer.take(event);
        if (!writer.isComplete) throw new QueryCancelled();
        opened.finish('ok', details);
        return endResponse(
          new fetchAPI.Response(JSON.stringify(writer.completion()), { headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } }),
        );
      } catch (error) {
        const failure = lostStanding(opened) ?? (cancel.signal.aborted ? undefined : error);
        if (failure) {
          opened.finish(outcomeOf(failure), details);
          return refuse(failure);
        }
        // Nobody is left to read an answer: 499, as proxies log a client that closed first.
        opened.finish('CANCELLED', details);
        return endResponse(new fetchAPI.Response(null, { status: 499 }));
      }
    },
  };
}

/** The chunks as server-sent events; the query runs as the client reads, and stops when it goes away. */
interface StreamedAnswer {
  prepared: PreparedQuery;
  writer: CompletionWriter;
  includeUsage: boolean;
  /** Aborts the query; the stream aborts it when the caller cancels. */
  cancel: AbortController;
  /** Aborted when the client's connection closed (it left, or was cut for not reading). */
  gone: AbortSignal;
  /** The credential watch's error, when it is what aborted the query. */
  lost: () => CodedError | undefined;
  /** Ends the request (its audit event) with the outcome. */
  finish: (outcome: string) => void;
  logger: Logger;
  requestId: string;
}

function streamed(fetchAPI: { Response: typeof Response }, { prepared, writer, includeUsage, cancel, gone, lost, finish, logger, requestId }: StreamedAnswer): Response {
  const encoder = new TextEncoder();
  const event = (data: unknown) => encoder.encode(`data: ${JSON.stringify(data)}\n\n`);
  const events = prepared.events(cancel.signal);
  // A response stuck on a gone client's backpressure never pulls again, so the query (suspended
  // at a yield) would never unwind: end it here, which records it, as the REST route does.
  // After a complete answer this changes nothing: the request's event is in, the events ended.
  // A client gone before this line (while the query was admitted) ends it now.
  whenAborted(gone, () => {
    finish('CANCELLED');
    cancel.abort();
    void events.return(undefined).catch((error: unknown) => logger.error({ err: error, requestId }, 'a cancelled OpenAI-compatible answer did not end cleanly'));
  });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(event(writer.roleChunk()));
    },
    async pull(controller) {
      try {
        for (;;) {
          const next = await events.next();
          if (next.done) {
            if (!writer.isComplete) throw new QueryCancelled();
            controller.enqueue(event(writer.finishChunk()));
            if (includeUsage) controller.enqueue(event(writer.usageChunk()));
            controller.enqueue(encoder.encode('data: [DONE]\n\n'));
            controller.close();
            finish('ok');
            return;
          }
          const text = writer.take(next.value);
          if (text) {
            controller.enqueue(event(writer.contentChunk(text)));
            return;
          }
        }
      } catch (error) {
        const cut = lost();
        if (cancel.signal.aborted && !cut) {
          finish('CANCELLED');
          closeQuietly(controller);
          return;
        }
        // After the status was sent, a failure is the stream's last event (OpenAI clients raise
        // it), the credential watch's cut included: the error a GraphQL subscription ends with.
        const failure = cut ?? coded(error, logger, requestId);
        finish(failure.code);
        controller.enqueue(event(openAIErrorBody(failure, requestId)));
        controller.close();
      }
    },
    async cancel() {
      // The caller went away: abort first, so a model that is still thinking stops now.
      finish('CANCELLED');
      cancel.abort();
      await events.return(undefined).catch(() => undefined);
    },
  });
  return new fetchAPI.Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
  });
}

/** Closes a stream the caller may have cancelled meanwhile (closing it then throws). */
function closeQuietly(controller: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    controller.close();
  } catch {
    // already cancelled: nothing to close
  }
}

/** The query ended without an answer because it was cancelled (the caller went away). */
class QueryCancelled extends Error {}

/** The request body as JSON, or a refusal saying why it is not. */
async function jsonOf(request: Request): Promise<unknown> {
  try {
    return JSON.parse(await jsonTextOf(request));
  } catch (error) {
    if (error instanceof RefusedBodyError) throw new UnreadableBodyError(error.message);
    throw new UnreadableBodyError('The body must be JSON: a chat completions request ({"model": "tenant/endpoint", "messages": [...]})');
  }
}

/** The query service speaks of `query`; an OpenAI client sent it as the last user message. */
function inOpenAITerms(error: unknown): unknown {
  if (error instanceof ValidationError && error.details.field === 'query') {
    return new ValidationError(`The last user message is the endpoint's query: ${error.message}`, error.details);
  }
  return error;
}

/** A coded error as it is, anything else logged and masked. */
function coded(error: unknown, logger: Logger, requestId: string): CodedError {
  return codedOrMasked(error, (err) => logger.error({ err, requestId }, 'OpenAI-compatible chat failed unexpectedly'));
}

function methodNotAllowed(fetchAPI: { Response: typeof Response }, requestId: string): Response {
  const body = openAIErrorBody(new UnreadableBodyError(`Use POST for ${OPENAI_CHAT_PATH}`), requestId);
  return new fetchAPI.Response(JSON.stringify(body), { status: 405, headers: { 'content-type': 'application/json; charset=utf-8', allow: 'POST' } });
}
