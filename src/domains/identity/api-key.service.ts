/**
 * API keys: a program's credential in one tenant. The secret is shown once, at creation or
 * rotation; only its SHA-256 is kept.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../actor.js';
import { findByIds } from '../lookup.js';
import { auditChange } from '../audit/record.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { displayName } from '../display-text.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { API_SCOPES, type ApiScope } from '../access/roles.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { ApiKey } from './api-key.entity.js';
import { heldAnswerablePerson } from './answerable-person.js';
import { shownKey } from './api-key-audit.js';
import { endChildrenOf, parentCredentialOf, type ParentCredential } from './credential-children.js';
import { boundedByParent, clampedToParent } from './credential-lifetimes.js';
import { assertCan } from '../access/permissions.js';
import { CREDENTIAL_PREFIX, hashToken, newOpaqueToken, shownPrefix } from '../../platform/secrets/opaque-tokens.js';

export const MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 3600;
const DAY_MS = 24 * 3600_000;

export interface CreatedApiKey {
  apiKey: ApiKey;
  /** The whole key. Shown now, never again. */
  secret: string;
}

export interface NewApiKey {
  tenantId: string;
  name: string;
  scopes: readonly ApiScope[];
  /** undefined: the tenant's default lifetime; null: never expires. */
  expiresAt: Date | null | undefined;
  createdById: string | null;
  /** The key or provider that minted it (credential-children.ts); none for a person or the CLI. */
  parent?: ParentCredential;
}

/** Stores a new key; shared by the GraphQL service and the operator CLI. */
export async function insertApiKey(em: EntityManager, input: NewApiKey): Promise<CreatedApiKey> {
  const name = displayName(input.name, 'name');
  const scopes = [...new Set(input.scopes)];
  if (scopes.length === 0 || !scopes.every((scope) => (API_SCOPES as readonly string[]).includes(scope))) {
    throw new ValidationError(`Scopes must be a non-empty subset of ${API_SCOPES.join(', ')}`, { field: 'scopes' });
  }
  let expiresAt = input.expiresAt;
  // A key minted by a key ends no later than that key's chain (credential-lifetimes.ts): the
  // default is cut to it, an explicit later expiry (or never) is refused.
  const notAfter = input.parent?.notAfter ?? null;
  if (expiresAt === undefined) {
    const tenant = await em.findOneOrFail(Tenant, { id: input.tenantId });
    expiresAt = clampedToParent(new Date(Date.now() + tenant.apiKeyDefaultTtlDays * DAY_MS), notAfter);
  } else if (expiresAt && expiresAt <= new Date()) {
    throw new ValidationError('expiresAt must be in the future', { field: 'expiresAt' });
  } else {
    expiresAt = boundedByParent(expiresAt, notAfter);
  }
  const secret = newOpaqueToken(CREDENTIAL_PREFIX.apiKey);
  const apiKey = em.create(ApiKey, {
    tenant: input.tenantId,
    name,
    prefix: shownPrefix(secret),
    secretHash: hashToken(secret),
    scopes,
    createdBy: input.createdById,
    createdByApiKey: input.parent?.apiKeyId ?? null,
    createdByProvider: input.parent?.providerId ?? null,
    expiresAt,
  });
  await em.flush();
  return { apiKey, secret };
}

/**
 * Whether `actor` may issue a key with these scopes and expiry: the one rule for creating and
 * for rotating (a successor is a new secret), so the two cannot drift apart. Names, scope
 * values and dates in the past are checked where the key is stored (insertApiKey).
 *
 * Lifetime: only an OWNER may issue a key that never expires, or one that outlives the
 * tenant's `apiKeyDefaultTtlDays` (which only an OWNER sets); otherwise a date in year 9999
 * would be "never" by another name.
 */
export function assertMayIssueKey(
  actor: Actor,
  key: { scopes: readonly ApiScope[]; expiresAt?: Date | null },
  tenant: { apiKeyDefaultTtlDays: number },
): asserts actor is Exclude<Actor, { kind: 'anonymous' }> {
  assertCan(actor, 'apiKey:manage');
  const beyond = key.scopes.filter((scope) => !actor.scopes.includes(scope));
  if (beyond.length > 0) throw new ForbiddenError(`You cannot grant scopes you do not hold: ${beyond.join(', ')}`, { scopes: beyond });
  if (actor.role === 'OWNER') return;
  if (key.expiresAt === null) throw new ForbiddenError('Only an OWNER may create a key that never expires', { field: 'expiresAt' });
  const maxDays = tenant.apiKeyDefaultTtlDays;
  const latest = new Date(Date.now() + maxDays * DAY_MS);
  if (key.expiresAt && key.expiresAt > latest) {
    throw new ValidationError(
      `expiresAt may be at most ${maxDays} days from now (the tenant's apiKeyDefaultTtlDays); only an OWNER may issue a key that lives longer`,
      { field: 'expiresAt', maxDays, latest: latest.toISOString() },
    );
  }
}

