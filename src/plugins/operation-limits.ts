/**
 * Limits on the shape of one operation, before it runs: tokens (while parsing, so a huge
 * document is abandoned early), then depth, aliases and directives (GraphQL Armor's rules),
 * and introspection when it is turned off; then, once the variables are known and before
 * execution, cost (graphql/operation-cost.ts: lists sized by variables count too). A refusal carries a
 * stable code: `OPERATION_LIMIT_EXCEEDED` and `extensions.limit` (`tokens`, `depth`, `aliases`,
 * `directives`, `cost`, `listSize`) with `extensions.max`, or `INTROSPECTION_DISABLED`.
 *
 * Armor's plugins throw "Syntax Error: …" without a code; its rules are used here with a
 * rejection handler that reports a coded error instead. Depth and cost skip `__schema`
 * (Armor's default): graphql-js's own MaxIntrospectionDepthRule, which Yoga runs with the
 * specified rules, already refuses the deep introspection queries that matter.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import {
  getNamedType,
  GraphQLError,
  isIntrospectionType,
  type ASTVisitor,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type ParseOptions,
  type Source,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf, type ErrorCode } from '../platform/errors/index.js';
import { costModel } from '../graphql/operation-cost.js';

export const OPERATION_LIMIT_EXCEEDED = 'OPERATION_LIMIT_EXCEEDED' satisfies ErrorCode;
export const INTROSPECTION_DISABLED = 'INTROSPECTION_DISABLED' satisfies ErrorCode;

export interface OperationLimitOptions {
  /** Most nested selections (fragments count as a level). @default 12 */
  maxDepth?: number;
  /** Most aliases in one operation. @default 15 */
  maxAliases?: number;
  /** Most lexical tokens in one document. @default 2000 */
  maxTokens?: number;
  /** Highest cost (objects 2, scalars 1, × the items each list can return: see graphql/operation-cost.ts). @default 50000 */
  maxCost?: number;
  /** SLUICE_INGEST_MAX_FILES: how many documents an ingestion job's list can hold. @default 100 */
  maxFilesPerJob?: number;
  /** Most directives in one operation. @default 50 */
  maxDirectives?: number;
  /** Answer `__schema` / `__type` queries. `__typename` is always allowed. @default true */
  introspection?: boolean;
}

export function useOperationLimits({
  maxDepth = 12,
  maxAliases = 15,
  maxTokens = 2000,
  maxCost = 50_000,
  maxDirectives = 50,
  introspection = true,
  maxFilesPerJob,
}: OperationLimitOptions = {}): Plugin {
  const rejected = (limit: string, max: number) => ({
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(limitError(error, limit, max))],
  });
  const rules: ValidationRule[] = [
    maxDepthRule({ n: maxDepth, ...rejected('depth', maxDepth) }),
    // __typename counts too (Armor allows it by default): a thousand aliases of it fit the token
    // bound and made one 11 KB request ten times the work of an ordinary one.
    maxAliasesRule({ n: maxAliases, allowList: [], ...rejected('aliases', maxAliases) }),
    maxDirectivesRule({ n: maxDirectives, ...rejected('directives', maxDirectives) }),
    ...(introspection ? [] : [noIntrospection]),
  ];
  const cost = costModel({ maxFilesPerJob });
  /** A result refusing the operation, or undefined to run it. */
  const costRefusal = (args: ExecutionArgs): ExecutionResult | undefined => {
    let found: number | undefined;
    try {
      found = cost.costOf(args);
    } catch (error) {
      if (error instanceof GraphQLError && error.extensions?.code === OPERATION_LIMIT_EXCEEDED) return { errors: [asValidationError(error)] };
      // graphql-query-complexity stops after 10 000 selections (fragments spread many times).
      if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) found = Infinity;
      else throw error;
    }
    if (found === undefined || found <= maxCost) return undefined;
    const message = `Query Cost limit of ${maxCost} exceeded, found ${Number.isFinite(found) ? found : 'more than 10000 selections'}.`;
    return { errors: [asValidationError(new GraphQLError(message, { extensions: { code: OPERATION_LIMIT_EXCEEDED, limit: 'cost', max: maxCost } }))] };
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = costRefusal(args);
      if (refusal) setResultAndStopExecution(refusal);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = costRefusal(args);
      if (refusal) setResultAndStopExecution(refusal);
    },
    onParse({ setParseFn }) {
      setParseFn((source: string | Source, options?: ParseOptions): DocumentNode => {
        const parser = new MaxTokensParserWLexer(source, {
          ...options,
          n: maxTokens,
          // Thrown from inside the lexer: parsing stops at the first token over the limit.
          onReject: [
            (_context: ValidationContext | null, error: GraphQLError) => {
              throw limitError(error, 'tokens', maxTokens);
            },
          ],
        });
        return parser.parseDocument();
      });
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
    },
  };
}

function limitError(armorError: GraphQLError, limit: string, max: number): GraphQLError {
  return new GraphQLError(armorError.message.replace(/^Syntax Error: /, ''), {
    extensions: { code: OPERATION_LIMIT_EXCEEDED, limit, max },
  });
}

/**
 * Answered like a validation error (Yoga's own marking): 400 for `application/graphql-response+json`,
 * 200 for legacy `application/json` clients, as GraphQL over HTTP asks.
 */
function asValidationError(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, { extensions: { ...error.extensions, http: { spec: true, status: httpStatusOf(OPERATION_LIMIT_EXCEEDED) } } });
}

/** graphql-js's NoSchemaIntrospectionCustomRule, with a code. */
function noIntrospection(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      const type = context.getType();
      if (type && isIntrospectionType(getNamedType(type))) {
        context.reportError(
          new GraphQLError(`Introspection is disabled on this server (the query asks for "${node.name.value}").`, {
            nodes: node,
            extensions: { code: INTROSPECTION_DISABLED },
          }),
        );
      }
    },
  };
}
