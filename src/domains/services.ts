/** The services of one request, built by the request-scope plugin around one EntityManager. */
import type { ServiceContext } from './service-context.js';
import { TenancyService } from './tenancy/tenancy.service.js';

export function createServices(ctx: ServiceContext) {
  return {
    tenancy: new TenancyService(ctx),
  };
}

export type Services = ReturnType<typeof createServices>;
