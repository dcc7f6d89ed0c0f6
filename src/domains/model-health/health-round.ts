/**
 * One round of health checks (docs/endpoints.md#health): every model a published endpoint
 * needs (its chat model; for SEMANTIC and HYBRID, the serving embeddings models of its
 * datasets) is checked once, however many endpoints share it; then each model's health and
 * each published endpoint's (the worst of its models') are written onto their rows.
 *
 * Which tenants publish is read across tenants by the caller (the queue's owner connection:
 * health-task.ts); everything else runs in each tenant's own scope (ORM filter and RLS), as an
 * ingestion job does. No transaction is open while models are called. Checks are not usage:
 * no usage record, no cost, no policy sees them.
 */
import type { Orm } from '../../db/orm.js';
import { TenantScope } from '../../db/tenant-scope.js';
import type { Logger } from '../../platform/logging/logger.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { storedVectorDimension } from '../datasets/vector-dimension.js';
import { Endpoint } from '../endpoints/endpoint.entity.js';
import { usesVectors, type RetrievalMode } from '../endpoints/retrieval-mode.js';
import { Model } from '../models/model.entity.js';
import { afterCheck, atMostDegraded, healthOf, worstOf, type HealthSettings, type ModelHealthColumns } from './health-rules.js';
import { checkModel, type CheckedModel, type ModelAccess } from './model-check.js';

export interface HealthRoundDependencies {
  /** The app role's ORM: each tenant's reads and writes run bound to it. */
  orm: Orm;
  models: ModelAccess;
  settings: HealthSettings;
  log: Logger;
  /** The tenants with a published endpoint (read across tenants by the caller). */
  publishingTenants(): Promise<string[]>;
  /** Models checked at once, across tenants. @default 4 */
  concurrency?: number;
  /** Aborts the round's model calls (the worker stopping). */
  signal?: AbortSignal;
}

export interface HealthRoundReport {
  tenants: number;
  models: number;
  endpoints: number;
}

/** `storedDimension`: an embeddings model's, checked against its answer (model-check.ts). */
type ModelRow = CheckedModel & ModelHealthColumns & { updatedAt: Date; storedDimension?: number };

interface TenantTargets {
  tenantId: string;
  models: Map<string, ModelRow>;
  endpoints: { id: string; mode: RetrievalMode; chatModelId: string; embeddingModelIds: string[] }[];
}

export async function runHealthRound(deps: HealthRoundDependencies): Promise<HealthRoundReport> {
  const tenants = await deps.publishingTenants();
  const targets: TenantTargets[] = [];
  // One tenant that cannot be read (deleted meanwhile) costs only its own checks.
  for (const tenantId of tenants) {
    try {
      targets.push(await targetsOf(deps.orm, tenantId));
    } catch (error) {
      deps.log.warn({ err: error, tenantId }, 'could not read a tenant’s published endpoints for health checks');
    }
  }

  const checks = targets.flatMap((tenant) => [...tenant.models.values()].map((model) => ({ tenant, model })));
  const results = new Map<string, ModelHealthColumns>();
  const signal = deps.signal ?? new AbortController().signal;
  await inBatches(checks, deps.concurrency ?? 4, async ({ model }) => {
    const outcome = await checkModel(deps.models, model, signal, { storedDimension: model.storedDimension, log: deps.log });
    results.set(model.id, afterCheck(model, outcome, new Date(), deps.settings));
  });
  if (signal.aborted) return { tenants: 0, models: 0, endpoints: 0 };

  let endpoints = 0;
  for (const tenant of targets) {
    try {
      endpoints += await record(deps.orm, tenant, results);
    } catch (error) {
      deps.log.warn({ err: error, tenantId: tenant.tenantId }, 'could not record a tenant’s model health');
    }
  }
  return { tenants: targets.length, models: checks.length, endpoints };
}

/** The tenant's published endpoints and the models they need, as plain rows. */
async function targetsOf(orm: Orm, tenantId: string): Promise<TenantTargets> {
  const scope = TenantScope.open(orm, { tenantId, userId: null });
  try {
    return await scope.read(async (em) => {
      const published = await em.find(Endpoint, { published: true }, { populate: ['model'], orderBy: { id: 'asc' } });
      const vectorDatasetIds = [...new Set(published.filter((endpoint) => usesVectors(endpoint.retrievalMode as RetrievalMode)).flatMap((endpoint) => endpoint.datasetIds))];
      const datasets = vectorDatasetIds.length
        ? await em.find(Dataset, { id: { $in: vectorDatasetIds }, servingEmbeddingModel: { $ne: null } }, { populate: ['servingEmbeddingModel'] })
        : [];
      const servingModel = new Map(datasets.map((dataset) => [dataset.id, dataset.servingEmbeddingModel!]));
      const models = new Map<string, ModelRow>();
      const endpoints = published.map((endpoint) => {
        const mode = endpoint.retrievalMode as RetrievalMode;
        const embedding = usesVectors(mode) ? endpoint.datasetIds.flatMap((id) => servingModel.get(id) ?? []) : [];
        for (const model of [endpoint.model, ...embedding]) models.set(model.id, rowOf(model));
        return { id: endpoint.id, mode, chatModelId: endpoint.model.id, embeddingModelIds: [...new Set(embedding.map((model) => model.id))] };
      });
      for (const modelId of new Set(endpoints.flatMap((endpoint) => endpoint.embeddingModelIds))) {
        models.get(modelId)!.storedDimension = await storedVectorDimension(em, tenantId, modelId);
      }
      return { tenantId, models, endpoints };
    });
  } finally {
    scope.close();
  }
}

function rowOf(model: Model): ModelRow {
  const { id, name, type, config, apiKeyCiphertext, apiKeyKeyId, promptMicrosPer1k, healthStatus, healthCheckedAt, healthLatencyMs, healthError, healthRecent, updatedAt } = model;
  return { id, name, type, config, apiKeyCiphertext, apiKeyKeyId, promptMicrosPer1k, healthStatus, healthCheckedAt, healthLatencyMs, healthError, healthRecent, updatedAt };
}

/** Writes the tenant's models' and published endpoints' health; returns how many endpoints. */
async function record(orm: Orm, tenant: TenantTargets, results: Map<string, ModelHealthColumns>): Promise<number> {
  const scope = TenantScope.open(orm, { tenantId: tenant.tenantId, userId: null });
  try {
    return await scope.write(async (em) => {
      for (const model of tenant.models.values()) {
        // Only if the model is as it was checked: a model whose server or key changed meanwhile
        // had its health forgotten (model.service.ts), and this check was not of it.
        await em.nativeUpdate(Model, { id: model.id, updatedAt: model.updatedAt }, results.get(model.id)!);
      }
      for (const endpoint of tenant.endpoints) {
        const chat = { role: 'chat model', health: healthOf(results.get(endpoint.chatModelId)!) };
        const embeddings = endpoint.embeddingModelIds.map((id) => {
          const health = healthOf(results.get(id)!);
          // HYBRID still answers by keyword while an embeddings model is down (query.service.ts).
          return { role: 'embeddings model', health: endpoint.mode === 'HYBRID' ? atMostDegraded(health) : health };
        });
        const health = worstOf([chat, ...embeddings]);
        await em.nativeUpdate(Endpoint, { id: endpoint.id }, {
          healthStatus: health?.status ?? null,
          healthCheckedAt: health?.lastCheckedAt ?? null,
          healthLatencyMs: health?.latencyMs ?? null,
          healthError: health?.lastError?.slice(0, 500) ?? null,
        });
      }
      return tenant.endpoints.length;
    });
  } finally {
    scope.close();
  }
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
async function inBatches<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}
