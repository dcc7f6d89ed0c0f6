/**
 * Refuses, before anything reads it, a request that is a model call this deployment made
 * itself (its `Sluice-Hop` carries this deployment's mark: platform/http/call-loops.ts), in
 * the shape its route's clients read errors (`responseFor`), else GraphQL's `{ errors }`.
 */
import type { Plugin } from 'graphql-yoga';
import { codedErrorResponse, type CodedError } from '../platform/errors/index.js';
import { loopRefusal } from '../platform/http/call-loops.js';

export interface LoopRefusalOptions {
  hopMark: string | undefined;
  responseFor?: (url: URL, request: Request, error: CodedError, fetchAPI: { Response: typeof Response }) => Response | undefined;
}

export function useLoopRefusal({ hopMark, responseFor }: LoopRefusalOptions): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const refused = loopRefusal(request, hopMark);
      if (refused) endResponse(responseFor?.(url, request, refused, fetchAPI) ?? codedErrorResponse(fetchAPI, refused));
    },
  };
}
