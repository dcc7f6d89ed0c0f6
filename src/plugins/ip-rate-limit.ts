/**
 * A token bucket per client address, for every request: anonymous or not, GraphQL or the REST
 * login, valid credential or not (so guessing tokens is limited too). Over HTTP the request is
 * refused before its body is read or parsed; over graphql-ws, where there is no HTTP request
 * per operation, each operation is counted as its context is built.
 */
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { ClientContext } from '../context.js';
import { bucketKey, ipIdentity } from '../rate-limits/keys.js';
import type { BucketRule, BucketStore } from '../rate-limits/token-bucket.js';
import { codedErrorToGraphQL } from '../platform/errors/index.js';
import { clientIpOf } from './client-ip.js';
import { rateLimited, rateLimitedResponse } from './rate-limited.js';

export interface IpRateLimitOptions {
  buckets: BucketStore;
  /** Requests per second and burst per address (IPv6: per /64). @default { perSecond: 50, burst: 100 } */
  rule?: BucketRule;
  /** Proxies in front of Sluice whose `X-Forwarded-For` is believed (see client-ip.ts). @default 0 */
  trustProxyHops?: number;
}

export function useIpRateLimit({ buckets, rule = { perSecond: 50, burst: 100 }, trustProxyHops = 0 }: IpRateLimitOptions): Plugin<ClientContext> {
  const refusal = async (ip: string) => {
    const result = await buckets.take(bucketKey('ip', ipIdentity(ip)), rule);
    return result.allowed ? null : rateLimited('requests from your address', result);
  };
  return {
    async onRequest({ serverContext, endResponse, fetchAPI }) {
      const refused = await refusal(clientIpOf((serverContext as { req?: IncomingMessage }).req, trustProxyHops));
      if (refused) endResponse(rateLimitedResponse(fetchAPI, refused));
    },
    async onContextBuilding({ context }) {
      // HTTP requests were counted in onRequest; only graphql-ws operations arrive without one.
      if ((context as { request?: Request }).request) return;
      const refused = await refusal(context.clientIp);
      if (refused) throw codedErrorToGraphQL(refused);
    },
  };
}
