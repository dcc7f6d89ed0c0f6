/**
 * Tenants, users and memberships as the caller may see them. Reads go through the request's
 * tenant-scoped EntityManager, so the ORM filter and RLS apply underneath every rule here.
 */
import { isAuthenticated } from '../actor.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../identity/permissions.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { Membership } from './membership.entity.js';
import { Tenant } from './tenant.entity.js';
import { User } from './user.entity.js';

export class TenancyService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The caller's tenant, or null for an anonymous caller. */
  async currentTenant(): Promise<Tenant | null> {
    const { actor, em } = this.ctx;
    if (!actor.tenantId) return null;
    return em.findOne(Tenant, { id: actor.tenantId });
  }

  /** The signed-in user, or null when the caller is not a user (anonymous, API key, external). */
  async currentUser(): Promise<User | null> {
    const { actor, em } = this.ctx;
    if (!actor.userId) return null;
    return em.findOne(User, { id: actor.userId });
  }

  /** Tenants by id, in order; only the caller's own tenant is visible. */
  async tenantsByIds(ids: readonly string[]): Promise<(Tenant | null)[]> {
    const { actor, em } = this.ctx;
    const visible = ids.filter((id) => id === actor.tenantId);
    const found = visible.length ? await em.find(Tenant, { id: { $in: visible } }) : [];
    return ids.map((id) => found.find((tenant) => tenant.id === id) ?? null);
  }

  /** Users by id, in order; visible are the caller and members of the caller's tenant. */
  async usersByIds(ids: readonly string[]): Promise<(User | null)[]> {
    const { actor, em } = this.ctx;
    if (!isAuthenticated(actor) || ids.length === 0) return ids.map(() => null);
    // The membership filter confines this join to the caller's tenant.
    const members = await em.find(Membership, { user: { $in: [...ids] } }, { populate: ['user'] });
    const visible = new Map(members.map((membership) => [membership.user.id, membership.user]));
    if (actor.userId && ids.includes(actor.userId) && !visible.has(actor.userId)) {
      const self = await em.findOne(User, { id: actor.userId });
      if (self) visible.set(self.id, self);
    }
    return ids.map((id) => visible.get(id) ?? null);
  }

  async membershipsByIds(ids: readonly string[]): Promise<(Membership | null)[]> {
    const found = ids.length ? await this.ctx.em.find(Membership, { id: { $in: [...ids] } }) : [];
    return ids.map((id) => found.find((membership) => membership.id === id) ?? null);
  }

  /** The caller's membership in their tenant (null for callers that are not users). */
  async currentMembership(): Promise<Membership | null> {
    const { actor, em } = this.ctx;
    if (!actor.userId || !actor.tenantId) return null;
    return em.findOne(Membership, { user: actor.userId, tenant: actor.tenantId });
  }

  /** Members of the caller's tenant, oldest first, with their users loaded in the same query. */
  async listMembers(tenantId: string, request: PageRequest): Promise<Page<Membership>> {
    const { actor, em } = this.ctx;
    if (tenantId !== actor.tenantId) throw new NotFoundError('Tenant');
    return keysetPage(em, Membership, { tenant: tenantId }, request, { populate: ['user'] });
  }

  /** Tenant settings: OWNER only. */
  async updateSettings(input: { name?: string | null; apiKeyDefaultTtlDays?: number | null }): Promise<Tenant> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'tenant:manage');
    const tenant = await em.findOneOrFail(Tenant, { id: actor.tenantId });
    if (input.name != null) {
      const name = input.name.trim();
      if (name.length < 1 || name.length > 100) throw new ValidationError('Name must be 1 to 100 characters', { field: 'name' });
      tenant.name = name;
    }
    if (input.apiKeyDefaultTtlDays != null) {
      const days = input.apiKeyDefaultTtlDays;
      if (!Number.isInteger(days) || days < 1 || days > 3650) {
        throw new ValidationError('apiKeyDefaultTtlDays must be 1 to 3650', { field: 'apiKeyDefaultTtlDays' });
      }
      tenant.apiKeyDefaultTtlDays = days;
    }
    await em.flush();
    return tenant;
  }
}
