/**
 * Tokens from a tenant's trusted identity provider: verified by public-key signature against
 * the provider's JWKS, with issuer, audience, expiry and not-before checked (small clock skew).
 *
 * Remote key sets are cached per URL (jose's createRemoteJWKSet): a token with an unknown `kid`
 * makes one refetch, and refetches are at most one per cooldown, so a flood of forged `kid`s
 * cannot turn Sluice into a traffic source against the provider. Fetches go through the egress
 * guard, and failed ones back off (key-set-fetch.ts), so a flood naming an unreachable
 * provider cannot either.
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify, type FetchImplementation, type JWTPayload } from 'jose';
import type { PrivateNetworkPolicy } from '../../platform/egress/policy.js';
import type { Actor } from '../actor.js';
import { UnauthenticatedError } from '../errors.js';
import { isRole, roleAtLeast, type Role } from '../access/roles.js';
import type { CredentialStore, IdentityProviderRecord } from './credential-store.js';
import { keySetFetch, KeySetUnavailableError } from './key-set-fetch.js';
import { scopesForRole } from '../access/permissions.js';

const CLOCK_TOLERANCE_SECONDS = 30;
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** External identities never act as owners: owners are a tenant's own people. */
const STRONGEST_EXTERNAL_ROLE: Role = 'ADMIN';

/** Why a provider's genuine tokens are refused (removing or demoting its registrar disables it). */
const REFUSALS = {
  'provider-disabled': 'This identity provider is disabled in its tenant: an OWNER or ADMIN there can enable it again',
  'registrar-left': 'The person who registered this identity provider no longer manages its tenant: an OWNER or ADMIN there can enable it again',
} as const;

type KeySet = ReturnType<typeof createRemoteJWKSet> | ReturnType<typeof createLocalJWKSet>;

export interface JwksCacheOptions {
  /** Where key sets may be fetched from (SLUICE_EGRESS_PRIVATE_NETWORKS). */
  egress: PrivateNetworkPolicy;
  /** How long fetched keys are trusted before a refetch (default 10 minutes). */
  cacheMaxAgeMs?: number;
  /** Least time between two fetches of one URL (default 30 seconds); also the first backoff after a failed fetch. */
  cooldownMs?: number;
  timeoutMs?: number;
}

export class ExternalTokenVerifier {
  private readonly remote = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  private readonly fetchKeySet: FetchImplementation;

  constructor(
    private readonly store: CredentialStore,
    private readonly options: JwksCacheOptions,
  ) {
    this.fetchKeySet = keySetFetch({ egress: options.egress, backoffMs: options.cooldownMs ?? 30_000 });
  }

  /** Whether a bearer token claims an issuer other than Sluice (without trusting it yet). */
  static issuerOf(token: string): string | undefined {
    try {
      const { iss } = decodeJwt(token);
      return typeof iss === 'string' ? iss : undefined;
    } catch {
      return undefined;
    }
  }

  async verify(
    token: string,
    issuer: string,
    tenantHint: string | null,
  ): Promise<{ actor: Extract<Actor, { kind: 'external' }>; expiresAt: Date | null }> {
    let providers = await this.store.identityProviders(issuer);
    if (tenantHint) providers = providers.filter((p) => p.tenantSlug === tenantHint || p.tenantId === tenantHint);
    // The same answer as a bad signature: "not trusted" against "invalid" told anyone, with no
    // token of theirs, which issuers a tenant (X-Sluice-Tenant) or the platform trusts.
    if (providers.length === 0) throw new UnauthenticatedError('Invalid external token', { reason: 'invalid' });
    const matches: { provider: IdentityProviderRecord; payload: JWTPayload }[] = [];
    let lastError: unknown;
    for (const provider of providers) {
      try {
        const { payload } = await jwtVerify(token, this.keySet(provider), {
          issuer,
          audience: provider.audience,
          algorithms: ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['sub', 'exp'],
        });
        matches.push({ provider, payload });
      } catch (error) {
        lastError = error;
      }
    }
    if (matches.length === 0) {
      const expired = lastError instanceof errors.JWTExpired;
      if (lastError instanceof KeySetUnavailableError) {
        throw new UnauthenticatedError('The issuer’s keys cannot be fetched just now: try again later', { reason: 'keys-unavailable' });
      }
      throw new UnauthenticatedError(expired ? 'External token expired' : 'Invalid external token', {
        reason: expired ? 'expired' : 'invalid',
      });
    }
    if (matches.length > 1) {
      throw new UnauthenticatedError('Several tenants trust this token: name one in the X-Sluice-Tenant header', {
        reason: 'ambiguous-tenant',
      });
    }
    const { provider, payload } = matches[0]!;
    // Checked after the signature, so only a token the provider really issued learns this.
    if (provider.refusal) throw new UnauthenticatedError(REFUSALS[provider.refusal], { reason: provider.refusal });
    const role = mapRole(provider, payload);
    const email = payload[provider.emailClaim];
    // An address the provider says it has not verified is no identity: policies match on it.
    const verified = payload.email_verified !== false && payload.email_verified !== 'false';
    return {
      actor: {
        kind: 'external',
        userId: null,
        email: typeof email === 'string' && verified ? email.toLowerCase() : null,
        subject: payload.sub!,
        issuer,
        tenantId: provider.tenantId,
        tenantSlug: provider.tenantSlug,
        role,
        scopes: scopesForRole(role),
      },
      expiresAt: payload.exp ? new Date(payload.exp * 1000) : null,
    };
  }

  private keySet(provider: IdentityProviderRecord): KeySet {
    if (provider.jwks) return createLocalJWKSet(provider.jwks as Parameters<typeof createLocalJWKSet>[0]);
    const url = provider.jwksUrl!;
    let keySet = this.remote.get(url);
    if (!keySet) {
      keySet = createRemoteJWKSet(new URL(url), {
        cacheMaxAge: this.options.cacheMaxAgeMs ?? 10 * 60_000,
        cooldownDuration: this.options.cooldownMs ?? 30_000,
        timeoutDuration: this.options.timeoutMs ?? 5_000,
        [customFetch]: this.fetchKeySet,
      });
      this.remote.set(url, keySet);
    }
    return keySet;
  }
}

/** The strongest mapped role among the claim's values, else the provider's default; never above ADMIN. */
function mapRole(provider: IdentityProviderRecord, payload: JWTPayload): Role {
  const claim = provider.roleClaim ? payload[provider.roleClaim] : undefined;
  const values = Array.isArray(claim) ? claim : claim === undefined ? [] : [claim];
  const mapped = values.map((value) => provider.roleMapping[String(value)]).filter(isRole);
  const strongest = mapped.reduce<Role>((best, role) => (roleAtLeast(role, best) ? role : best), mapped[0] ?? provider.defaultRole);
  return roleAtLeast(strongest, 'OWNER') ? STRONGEST_EXTERNAL_ROLE : strongest;
}
