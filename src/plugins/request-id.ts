import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from './context.js';
import type { Logger } from '../platform/logging/logger.js';
import { withExtensions } from '../platform/errors/index.js';
import { givenRequestId, operationRequestId, REQUEST_ID_HEADER, requestIdOf, UNKNOWN_REQUEST_ID } from '../platform/http/request-ids.js';

export interface RequestIdOptions {
  logger: Logger;
  /** @default 'x-request-id' */
  header?: string;
}

/**
 * Gives every operation a request id (platform/http/request-ids.ts) and a logger bound to it,
 * and echoes the id in the response so an operator can find the request's log lines from
 * what a client reports.
 */
export function useRequestId({ logger, header = REQUEST_ID_HEADER }: RequestIdOptions): Plugin<RequestContext> {
  const idFor = (request: Request | undefined) => requestIdOf(request, header);
  return {
    onRequest({ request }) {
      idFor(request);
    },
    onContextBuilding({ context, extendContext }) {
      const { request, params } = context as { request?: Request; params?: { extensions?: { requestId?: unknown } } };
      // Over WebSocket there is no request: the id comes with the operation, if its client sent one.
      const requestId = request ? idFor(request) : operationRequestId(params?.extensions?.requestId);
      extendContext({ requestId, logger: logger.child({ requestId }) });
    },
    onResultProcess({ request, result, setResult }) {
      // An error masked outside execution (server.ts maskedErrors: Yoga gives it no request)
      // says "unknown": it is named here, where the request is known.
      const id = givenRequestId(request);
      if (!id || Array.isArray(result) || !('errors' in result) || !result.errors?.some(unnamed)) return;
      setResult({ ...result, errors: result.errors.map((error) => (unnamed(error) ? withExtensions(error, { requestId: id }) : error)) });
    },
    onResponse({ request, response }) {
      const id = givenRequestId(request);
      if (id) response.headers.set(header, id);
    },
  };
}

/** A masked error that could not name its request. */
function unnamed(error: GraphQLError): boolean {
  return error.extensions?.requestId === UNKNOWN_REQUEST_ID;
}
