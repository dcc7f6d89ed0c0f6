/** Trusted external issuers of a tenant. */
import { assertCallableUrl, EgressRefusedError } from '../../platform/egress/policy.js';
import { auditChange, QUALIFIED_ACTOR_PREFIX } from '../audit/record.js';
import { findByIds } from '../lookup.js';
import { assertUuid } from '../ids.js';
import { User } from '../tenancy/user.entity.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { displayName } from '../display-text.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { flushOrConflict } from '../unique-names.js';
import { isRole, type Role } from '../access/roles.js';
import { TOKEN_ISSUER } from './access-token.js';
import { IdentityProvider } from './identity-provider.entity.js';
import { heldAnswerablePerson } from './answerable-person.js';
import { endChildrenOf } from './credential-children.js';
import { parseInlineKeySet } from './inline-key-set.js';
import { assertCan, assertMayGrant } from '../access/permissions.js';

/** The marks of a provider's change event (record.ts): its key set as the registration's argument is kept. */
const AUDIT_MARKS = { jwks: 'keySet' } as const;

export interface IdentityProviderInput {
  name: string;
  issuer: string;
  audience: string;
  jwksUrl?: string | null;
  jwks?: unknown;
  emailClaim?: string | null;
  roleClaim?: string | null;
  roleMapping?: Record<string, string> | null;
  defaultRole?: Role | null;
}

export class IdentityProviderService {
  constructor(private readonly ctx: ServiceContext) {}

  async register(input: IdentityProviderInput): Promise<IdentityProvider> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'identityProvider:manage');
    assertMayVouchForProvider(actor);
    const issuer = required(input.issuer, 'issuer');
    if (issuer === TOKEN_ISSUER) throw new ValidationError(`"${TOKEN_ISSUER}" is Sluice's own issuer`, { field: 'issuer' });
    // The audit names another tenant's external caller `tenant:<id>/issuer#subject` (audit/record.ts):
    // an issuer of that shape would read, on its own tenant's trail, as another tenant's caller.
    if (issuer.startsWith(QUALIFIED_ACTOR_PREFIX)) throw new ValidationError(`An issuer may not begin with "${QUALIFIED_ACTOR_PREFIX}"`, { field: 'issuer' });
    const hasUrl = Boolean(input.jwksUrl);
    if (hasUrl === (input.jwks != null)) throw new ValidationError('Give exactly one of jwksUrl and jwks', { field: 'jwksUrl' });
    if (input.jwksUrl) this.assertJwksUrl(input.jwksUrl);
    const jwks = input.jwks == null ? null : parseInlineKeySet(input.jwks);
    const roleMapping = Object.fromEntries(
      Object.entries(input.roleMapping ?? {}).map(([claim, role]) => {
        if (!isRole(role)) throw new ValidationError(`roleMapping: "${role}" is not a role`, { field: 'roleMapping' });
        assertMayGrant(actor, role);
        return [claim, role];
      }),
    ) as Record<string, Role>;
    const defaultRole = input.defaultRole ?? 'VIEWER';
    // Its tokens act with this role: nobody hands out a role above their own.
    assertMayGrant(actor, defaultRole);
    const audience = required(input.audience, 'audience');
    await this.assertUnclaimed(issuer, audience);
    const registrar = await heldAnswerablePerson(this.ctx);
    const provider = em.create(IdentityProvider, {
      tenant: actor.tenantId,
      name: displayName(input.name, 'name'),
      issuer,
      audience,
      jwksUrl: input.jwksUrl ?? null,
      jwks,
      emailClaim: input.emailClaim?.trim() || 'email',
      roleClaim: input.roleClaim?.trim() || null,
      roleMapping,
      defaultRole,
      registeredBy: registrar,
      registeredByPerson: registrar !== null,
    });
    await flushOrConflict(em, () => new ConflictError('This issuer is already registered', { field: 'issuer' }));
    auditChange(this.ctx, 'identityProvider.register', { type: 'IdentityProvider', id: provider.id }, null, shown(provider), AUDIT_MARKS);
    return provider;
  }

  async list(request: PageRequest): Promise<Page<IdentityProvider>> {
    assertCan(this.ctx.actor, 'identityProvider:manage');
    return keysetPage(this.ctx.em, IdentityProvider, {}, request);
  }

  byIds(ids: readonly string[]): Promise<(IdentityProvider | null)[]> {
    return findByIds(this.ctx.em, IdentityProvider, ids);
  }

  async remove(id: string): Promise<IdentityProvider> {
    assertCan(this.ctx.actor, 'identityProvider:manage');
    const provider = await this.ctx.em.findOne(IdentityProvider, { id });
    if (!provider) throw new NotFoundError('Identity provider');
    // Before the row goes: removing it sets the keys' link to it null.
    await endChildrenOf(this.ctx, { providerId: provider.id }, 'provider-removed');
    this.ctx.em.remove(provider);
    await this.ctx.em.flush();
    auditChange(this.ctx, 'identityProvider.remove', { type: 'IdentityProvider', id: provider.id }, shown(provider), null, AUDIT_MARKS);
    return provider;
  }

  /**
   * Disables or enables a provider. Whoever enables it answers for it from then on, so they
   * must be allowed to grant every role its tokens can carry; it stays enabled while they remain
   * an OWNER or ADMIN. Disabling it revokes what its identities made (credential-children.ts);
   * enabling it again brings none of that back.
   */
  async setEnabled(id: string, enabled: boolean): Promise<IdentityProvider> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'identityProvider:manage');
    const provider = await em.findOne(IdentityProvider, { id: assertUuid(id) });
    if (!provider) throw new NotFoundError('Identity provider');
    const before = shown(provider);
    if (enabled) {
      assertMayVouchForProvider(actor);
      for (const role of new Set([provider.defaultRole, ...Object.values(provider.roleMapping)])) assertMayGrant(actor, role);
      const registrar = await heldAnswerablePerson(this.ctx);
      provider.registeredBy = registrar ? em.getReference(User, registrar) : null;
      provider.registeredByPerson = registrar !== null;
      provider.disabledAt = null;
      provider.disabledReason = null;
    } else if (!provider.disabledAt) {
      provider.disabledAt = new Date();
      provider.disabledReason = 'disabled';
    }
    await em.flush();
    if (!enabled) await endChildrenOf(this.ctx, { providerId: provider.id }, 'provider-disabled');
    auditChange(this.ctx, enabled ? 'identityProvider.enable' : 'identityProvider.disable', { type: 'IdentityProvider', id: provider.id }, before, { ...shown(provider), registeredBy: provider.registeredBy?.id ?? null }, AUDIT_MARKS);
    return provider;
  }

  /**
   * An issuer and audience belong to the first tenant that registers them: another tenant's
   * registration would make that tenant's tokens act here (or, before this rule, break its
   * sign-ins as ambiguous). The check runs in this request's transaction and locks the pair
   * until it commits, so a racing registration waits and then sees this one. It says only
   * that the pair is taken, never by whom.
   */
  private async assertUnclaimed(issuer: string, audience: string): Promise<void> {
    const [row] = await this.ctx.em.execute<{ claimed: boolean }[]>('select identity_provider_claimed(?, ?) as claimed', [issuer, audience]);
    if (row?.claimed) {
      throw new ConflictError('Another tenant already trusts this issuer for this audience; ask its administrators, or register an audience of your own', {
        field: 'audience',
        reason: 'ISSUER_CLAIMED',
      });
    }
  }

  /**
   * Sluice fetches this URL itself, for anyone who sends a token naming the issuer: HTTPS only
   * in production, never credentials in it, and never a host the egress guard refuses (checked
   * again when connecting, for names that resolve there).
   */
  private assertJwksUrl(value: string): void {
    const url = URL.canParse(value) ? new URL(value) : null;
    const allowed = url && (url.protocol === 'https:' || (!this.ctx.deps.production && url.protocol === 'http:'));
    if (!url || !allowed || url.username || url.password) {
      throw new ValidationError(this.ctx.deps.production ? 'jwksUrl must be an https:// URL' : 'jwksUrl must be an http(s):// URL', {
        field: 'jwksUrl',
      });
    }
    try {
      assertCallableUrl(this.ctx.deps.egress, value);
    } catch (error) {
      if (error instanceof EgressRefusedError) throw new ValidationError(`jwksUrl: ${error.message}`, { field: 'jwksUrl', reason: error.reason });
      throw error;
    }
  }
}

