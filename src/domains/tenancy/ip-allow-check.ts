/**
 * A tenant's IP allow-list (updateTenantSettings `ipAllowList`) as every door checks it: a
 * request whose credential belongs to a tenant with one, from an address outside it, is
 * refused with FORBIDDEN (reason IP_NOT_ALLOWED) before it runs. One instance per server,
 * shared by GraphQL (plugins/ip-allow-list.ts) and the consumer routes (routes/consumer-door.ts).
 * Each tenant's list is read at most once per `ttlMs`, so a change takes effect within that
 * time on every instance.
 */
import { ForbiddenError } from '../errors.js';
import { allowList, type AllowList } from './ip-ranges.js';

export class IpAllowListCheck {
  private readonly cache = new Map<string, { list: Promise<AllowList | null>; until: number }>();

  constructor(private readonly ttlMs = 5000) {}

  /**
   * Null when the address may call for the tenant, else the refusal. `loadRanges` reads the
   * tenant's list (null: none); its failure is thrown, so the request does not run unchecked.
   */
  async refusal(tenantId: string | null, ip: string, loadRanges: () => Promise<readonly string[] | null>): Promise<ForbiddenError | null> {
    if (!tenantId) return null;
    const list = await this.listOf(tenantId, loadRanges);
    if (!list || list.allows(ip)) return null;
    return new ForbiddenError(`This tenant accepts requests only from its allowed addresses; ${ip || 'yours'} is not one`, { reason: 'IP_NOT_ALLOWED' });
  }

  private listOf(tenantId: string, loadRanges: () => Promise<readonly string[] | null>): Promise<AllowList | null> {
    const cached = this.cache.get(tenantId);
    if (cached && cached.until > Date.now()) return cached.list;
    if (this.cache.size > 10_000) this.cache.clear();
    const list = loadRanges().then((ranges) => (ranges ? allowList(ranges) : null));
    // A failed read is not cached: the next request tries again.
    list.catch(() => this.cache.delete(tenantId));
    this.cache.set(tenantId, { list, until: Date.now() + this.ttlMs });
    return list;
  }
}
