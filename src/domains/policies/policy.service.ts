/**
 * An endpoint's policies: created, changed and removed by ADMINs, each configuration checked
 * against its registered type (defaults filled in are what is stored). The type of a policy
 * never changes: a different rule is a different policy.
 */
import DataLoader from 'dataloader';
import { findByIds } from '../lookup.js';
import { auditChange } from '../audit/record.js';
import { validConfiguration } from '../configuration.js';
import { Endpoint } from '../endpoints/endpoint.entity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import type { ServiceContext } from '../service-context.js';
import { Policy } from './policy.entity.js';
import { policyType, policyTypes, type PolicyType } from './policy-type.js';
import './types/index.js';

export interface PolicyInput {
  endpointId: string;
  type: string;
  configuration: Record<string, unknown>;
  enabled?: boolean | null;
}

/** Omitted or null fields stay as they are. */
export interface PolicyChanges {
  configuration?: Record<string, unknown> | null;
  enabled?: boolean | null;
}

const MAX_POLICIES_PER_ENDPOINT = 50;

export class PolicyService {
  /** An endpoint's policies, oldest first, for any number of endpoints in one query. */
  private readonly byEndpoint = new DataLoader<string, Policy[]>(async (endpointIds) => {
    const found = await this.ctx.em.find(Policy, { endpoint: { $in: [...endpointIds] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return endpointIds.map((id) => found.filter((policy) => policy.endpoint.id === id));
  });

  constructor(private readonly ctx: ServiceContext) {}

  async create(input: PolicyInput): Promise<Policy> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'policy:manage');
    const type = typeNamed(input.type);
    const endpoint = await em.findOne(Endpoint, { id: input.endpointId }, { fields: ['id'] });
    if (!endpoint) throw new NotFoundError('Endpoint', { field: 'endpointId' });
    if ((await em.count(Policy, { endpoint: endpoint.id })) >= MAX_POLICIES_PER_ENDPOINT) {
      throw new ValidationError(`An endpoint has at most ${MAX_POLICIES_PER_ENDPOINT} policies`, { field: 'endpointId' });
    }
    const policy = em.create(Policy, {
      tenant: actor.tenantId,
      endpoint: endpoint.id,
      type: type.name,
      configuration: validConfiguration(type.configSchema, input.configuration, { typeName: type.name, field: 'configuration' }),
      enabled: input.enabled ?? true,
    });
    await em.flush();
    this.byEndpoint.clear(endpoint.id);
    auditChange(this.ctx, 'policy.create', { type: 'Policy', id: policy.id }, null, shown(policy));
    return policy;
  }

  async update(id: string, changes: PolicyChanges): Promise<Policy> {
    assertCan(this.ctx.actor, 'policy:manage');
    const policy = await this.get(id);
    const before = shown(policy);
    if (changes.configuration != null) {
      const type = typeNamed(policy.type);
      policy.configuration = validConfiguration(type.configSchema, changes.configuration, { typeName: type.name, field: 'configuration' });
    }
    if (changes.enabled != null) policy.enabled = changes.enabled;
    await this.ctx.em.flush();
    this.byEndpoint.clear(policy.endpoint.id);
    auditChange(this.ctx, 'policy.update', { type: 'Policy', id: policy.id }, before, shown(policy));
    return policy;
  }

  /** Returns the removed policy's id. Its decisions stay in the log. */
  async delete(id: string): Promise<string> {
    assertCan(this.ctx.actor, 'policy:manage');
    const policy = await this.get(id);
    await this.ctx.em.nativeDelete(Policy, { id: policy.id });
    this.ctx.em.getUnitOfWork().unsetIdentity(policy);
    this.byEndpoint.clear(policy.endpoint.id);
    auditChange(this.ctx, 'policy.delete', { type: 'Policy', id: policy.id }, shown(policy), null);
    return policy.id;
  }

  async get(id: string): Promise<Policy> {
    assertCan(this.ctx.actor, 'tenant:read');
    const policy = await this.ctx.em.findOne(Policy, { id });
    if (!policy) throw new NotFoundError('Policy');
    return policy;
  }

  byIds(ids: readonly string[]): Promise<(Policy | null)[]> {
    return findByIds(this.ctx.em, Policy, ids);
  }

  forEndpoint(endpointId: string): Promise<Policy[]> {
    assertCan(this.ctx.actor, 'tenant:read');
    return this.byEndpoint.load(endpointId);
  }

  types(): PolicyType[] {
    return policyTypes();
  }
}

function shown(policy: Policy) {
  return { endpointId: policy.endpoint.id, type: policy.type, configuration: policy.configuration, enabled: policy.enabled };
}

function typeNamed(name: string): PolicyType {
  const type = policyType(name);
  if (!type) {
    throw new ValidationError(`Unknown policy type "${name}"; one of: ${policyTypes().map((known) => known.name).join(', ')}`, { field: 'type' });
  }
  return type;
}
