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
 *
 * A tenant decides how many models it publishes and how slowly their servers answer, so a
 * round is shared out and bounded (the security review of 2026-12: 40 hanging models of one
 * tenant made one round last 12 minutes): tenants take turns (round-robin), each with at
 * most `tenantConcurrency` checks at once, so one tenant's hanging models leave the other lanes
 * to the others; each check waits at most `settings.timeoutMs`; no check starts after
 * `settings.roundMaxS`. The models left over keep their health and are checked first next
 * round (least recently checked first), so a tenant with more models than a round holds is
 * checked over several rounds, and every other tenant's in each.
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
  /** Models of one tenant checked at once. @default 2 */
  tenantConcurrency?: number;
  /** Aborts the round's model calls (the worker stopping). */
  signal?: AbortSignal;
}

export interface HealthRoundReport {
  tenants: number;
  /** Models checked this round. */
  models: number;
  endpoints: number;
  /** Models left for the next round: the round reached `settings.roundMaxS` first. */
  deferred: number;
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

  const signal = deps.signal ?? new AbortController().signal;
  const deadline = Date.now() + deps.settings.roundMaxS * 1000;
  const results = new Map<string, ModelHealthColumns>();
  const queues = targets.map((tenant) => [...tenant.models.values()].sort(leastRecentlyChecked));
  let endpoints = 0;
  const recorded = new Set<TenantTargets>();
  // One tenant that cannot be written (deleted meanwhile) costs only its own health.
  const recordOnce = async (tenant: TenantTargets) => {
    if (recorded.has(tenant)) return;
    recorded.add(tenant);
    try {
      endpoints += await record(deps.orm, tenant, results);
    } catch (error) {
      deps.log.warn({ err: error, tenantId: tenant.tenantId }, 'could not record a tenant’s model health');
    }
  };
  await shareOut(queues, { concurrency: deps.concurrency ?? 4, perQueue: deps.tenantConcurrency ?? 2, until: () => signal.aborted || Date.now() >= deadline }, async (model, index) => {
    const outcome = await checkModel(deps.models, model, signal, { storedDimension: model.storedDimension, timeoutMs: deps.settings.timeoutMs, log: deps.log });
    if (signal.aborted) return;
    results.set(model.id, afterCheck(model, outcome, new Date(), deps.settings));
    // A tenant's health is written as soon as its models are checked, not when the slowest tenant's are.
    if (queues[index]!.every((each) => results.has(each.id))) await recordOnce(targets[index]!);
  });
  if (signal.aborted) return { tenants: 0, models: 0, endpoints: 0, deferred: 0 };
  const total = queues.reduce((sum, queue) => sum + queue.length, 0);
  if (results.size < total) deps.log.warn({ checked: results.size, deferred: total - results.size }, 'a model health round reached its time limit; the models left are checked first next round');
  // The tenants whose models were not all checked (and those with none): what was checked.
  for (const tenant of targets) await recordOnce(tenant);
  return { tenants: targets.length, models: results.size, endpoints, deferred: total - results.size };
}

/** Never checked first, then the oldest check: what a round left over goes first in the next. */
function leastRecentlyChecked(a: ModelRow, b: ModelRow): number {
  return (a.healthCheckedAt?.getTime() ?? -Infinity) - (b.healthCheckedAt?.getTime() ?? -Infinity) || (a.id < b.id ? -1 : 1);
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
        const result = results.get(model.id);
        // Left for the next round: its row keeps the health it has.
        if (!result) continue;
        // Only if the model is as it was checked: a model whose server or key changed meanwhile
        // had its health forgotten (model.service.ts), and this check was not of it.
        await em.nativeUpdate(Model, { id: model.id, updatedAt: model.updatedAt }, result);
      }
      // A model not checked this round counts with the health it had.
      const healthOfModel = (id: string) => healthOf(results.get(id) ?? tenant.models.get(id)!);
      for (const endpoint of tenant.endpoints) {
        const chat = { role: 'chat model', health: healthOfModel(endpoint.chatModelId) };
        const embeddings = endpoint.embeddingModelIds.map((id) => {
          const health = healthOfModel(id);
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

/**
 * Runs `work` over the queues' items, at most `concurrency` at once and at most `perQueue` of
 * one queue at once, taking the queues in turn; starts nothing more once `until()` is true.
 */
async function shareOut<T>(queues: T[][], limits: { concurrency: number; perQueue: number; until(): boolean }, work: (item: T, queue: number) => Promise<void>): Promise<void> {
  const pending = queues.map((queue) => [...queue]);
  const running = pending.map(() => 0);
  let turn = 0;
  let active = 0;
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      while (active < limits.concurrency && !limits.until()) {
        const index = pickQueue();
        if (index === undefined) break;
        const item = pending[index]!.shift()!;
        running[index]!++;
        active++;
        work(item, index).then(() => {
          running[index]!--;
          active--;
          next();
        }, reject);
      }
      if (active === 0) resolve();
    };
    // The next queue after the last one served with an item and a free share.
    const pickQueue = (): number | undefined => {
      for (let step = 0; step < pending.length; step++) {
        const index = (turn + step) % pending.length;
        if (pending[index]!.length > 0 && running[index]! < limits.perQueue) {
          turn = index + 1;
          return index;
        }
      }
      return undefined;
    };
    next();
  });
}
