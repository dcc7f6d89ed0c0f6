import { GraphQLError } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import type { RequestContext } from './context.js';
import { codedErrorToGraphQL, maskedError, toClientError, transientFailure, withExtensions, type PresentDetails } from '../platform/errors/index.js';

export interface ErrorModelOptions {
  /** Put the original message of unexpected errors in the response (development only). */
  exposeUnexpected: boolean;
  /** How coded errors' details are shown (the schema's global ids). @default as they are */
  presentDetails?: PresentDetails;
}

/**
 * Gives every error in a result a stable `extensions.code` (see platform/errors) and masks
 * unexpected ones, logging them with the request id that the masked error carries, so an
 * operator can find the cause from what a client reports.
 */
export function useErrorModel({ exposeUnexpected, presentDetails }: ErrorModelOptions): Plugin<RequestContext> {
  const present = (errors: readonly GraphQLError[], context: RequestContext) =>
    errors.map((error) => {
      const client = toClientError(error, { presentDetails });
      if (client?.extensions.code === 'UNAVAILABLE') {
        context.logger.warn({ err: error.originalError ?? error, path: error.path }, 'the database failed an operation transiently');
        return withRequestId(client, context.requestId);
      }
      if (client) return client;
      context.logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error in operation');
      return maskedError(error, context.requestId, exposeUnexpected);
    });

  const onResult = (context: RequestContext) => (payload: Parameters<Parameters<typeof handleStreamOrSingleExecutionResult>[1]>[0]) => {
    const { result, setResult } = payload;
    // A later part of @defer / @stream carries its errors in its items: they are coded and
    // masked as a result's own are (before, they went out bare: no code, an unexpected
    // error's own message).
    const items = (result as { incremental?: readonly { errors?: readonly GraphQLError[] }[] }).incremental;
    const itemsFailed = items?.some((item) => item.errors?.length) ?? false;
    if (!result.errors?.length && !itemsFailed) return;
    setResult({
      ...result,
      ...(result.errors?.length ? { errors: present(result.errors, context) } : {}),
      ...(itemsFailed ? { incremental: items!.map((item) => (item.errors?.length ? { ...item, errors: present(item.errors, context) } : item)) } : {}),
    });
  };

  return {
    onPluginInit({ registerContextErrorHandler }) {
      // An unexpected failure while the context is built (the credential store unreachable,
      // say) is masked here, where the request id and logger are known; Yoga's last-resort
      // masking in server.ts could only say "unknown".
      registerContextErrorHandler(({ context, error, setError }) => {
        const { requestId, logger } = context as Partial<RequestContext>;
        if (!requestId || !logger || (error instanceof GraphQLError && toClientError(error, { presentDetails }))) return;
        const transient = error instanceof GraphQLError ? undefined : transientFailure(error);
        if (transient) {
          logger.warn({ err: error }, 'the database failed while building the operation context, transiently');
          setError(withRequestId(codedErrorToGraphQL(transient), requestId));
          return;
        }
        logger.error({ err: error }, 'unexpected error while building the operation context');
        const asGraphQL = error instanceof GraphQLError ? error : new GraphQLError(String((error as Error)?.message ?? error));
        setError(maskedError(asGraphQL, requestId, exposeUnexpected));
      });
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length) setResult(result.map((error) => toClientError(error, { presentDetails }) ?? error));
      };
    },
    onExecute({ args }) {
      const context = args.contextValue as RequestContext;
      return { onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, onResult(context)) };
    },
    onSubscribe({ args }) {
      const context = args.contextValue as RequestContext;
      return {
        onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, onResult(context)),
      };
    },
  };
}

/** A transient failure names its request too (as a masked one does), for the client to quote if it persists. */
function withRequestId(error: GraphQLError, requestId: string): GraphQLError {
  return withExtensions(error, { requestId });
}
