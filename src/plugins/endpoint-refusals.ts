/**
 * Records a refusal met before any resolver ran (the per-principal limit) in the decision log
 * of each endpoint the operation asks, through the query service (which writes only where the
 * caller could reach the endpoint). The operation is refused either way: a failure to record
 * is logged, never turned into another error.
 */
import type { CodedError } from '../platform/errors/index.js';
import { endpointReferencesOf, type OperationParams } from '../graphql/endpoint-references.js';
import type { Logger } from '../platform/logging/logger.js';
import type { Services } from '../domains/services.js';

interface RefusalContext {
  services: Services;
  params?: OperationParams;
  logger?: Logger;
}

/** `references`: the endpoints asked; by default read from the request's own text (`params`). */
export async function recordEndpointRefusals(context: RefusalContext, refusal: CodedError, rule: string, references = endpointReferencesOf(context.params)): Promise<void> {
  for (const reference of references) {
    await context.services.queries.recordRefusal(reference, refusal, rule).catch((error: unknown) => {
      context.logger?.warn({ err: error, endpoint: reference }, 'a refusal could not be written to the endpoint decision log');
    });
  }
}
