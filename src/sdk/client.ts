/**
 * The Sluice client: typed operations (documents generated into ./generated from
 * ./operations) over HTTP; subscriptions over graphql-ws, or Server-Sent Events where no
 * WebSocket is at hand. Uses only fetch, FormData, Blob and WebSocket, so it runs in browsers
 * and in Node 20 (Node 20 has no global WebSocket: pass `webSocketImpl`, e.g. the `ws`
 * package, or subscriptions go over SSE).
 *
 * Authentication: an API key, an access token, or credentials (email + password: the client
 * logs in when first needed, refreshes the session before the token expires, and once more on
 * UNAUTHENTICATED; the tokens of a mutation that moves the session are kept: session-keeper.ts).
 * RATE_LIMITED answers, and a query's UNAVAILABLE answers, are retried after
 * `retryAfterSeconds`, a bounded number of times; a query whose connection is reset before any
 * answer is sent once more. What a server sends is bounded (limits.ts): an answer or an SSE event
 * past `maxResponseBytes`, or a wait past `timeoutMs`, is a NETWORK_ERROR.
 * Every other error is a `SluiceError` with the API's `extensions.code`.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
// The two functions' own modules, not graphql's index: loading all of graphql-js costs a CLI
// command a few hundred milliseconds it never uses (issue 22). Likewise graphql-ws's client
// entry, without its server half.
import { print } from 'graphql/language/printer.js';
import { getOperationAST } from 'graphql/utilities/getOperationAST.js';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws/client';
import { LogInDocument, RefreshSessionDocument } from './generated/graphql.js';
import { SluiceError, toSluiceError } from './errors.js';
import { reach } from './reach.js';
import { newRequestId } from './request-id.js';
import { checkedTimeoutMs, deadline, DEFAULT_MAX_RESPONSE_BYTES, readBody, timedOut } from './limits.js';
import { sseResults, type WireResult } from './sse.js';
import { multipartBody } from './uploads.js';
import { sessionDocumentOf } from './session-changes.js';
import { sessionKeeper } from './session-keeper.js';
import { postWithUploadProgress } from './upload-progress.js';
import type { ClientOptions, RequestArguments, RequestOptions, SluiceClient, VariablesArgument } from './client-types.js';

export { SluiceError } from './errors.js';

export type { Auth, ClientOptions, RequestArguments, RequestOptions, Session, SluiceClient, VariablesArgument } from './client-types.js';

const MAX_WAIT_MS = 30_000;

/** A document's text and whether it is a query, worked out once per document (they are module constants). */
const documents = new WeakMap<object, { query: string; idempotent: boolean }>();
function printed(document: TypedDocumentNode<any, any>): { query: string; idempotent: boolean } {
  let known = documents.get(document);
  if (!known) documents.set(document, (known = { query: print(document), idempotent: getOperationAST(document)?.operation === 'query' }));
  return known;
}

