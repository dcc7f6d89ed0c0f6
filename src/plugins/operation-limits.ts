/**
 * Limits on the shape of one operation, before it runs: tokens (while parsing, so a huge
 * document is abandoned early), then depth, aliases, cost and directives (GraphQL Armor's
 * rules), and introspection when it is turned off. A refusal is a validation error with a
 * stable code: `OPERATION_LIMIT_EXCEEDED` and `extensions.limit` (`tokens`, `depth`, `aliases`,
 * `cost`, `directives`) with `extensions.max`, or `INTROSPECTION_DISABLED`.
 *
 * Armor's plugins throw "Syntax Error: …" without a code; its rules are used here with a
 * rejection handler that reports a coded error instead. Depth and cost skip `__schema`
 * (Armor's default): graphql-js's own MaxIntrospectionDepthRule, which Yoga runs with the
 * specified rules, already refuses the deep introspection queries that matter.
 */
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
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
  type ParseOptions,
  type Source,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const OPERATION_LIMIT_EXCEEDED = 'OPERATION_LIMIT_EXCEEDED';
export const INTROSPECTION_DISABLED = 'INTROSPECTION_DISABLED';

export interface OperationLimitOptions {
  /** Most nested selections (fragments count as a level). @default 12 */
  maxDepth?: number;
  /** Most aliases in one operation. @default 15 */
  maxAliases?: number;
  /** Most lexical tokens in one document. @default 2000 */
  maxTokens?: number;
  /** Highest Armor cost (objects 2, scalars 1, ×1.5 per level, × literal `first`/`last`). @default 20000 */
  maxCost?: number;
  /** Most directives in one operation. @default 50 */
  maxDirectives?: number;
  /** Answer `__schema` / `__type` queries. `__typename` is always allowed. @default true */
  introspection?: boolean;
}

export function useOperationLimits({
  maxDepth = 12,
  maxAliases = 15,
  maxTokens = 2000,
  maxCost = 20_000,
  maxDirectives = 50,
  introspection = true,
}: OperationLimitOptions = {}): Plugin {
  const rejected = (limit: string, max: number) => ({
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(limitError(error, limit, max))],
  });
  const rules: ValidationRule[] = [
    maxDepthRule({ n: maxDepth, ...rejected('depth', maxDepth) }),
    maxAliasesRule({ n: maxAliases, ...rejected('aliases', maxAliases) }),
    costLimitRule({ maxCost, ...rejected('cost', maxCost) }),
    maxDirectivesRule({ n: maxDirectives, ...rejected('directives', maxDirectives) }),
    ...(introspection ? [] : [noIntrospection]),
  ];
  return {
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
