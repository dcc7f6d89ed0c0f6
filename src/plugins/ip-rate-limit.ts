/**
 * A token bucket per client address, for every request: anonymous or not, GraphQL or the REST
 * login, valid credential or not (so guessing tokens is limited too). Over HTTP the request is
 * refused before its body is read or parsed; over graphql-ws, where there is no HTTP request
 * per operation, each operation is counted before its document is parsed (server/websocket.ts
 * takes from the same AddressLimit): a socket flooding `subscribe` messages once had each one
 * parsed and validated before it was refused, holding the event loop for as long as it sent.
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
  /** The per-address bucket and its rule (requests per second and burst per address; IPv6: per /64). */
  limit: AddressLimit;
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

/** The per-address bucket: one for the HTTP requests (useIpRateLimit) and the graphql-ws operations (server/websocket.ts). */
export class AddressLimit {
  constructor(
    private readonly buckets: BucketStore,
    readonly rule: BucketRule = { perSecond: 50, burst: 100 },
  ) {}

  /** Takes one request from `ip`'s bucket: null when allowed, else the refusal. */
  async refusal(ip: string): Promise<RateLimitedError | null> {
    const result = await this.buckets.take(bucketKey('ip', ipIdentity(ip)), this.rule);
    if (result.allowed) return null;
    const limited = rateLimited('requests from your address', result);
    return new RateLimitedError(limited.message, limited.details.retryAfterSeconds as number, { reason: 'ADDRESS_RATE_LIMIT' });
  }
}

export function useIpRateLimit({ limit, trustProxyHops = 0, asksEndpoint, sampler, responseFor }: IpRateLimitOptions): Plugin<ClientContext> {
  const rule = limit.rule;
  const refusal = (ip: string) => limit.refusal(ip);
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
