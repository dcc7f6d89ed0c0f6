/**
 * `GET /api/v1/openapi.json`: the OpenAPI document (document.ts), public (it describes the
 * routes, never a tenant's data) and cacheable: built once, with a strong ETag so a client
 * that has it gets 304.
 */
import { createHash } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { problemResponse, RequestRefusal } from '../../platform/errors/index.js';
import { requestIdOf } from '../../platform/http/request-ids.js';
import { openApiDocument, OPENAPI_PATH } from './document.js';

export function useOpenApiDocument(): Plugin {
  let built: { body: string; etag: string } | undefined;
  const document = () => {
    if (!built) {
      const body = JSON.stringify(openApiDocument());
      built = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    }
    return built;
  };
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== OPENAPI_PATH) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        const refusal = new RequestRefusal('METHOD_NOT_ALLOWED', 'Use GET.');
        return endResponse(problemResponse(fetchAPI, refusal, requestIdOf(request), { allow: 'GET, HEAD' }));
      }
      const { body, etag } = document();
      const cache = { etag, 'cache-control': 'public, max-age=300' };
      if (request.headers.get('if-none-match')?.split(',').some((tag) => tag.trim() === etag)) {
        return endResponse(new fetchAPI.Response(null, { status: 304, headers: cache }));
      }
      return endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : body, { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', ...cache } }));
    },
  };
}
