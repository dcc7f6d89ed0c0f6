/**
 * The endpoint as a caller's request reads it (endpoint-access.ts): the endpoint, its model and,
 * for the query path, its enabled policies, in one prepared statement, as plain read-only
 * values, not managed entities.
 *
 * Why not `findOne(Endpoint, …, { populate: ['model'] })`: on the query path that read cost
 * about 2 ms of CPU per request against 0.4 ms for this statement (building the query, the
 * filters, hydrating and tracking two entities, then the flush's change-set computation over
 * them at commit), the largest single share of a keyword query's own work (docs/endpoints.md,
 * "Performance"). Nothing on these paths changes an endpoint or its model.
 *
 * Tenant isolation stays in three layers: the statement names the tenant itself
 * (`e.tenant_id = ?`, the reached tenant, as the ORM filter would; the model and policies must
 * share it), row-level security applies to it as to any read in the transaction bound to that
 * tenant, and the caller was admitted to the endpoint before the read (endpoint-access.ts).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedSql } from '../../db/bound-sql.js';
import type { Model } from '../models/model.entity.js';
import type { Endpoint } from './endpoint.entity.js';

/** An enabled policy of the endpoint as the query path reads it with the endpoint. */
export interface EnabledPolicyRow {
  id: string;
  type: string;
  configuration: Record<string, unknown>;
}

/** What answering with the endpoint's model needs of it: its client, prices and health. */
export type ReadModel = Readonly<
  Pick<
    Model,
    'id' | 'name' | 'type' | 'config' | 'apiKeyCiphertext' | 'apiKeyKeyId' | 'promptMicrosPer1k' | 'completionMicrosPer1k' | 'healthStatus' | 'healthCheckedAt' | 'healthLatencyMs' | 'healthError' | 'healthRecent'
  >
>;

export type ReadEndpoint = Readonly<
  Pick<Endpoint, 'id' | 'name' | 'slug' | 'description' | 'datasetIds' | 'published' | 'allowAnonymous' | 'retrievalMode' | 'topK' | 'minScore' | 'passagesPerDocument'> & {
    model: ReadModel;
    /** Enabled policies, oldest first; read only when asked for (`withPolicies`). */
    enabledPolicies: readonly EnabledPolicyRow[] | undefined;
  }
>;

const COLUMNS =
  'e.id, e.name, e.slug, e.description, e.dataset_ids, e.published, e.allow_anonymous, e.retrieval_mode, e.top_k, e.min_score, e.passages_per_document, ' +
  'm.id as m_id, m.name as m_name, m.type as m_type, m.config as m_config, m.api_key_ciphertext as m_api_key_ciphertext, m.api_key_key_id as m_api_key_key_id, ' +
  'm.prompt_micros_per1k as m_prompt_micros_per1k, m.completion_micros_per1k as m_completion_micros_per1k, m.health_status as m_health_status, ' +
  'm.health_checked_at as m_health_checked_at, m.health_latency_ms as m_health_latency_ms, m.health_error as m_health_error, m.health_recent as m_health_recent';

const FROM = 'from endpoints e join models m on m.tenant_id = e.tenant_id and m.id = e.model_id where e.tenant_id = ? and e.id = ?';

// Written as SQL here because policies belong to an endpoint (policies/ imports endpoints/, not
// the other way round); row-level security applies to the subquery as to any read.
const POLICIES =
  `(select coalesce(json_agg(json_build_object('id', p.id, 'type', p.type, 'configuration', p.configuration) order by p.created_at, p.id), '[]'::json) ` +
  'from policies p where p.tenant_id = e.tenant_id and p.endpoint_id = e.id and p.enabled) as enabled_policies';

const WITHOUT_POLICIES = `select ${COLUMNS} ${FROM}`;
const WITH_POLICIES = `select ${COLUMNS}, ${POLICIES} ${FROM}`;

/** The endpoint `endpointId` of `tenantId`, in `tx` (bound to that tenant); undefined when there is none. */
export async function readEndpoint(tx: EntityManager, tenantId: string, endpointId: string, options: { withPolicies?: boolean } = {}): Promise<ReadEndpoint | undefined> {
  const [row] = await preparedSql<Row>(tx, options.withPolicies ? WITH_POLICIES : WITHOUT_POLICIES, [tenantId, endpointId]);
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    description: row.description,
    datasetIds: row.dataset_ids,
    published: row.published,
    allowAnonymous: row.allow_anonymous,
    retrievalMode: row.retrieval_mode,
    topK: row.top_k,
    minScore: row.min_score,
    passagesPerDocument: row.passages_per_document,
    enabledPolicies: row.enabled_policies,
    model: {
      id: row.m_id,
      name: row.m_name,
      type: row.m_type,
      config: row.m_config,
      apiKeyCiphertext: row.m_api_key_ciphertext,
      apiKeyKeyId: row.m_api_key_key_id,
      promptMicrosPer1k: row.m_prompt_micros_per1k,
      completionMicrosPer1k: row.m_completion_micros_per1k,
      healthStatus: row.m_health_status,
      // MikroORM's connection leaves timestamps as text (PostgreSqlConnection's type parsers).
      healthCheckedAt: row.m_health_checked_at === null ? null : new Date(row.m_health_checked_at),
      healthLatencyMs: row.m_health_latency_ms,
      healthError: row.m_health_error,
      healthRecent: row.m_health_recent,
    },
  };
}

interface Row {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  dataset_ids: string[];
  published: boolean;
  allow_anonymous: boolean;
  retrieval_mode: ReadEndpoint['retrievalMode'];
  top_k: number;
  min_score: number | null;
  passages_per_document: number | null;
  enabled_policies?: EnabledPolicyRow[];
  m_id: string;
  m_name: string;
  m_type: string;
  m_config: Record<string, unknown>;
  m_api_key_ciphertext: string | null;
  m_api_key_key_id: string | null;
  m_prompt_micros_per1k: number;
  m_completion_micros_per1k: number;
  m_health_status: ReadModel['healthStatus'];
  m_health_checked_at: string | null;
  m_health_latency_ms: number | null;
  m_health_error: string | null;
  m_health_recent: string | null;
}
