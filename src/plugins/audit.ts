/**
 * One audit event per GraphQL operation (HTTP and graphql-ws alike): who, from where, which
 * operation (type, name, a keyed digest of the document: AuditLog.digestDocument, and what the
 * schema's audit marks let it keep of each root field's arguments: see
 * graphql/audit-arguments.ts; never the raw variables), the outcome
 * (`ok` or the error codes), duration, request and trace ids. Authorization failures get an
 * `authz.denied` event of their own, naming the refused paths. Subscriptions are recorded
 * once, when they start (or are refused). Writing is the AuditLog's job: batched, async. A
 * refused sign-in (graphql/sign-in-fields.ts) goes through the refusal log's flood limit, and
 * so does an operation refused only by limits (every error RATE_LIMITED: an endpoint's rate
 * limit or quota, the answers in progress, the queued jobs, the key-minting limit): a caller
 * at its limit is refused at once however fast it asks, and each was an event.
 */
import { GraphQLError, type DefinitionNode, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.js';
import type { AuditLog, AuditRecord } from '../domains/audit/audit-log.js';
import { bounded, KeptValues } from '../domains/audit/marks.js';
import { auditActorOf } from '../domains/audit/record.js';
import { codedFailure } from '../platform/errors/index.js';
import { keptArguments } from '../graphql/audit-arguments.js';
import { onlySignIns } from '../graphql/sign-in-fields.js';
import { rootFieldsOf } from '../graphql/root-fields.js';
import { SIGN_IN_REFUSALS, type LimitedRefusals, type RefusedSignIns } from '../domains/identity/refused-credentials.js';

export interface AuditOptions {
  audit: AuditLog;
  /** Where a refused sign-in's event goes: the refusal log's flood limit. */
  refusedSignIns: RefusedSignIns;
  /** Where an operation refused only by limits goes: the refusal log's flood limit. */
  limitedRefusals: LimitedRefusals;
}

/**
 * Whether the operation did nothing: an error without a path (refused before it ran), or each of
 * its root fields refused itself (an error whose path is that field). A mutation whose other
 * field succeeded (each runs in a savepoint of its own, and stays) is written in full: its event
 * may be the only record of that change (a deleteDataset beside an ingestDocuments refused
 * QUEUED_JOBS must not become a count in a summary).
 */
export function everyRootFieldRefused(document: DocumentNode, operation: DefinitionNode | undefined, errors: readonly GraphQLError[]): boolean {
  if (errors.some((error) => !error.path || error.path.length === 0)) return true;
  if (operation?.kind !== 'OperationDefinition') return true;
  const refused = new Set(errors.filter((error) => error.path!.length === 1).map((error) => error.path![0]));
  return rootFieldsOf(document, operation).every((field) => refused.has((field.alias ?? field.name).value));
}

export function useAudit({ audit, refusedSignIns, limitedRefusals }: AuditOptions): Plugin<GraphQLContext> {
  const record = (args: ExecutionArgs, errors: readonly GraphQLError[], started: number) => {
    const context = args.contextValue as GraphQLContext;
    const operation = args.document.definitions.find(
      (definition) => definition.kind === 'OperationDefinition' && (!args.operationName || definition.name?.value === args.operationName),
    );
    const type = operation?.kind === 'OperationDefinition' ? operation.operation : 'query';
    const codes = [...new Set(errors.map(codeOf))];
    const query = (context as { params?: { query?: unknown } }).params?.query;
    const request = {
      ip: (context as { clientIp?: string }).clientIp ?? null,
      userAgent: context.request?.headers.get('user-agent') ?? null,
      requestId: context.requestId ?? null,
      traceId: (context as { traceId?: string | null }).traceId ?? null,
    };
    const actor = auditActorOf(context.actor, context.actor.tenantId);
    const tenantId = context.actor.tenantId;
    const kept = new KeptValues((text) => audit.digestText(text));
    const fields = operation?.kind === 'OperationDefinition' ? keptOrUnreadable(() => keptArguments(args, operation, kept)) : [];
    const event: AuditRecord = {
      tenantId,
      action: `graphql.${type}`,
      outcome: codes.length === 0 ? 'ok' : codes.join(','),
      actor,
      request,
      personalValues: kept.personal,
      details: {
        // A name the caller chose, kept like an unmarked argument: an API key once sat in one verbatim.
        operationName: operation?.kind === 'OperationDefinition' && operation.name ? bounded(operation.name.value, 0) : null,
        documentHash: typeof query === 'string' ? audit.digestDocument(query) : null,
        fields,
        durationMs: Math.round(performance.now() - started),
      },
    };
    const refusedSignIn = codes.length > 0 && codes.every((code) => SIGN_IN_REFUSALS.has(code)) && operation?.kind === 'OperationDefinition' && onlySignIns(args.document, operation);
    if (refusedSignIn) refusedSignIns.refusedSignIn(event);
    else if (codes.length > 0 && codes.every((code) => code === 'RATE_LIMITED') && everyRootFieldRefused(args.document, operation, errors)) limitedRefusals.refusedOverLimit(event);
    else audit.record(event);
    const denied = errors.filter((error) => codeOf(error) === 'FORBIDDEN').map((error) => error.path?.join('.') ?? null);
    if (denied.length > 0) audit.record({ tenantId, action: 'authz.denied', outcome: 'FORBIDDEN', actor, request, details: { paths: denied } });
  };

  return {
    // Each operation's event is expected from its start: a shutdown that cuts the connection
    // mid-operation closes the audit log only once the event is in (server.ts, bounded).
    onExecute({ args }) {
      const started = performance.now();
      const settled = audit.expect();
      const recordOnce = (errors: readonly GraphQLError[]) => {
        record(args, errors, started);
        settled();
      };
      return {
        onExecuteDone({ result }) {
          if (!isAsyncIterable(result)) {
            recordOnce((result as ExecutionResult).errors ?? []);
            return undefined;
          }
          // Incremental delivery (@defer / @stream): one event once the last part is sent.
          const errors: GraphQLError[] = [];
          return {
            onNext: ({ result: part }) => void errors.push(...((part as ExecutionResult).errors ?? [])),
            onEnd: () => recordOnce(errors),
          };
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      const settled = audit.expect();
      const recordOnce = (errors: readonly GraphQLError[]) => {
        record(args, errors, started);
        settled();
      };
      return {
        onSubscribeResult({ result }) {
          recordOnce(isAsyncIterable(result) ? [] : ((result as ExecutionResult).errors ?? []));
        },
        onSubscribeError({ error }) {
          recordOnce([error instanceof GraphQLError ? error : new GraphQLError(String(error))]);
        },
      };
    },
  };
}

/** An argument the walk cannot keep must not cost the operation its event (nor its answer). */
function keptOrUnreadable<T>(keep: () => T): T | { unreadable: 'arguments' } {
  try {
    return keep();
  } catch {
    return { unreadable: 'arguments' };
  }
}

function codeOf(error: GraphQLError): string {
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  return codedFailure(error.originalError)?.code ?? 'INTERNAL';
}
