/**
 * `GET /v1/models` (and `GET /v1/models/{tenant}/{endpoint}`), OpenAI's model list: the
 * endpoints the caller may ask, each as a model whose id is the endpoint's reference, which is
 * what `model` takes in `/v1/chat/completions`. The list is the endpoints service's
 * (`askable`): it decides what a caller may ask.
 */
import type { Plugin } from 'graphql-yoga';
import type { AskableEndpoint } from '../domains/endpoints/endpoint.service.js';
import { codedOrMasked, NotFoundError } from '../platform/errors/index.js';
import { decodePathSegment } from '../platform/http/path-segments.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { outcomeOf } from './consumer-door.js';
import type { OpenAIRouteOptions } from './openai-chat.js';
import { openAIErrorBody, openAIErrorResponse, UnreadableBodyError } from './openai-errors.js';

export const OPENAI_MODELS_PATH = '/v1/models';

export function useOpenAIModels({ door, logger }: OpenAIRouteOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== OPENAI_MODELS_PATH && !url.pathname.startsWith(`${OPENAI_MODELS_PATH}/`)) return;
      const requestId = requestIdOf(request);
      const json = (body: unknown, status = 200) =>
        endResponse(new fetchAPI.Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } }));
      if (request.method !== 'GET') {
        return endResponse(
          new fetchAPI.Response(JSON.stringify(openAIErrorBody(new UnreadableBodyError(`Use GET for ${OPENAI_MODELS_PATH}`), requestId)), {
            status: 405,
            headers: { 'content-type': 'application/json; charset=utf-8', allow: 'GET' },
          }),
        );
      }
      let finish: ((outcome: string) => void) | undefined;
      try {
        // One model: its id is "tenant/endpoint", so the rest of the path, slash included.
        const wanted = url.pathname === OPENAI_MODELS_PATH ? null : decodePathSegment(url.pathname.slice(OPENAI_MODELS_PATH.length + 1), 'model');
        const opened = await door.open({ request, serverContext, action: 'openai.models' });
        finish = opened.finish;
        const models = (await opened.services.endpoints.askable()).map(asModel);
        if (wanted === null) {
          opened.finish('ok', { count: models.length });
          return json({ object: 'list', data: models });
        }
        const model = models.find((candidate) => candidate.id === wanted);
        if (!model) throw new NotFoundError('Model', { field: 'model' });
        opened.finish('ok');
        return json(model);
      } catch (error) {
        finish?.(outcomeOf(error));
        const answer = codedOrMasked(error, (err) => logger.error({ err, requestId }, 'OpenAI-compatible model list failed unexpectedly'));
        return endResponse(openAIErrorResponse(fetchAPI, answer, requestId));
      }
    },
  };
}

/** An endpoint as OpenAI's `Model`: `created` in seconds (0 for another tenant's: the catalog does not say), `owned_by` the publishing tenant. */
function asModel(endpoint: AskableEndpoint) {
  return { id: endpoint.reference, object: 'model' as const, created: endpoint.createdAt ? Math.floor(endpoint.createdAt.getTime() / 1000) : 0, owned_by: endpoint.tenantSlug };
}
