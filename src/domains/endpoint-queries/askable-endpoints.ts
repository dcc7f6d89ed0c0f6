/**
 * Which endpoints a caller may ask, described for a consumer that discovers them (MCP's tool
 * list): the one named by reference, reached exactly as a query reaches it (own tenant, or
 * published; NOT_FOUND otherwise; with no credential, published and allowAnonymous), or every
 * endpoint of the caller's own tenant.
 *
 * Describing is not asking: the endpoint's policies judge each query (QueryService.prepare),
 * and what a caller they turn away is told is consumer-disclosure.ts's to say.
 */
import { assertCan, assertMayAskEndpoints } from '../access/permissions.js';
import { callerOf, reachEndpointAnd } from '../endpoints/endpoint-access.js';
import { Endpoint } from '../endpoints/endpoint.entity.js';
import type { ServiceContext } from '../service-context.js';
import { discoveryRefusal } from '../policies/consumer-disclosure.js';

/** What a consumer is told about an endpoint it may ask. */
export interface AskableEndpoint {
  /** `tenantSlug/endpointSlug`: what QueryService.prepare takes. */
  reference: string;
  slug: string;
  name: string;
  description: string | null;
}

/** More would not help a client choose among tools; it names one endpoint by its address instead. */
export const MAX_LISTED_ENDPOINTS = 100;

export class AskableEndpointService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * The endpoint at `endpointRef`, if the caller may reach it (the same rule and errors as a
   * query), and may be told of it: a caller its policies turn away whatever it asks gets the
   * refusal a query would give instead (consumer-disclosure.ts).
   */
  async describe(endpointRef: string): Promise<AskableEndpoint> {
    const { actor } = this.ctx;
    assertMayAskEndpoints(actor);
    const caller = callerOf(this.ctx);
    const endpoint = await reachEndpointAnd(
      this.ctx,
      endpointRef,
      (_tx, reached) => {
        const refusal = discoveryRefusal(actor, caller, reached, this.ctx.deps.clock.now());
        if (refusal) throw refusal;
        return reached.endpoint;
      },
      { withPolicies: true },
    );
    return described(endpointRef.trim(), endpoint);
  }

  /** The caller's own tenant's endpoints, oldest first, at most MAX_LISTED_ENDPOINTS. */
  async ownTenant(): Promise<AskableEndpoint[]> {
    const { actor } = this.ctx;
    assertCan(actor, 'endpoint:query');
    const endpoints = await this.ctx.scope.read((em) =>
      em.find(Endpoint, {}, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: MAX_LISTED_ENDPOINTS, fields: ['slug', 'name', 'description'] }),
    );
    return endpoints.map((endpoint) => described(`${actor.tenantSlug}/${endpoint.slug}`, endpoint));
  }
}

function described(reference: string, endpoint: Pick<Endpoint, 'slug' | 'name' | 'description'>): AskableEndpoint {
  return { reference, slug: endpoint.slug, name: endpoint.name, description: endpoint.description ?? null };
}
