/**
 * A token bucket per client address, for every request: anonymous or not, GraphQL or the REST
 * login, valid credential or not (so guessing tokens is limited too). Over HTTP the request is
 * refused before its body is read or parsed; over graphql-ws, where there is no HTTP request
 * per operation, each operation is counted as its context is built.
 *
 * A refused request on a path that asks an endpoint (`asksEndpoint`) is, once per address and
 * window, let on carrying its refusal (platform/rate-limits/sampled-address-refusals.ts), so
 * the endpoint's decision log records it: `useCarriedAddressRefusals` below (GraphQL) and the
 * consumer door (REST, OpenAI, MCP) refuse it there, with the same 429.
 */
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { ClientContext } from './context.js';
import { bucketKey, ipIdentity } from '../platform/rate-limits/bucket-keys.js';
import type { BucketRule, BucketStore } from '../platform/rate-limits/token-bucket.js';
import { codedErrorToGraphQL } from '../platform/errors/index.js';
import { clientIpOf } from '../platform/http/client-address.js';
import { rateLimited, rateLimitedResponse } from '../platform/rate-limits/refusal.js';
import { RateLimitedError } from '../platform/errors/index.js';
import { carriedRefusalOf, carryRefusal, type AddressRefusalSampler } from '../platform/rate-limits/sampled-address-refusals.js';
import { recordEndpointRefusals } from './endpoint-refusals.js';
import type { AuthContext, ScopeContext } from './context.js';
import type { Logger } from '../platform/logging/logger.js';

export interface IpRateLimitOptions {
  buckets: BucketStore;
  /** Requests per second and burst per address (IPv6: per /64). @default { perSecond: 50, burst: 100 } */
  rule?: BucketRule;
  /** Proxies in front of Sluice whose `X-Forwarded-For` is believed (see client-ip.ts). @default 0 */
  trustProxyHops?: number;
  /** Paths whose refusals may be sampled into decision logs; none by default. */
  asksEndpoint?: (url: URL, method: string) => boolean;
  sampler?: AddressRefusalSampler;
  /**
   * The refusal in the shape the path's clients read (REST: problem details; OpenAI: its error
   * object); undefined: GraphQL's `{ errors }`, the default.
   */
  responseFor?: (url: URL, request: Request, error: RateLimitedError, fetchAPI: { Response: typeof Response }) => Response | undefined;
}

/** The per-address rule in words, as the decision log shows it. */
export function addressRuleText(rule: BucketRule): string {
  return `${rule.perSecond} requests per second per address (bursts of ${rule.burst})`;
}

export function useIpRateLimit({ buckets, rule = { perSecond: 50, burst: 100 }, trustProxyHops = 0, asksEndpoint, sampler, responseFor }: IpRateLimitOptions): Plugin<ClientContext> {
  const refusal = async (ip: string) => {
    const result = await buckets.take(bucketKey('ip', ipIdentity(ip)), rule);
    if (result.allowed) return null;
    const limited = rateLimited('requests from your address', result);
    return new RateLimitedError(limited.message, limited.details.retryAfterSeconds as number, { reason: 'ADDRESS_RATE_LIMIT' });
  };
  return {
    async onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      const ip = clientIpOf((serverContext as { req?: IncomingMessage }).req, trustProxyHops);
      const refused = await refusal(ip);
      if (!refused) return;
      if (sampler && asksEndpoint?.(url, request.method) && sampler.firstInWindow(ipIdentity(ip))) {
        carryRefusal(request, { error: refused, rule: addressRuleText(rule) });
        return;
      }
      endResponse(responseFor?.(url, request, refused, fetchAPI) ?? rateLimitedResponse(fetchAPI, refused));
    },
    async onContextBuilding({ context }) {
      // HTTP requests were counted in onRequest; only graphql-ws operations arrive without one.
      if ((context as { request?: Request }).request) return;
      const refused = await refusal(context.clientIp);
      if (refused) throw codedErrorToGraphQL(refused);
    },
  };
}

/**
 * Refuses, after authentication, a GraphQL request the per-address limit let on carrying its
 * refusal (above), recording it first in the decision log of each endpoint it asks.
 */
export function useCarriedAddressRefusals(): Plugin<AuthContext & ScopeContext & { logger?: Logger }> {
  return {
    async onContextBuilding({ context }) {
      const carried = carriedRefusalOf((context as { request?: Request }).request);
      if (!carried) return;
      await recordEndpointRefusals(context, carried.error, carried.rule);
      throw codedErrorToGraphQL(carried.error);
    },
  };
}
