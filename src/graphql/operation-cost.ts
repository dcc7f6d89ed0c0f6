/**
 * The cost of an operation: an upper bound on how much its answer can hold, computed from the
 * document **and the request's variables**, before anything runs.
 *
 * Each field costs 1 (a scalar or enum) or 2 (an object), plus what is selected inside it, times
 * the number of items it can return:
 * - a list argument (`nodes(ids:)`): its length, at most `MAX_IDS`;
 * - `first` / `last`: the value given (literal or variable), else the field's default page;
 * - a list inside a page (a connection's `edges`, `AuditEventPage.events`): 1, since the field
 *   with `first` / `last` already multiplied;
 * - a list of enum values: the enum's size;
 * - any other list: the bound the domain enforces on it (`ASSUMED_SIZES`; a test walks the
 *   schema and fails on a list field that has none).
 * On an abstract type (`nodes` returns `Node`) the costliest member's selection counts.
 *
 * Why not at validation (GraphQL Armor's costLimitRule, used before): validation sees no
 * variables, so `first: $n` or `ids: $ids` counted as one item, and Yoga caches validation
 * per document, so a rule that read variables would be skipped on the next request with the
 * same text. graphql-query-complexity coerces variables and walks fragments; this module only
 * supplies the estimator.
 */
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import {
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  isEnumType,
  isLeafType,
  isListType,
  isObjectType,
  type ExecutionArgs,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { MAX_TOP_K } from '../domains/endpoints/endpoint.service.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../domains/pagination.js';
import { MAX_RANGES } from '../domains/tenancy/ip-ranges.js';

/** Most ids one `nodes(ids:)` (or any field sized by a list argument) takes. */
export const MAX_IDS = MAX_PAGE_SIZE;

/** Pages whose default size is not `DEFAULT_PAGE_SIZE` (see the resolver). */
const DEFAULT_PAGE_SIZES: Record<string, number> = {
  'Query.auditEvents': 50,
};

/** Lists with no size argument, and the bound their domain enforces. */
const ASSUMED_SIZES: Record<string, number> = {
  'Endpoint.datasets': 20, // endpoint.service: MAX_DATASETS
  'Endpoint.policies': 50, // policy.service: MAX_POLICIES_PER_ENDPOINT
  'CatalogAccess.rateLimits': 53, // the server's (per address, per caller, anonymous per address) and at most 50 policies
  'MyUsage.allowances': 50, // one per policy of the endpoint
  'PolicyDecision.verdicts': 50, // one per policy of the endpoint
  'QueryResult.passages': MAX_TOP_K,
  'QueryResult.citations': MAX_TOP_K,
  'EndpointQueryCompleted.citations': MAX_TOP_K,
  'Tenant.ipAllowList': MAX_RANGES,
  'IngestionJob.documents': 100, // replaced by SLUICE_INGEST_MAX_FILES (see costModel)
  'IngestionProgress.documents': 100,
  'Query.modelTypes': 10, // registries of built-in types (a handful each)
  'Query.policyTypes': 10,
  'Query.usage': 400, // one row per group: days of a range (at most 400) or endpoints/keys
  // Rows are bounded by the service (buckets with activity × at most 51 series: 744 hourly or
  // 400 daily buckets), but each is a few scalars read by one grouped statement; costed as a
  // page of 100, what the model counted before it was named. Costing it by its range and
  // `series` arguments is left (issue 21 note): the honest maximum refuses every request.
  'Query.usageOverTime': 100,
  'AuditEvent.personalValues': 50, // the personal arguments one operation gave (marks.ts keeps at most 50 per list)
  'AuditChainVerification.rewrites': 10, // one per history-cleaning migration (audit.chain.rewritten events)
  // A person's own memberships: no bound in the domain, read by one statement of five scalars a
  // row (user_memberships); costed as a page of 100, which few people exceed.
  'Viewer.tenants': 100,
};

export interface CostModelOptions {
  /** SLUICE_INGEST_MAX_FILES: the most documents one ingestion job has. @default 100 */
  maxFilesPerJob?: number;
}

export interface CostModel {
  /** The operation's cost; throws a coded GraphQLError when a list argument is over `MAX_IDS`. */
  costOf(args: Pick<ExecutionArgs, 'schema' | 'document' | 'variableValues' | 'operationName'>): number | undefined;
}

export function costModel({ maxFilesPerJob = 100 }: CostModelOptions = {}): CostModel {
  const sizes = { ...ASSUMED_SIZES, 'IngestionJob.documents': maxFilesPerJob, 'IngestionProgress.documents': maxFilesPerJob };
  const pageTypesOf = memoizeBySchema(pageTypes);
  return {
    costOf({ schema, document, variableValues, operationName }) {
      const operation = getOperationAST(document, operationName);
      // Variables that do not coerce, or no such operation: execution refuses it before running anything.
      if (!operation) return undefined;
      if (getVariableValues(schema, operation.variableDefinitions ?? [], variableValues ?? {}).errors) return undefined;
      const pages = pageTypesOf(schema);
      const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
        // Introspection is bounded by graphql-js's MaxIntrospectionDepthRule; __typename is free.
        if (field.name.startsWith('__')) return 0;
        const own = isLeafType(getNamedType(field.type)) ? 1 : 2;
        return (own + childComplexity) * itemsOf(type, field, args, pages, sizes);
      };
      return getComplexity({ schema, query: document, variables: variableValues ?? {}, operationName: operation.name?.value, estimators: [estimator] });
    },
  };
}

