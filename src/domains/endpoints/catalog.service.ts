/**
 * The catalog: listed endpoints of every tenant, for any caller (anonymous ones too), with
 * what a consumer needs to know before asking one.
 *
 * The catalog crosses tenants, so it reads through ONE SECURITY DEFINER function,
 * `catalog_entries` (migrations/Migration20261202181500_endpoint_catalog.ts): it returns
 * listed and published endpoints only, and only their public columns (no model name,
 * configuration, URL or key; dataset counts summed, never dataset names). Nothing here binds
 * a tenant or reads a tenant-owned table itself: RLS stays on everything else.
 */
import { unstorableTextMessage } from '../../platform/input/unstorable-text.js';
import type { Actor } from '../actor.js';
import { ValidationError } from '../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { anonymousLimits, policyLimits, serverLimits, type CallerRuleOverride, type CatalogRateLimit, type PolicyRateLimit } from './catalog-limits.js';
import type { RetrievalMode } from './retrieval-mode.js';

/** Longest search text, in characters. */
export const MAX_CATALOG_SEARCH = 200;

/** One catalog entry: the same on GraphQL (`catalog`) and REST (`GET /api/v1/endpoints`). */
export interface CatalogEntry {
  /** What queries name: "tenantSlug/endpointSlug". */
  address: string;
  tenant: { slug: string; name: string };
  name: string;
  description: string | null;
  /** Summed over the endpoint's datasets that still exist. */
  datasets: { documentCount: number; chunkCount: number; lastIngestedAt: Date | null };
  /** The model's type (`extractive`, `openai-compatible`…), never its name, URL or key. */
  modelKind: string;
  retrievalMode: RetrievalMode;
  /** What a consumer must satisfy. */
  access: { credentialRequired: boolean; rateLimits: CatalogRateLimit[] };
  /** What the last health check found (docs/endpoints.md#health); null before the first. */
  health: CatalogHealth | null;
}

/** An endpoint's health as the checks left it (model-health/health-rules.ts `Health`). */
export interface CatalogHealth {
  status: 'HEALTHY' | 'DEGRADED' | 'DOWN';
  lastCheckedAt: Date;
  latencyMs: number | null;
  lastError: string | null;
}

/**
 * Endpoints' health by id, in bulk (model-health/endpoint-health.ts, supplied by services.ts:
 * model-health reads endpoints, so endpoints may not import it back). Absent ids: no health yet.
 */
export type CatalogHealthReader = (endpointIds: string[]) => Promise<Map<string, CatalogHealth>>;

export interface CatalogRequest {
  search?: string | null;
  first?: number | null;
  after?: string | null;
}

interface CatalogRow {
  endpoint_id: string;
  tenant_slug: string;
  tenant_name: string;
  endpoint_slug: string;
  name: string;
  description: string | null;
  model_kind: string;
  retrieval_mode: RetrievalMode;
  allow_anonymous: boolean;
  document_count: string | number;
  chunk_count: string | number;
  last_ingested_at: Date | string | null;
  rate_limit_policies: PolicyRateLimit[];
}

export class CatalogService {
  constructor(
    private readonly ctx: ServiceContext,
    /** The caller's own tenant's per-caller override (TenancyService.rateLimitOverride). */
    private readonly callerOverride: () => Promise<CallerRuleOverride>,
    private readonly healthOf: CatalogHealthReader = async () => new Map(),
  ) {}

  /** A page of listed endpoints ordered by tenant slug then endpoint slug, narrowed by `search`. */
  async browse(request: CatalogRequest): Promise<Page<CatalogEntry>> {
    const search = validSearch(request.search);
    const size = validPageSize(request.first);
    const after = request.after ? decodeCatalogCursor(request.after) : null;
    const { em } = this.ctx;
    const rows = await em
      .getConnection()
      .execute<CatalogRow[]>(
        'select * from catalog_entries(?, ?, ?, ?)',
        [search, after?.tenantSlug ?? null, after?.endpointSlug ?? null, size + 1],
        'all',
        em.getTransactionContext(),
      );
    const limits = { server: await this.serverLimitsFor(this.ctx.actor), anonymous: anonymousLimits(this.ctx.deps.requestLimits) };
    const page = rows.slice(0, size);
    // One statement for the page's health, however many entries.
    const health = page.length > 0 ? await this.healthOf(page.map((row) => row.endpoint_id)) : new Map<string, CatalogHealth>();
    const items = page.map((row) => entryOf(row, limits, health.get(row.endpoint_id) ?? null));
    return {
      items,
      hasNextPage: rows.length > size,
      hasPreviousPage: after !== null,
      // Slugs hold no "/": the address splits back into the two.
      cursorOf: (entry) => encodeCatalogCursor(...(entry.address.split('/') as [string, string])),
    };
  }

  private async serverLimitsFor(actor: Actor): Promise<CatalogRateLimit[]> {
    const limits = this.ctx.deps.requestLimits;
    if (!limits) return [];
    const override = actor.kind === 'anonymous' ? null : await this.callerOverride();
    return serverLimits(limits, actor, override);
  }
}

function entryOf(row: CatalogRow, limits: { server: CatalogRateLimit[]; anonymous: CatalogRateLimit[] }, health: CatalogHealth | null): CatalogEntry {
  const rateLimits = [...limits.server, ...(row.allow_anonymous ? limits.anonymous : []), ...policyLimits(row.rate_limit_policies)];
  return {
    address: `${row.tenant_slug}/${row.endpoint_slug}`,
    tenant: { slug: row.tenant_slug, name: row.tenant_name },
    name: row.name,
    description: row.description,
    datasets: {
      documentCount: Number(row.document_count),
      chunkCount: Number(row.chunk_count),
      lastIngestedAt: row.last_ingested_at == null ? null : new Date(row.last_ingested_at),
    },
    modelKind: row.model_kind,
    retrievalMode: row.retrieval_mode,
    access: { credentialRequired: !row.allow_anonymous, rateLimits },
    health,
  };
}

/** Plain text, matched as it is (no wildcards): trimmed, empty means none; NUL refused like everywhere. */
function validSearch(search: string | null | undefined): string | null {
  if (search == null) return null;
  if (search.includes('\u0000')) {
    throw new ValidationError(unstorableTextMessage('search'), { field: 'search' });
  }
  const text = search.trim();
  if ([...text].length > MAX_CATALOG_SEARCH) throw new ValidationError(`search must be at most ${MAX_CATALOG_SEARCH} characters`, { field: 'search' });
  return text === '' ? null : text;
}

function validPageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new ValidationError(`Page size must be between 0 and ${MAX_PAGE_SIZE}`, { max: MAX_PAGE_SIZE });
  }
  return size;
}

const SLUG = /^[a-z0-9-]{1,64}$/;

/** Opaque to clients: the last entry's tenant and endpoint slugs. */
export function encodeCatalogCursor(tenantSlug: string, endpointSlug: string): string {
  return Buffer.from(JSON.stringify(['catalog', tenantSlug, endpointSlug])).toString('base64url');
}

export function decodeCatalogCursor(cursor: string): { tenantSlug: string; endpointSlug: string } {
  try {
    const [kind, tenantSlug, endpointSlug] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (kind === 'catalog' && typeof tenantSlug === 'string' && typeof endpointSlug === 'string' && SLUG.test(tenantSlug) && SLUG.test(endpointSlug)) {
      return { tenantSlug, endpointSlug };
    }
  } catch {
    // Not base64url JSON: the same refusal as any other cursor that does not decode.
  }
  throw new ValidationError('Invalid pagination cursor', { cursor: cursor.slice(0, 200) });
}
