/**
 * A tenant's IP allow-list (updateTenantSettings `ipAllowList`): an operation whose credential
 * belongs to a tenant with one, from an address outside it, is refused with FORBIDDEN (reason
 * IP_NOT_ALLOWED) before it runs, over HTTP and WebSocket alike. Each tenant's list is read at
 * most once per `ttlMs`, so a change takes effect within that time on every instance.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../context.js';
import { httpStatusOf } from '../platform/errors/index.js';
import { allowList, type AllowList } from '../domains/tenancy/ip-allow-list.js';

export interface IpAllowListOptions {
  /** @default 5000 */
  ttlMs?: number;
}

export function useIpAllowList({ ttlMs = 5000 }: IpAllowListOptions = {}): Plugin<GraphQLContext> {
  const cache = new Map<string, { list: Promise<AllowList | null>; until: number }>();
  const listOf = (context: GraphQLContext): Promise<AllowList | null> => {
    const tenantId = context.actor.tenantId!;
    const cached = cache.get(tenantId);
    if (cached && cached.until > Date.now()) return cached.list;
    if (cache.size > 10_000) cache.clear();
    const list = context.services.tenancy.ipAllowList().then((ranges) => (ranges ? allowList(ranges) : null));
    // A failed read is not cached: the next operation tries again.
    list.catch(() => cache.delete(tenantId));
    cache.set(tenantId, { list, until: Date.now() + ttlMs });
    return list;
  };
  /** The refusal, or undefined. Returned as a result, not thrown: over graphql-ws a throw would close the whole socket. */
  const refusal = async (context: GraphQLContext) => {
    if (!context.actor.tenantId) return undefined;
    let list: AllowList | null;
    try {
      list = await listOf(context);
    } catch (error) {
      // Unexpected (the database): handed on uncoded, so the error model masks and logs it
      // with the request id, and the operation does not run unchecked.
      return new GraphQLError('Unexpected error', { originalError: error as Error });
    }
    const ip = (context as { clientIp?: string }).clientIp ?? '';
    if (!list || list.allows(ip)) return undefined;
    return new GraphQLError(`This tenant accepts requests only from its allowed addresses; ${ip || 'yours'} is not one`, {
      extensions: { code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED', http: { status: httpStatusOf('FORBIDDEN') } },
    });
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const error = await refusal(args.contextValue as GraphQLContext);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const error = await refusal(args.contextValue as GraphQLContext);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