export class ApiKeyService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(input: { name: string; scopes: readonly ApiScope[]; expiresAt?: Date | null }): Promise<CreatedApiKey> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'apiKey:manage');
    assertMayIssueKey(actor, input, await this.tenant(actor.tenantId));
    const createdById = await this.issuerId();
    const created = await insertApiKey(em, {
      tenantId: actor.tenantId,
      name: input.name,
      scopes: input.scopes,
      expiresAt: input.expiresAt,
      createdById,
      parent: await parentCredentialOf(this.ctx),
    });
    auditChange(this.ctx, 'apiKey.create', { type: 'ApiKey', id: created.apiKey.id }, null, shownKey(created.apiKey));
    return created;
  }

  async list(request: PageRequest): Promise<Page<ApiKey>> {
    assertCan(this.ctx.actor, 'apiKey:manage');
    return keysetPage(this.ctx.em, ApiKey, {}, request);
  }

  byIds(ids: readonly string[]): Promise<(ApiKey | null)[]> {
    return findByIds(this.ctx.em, ApiKey, ids);
  }

  /**
   * Issues a successor with the same name, scopes and lifetime; the old key keeps working for
   * `gracePeriodSeconds` (so deployments can switch over), then stops, and so do the keys it
   * minted (credential-lifetimes.ts). A successor minted by a key ends no later than that key,
   * like a key it creates with no `expiresAt`; a key rotating itself gets a new secret, not a
   * longer life, and its successor takes its place under its own parent.
   */
  async rotate(id: string, gracePeriodSeconds: number): Promise<CreatedApiKey> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'apiKey:manage');
    if (!Number.isInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_PERIOD_SECONDS) {
      throw new ValidationError(`gracePeriodSeconds must be 0 to ${MAX_GRACE_PERIOD_SECONDS}`, { field: 'gracePeriodSeconds' });
    }
    // Held before the key: a removal of the issuer holds their membership, then revokes their keys.
    const createdById = await this.issuerId();
    const old = await this.activeKey(id);
    const now = Date.now();
    const lifetime = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : null;
    const minter = await parentCredentialOf(this.ctx);
    // Rotating itself, the old key's parent stays the successor's: were the old key the parent,
    // its grace period's end would take the successor with it.
    const parent: ParentCredential =
      actor.kind === 'apiKey' && actor.apiKeyId === old.id
        ? { apiKeyId: old.createdByApiKey?.id ?? null, providerId: old.createdByProvider?.id ?? null, notAfter: minter.notAfter }
        : minter;
    const wanted = { scopes: old.scopes, expiresAt: clampedToParent(lifetime === null ? null : new Date(now + lifetime), parent.notAfter) };
    // A successor is a new key: the caller must be allowed to create it (issue 17, item 7).
    assertMayIssueKey(actor, wanted, await this.tenant(actor.tenantId));
    const successor = await insertApiKey(em, { tenantId: actor.tenantId, name: old.name, ...wanted, createdById, parent });
    const graceEnd = new Date(now + gracePeriodSeconds * 1000);
    old.expiresAt = old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
    old.replacedBy = successor.apiKey;
    await em.flush();
    auditChange(this.ctx, 'apiKey.rotate', { type: 'ApiKey', id: old.id }, null, { successorId: successor.apiKey.id, oldExpiresAt: old.expiresAt });
    return successor;
  }

  /** Stops the key at once, with the keys and invitations it made (credential-children.ts). */
  async revoke(id: string): Promise<ApiKey> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'apiKey:manage');
    const key = await this.lockedKey(id);
    if (!key) throw new NotFoundError('API key');
    const before = shownKey(key);
    key.revokedAt ??= new Date();
    await em.flush();
    auditChange(this.ctx, 'apiKey.revoke', { type: 'ApiKey', id: key.id }, before, shownKey(key));
    await endChildrenOf(this.ctx, { apiKeyId: key.id }, 'parent-key-revoked');
    return key;
  }

  /**
   * The person a new key answers to (authentication holds it to their current role): the
   * signed-in user, a minting key's creator, or an external identity's provider registrar; their
   * membership held, so a removal of them sees the key and revokes it (answerable-person.ts).
   */
  private issuerId(): Promise<string | null> {
    return heldAnswerablePerson(this.ctx);
  }

  private tenant(id: string): Promise<Tenant> {
    return this.ctx.em.findOneOrFail(Tenant, { id });
  }

  /**
   * The key, its row held until the transaction ends and read once held: two rotations of one
   * key at once both found it not yet replaced and each issued a successor, two live keys for
   * one; now the second waits, then finds it rotated.
   */
  private async lockedKey(id: string): Promise<ApiKey | null> {
    // Locked in plain SQL, then read: the ORM's strict filters join `replacedBy`, and after the
    // wait PostgreSQL re-checks that join against the old snapshot, where the successor the
    // other rotation made does not exist yet, so `findOne(…, { lockMode })` found no key at all.
    await this.ctx.em.execute('select 1 from api_keys where id = ? for update', [id]);
    return this.ctx.em.findOne(ApiKey, { id }, { refresh: true });
  }

  private async activeKey(id: string): Promise<ApiKey> {
    const key = await this.lockedKey(id);
    if (!key) throw new NotFoundError('API key');
    if (key.revokedAt) throw new ValidationError('This API key is revoked', { reason: 'revoked' });
    if (key.replacedBy) throw new ValidationError('This API key was already rotated', { reason: 'rotated' });
    return key;
  }
}

/**
 * Revokes the live keys `userId` created in the caller's tenant, each recorded as an
 * `apiKey.revoke` with the reason: a removed member's keys stop with them, and stay stopped if
 * they are invited again. Authentication refuses them anyway (authenticator.ts); revoking makes
 * it visible in the key list and the trail, and permanent.
 */
export async function revokeKeysOfFormerMember(ctx: ServiceContext, userId: string): Promise<void> {
  const now = new Date();
  const keys = await ctx.em.find(ApiKey, { createdBy: userId, revokedAt: null, $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] });
  const before = keys.map(shownKey);
  for (const key of keys) key.revokedAt = now;
  await ctx.em.flush();
  keys.forEach((key, i) => auditChange(ctx, 'apiKey.revoke', { type: 'ApiKey', id: key.id }, before[i]!, { ...shownKey(key), reason: 'creator-removed' }));
}

