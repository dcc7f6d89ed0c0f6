/**
 * Tenants, users and memberships as the caller may see them. Reads go through the request's
 * tenant-scoped EntityManager, so the ORM filter and RLS apply underneath every rule here.
 */
import { auditChange } from '../audit/record.js';
import { isAuthenticated } from '../actor.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { displayName } from '../display-text.js';
import { retentionHours } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { Membership } from './membership.entity.js';
import { allowList, validRanges } from './ip-ranges.js';
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

  /**
   * Tenant settings. Name and API key lifetime: OWNER (`tenant:manage`). The request rate limit
   * of the tenant's principals: ADMIN too (`policy:manage`: how often callers may query is
   * policy, which admins already set per endpoint). For the limits, `undefined` leaves a value
   * as it is and `null` returns it to the server default.
   */
  async updateSettings(input: TenantSettingsInput): Promise<Tenant> {
    const { actor, em } = this.ctx;
    const limits = input.rateLimitPerSecond !== undefined || input.rateLimitBurst !== undefined;
    const ownerOnly = [input.name, input.apiKeyDefaultTtlDays, input.auditStoreEmails, input.auditRetentionDays, input.usageRetentionDays, input.ipAllowList].some((value) => value != null) || input.documentRetentionHours !== undefined;
    if (!limits || ownerOnly) assertCan(actor, 'tenant:manage');
    if (limits) assertCan(actor, 'policy:manage');
    const tenant = await em.findOneOrFail(Tenant, { id: actor.tenantId });
    const before = settingsOf(tenant);
    if (input.name != null) tenant.name = displayName(input.name, 'name');
    if (input.apiKeyDefaultTtlDays != null) {
      const days = input.apiKeyDefaultTtlDays;
      if (!Number.isInteger(days) || days < 1 || days > 3650) {
        throw new ValidationError('apiKeyDefaultTtlDays must be 1 to 3650', { field: 'apiKeyDefaultTtlDays' });
      }
      tenant.apiKeyDefaultTtlDays = days;
    }
    if (input.rateLimitPerSecond !== undefined) tenant.rateLimitPerSecond = limitSetting('rateLimitPerSecond', input.rateLimitPerSecond, MAX_RATE_PER_SECOND);
    if (input.rateLimitBurst !== undefined) tenant.rateLimitBurst = limitSetting('rateLimitBurst', input.rateLimitBurst, MAX_RATE_BURST);
    if (input.auditStoreEmails != null) tenant.auditStoreEmails = input.auditStoreEmails;
    if (input.auditRetentionDays != null) tenant.auditRetentionDays = daysSetting('auditRetentionDays', input.auditRetentionDays);
    if (input.usageRetentionDays != null) tenant.usageRetentionDays = daysSetting('usageRetentionDays', input.usageRetentionDays);
    if (input.documentRetentionHours !== undefined) tenant.documentRetentionHours = retentionHours('documentRetentionHours', input.documentRetentionHours);
    if (input.ipAllowList != null) tenant.ipAllowList = this.validAllowList(input.ipAllowList);
    await em.flush();
    this.ctx.deps.audit?.forgetTenant(tenant.id);
    auditChange(this.ctx, 'tenant.settings', { type: 'Tenant', id: tenant.id }, before, settingsOf(tenant));
    return tenant;
  }

  /**
   * The caller's tenant's own request limit (null fields: the server default), for the
   * rate-limit plugin. Read past the identity map so a cached entity never answers for the row.
   */
  /** The ranges, refusing a list that would lock out the very request setting it. */
  private validAllowList(ranges: readonly string[]): string[] | null {
    const valid = validRanges(ranges);
    if (valid.length === 0) return null;
    const ip = this.ctx.request?.ip;
    if (ip && !allowList(valid).allows(ip)) {
      throw new ValidationError(`Your own address (${ip}) is not in ipAllowList: you would lock yourself out`, { field: 'ipAllowList', reason: 'LOCKOUT' });
    }
    return valid;
  }

  /** The caller's tenant's IP allow-list, or null when it has none (read fresh: callers cache it). */
  async ipAllowList(): Promise<string[] | null> {
    const { actor, em } = this.ctx;
    if (!actor.tenantId) return null;
    const tenant = await em.findOne(Tenant, { id: actor.tenantId }, { fields: ['ipAllowList'], disableIdentityMap: true });
    return tenant?.ipAllowList?.length ? tenant.ipAllowList : null;
  }

  async rateLimitOverride(): Promise<{ perSecond: number | null; burst: number | null } | null> {
    const { actor, em } = this.ctx;
    if (!actor.tenantId) return null;
    const tenant = await em.findOne(
      Tenant,
      { id: actor.tenantId },
      { fields: ['rateLimitPerSecond', 'rateLimitBurst'], disableIdentityMap: true },
    );
    return tenant && { perSecond: tenant.rateLimitPerSecond ?? null, burst: tenant.rateLimitBurst ?? null };
  }
}

export interface TenantSettingsInput {
  name?: string | null;
  apiKeyDefaultTtlDays?: number | null;
  rateLimitPerSecond?: number | null;
  rateLimitBurst?: number | null;
  auditStoreEmails?: boolean | null;
  auditRetentionDays?: number | null;
  usageRetentionDays?: number | null;
  /** Hours documents are kept in datasets that set none; undefined: unchanged; null: kept until deleted. */
  documentRetentionHours?: number | null;
  /** CIDR ranges; an empty list removes the restriction. */
  ipAllowList?: readonly string[] | null;
}

/**
 * Ceilings on what a tenant may set for itself: an admin raises their own limit here, so the
 * platform's protection must not be one setting away from off. The per-IP limit applies on top.
 */
export const MAX_RATE_PER_SECOND = 1_000;
export const MAX_RATE_BURST = 10_000;

function limitSetting(field: string, value: number | null, max: number): number | null {
  if (value === null) return null;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new ValidationError(`${field} must be 1 to ${max}, or null for the server default`, { field });
  return value;
}

/** Retention: 1 day to 10 years. */
function daysSetting(field: string, days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new ValidationError(`${field} must be 1 to 3650 days`, { field });
  return days;
}

function settingsOf(tenant: Tenant) {
  return {
    name: tenant.name,
    apiKeyDefaultTtlDays: tenant.apiKeyDefaultTtlDays,
    rateLimitPerSecond: tenant.rateLimitPerSecond ?? null,
    rateLimitBurst: tenant.rateLimitBurst ?? null,
    auditStoreEmails: tenant.auditStoreEmails,
    auditRetentionDays: tenant.auditRetentionDays,
    usageRetentionDays: tenant.usageRetentionDays,
    documentRetentionHours: tenant.documentRetentionHours ?? null,
    ipAllowList: tenant.ipAllowList ?? null,
  };
}
