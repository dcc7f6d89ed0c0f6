/**
 * The last line of defence for the plain-HTTP routes: an error thrown out of a plugin's
 * `onRequest` (a route's own code, before or outside its try) is not Yoga's to mask. It went
 * to @whatwg-node/server, which answered 500 `text/plain` with the error's stack trace (install
 * paths, library versions) whatever NODE_ENV said. Each plugin's `onRequest` is wrapped here:
 * a coded error is answered with its own status, anything else is logged with the request id
 * and answered as a masked INTERNAL, in the shape the path's clients read.
 */
import type { Plugin } from 'graphql-yoga';
import { codedOrMasked, type CodedError } from '../platform/errors/index.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import type { Logger } from '../platform/logging/logger.js';

type OnRequest = NonNullable<Plugin['onRequest']>;
/** What a plugin list holds: any Yoga plugin, whatever its context, or `{}`. */
type AnyPlugin = object & { onRequest?: unknown };

/** The response for a refusal on this path (the route's own error shape). */
export type RefusalResponder = (url: URL, request: Request, error: CodedError, fetchAPI: { Response: typeof Response }) => Response;

/** `plugin` with its `onRequest` guarded (the same plugin when it has none). */
export function withRequestHookGuard<P extends AnyPlugin>(plugin: P, logger: Logger, responseFor: RefusalResponder): P {
  const onRequest = plugin.onRequest as OnRequest | undefined;
  if (!onRequest) return plugin;
  const guarded: OnRequest = async function (this: unknown, payload) {
    try {
      return await onRequest.call(this, payload);
    } catch (failure) {
      const requestId = requestIdOf(payload.request);
      const error = codedOrMasked(failure, (err) => logger.error({ err, requestId, path: payload.url.pathname }, 'a route failed outside its own error handling'));
      payload.endResponse(responseFor(payload.url, payload.request, error, payload.fetchAPI));
    }
  };
  // A copy on the same prototype: the caller may keep the original (server.ts disposes of some).
  return Object.assign(Object.create(Object.getPrototypeOf(plugin) as object) as P, plugin, { onRequest: guarded });
}
