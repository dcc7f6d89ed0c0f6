/**
 * Any other path under `/v1`: 404 in OpenAI's error shape. An OpenAI client asking for what
 * Sluice does not serve (`/v1/embeddings`, `/v1/responses`, a trailing slash) got an empty 404
 * and raised "404 status code (no body)", with no code and no request id. Registered after the
 * OpenAI routes, so it answers only what they did not.
 */
import type { Plugin } from 'graphql-yoga';
import { NotFoundError } from '../platform/errors/index.js';
import { requestIdOf } from '../platform/http/request-ids.js';
import { OPENAI_CHAT_PATH } from './openai-chat.js';
import { openAIErrorResponse } from './openai-errors.js';
import { OPENAI_MODELS_PATH } from './openai-models.js';

export const OPENAI_PREFIX = '/v1';

export function useOpenAIUnknownPaths(): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== OPENAI_PREFIX && !url.pathname.startsWith(`${OPENAI_PREFIX}/`)) return;
      const error = new NotFoundError(`Sluice serves ${OPENAI_CHAT_PATH} and ${OPENAI_MODELS_PATH} of OpenAI's API, not ${url.pathname.slice(0, 200)}`);
      endResponse(openAIErrorResponse(fetchAPI, error, requestIdOf(request)));
    },
  };
}
