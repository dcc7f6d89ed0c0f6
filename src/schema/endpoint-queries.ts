/**
 * Asking endpoints: `queryEndpoint` (one response; `@stream` its passages and `@defer` the
 * answer to get them as they are ready) and the `endpointQuery` subscription (every event
 * as it happens, over graphql-ws or SSE). A caller that goes away aborts the model call.
 */
import type { Citation, PreparedQuery, QueryEvent, QueryUsage } from '../domains/endpoint-queries/query.service.js';
import type { RankedPassage } from '../domains/endpoint-queries/retrieval-modes.js';
import { CodedError } from '../platform/errors/index.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { bounded } from './string-bounds.js';
import { whenAborted } from '../platform/lifecycle/when-aborted.js';
import { Kind, type GraphQLResolveInfo, type SelectionNode } from 'graphql';

type Ranked = RankedPassage & { rank: number };

const PassageRanksRef = builder.objectRef<RankedPassage['ranks']>('PassageRanks').implement({
  description: 'Where each ranking placed the passage (1 is first); null where it did not place it or did not run.',
  fields: (t) => ({
    keyword: t.exposeInt('keyword', { nullable: true }),
    semantic: t.exposeInt('semantic', { nullable: true }),
  }),
});

const PassageRef = builder.objectRef<Ranked>('Passage').implement({
  fields: (t) => ({
    rank: t.exposeInt('rank', { description: '1 for the best match.' }),
    chunkId: t.exposeString('chunkId'),
    documentId: t.exposeString('documentId'),
    documentTitle: t.exposeString('documentTitle'),
    text: t.exposeString('text'),
    score: t.exposeFloat('score', {
      description: 'Higher is better; comparable within one query. KEYWORD: the full-text rank; SEMANTIC: cosine similarity; HYBRID: the fused score Σ 1/(60 + rank).',
    }),
    ranks: t.field({ type: PassageRanksRef, resolve: (passage) => passage.ranks }),
    highlight: t.exposeString('highlight', { description: 'The best fragments, matches wrapped in ** (Markdown bold, never HTML). Stars and backslashes of the text itself come escaped with a backslash (\\*, \\\\), so ** is always a marker.' }),
    metadata: t.field({ type: 'JSONObject', resolve: (passage) => passage.metadata }),
  }),
});

const CitationRef = builder.objectRef<Citation>('Citation').implement({
  fields: (t) => ({
    marker: t.exposeInt('marker', { description: 'The n of the answer’s [n]: the passage’s rank.' }),
    chunkId: t.exposeString('chunkId'),
    documentTitle: t.exposeString('documentTitle'),
  }),
});

const UsageRef = builder.objectRef<QueryUsage>('Usage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
    costMicros: t.exposeInt('costMicros', { description: 'From the model’s prices, in micro-units.' }),
  }),
});

/** Drives one query in the background; fields wait for the part they show. */
class QueryRun {
  readonly passages: Ranked[] = [];
  readonly retrieved: Promise<Ranked[]>;
  readonly finished: Promise<{ answer: string; citations: Citation[]; latencyMs: number; usage: QueryUsage }>;

  constructor(prepared: PreparedQuery, signal: AbortSignal) {
    let markRetrieved!: () => void;
    let failRetrieval!: (error: unknown) => void;
    this.retrieved = new Promise<void>((resolve, reject) => {
      markRetrieved = resolve;
      failRetrieval = reject;
    }).then(() => this.passages);
    this.finished = (async () => {
      let usage: QueryUsage | undefined;
      try {
        for await (const event of prepared.events(signal)) {
          if (event.kind === 'retrieved') this.passages.push({ ...event.passage, rank: event.rank });
          else markRetrieved();
          if (event.kind === 'usage') usage = event.usage;
          if (event.kind === 'completed') return { ...event, usage: usage! };
        }
        throw new Error('the query ended without completing');
      } catch (error) {
        // Failed before the passages were complete (the question's embedding, the search): the
        // passages fail with it, so a query selecting only them is not answered "no match".
        // After them (the model's answer) this is a no-op: the passages stand.
        failRetrieval(error);
        throw error;
      } finally {
        markRetrieved();
      }
    })();
    // Fields that are not selected must not leave an unhandled rejection behind.
    this.finished.catch(() => undefined);
    this.retrieved.catch(() => undefined);
  }

  /** For `@stream`: passages one by one once retrieved. */
  async *streamPassages(): AsyncGenerator<Ranked> {
    yield* await this.retrieved;
  }
}

const QueryResultRef = builder.objectRef<QueryRun>('QueryResult').implement({
  fields: (t) => ({
    passages: t.field({ type: [PassageRef], description: 'Best first. Supports @stream.', resolve: (run) => run.streamPassages() }),
    answer: t.string({ description: 'Supports @defer.', resolve: async (run) => (await run.finished).answer }),
    citations: t.field({ type: [CitationRef], resolve: async (run) => (await run.finished).citations }),
    usage: t.field({ type: UsageRef, resolve: async (run) => (await run.finished).usage }),
    latencyMs: t.int({ resolve: async (run) => (await run.finished).latencyMs }),
  }),
});

const QueryOptionsInput = builder.inputType('QueryOptionsInput', {
  fields: (t) => ({
    topK: t.int({ required: false, description: 'Override the endpoint’s topK (1–50).' }),
    minScore: t.float({ required: false, description: 'Override the endpoint’s minScore.' }),
  }),
});

