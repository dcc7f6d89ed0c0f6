/**
 * Which endpoints a caller may ask, described for a consumer that discovers them (MCP's tool
 * list): the one named by reference, reached exactly as a query reaches it (own tenant, or
 * published; NOT_FOUND otherwise), or every endpoint of the caller's own tenant.
 *
 * Describing is not asking: the endpoint's policies judge each query (QueryService.prepare).
 */
import { assertCan } from '../access/permissions.js';
import { reachEndpoint } from '../endpoints/endpoint-access.js';
import { Endpoint } from '../endpoints/endpoint.entity.js';
import type { ServiceContext } from '../service-context.js';

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

  /** The endpoint at `endpointRef`, if the caller may reach it (the same rule and errors as a query). */
  async describe(endpointRef: string): Promise<AskableEndpoint> {
    assertCan(this.ctx.actor, 'endpoint:query');
    const { endpoint } = await reachEndpoint(this.ctx, endpointRef);
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
