/**
 * Operations refused before they ran leave an event too (the audit plugin, audit.ts, records
 * each operation that reached execution): a document that does not parse, fails validation
 * (an unknown field, depth, aliases, directives, NUL in a literal, introspection turned off),
 * names no trusted document, or is refused once its variables are known (their bounds, the
 * cost, NUL in a variable, the subscription caps). One `graphql.<type>` event (the type when
 * the document names one, else `graphql.document`), outcome the codes answered, actor the
 * caller; of the document only its keyed digest (AuditLog.digestDocument, as audit.ts) and the
 * operation's name (kept like an unmarked argument), never its text nor the variables: an
 * invalid document carries no audit marks.
 *
 * Such refusals cost the caller nothing and run nothing, so they go through the refusal log's
 * flood limit (domains/identity/refused-credentials.ts), in buckets of their own, apart from
 * refused credentials': per chain and caller (or address, for an anonymous one), and per
 * chain, the excess counted in `auth.refusals_suppressed`.
 *
 * Where each is seen: `watch` sits before every plugin that refuses once the variables are
 * known and sees the result of an operation the audit plugin never reached (`reached` sits
 * just before it); refusals before the context exists (parse, validation, trusted documents)
 * are seen in Yoga's `onExecutionResult` over HTTP and told by server/websocket.ts over
 * graphql-ws (`refusedBeforeContext`). There the caller is not known yet: the credential is
 * authenticated for the record (a refused one is already its own event, and the operation's
 * refusal adds none).
 */
import type { IncomingMessage } from 'node:http';
import type { DocumentNode, ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.js';
import type { Actor } from '../domains/actor.js';
import type { AuditLog, AuditRequest } from '../domains/audit/audit-log.js';
import { bounded } from '../domains/audit/marks.js';
import { auditActorOf } from '../domains/audit/record.js';
import type { Authenticator } from '../domains/identity/authenticator.js';
import { presentedCredential } from '../domains/identity/presented-credential.js';
import type { RefusedRequests } from '../domains/identity/refused-credentials.js';
import { operationOf } from '../graphql/root-fields.js';
import { codedFailure } from '../platform/errors/index.js';
import { clientIpOf } from '../platform/http/client-address.js';
import { operationRequestId, requestIdOf } from '../platform/http/request-ids.js';
import type { Logger } from '../platform/logging/logger.js';

export interface RefusedOperationAuditOptions {
  refusals: RefusedRequests;
  authenticator: Authenticator;
  /** The shutdown waits for the records still being made (audit.expect); the document's keyed digest. */
  audit: Pick<AuditLog, 'expect' | 'digestDocument'>;
  trustProxyHops: number;
  logger: Logger;
}

/** What a context holds before it is built: the request (HTTP) or the socket's (graphql-ws), the params. */
interface InitialContext {
  request?: Request;
  req?: IncomingMessage;
  params?: { query?: unknown; operationName?: string | null; extensions?: { requestId?: unknown } | null };
  connectionParams?: Record<string, unknown>;
}

export class RefusedOperationAudit {
  /** Contexts whose document passed validation: a later refusal is the context's or execution's. */
  private readonly validated = new WeakSet<object>();
  /** Contexts whose operation reached the audit plugin, which records it. */
  private readonly reachedAudit = new WeakSet<object>();
  private readonly documents = new WeakMap<object, DocumentNode>();

  constructor(private readonly options: RefusedOperationAuditOptions) {}

  /** Before the plugins that refuse an operation once its variables are known (plugin-list.ts). */
  readonly watch: Plugin<GraphQLContext> = {
    onParse: ({ context }) => {
      return ({ result }) => {
        if (result && !(result instanceof Error)) this.documents.set(context, result);
      };
    },
    onValidate: ({ context }) => {
      return ({ valid }) => {
        if (valid) this.validated.add(context);
      };
    },
    onExecutionResult: ({ result, context }) => {
      if (this.validated.has(context) || Array.isArray(result) || isAsyncIterable(result)) return;
      const errors = (result as ExecutionResult | undefined)?.errors;
      if (errors?.length) this.refusedBeforeContext(context, errors);
    },
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        if (!isAsyncIterable(result)) this.refusedInContext(args.contextValue as GraphQLContext, args.document, args.operationName, result.errors ?? []);
      },
    }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: ({ result }) => {
        if (!isAsyncIterable(result)) this.refusedInContext(args.contextValue as GraphQLContext, args.document, args.operationName, result.errors ?? []);
      },
    }),
  };

  /** Just before the audit plugin: what passes here is recorded there. */
  readonly reached: Plugin = {
    onExecute: ({ args }) => void this.reachedAudit.add(args.contextValue as object),
    onSubscribe: ({ args }) => void this.reachedAudit.add(args.contextValue as object),
  };

  /** An operation refused before its context was built: parsing, validation, trusted documents. */
  refusedBeforeContext(context: object, errors: readonly GraphQLError[]): void {
    const initial = context as InitialContext;
    const request: AuditRequest = {
      ip: clientIpOf(initial.req, this.options.trustProxyHops),
      userAgent: initial.request?.headers.get('user-agent') ?? initial.req?.headers['user-agent'] ?? null,
      requestId: initial.request ? requestIdOf(initial.request) : operationRequestId(initial.params?.extensions?.requestId),
      traceId: null,
    };
    const document = this.documents.get(context);
    // Parsed or not, Yoga names a syntax error's code only when it writes the response.
    const codes = errors.map((error) => codeOf(error) ?? (document ? 'INTERNAL' : 'GRAPHQL_PARSE_FAILED'));
    const settled = this.options.audit.expect();
    void this.options.authenticator
      .authenticate(presentedCredential(initial), request)
      .then(
        ({ actor }) => this.write(actor, request, document, initial.params?.operationName, initial.params?.query, codes),
        // A refused credential was recorded by the authenticator: that is this request's event.
        () => undefined,
      )
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'a refused operation could not be recorded'))
      .finally(settled);
  }

  private refusedInContext(context: GraphQLContext, document: DocumentNode, operationName: string | null | undefined, errors: readonly GraphQLError[]): void {
    if (this.reachedAudit.has(context) || errors.length === 0) return;
    const request: AuditRequest = { ip: context.clientIp ?? null, userAgent: context.request?.headers.get('user-agent') ?? null, requestId: context.requestId ?? null, traceId: context.traceId ?? null };
    const query = (context as { params?: { query?: unknown } }).params?.query;
    this.write(context.actor, request, document, operationName, query, errors.map((error) => codeOf(error) ?? 'INTERNAL'));
  }

  private write(actor: Actor, request: AuditRequest, document: DocumentNode | undefined, operationName: string | null | undefined, query: unknown, codes: string[]): void {
    const operation = document ? operationOf(document, operationName) : null;
    this.options.refusals.refusedRequest({
      tenantId: actor.tenantId,
      action: `graphql.${operation?.operation ?? 'document'}`,
      outcome: [...new Set(codes)].join(','),
      actor: auditActorOf(actor, actor.tenantId),
      request,
      details: {
        // The caller's own words, kept as an unmarked argument is (cut, redacted), as audit.ts keeps it.
        operationName: operation?.name ? bounded(operation.name.value, 0) : null,
        documentHash: typeof query === 'string' ? this.options.audit.digestDocument(query) : null,
        refused: 'before execution',
      },
    });
  }
}

function codeOf(error: GraphQLError): string | undefined {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : codedFailure(error.originalError)?.code;
}
