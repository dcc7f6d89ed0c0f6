/**
 * "Test connection": one health check of one model, on an admin's demand (the console's
 * button, `testModel`). The same check as the worker's rounds (model-check.ts): the model's own
 * client, so the same egress guard, timeout and sealed key as a query; one attempt, no retries.
 *
 * An embeddings model is asked for one vector, compared with the length of those it stored in
 * the tenant's datasets (model-check.ts).
 *
 * The result is told to the caller and written to the audit trail (`model.test`); it is not
 * written into the model's health, which stays what the worker's rounds found (their window
 * of recent checks would be skewed by checks clicked at will).
 *
 * The model is read in a short transaction of its own and the server is called with none open
 * (the field is marked `ownTransactions`): a slow model server must not hold a database
 * connection for its whole timeout.
 */
import { assertCan } from '../access/permissions.js';
import { auditEvent } from '../audit/record.js';
import { storedVectorDimension } from '../datasets/vector-dimension.js';
import { NotFoundError } from '../errors.js';
import { Model } from '../models/model.entity.js';
import type { ServiceContext } from '../service-context.js';
import { checkModel } from './model-check.js';

export interface ModelTestResult {
  /** As read for the test (its fields need no further read: none could run outside a transaction). */
  model: Model;
  ok: boolean;
  /** Whole milliseconds the check took; null when it failed. */
  latencyMs: number | null;
  /** Why it failed (reason and message, redacted: model-check.ts); null when it answered. */
  error: string | null;
  testedAt: Date;
}

export class ModelTestService {
  constructor(private readonly ctx: ServiceContext) {}

  async test(id: string): Promise<ModelTestResult> {
    const { actor, scope, deps } = this.ctx;
    // It calls a server and may cost tokens: who may change models may test them.
    assertCan(actor, 'model:manage');
    const read = await scope.read(async (em) => {
      const found = await em.findOne(Model, { id });
      return found && { model: found, storedDimension: await storedVectorDimension(em, actor.tenantId!, found.id) };
    });
    if (!read) throw new NotFoundError('Model');
    const { model, storedDimension } = read;
    const outcome = await checkModel(deps, model, new AbortController().signal, { storedDimension });
    const result: ModelTestResult = {
      model,
      ok: outcome.ok,
      latencyMs: outcome.ok ? Math.round(outcome.latencyMs) : null,
      error: outcome.ok ? null : outcome.error,
      testedAt: deps.clock.now(),
    };
    auditEvent(this.ctx, {
      action: 'model.test',
      outcome: result.ok ? 'ok' : 'UPSTREAM_ERROR',
      details: { target: { type: 'Model', id: model.id }, type: model.type, latencyMs: result.latencyMs, error: result.error },
    });
    return result;
  }
}
