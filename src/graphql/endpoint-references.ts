/**
 * The endpoints an operation asks (`queryEndpoint` and `endpointQuery` root fields and their
 * `endpoint` argument, literal or variable), read from the request before execution: what a
 * refusal at the door (the per-principal limit) names in the endpoints' decision logs, and how
 * many endpoint queries it runs (what the per-principal limit charges it).
 */
import { Kind, parse, type DocumentNode } from 'graphql';
import { operationOf, rootFieldsOf } from './root-fields.js';

const ASKING_FIELDS = new Set(['queryEndpoint', 'endpointQuery']);
/** A refused request is parsed once more: bounded like the operation limits bound it. */
const MAX_TOKENS = 5_000;

export interface OperationParams {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

/** The distinct `tenant/endpoint` references asked; empty when none, or when the text is no valid document. */
export function endpointReferencesOf(params: OperationParams | undefined): string[] {
  if (typeof params?.query !== 'string') return [];
  let document: DocumentNode;
  try {
    document = parse(params.query, { maxTokens: MAX_TOKENS });
  } catch {
    return [];
  }
  return endpointReferencesIn(document, typeof params.operationName === 'string' ? params.operationName : null, params.variables);
}

/**
 * How many endpoint queries the operation runs: its `queryEndpoint` / `endpointQuery` root
 * fields, each alias one, reached through fragment spreads and inline fragments too. Counted
 * by response key, as execution merges them: `a: queryEndpoint(…)` selected twice (once in a
 * fragment) runs once, and validation has made sure the two ask the same. Fields under `@skip`
 * count (see root-fields.ts).
 */
export function endpointQueriesIn(document: DocumentNode, operationName: string | null | undefined): number {
  const operation = operationOf(document, operationName);
  if (!operation) return 0;
  const keys = new Set<string>();
  for (const field of rootFieldsOf(document, operation)) {
    if (ASKING_FIELDS.has(field.name.value)) keys.add(field.alias?.value ?? field.name.value);
  }
  return keys.size;
}

/** The same, from a parsed document. */
export function endpointReferencesIn(document: DocumentNode, operationName: string | null | undefined, variableValues: unknown): string[] {
  const operation = operationOf(document, operationName);
  if (!operation) return [];
  const variables = variableValues && typeof variableValues === 'object' ? (variableValues as Record<string, unknown>) : {};
  const references = new Set<string>();
  for (const field of rootFieldsOf(document, operation)) {
    if (!ASKING_FIELDS.has(field.name.value)) continue;
    const value = field.arguments?.find((argument) => argument.name.value === 'endpoint')?.value;
    const reference = value?.kind === Kind.STRING ? value.value : value?.kind === Kind.VARIABLE ? variables[value.name.value] : undefined;
    if (typeof reference === 'string') references.add(reference);
  }
  // A handful at most: an operation asking more endpoints than this is refused by the operation limits anyway.
  return [...references].slice(0, 5);
}