function itemsOf(parent: GraphQLNamedType, field: GraphQLField<unknown, unknown>, args: Record<string, unknown>, pages: Set<string>, sizes: Record<string, number>): number {
  const key = `${parent.name}.${field.name}`;
  const returnsList = isListType(getNullableType(field.type));
  const listArgs = field.args.filter((arg) => isListType(getNullableType(arg.type)));
  if (returnsList && listArgs.length > 0) {
    const lengths = listArgs.map((arg) => ({ name: arg.name, length: Array.isArray(args[arg.name]) ? (args[arg.name] as unknown[]).length : 0 }));
    const longest = lengths.reduce((a, b) => (b.length > a.length ? b : a));
    if (longest.length > MAX_IDS) {
      throw new GraphQLError(`"${field.name}" takes at most ${MAX_IDS} ${longest.name}; ${longest.length} were given.`, {
        extensions: { code: 'OPERATION_LIMIT_EXCEEDED', limit: 'listSize', max: MAX_IDS, field: field.name, argument: longest.name },
      });
    }
    return longest.length;
  }
  if (field.args.some((arg) => arg.name === 'first' || arg.name === 'last')) {
    const given = [args.first, args.last].filter((value): value is number => typeof value === 'number');
    // At least 1: a page of 0 (or a negative one, which the resolver refuses) still costs its field.
    return Math.max(1, given.length > 0 ? Math.max(...given) : (DEFAULT_PAGE_SIZES[key] ?? DEFAULT_PAGE_SIZE));
  }
  if (!returnsList || pages.has(parent.name)) return 1;
  const item = getNamedType(field.type);
  if (isEnumType(item)) return item.getValues().length;
  // A list nobody sized (unsizedListFields names it, and a test fails): count the largest page.
  return sizes[key] ?? MAX_PAGE_SIZE;
}

/** Types returned by a field with `first` / `last`: their lists are the page, already counted. */
function pageTypes(schema: GraphQLSchema): Set<string> {
  const pages = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.some((arg) => arg.name === 'first' || arg.name === 'last')) pages.add(getNamedType(field.type).name);
    }
  }
  return pages;
}

/** List fields the cost model has no size for (`Type.field`): each needs an entry in ASSUMED_SIZES. */
export function unsizedListFields(schema: GraphQLSchema): string[] {
  const pages = pageTypes(schema);
  const unsized: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || pages.has(type.name)) continue;
    for (const field of Object.values(type.getFields())) {
      if (!isListType(getNullableType(field.type)) || isEnumType(getNamedType(field.type))) continue;
      const sized = field.args.some((arg) => isListType(getNullableType(arg.type)) || arg.name === 'first' || arg.name === 'last');
      if (!sized && !(`${type.name}.${field.name}` in ASSUMED_SIZES)) unsized.push(`${type.name}.${field.name}`);
    }
  }
  return unsized.sort();
}

function memoizeBySchema<T>(compute: (schema: GraphQLSchema) => T): (schema: GraphQLSchema) => T {
  const cache = new WeakMap<GraphQLSchema, T>();
  return (schema) => {
    let value = cache.get(schema);
    if (value === undefined) cache.set(schema, (value = compute(schema)));
    return value;
  };
}