const RetrievedRef = builder.objectRef<Extract<QueryEvent, { kind: 'retrieved' }>>('EndpointQueryRetrieved').implement({
  fields: (t) => ({ passage: t.field({ type: PassageRef, resolve: (event) => ({ ...event.passage, rank: event.rank }) }) }),
});
const AnswerDeltaRef = builder.objectRef<Extract<QueryEvent, { kind: 'answerDelta' }>>('EndpointQueryAnswerDelta').implement({
  fields: (t) => ({ text: t.exposeString('text') }),
});
const UsageEventRef = builder.objectRef<Extract<QueryEvent, { kind: 'usage' }>>('EndpointQueryUsage').implement({
  fields: (t) => ({ usage: t.field({ type: UsageRef, resolve: (event) => event.usage }) }),
});
const CompletedRef = builder.objectRef<Extract<QueryEvent, { kind: 'completed' }>>('EndpointQueryCompleted').implement({
  fields: (t) => ({
    answer: t.exposeString('answer'),
    citations: t.field({ type: [CitationRef], resolve: (event) => event.citations }),
    latencyMs: t.exposeInt('latencyMs'),
  }),
});
type Failed = { kind: 'failed'; code: string; message: string };
const FailedRef = builder.objectRef<Failed>('EndpointQueryFailed').implement({
  description: 'The query failed after it started (e.g. the model server timed out); the stream ends with this.',
  fields: (t) => ({ code: t.exposeString('code'), message: t.exposeString('message') }),
});

const EVENT_TYPES = { retrieved: RetrievedRef, answerDelta: AnswerDeltaRef, usage: UsageEventRef, completed: CompletedRef, failed: FailedRef };
const EndpointQueryEventRef = builder.unionType('EndpointQueryEvent', {
  types: Object.values(EVENT_TYPES),
  resolveType: (event) => EVENT_TYPES[(event as QueryEvent | Failed).kind],
});

/** The events, with a failure as the last event; ending the iterator aborts the run at once. */
function eventStream(prepared: PreparedQuery, outer?: AbortSignal): AsyncIterableIterator<QueryEvent | Failed> {
  const controller = new AbortController();
  whenAborted(outer, () => controller.abort());
  const inner = (async function* () {
    try {
      yield* prepared.events(controller.signal);
    } catch (error) {
      if (controller.signal.aborted) return;
      if (!(error instanceof CodedError)) throw error;
      yield { kind: 'failed' as const, code: error.code, message: error.message };
    }
  })();
  return {
    next: () => inner.next(),
    // An async generator's own return() waits for its pending await (a model that is still
    // thinking); aborting first makes that await end now and the upstream request close.
    return: (value?: unknown) => {
      controller.abort();
      return inner.return(value as undefined);
    },
    throw: (error?: unknown) => {
      controller.abort();
      return inner.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Whether the operation asks of this field's result only what the search gives (its passages,
 * `__typename`), through fragments too. A field skipped by a directive counts as asked.
 */
function asksOnlyPassages(info: GraphQLResolveInfo): boolean {
  const visited = new Set<string>();
  const only = (selections: readonly SelectionNode[]): boolean =>
    selections.every((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === 'passages' || selection.name.value === '__typename';
      if (selection.kind === Kind.INLINE_FRAGMENT) return only(selection.selectionSet.selections);
      if (visited.has(selection.name.value)) return true;
      visited.add(selection.name.value);
      const fragment = info.fragments[selection.name.value];
      return fragment ? only(fragment.selectionSet.selections) : true;
    });
  return info.fieldNodes.every((node) => only(node.selectionSet?.selections ?? []));
}

const queryArgs = builder.args((t) => ({
  endpoint: t.string({ required: true, description: '"tenantSlug/endpointSlug"', ...bounded('reference') }),
  query: t.string({ required: true, description: 'What to ask: words, "quoted phrases", or, -excluded (1–8192 characters).', ...audited.text }),
  options: t.field({ type: QueryOptionsInput, required: false }),
}));

builder.queryFields((t) => ({
  queryEndpoint: t.field({
    type: QueryResultRef,
    description:
      'Asks an endpoint: passages, answer, citations, usage. @stream passages / @defer the answer to get parts early. Selecting only passages searches without asking the model; the model stops once the response is sent.',
    // Anonymous callers pass here; the query service admits them only where the endpoint allows.
    authScopes: { endpointConsumer: true },
    // The query service opens the transactions it needs (plugins/request-scope.ts).
    extensions: { ownTransactions: true },
    args: queryArgs,
    resolve: async (_root, { endpoint, query, options }, ctx, info) => {
      // Passages alone need no answer: asking the model for one nobody reads held its server.
      const prepared = await ctx.services.queries.prepare(endpoint, query, { ...options, retrievalOnly: asksOnlyPassages(info) });
      return new QueryRun(prepared, ctx.request?.signal ?? new AbortController().signal);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  endpointQuery: t.field({
    type: EndpointQueryEventRef,
    description: 'Asks an endpoint and streams: each passage, answer pieces, usage, then completion (or EndpointQueryFailed).',
    // Anonymous callers pass here; the query service admits them only where the endpoint allows.
    authScopes: { endpointConsumer: true },
    args: queryArgs,
    // A plain async function: a refusal here ends this operation only, not the whole socket.
    subscribe: async (_root, { endpoint, query, options }, ctx) =>
      eventStream(await ctx.services.queries.prepare(endpoint, query, options ?? {}), ctx.request?.signal),
    resolve: (event) => event,
  }),
}));
