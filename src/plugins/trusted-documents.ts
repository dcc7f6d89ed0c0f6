/**
 * Persisted-operations-only mode (SLUICE_TRUSTED_DOCUMENTS): clients name a trusted document
 * by its id and never send GraphQL text, so a locked-down deployment runs only the operations
 * its own clients were built with. Over HTTP this is Yoga's persisted-operations plugin; over
 * graphql-ws, server.ts resolves the document with `trustedQueryOf` before parsing.
 *
 * A client sends the id as Apollo's `extensions.persistedQuery.sha256Hash` (with `version: 1`)
 * or as `documentId` (GraphQL over HTTP's persisted documents; a `sha256:` prefix is ignored).
 * Over graphql-ws the `query` field must still be a string: send `""`.
 *
 * Refusals carry codes of their own, not Apollo's `PERSISTED_QUERY_NOT_FOUND`: that one tells
 * Apollo clients to register the document by sending its text, which this mode refuses.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { httpStatusOf, type ErrorCode } from '../platform/errors/index.js';
import type { TrustedDocuments } from '../trusted-documents.js';

export const TRUSTED_DOCUMENT_REQUIRED = 'TRUSTED_DOCUMENT_REQUIRED' satisfies ErrorCode;
export const TRUSTED_DOCUMENT_NOT_FOUND = 'TRUSTED_DOCUMENT_NOT_FOUND' satisfies ErrorCode;

export interface TrustedDocumentOptions {
  /** The only documents clients may run. */
  documents: TrustedDocuments;
}

export function useTrustedDocuments({ documents }: TrustedDocumentOptions): Plugin {
  return usePersistedOperations({
    allowArbitraryOperations: false,
    extractPersistedOperationId: (params) => documentIdOf(params),
    getPersistedOperation: (id) => documents.get(id) ?? null,
    customErrors: {
      persistedQueryOnly: () => requiredError(),
      keyNotFound: () => requiredError(),
      notFound: () => notFoundError(),
    },
  });
}

/** The document a graphql-ws `subscribe` payload names; throws the same coded errors as HTTP. */
export function trustedQueryOf(documents: TrustedDocuments, params: SentParams): string {
  if (params.query) throw requiredError();
  const id = documentIdOf(params);
  if (id === null) throw requiredError();
  const document = documents.get(id);
  if (document === undefined) throw notFoundError();
  return document;
}

/** What a client sent, over HTTP (Yoga's params) or graphql-ws (the subscribe payload). */
type SentParams = { query?: string | null; extensions?: Record<string, unknown> | null; documentId?: unknown };

function documentIdOf(params: SentParams): string | null {
  const persisted = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined)?.persistedQuery;
  if (persisted?.version === 1 && typeof persisted.sha256Hash === 'string') return persisted.sha256Hash;
  if (typeof params.documentId === 'string') return params.documentId.replace(/^sha256:/, '');
  return null;
}

function requiredError(): GraphQLError {
  return new GraphQLError(
    'This server runs trusted documents only: send the document id (extensions.persistedQuery.sha256Hash or documentId), not the query text.',
    { extensions: { code: TRUSTED_DOCUMENT_REQUIRED, http: { status: httpStatusOf(TRUSTED_DOCUMENT_REQUIRED) } } },
  );
}

function notFoundError(): GraphQLError {
  return new GraphQLError('No trusted document has this id: the client may be newer than this server.', {
    extensions: { code: TRUSTED_DOCUMENT_NOT_FOUND, http: { status: httpStatusOf(TRUSTED_DOCUMENT_NOT_FOUND) } },
  });
}
