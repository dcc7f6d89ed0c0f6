import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from './context.js';
import type { Logger } from '../platform/logging/logger.js';

export interface RequestIdOptions {
  logger: Logger;
  /** @default 'x-request-id' */
  header?: string;
}

/** Accept a caller's id only if it is short and plain, so it is safe in logs and headers. */
const SAFE_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every operation a request id (the caller's `x-request-id` if it is sane, else a new
 * UUID) and a logger bound to it, and echoes the id in the response so an operator can find
 * the request's log lines from what a client reports.
 */
export function useRequestId({ logger, header = 'x-request-id' }: RequestIdOptions): Plugin<RequestContext> {
  const ids = new WeakMap<Request, string>();
  const idFor = (request: Request | undefined): string => {
    if (!request) return randomUUID(); // WebSocket operations: one id per operation
    let id = ids.get(request);
    if (!id) {
      const incoming = request.headers.get(header);
      id = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
      ids.set(request, id);
    }
    return id;
  };
  return {
    onRequest({ request }) {
      idFor(request);
    },
    onContextBuilding({ context, extendContext }) {
      const requestId = idFor((context as { request?: Request }).request);
      extendContext({ requestId, logger: logger.child({ requestId }) });
    },
    onResponse({ request, response }) {
      const id = ids.get(request);
      if (id) response.headers.set(header, id);
    },
  };
}
