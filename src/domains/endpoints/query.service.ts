/**
 * Asking an endpoint a question: find it by `tenantSlug/endpointSlug`, decide whether the
 * caller may use it, retrieve passages, stream the model's answer, record the usage.
 *
 * Tenant confinement: the endpoint is found with one SECURITY DEFINER lookup that returns
 * only its id, tenant and published flag. Everything after runs on a fork bound to the
 * endpoint's tenant (ORM filter and RLS), and only after the access check: the caller's own
 * tenant, or a published endpoint. Anything else is NOT_FOUND, exactly like a missing one.
 * No database transaction is held while the model answers.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { bindTenantSession } from '../../db/tenant-session.js';
import type { AuthenticatedActor } from '../actor.js';
import { DomainError, NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../identity/permissions.js';
import { modelClient } from '../models/model.service.js';
import type { ServiceContext } from '../service-context.js';
import { Endpoint } from './endpoint.entity.js';
import { validMinScore, validTopK } from './endpoint.service.js';
import { retrieverNamed, type RetrievedPassage } from './retriever.js';
import { UsageRecord } from './usage-record.entity.js';

const MAX_QUERY_CHARS = 8192;
const ENDPOINT_REF = /^([a-z0-9-]{1,64})\/([a-z0-9-]{3,64})$/;

export interface QueryOptions {
  topK?: number | null;
  minScore?: number | null;
}

export interface QueryUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costMicros: number;
}

export interface Citation {
  /** The passage's number in the answer's `[n]` markers. */
  marker: number;
  chunkId: string;
  documentTitle: string;
}

export type QueryEvent =
  | { kind: 'retrieved'; rank: number; passage: RetrievedPassage }
  | { kind: 'answerDelta'; text: string }
  | { kind: 'usage'; usage: QueryUsage }
  | { kind: 'completed'; answer: string; citations: Citation[]; latencyMs: number };

/** A query that passed every check; `events` runs it. */
export interface PreparedQuery {
  endpointId: string;
  events(signal: AbortSignal): AsyncGenerator<QueryEvent>;
}

export class QueryService {
  constructor(private readonly ctx: ServiceContext) {}

  async prepare(endpointRef: string, query: string, options: QueryOptions = {}): Promise<PreparedQuery> {
    const { actor } = this.ctx;
    assertCan(actor, 'endpoint:query');
    const text = validQuery(query);
    const ref = ENDPOINT_REF.exec(endpointRef.trim());
    if (!ref) throw new ValidationError('endpoint must be "tenant-slug/endpoint-slug"', { field: 'endpoint' });
    const [found] = await this.ctx.em
      .getConnection()
      .execute<{ endpoint_id: string; tenant_id: string; published: boolean }[]>(
        'select endpoint_id, tenant_id, published from resolve_endpoint(?, ?)',
        [ref[1], ref[2]],
        'all',
        this.ctx.em.getTransactionContext(),
      );
    if (!found || (found.tenant_id !== actor.tenantId && !found.published)) throw new NotFoundError('Endpoint');

    const em = this.ctx.em.fork({ clear: true }) as EntityManager;
    bindTenantSession(em, { tenantId: found.tenant_id, userId: null });
    const endpoint = await em.transactional((tx) => tx.findOne(Endpoint, { id: found.endpoint_id }, { populate: ['model'] }));
    if (!endpoint) throw new NotFoundError('Endpoint');
    const settings = {
      topK: validTopK(options.topK ?? endpoint.topK),
      minScore: options.minScore !== undefined ? validMinScore(options.minScore) : endpoint.minScore == null ? null : Number(endpoint.minScore),
    };
    const model = endpoint.model;
    const client = modelClient(this.ctx.deps, model);
    const record = (usage: QueryUsage, latencyMs: number, outcome: string) =>
      em.transactional(async (tx) => {
        tx.create(UsageRecord, {
          tenant: found.tenant_id,
          endpoint: endpoint.id,
          endpointSlug: endpoint.slug,
          ...callerOf(actor),
          ...usage,
          latencyMs,
          outcome,
        });
      });
    const started = performance.now();

    return {
      endpointId: endpoint.id,
      async *events(signal) {
        let usage: QueryUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, costMicros: 0 };
        let outcome = 'CANCELLED';
        try {
          const passages = await em.transactional((tx) =>
            retrieverNamed('full-text').retrieve(tx as EntityManager, { datasetIds: endpoint.datasetIds, query: text, ...settings }),
          );
          for (const [rank, passage] of passages.entries()) yield { kind: 'retrieved', rank: rank + 1, passage };
          let answer = '';
          let citations: string[] = [];
          for await (const event of client.answer({ query: text, passages, signal })) {
            if (event.kind === 'delta') {
              answer += event.text;
              yield { kind: 'answerDelta', text: event.text };
            } else {
              citations = event.citations;
              usage = costOf(event.usage, model);
            }
          }
          if (signal.aborted) return;
          yield { kind: 'usage', usage };
          outcome = 'ok';
          yield {
            kind: 'completed',
            answer,
            citations: citations.flatMap((chunkId) => {
              const index = passages.findIndex((passage) => passage.chunkId === chunkId);
              return index < 0 ? [] : [{ marker: index + 1, chunkId, documentTitle: passages[index]!.documentTitle }];
            }),
            latencyMs: Math.round(performance.now() - started),
          };
        } catch (error) {
          outcome = signal.aborted ? 'CANCELLED' : error instanceof DomainError ? error.code : 'INTERNAL';
          throw error;
        } finally {
          // Every query is recorded, finished or not: the accounting policy counts attempts too.
          await record(usage, Math.round(performance.now() - started), outcome);
        }
      },
    };
  }
}

function validQuery(query: string): string {
  const text = query.trim();
  if (text.length === 0 || text.length > MAX_QUERY_CHARS) {
    throw new ValidationError(`query must be 1 to ${MAX_QUERY_CHARS} characters`, { field: 'query' });
  }
  if (!text.isWellFormed()) throw new ValidationError('query must be valid Unicode text', { field: 'query' });
  return text;
}

function callerOf(actor: AuthenticatedActor) {
  const callerId = actor.kind === 'user' ? actor.userId : actor.kind === 'apiKey' ? actor.apiKeyId : `${actor.issuer}#${actor.subject}`;
  return { callerTenantId: actor.tenantId, callerKind: actor.kind, callerId: callerId.slice(0, 255) };
}

function costOf(usage: { promptTokens: number; completionTokens: number }, prices: { promptMicrosPer1k: number; completionMicrosPer1k: number }): QueryUsage {
  return {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.promptTokens + usage.completionTokens,
    costMicros: Math.round((usage.promptTokens * prices.promptMicrosPer1k + usage.completionTokens * prices.completionMicrosPer1k) / 1000),
  };
}