/**
 * Disables the enabled providers `userId` answers for in the caller's tenant, each recorded as
 * an `identityProvider.disable` with the reason: a person removed, or demoted below managing
 * providers, keeps no way in through tokens they can sign. Authentication refuses them anyway
 * (`registrar-left`); disabling makes it visible, and it lasts until an OWNER or ADMIN enables
 * the provider again (and answers for it).
 */
export async function disableProvidersOf(ctx: ServiceContext, userId: string, reason: 'registrar-removed' | 'registrar-demoted'): Promise<void> {
  const providers = await ctx.em.find(IdentityProvider, { registeredBy: userId, disabledAt: null });
  const before = providers.map(shown);
  const now = new Date();
  for (const provider of providers) {
    provider.disabledAt = now;
    provider.disabledReason = reason;
  }
  await ctx.em.flush();
  providers.forEach((provider, i) => auditChange(ctx, 'identityProvider.disable', { type: 'IdentityProvider', id: provider.id }, before[i]!, { ...shown(provider), reason }, AUDIT_MARKS));
  for (const provider of providers) await endChildrenOf(ctx, { providerId: provider.id }, 'provider-disabled');
}

/**
 * Registering or enabling a provider vouches for every token its keys will sign: a person signed
 * in to Sluice must do it, never a credential (an API key or an external identity could
 * otherwise plant a provider that outlives its own revocation, credited to a person). And only
 * an OWNER: the provider's signer chooses each token's lifetime (a year-2100 `exp` is "never"),
 * which is what only an OWNER may give an API key (assertMayIssueKey).
 */
function assertMayVouchForProvider(actor: ServiceContext['actor']): void {
  if (actor.kind !== 'user') {
    throw new ForbiddenError('Only a person signed in to Sluice may register or enable an identity provider, not an API key or an external identity', {
      reason: 'person-required',
    });
  }
  if (actor.role !== 'OWNER') {
    throw new ForbiddenError("Only an OWNER may register or enable an identity provider: its tokens last as long as its signer says, as only an OWNER's keys may", {
      reason: 'owner-required',
    });
  }
}

function required(value: string, field: string): string {
  const trimmed = value.trim();
  if (!trimmed || trimmed.length > 500) throw new ValidationError(`${field} must be 1 to 500 characters`, { field });
  return trimmed;
}

/**
 * What the audit trail shows of a provider (with AUDIT_MARKS): its inline key set only as what
 * identifies each key, as the registration's argument is kept.
 */
function shown(provider: IdentityProvider) {
  return {
    name: provider.name,
    issuer: provider.issuer,
    audience: provider.audience,
    jwksUrl: provider.jwksUrl ?? null,
    jwks: provider.jwks ?? null,
    emailClaim: provider.emailClaim,
    roleClaim: provider.roleClaim ?? null,
    roleMapping: provider.roleMapping,
    defaultRole: provider.defaultRole,
    disabledAt: provider.disabledAt ?? null,
    disabledReason: provider.disabledReason ?? null,
  };
}
