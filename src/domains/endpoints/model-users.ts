/**
 * Which endpoints answer with a model. The model service asks before deleting one; models do
 * not know endpoints (an endpoint points at its model, not the reverse), so services.ts hands
 * the model service this question.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Endpoint } from './endpoint.entity.js';

/** The slugs of up to five of the tenant's endpoints that answer with `modelId`. */
export async function endpointSlugsUsingModel(em: EntityManager, modelId: string): Promise<string[]> {
  const users = await em.find(Endpoint, { model: modelId }, { fields: ['slug'], limit: 5 });
  return users.map((endpoint) => endpoint.slug);
}