export function createClient(options: ClientOptions): SluiceClient {
  let ws: WsClient | undefined;
  const maxRetries = options.maxRateLimitRetries ?? 2;
  const limits = { maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, timeoutMs: checkedTimeoutMs(options.timeoutMs) };

  async function post<Data>(
    document: TypedDocumentNode<Data, any>,
    variables: Record<string, unknown> | undefined,
    authorization: string | undefined,
    { onUploadProgress, maxResponseBytes = limits.maxResponseBytes }: RequestOptions = {},
  ) {
    const { query, idempotent } = printed(document);
    const { body, multipart } = multipartBody(query, variables);
    const requestId = newRequestId();
    const headers: Record<string, string> = { accept: 'application/graphql-response+json, application/json', 'x-request-id': requestId };
    if (!multipart) headers['content-type'] = 'application/json';
    else headers['x-sluice-csrf'] = '1';
    if (authorization) headers.authorization = authorization;
    if (options.tenant) headers['x-sluice-tenant'] = options.tenant;
    const signal = deadline(limits.timeoutMs);
    let response: Response;
    let text: string;
    try {
      // A query goes again, once, if the connection is reset before any answer (reach.ts).
      response =
        multipart && onUploadProgress && typeof XMLHttpRequest !== 'undefined'
          ? await postWithUploadProgress(options.url, { headers, body }, onUploadProgress, { maxResponseBytes, timeoutMs: limits.timeoutMs })
          : await reach(options.url, { method: 'POST', headers, body, signal }, { idempotent, requestId });
      text = await readBody(response, maxResponseBytes, options.url, requestId);
    } catch (error) {
      throw signal?.aborted ? timedOut(options.url, limits.timeoutMs!, requestId) : error;
    }
    const payload = parsedAnswer<Data>(text, response.status);
    return { payload, requestId: response.headers.get('x-request-id') ?? requestId };
  }

  const credentials = 'credentials' in options ? options.credentials : undefined;
  const initial = 'session' in options ? options.session : undefined;
  const keeper =
    credentials || initial
      ? sessionKeeper({
          session: initial,
          credentials,
          skewMs: (options.refreshSkewSeconds ?? 30) * 1000,
          onSession: options.onSession,
          refresh: (refreshToken) => post(RefreshSessionDocument, { refreshToken }, undefined),
          logIn: (input) => post(LogInDocument, { input }, undefined),
        })
      : undefined;

  async function authorization(): Promise<string | undefined> {
    if ('apiKey' in options && options.apiKey) return `Bearer ${options.apiKey}`;
    if ('token' in options && options.token) return `Bearer ${options.token}`;
    if (keeper) return `Bearer ${(await keeper.session()).accessToken}`;
    return undefined;
  }

  function useSse(): boolean {
    const transport = options.subscriptionTransport ?? 'auto';
    if (transport !== 'auto') return transport === 'sse';
    return !options.webSocketImpl && typeof globalThis.WebSocket === 'undefined';
  }

  async function* sseWithAuthorization(query: string, variables: Record<string, unknown> | undefined, requestId: string): AsyncGenerator<WireResult> {
    yield* sseResults(options.url, query, variables, { authorization: await authorization(), tenant: options.tenant }, requestId, limits);
  }

  function wsResults(query: string, variables: Record<string, unknown> | undefined, requestId: string): AsyncIterator<WireResult, undefined> {
    ws ??= createWsClient({
      url: options.url.replace(/^http/, 'ws'),
      webSocketImpl: options.webSocketImpl,
      retryAttempts: 3,
      // The connection phase only (graphql-ws' default is to wait for the server's ack forever).
      ...(limits.timeoutMs ? { connectionAckWaitTimeout: limits.timeoutMs } : {}),
      // Asked on every (re)connection, so a reconnect presents a fresh token.
      connectionParams: async () => {
        const value = await authorization();
        return { ...(value ? { authorization: value } : {}), ...(options.tenant ? { tenant: options.tenant } : {}) };
      },
    });
    // The server adopts the id for the operation's log lines, as it does an HTTP x-request-id.
    return ws.iterate({ query, variables, extensions: { requestId } }) as AsyncIterator<WireResult, undefined>;
  }

  /**
   * Runs a query or mutation. One that may move the kept session (session-changes.ts) runs in
   * the session's turn and hands its tokens to it, from every answer: one with errors may carry
   * a field that ran.
   */
  async function request<Data>(document: TypedDocumentNode<Data, any>, variables?: Record<string, unknown>, requestOptions: RequestOptions = {}): Promise<Data> {
    const changing = keeper && sessionDocumentOf(document);
    if (!keeper || !changing) return attempts(document, variables, requestOptions, authorization);
    const own = (refreshToken: unknown) => refreshToken === keeper.current()?.refreshToken;
    // A refresh of the client's own token needs no bearer, and renewing first would spend it.
    const asked = changing.presenting(variables, own);
    if (asked === 'mixed') throw new SluiceError('BAD_USER_INPUT', "A refreshSession of the client's own refresh token cannot share a document with another session change", {});
    return keeper.changing((send, keep) => {
      // In its turn: a renewal queued before it may have spent the token it presents.
      if (asked === 'all' && changing.presenting(variables, own) !== 'all') {
        throw new SluiceError('CONFLICT', 'The client renewed its session while this refreshSession waited: the refresh token it presents is spent (client.session() holds the current one)', {});
      }
      return attempts(changing.document as TypedDocumentNode<Data, any>, variables, requestOptions, async () => (asked === 'all' ? undefined : `Bearer ${(await send()).accessToken}`), (data) => {
        const tokens = changing.handed(data, variables, own);
        if (tokens) keep(tokens);
      });
    });
  }

  /** Sends a call until it is answered for good: retries (rate limits, a query's UNAVAILABLE) and one renewal of a refused token. */
  async function attempts<Data>(
    document: TypedDocumentNode<Data, any>,
    variables: Record<string, unknown> | undefined,
    requestOptions: RequestOptions,
    bearer: () => Promise<string | undefined>,
    answered?: (data: unknown) => void,
  ): Promise<Data> {
    // The types (RequestArguments) make required variables required; at run time they are passed through.
    let reauthenticated = false;
    for (let attempt = 0; ; attempt += 1) {
      const sentWith = await bearer();
      const { payload, requestId } = await post(document, variables, sentWith, requestOptions);
      answered?.(payload.data);
      if (!payload.errors?.length && payload.data !== undefined) return payload.data;
      const error = toSluiceError(payload.errors, requestId);
      // A query the database could not serve just now (UNAVAILABLE) is asked again the same way;
      // a mutation is not: the caller decides whether to send it again.
      const retried = (error.code === 'RATE_LIMITED' && (requestOptions.retryRateLimited?.(error) ?? true)) || (error.code === 'UNAVAILABLE' && printed(document).idempotent);
      if (retried && attempt < maxRetries) {
        const seconds = typeof error.details.retryAfterSeconds === 'number' ? error.details.retryAfterSeconds : 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_WAIT_MS, seconds * 1000)));
        continue;
      }
      // Renewed once, unless a call meanwhile renewed (or moved) the session: then sent with that.
      if (error.code === 'UNAUTHENTICATED' && keeper && sentWith && !reauthenticated) {
        reauthenticated = true;
        keeper.refused(sentWith.slice('Bearer '.length));
        continue;
      }
      throw error;
    }
  }

  return {
    request,
    query: request,
    mutate: request,

    subscribe(document: TypedDocumentNode<unknown, any>, variables?: Record<string, unknown>) {
      const { query } = printed(document);
      const requestId = newRequestId();
      const results = useSse() ? sseWithAuthorization(query, variables, requestId) : wsResults(query, variables, requestId);
      const iterator: AsyncIterableIterator<any> = {
        async next() {
          let next: IteratorResult<WireResult, undefined>;
          try {
            next = await results.next();
          } catch (error) {
            throw transportError(error, options.url, requestId);
          }
          if (next.done) return { done: true, value: undefined };
          if (next.value.errors?.length) {
            await results.return?.(undefined);
            throw toSluiceError(next.value.errors, requestId);
          }
          return { done: false, value: next.value.data };
        },
        async return() {
          await results.return?.(undefined);
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },

    session: () => keeper?.current(),

    async close() {
      await ws?.dispose();
      ws = undefined;
    },
  };
}

/** An answer's JSON; one that is not a JSON object is an INTERNAL error naming the HTTP status. */
function parsedAnswer<Data>(text: string, status: number): { data?: Data; errors?: { message: string; extensions?: Record<string, unknown> }[] } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch {
    // Not JSON: said below, as any other answer that is not GraphQL's.
  }
  return { errors: [{ message: `HTTP ${status}`, extensions: { code: 'INTERNAL' } }] };
}

/**
 * What a subscription's transport threw, as a SluiceError: GraphQL errors (graphql-ws hands
 * over the operation's errors as a list) by their code; a socket that could not open or
 * closed under the stream (a CloseEvent, a connection error) as NETWORK_ERROR.
 */
function transportError(error: unknown, url: string, requestId: string): SluiceError {
  if (error instanceof SluiceError) return error;
  if (Array.isArray(error)) return toSluiceError(error, requestId);
  const closed = error as { code?: unknown; reason?: unknown; message?: unknown };
  const cause = typeof closed.code === 'number' ? `closed (${closed.code}${closed.reason ? `: ${String(closed.reason)}` : ''})` : String(closed.message ?? closed.code ?? error);
  return new SluiceError('NETWORK_ERROR', `Cannot reach ${url}: ${cause}`, {}, requestId);
}
