/**
 * `GET /api/v1/endpoints?search=&first=&after=`: the catalog for plain HTTP clients, the same
 * entries as GraphQL's `catalog` (domains/endpoints/catalog.service.ts) as
 * `{ items, pageInfo: { hasNextPage, endCursor } }`. Through the consumer door, so it is
 * authenticated (a credential is optional; a bad one is refused), limited and audited
 * (`rest.catalog`) like every consumer surface. Errors are RFC 9457 problem details.
 * The OpenAPI description of this route is openapi/catalog-paths.ts.
 */
import type { Plugin } from 'graphql-yoga';
import type { CatalogRequest } from '../domains/endpoints/catalog.service.js';
import { ValidationError } from '../domains/errors.js';
import { codedOrMasked, problemResponse, RequestRefusal } from '../platform/errors/index.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { unstorableTextMessage } from '../platform/input/unstorable-text.js';
import type { Logger } from '../platform/logging/logger.js';
import { outcomeOf, type ConsumerDoor, type OpenedDoor } from './consumer-door.js';

export const CATALOG_PATH = '/api/v1/endpoints';

const PARAMETERS = ['search', 'first', 'after'] as const;

export function useCatalogRoute({ door, logger }: { door: ConsumerDoor; logger: Logger }): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== CATALOG_PATH) return;
      const requestId = requestIdOf(request);
      const problem = (error: unknown) => {
        const answer = codedOrMasked(error, (err) => logger.error({ err, requestId }, 'the catalog failed unexpectedly'));
        return endResponse(problemResponse(fetchAPI, answer, requestId));
      };
      if (request.method !== 'GET') {
        return endResponse(problemResponse(fetchAPI, new RequestRefusal('METHOD_NOT_ALLOWED', `Use GET on ${CATALOG_PATH}.`), requestId, { allow: 'GET' }));
      }
      let opened: OpenedDoor;
      try {
        opened = await door.open({ request, serverContext, action: 'rest.catalog' });
      } catch (error) {
        return problem(error);
      }
      try {
        const page = await opened.services.catalog.browse(catalogRequestOf(url.searchParams));
        const last = page.items.at(-1);
        const body = { items: page.items, pageInfo: { hasNextPage: page.hasNextPage, endCursor: last === undefined ? null : page.cursorOf(last) } };
        opened.finish('ok', { entries: page.items.length });
        return endResponse(
          new fetchAPI.Response(JSON.stringify(body), {
            status: 200,
            // What a caller is shown depends on who they are (their tenant's own limits).
            headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': requestId },
          }),
        );
      } catch (error) {
        opened.finish(outcomeOf(error));
        return problem(error);
      }
    },
  };
}

/** The query parameters, each at most once; an unknown one is refused rather than ignored (a typo would silently list everything). */
function catalogRequestOf(params: URLSearchParams): CatalogRequest {
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (name.includes('\u0000') || value.includes('\u0000')) throw new ValidationError(unstorableTextMessage(`Query parameter "${name.replaceAll('\u0000', '')}"`));
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      throw new ValidationError(`Unknown query parameter "${name.slice(0, 64)}"; the catalog takes ${PARAMETERS.join(', ')}`, { parameter: name.slice(0, 64) });
    }
    if (seen.has(name)) throw new ValidationError(`Query parameter "${name}" is given twice`, { parameter: name });
    seen.add(name);
  }
  const first = params.get('first');
  if (first !== null && !/^\d{1,9}$/.test(first)) throw new ValidationError('first must be a whole number', { parameter: 'first' });
  return { search: params.get('search'), first: first === null ? null : Number(first), after: params.get('after') };
}
