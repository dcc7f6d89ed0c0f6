/**
 * A tenant's IP allow-list over GraphQL, HTTP and WebSocket alike: the shared check
 * (domains/tenancy/ip-allow-check.ts) before an operation or subscription runs. A refused
 * operation that asks endpoints is recorded in their decision logs (endpoint-refusals.ts).
 */
import { GraphQLError, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.js';
import { httpStatusOf } from '../platform/errors/index.js';
import type { IpAllowListCheck } from '../domains/tenancy/ip-allow-check.js';
import { endpointReferencesIn } from '../graphql/endpoint-references.js';
import { recordEndpointRefusals } from './endpoint-refusals.js';

type OperationArgs = { contextValue: unknown; document: DocumentNode; operationName?: string | null; variableValues?: unknown };

export function useIpAllowList(check: IpAllowListCheck): Plugin<GraphQLContext> {
  /** The refusal, or undefined. Returned as a result, not thrown: over graphql-ws a throw would close the whole socket. */
  const refusal = async (args: OperationArgs) => {
    const context = args.contextValue as GraphQLContext;
    try {
      const refused = await check.refusal(context.actor.tenantId, (context as { clientIp?: string }).clientIp ?? '', () => context.services.tenancy.ipAllowList());
      if (!refused) return undefined;
      const asked = endpointReferencesIn(args.document, args.operationName, args.variableValues);
      if (asked.length > 0) await recordEndpointRefusals(context, refused, 'the caller tenant’s IP allow-list', asked);
      // A refusal of the whole request: its HTTP status says so too (403), unlike a field's FORBIDDEN.
      return new GraphQLError(refused.message, { extensions: { code: refused.code, ...refused.details, http: { status: httpStatusOf(refused.code) } } });
    } catch (error) {
      // Unexpected (the database): handed on uncoded, so the error model masks and logs it
      // with the request id, and the operation does not run unchecked.
      return new GraphQLError('Unexpected error', { originalError: error as Error });
    }
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const error = await refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const error = await refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
