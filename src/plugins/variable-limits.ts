/**
 * Bounds an operation's variables before anything walks them (the NUL check, the cost model's
 * coercion, execution's, the audit's), on HTTP, SSE and graphql-ws alike: at most `maxValues`
 * values in all (each scalar, list and object, at any depth) and `maxDepth` levels
 * (platform/input/value-bounds.ts), counted before anything else, stopping at the first value
 * over the bound. Variables the operation does not declare count too: graphql-js ignores them
 * (and so does Sluice: clients that send a shared bag of variables keep working), but a 900 KB
 * list under a name nobody declared was walked value by value for a second per request.
 * A refusal is BAD_USER_INPUT before anything runs (HTTP 400 for
 * `application/graphql-response+json`, 200 for legacy `application/json`), with
 * `extensions.limit` and `extensions.max`. A multipart upload's `map` is bounded before it
 * becomes variables (utf8-bodies.ts and platform/http/upload-map.ts).
 */
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf } from '../platform/errors/index.js';
import { MAX_JSON_DEPTH } from '../platform/input/json-depth.js';
import { exceededBound } from '../platform/input/value-bounds.js';

export interface VariableLimitOptions {
  /** SLUICE_MAX_VARIABLE_VALUES: most values in an operation's variables, all levels counted. @default 10000 */
  maxValues?: number;
  /** Most levels of lists and objects, the variables object being the first (a JSON body's own bound). @default 128 */
  maxDepth?: number;
}

export function useVariableLimits({ maxValues = 10_000, maxDepth = MAX_JSON_DEPTH }: VariableLimitOptions = {}): Plugin {
  const refuse = (args: ExecutionArgs, stop: (result: ExecutionResult) => void) => {
    const refusal = variablesRefusal(args, maxValues, maxDepth);
    if (refusal) stop({ errors: [refusal] });
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      refuse(args, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      refuse(args, setResultAndStopExecution);
    },
  };
}

function variablesRefusal({ variableValues }: ExecutionArgs, maxValues: number, maxDepth: number): GraphQLError | undefined {
  // Not an object: Yoga and graphql-ws refuse that themselves.
  if (variableValues == null || typeof variableValues !== 'object' || Array.isArray(variableValues)) return undefined;
  const exceeded = exceededBound(variableValues, { maxValues, maxDepth });
  if (exceeded === 'values') {
    return refusal(`The variables hold more than ${maxValues} values (SLUICE_MAX_VARIABLE_VALUES), counting every item of every list and field of every object.`, {
      limit: 'variableValues',
      max: maxValues,
    });
  }
  if (exceeded === 'depth') {
    return refusal(`The variables nest lists and objects deeper than ${maxDepth} levels.`, { limit: 'variableDepth', max: maxDepth });
  }
  return undefined;
}

function refusal(message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...extensions, http: { spec: true, status: httpStatusOf('BAD_USER_INPUT') } } });
}
