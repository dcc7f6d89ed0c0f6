/**
 * Generates operations from the schema itself, so a new query or mutation is swept the day it
 * is added: every root field, with every id argument set to each of the target tenant's ids in
 * turn (and tenant-naming strings to its slug and ids), selecting everything readable to a
 * small depth.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';

export interface Target {
  /** Global ids of the target's objects (all types). */
  ids: string[];
  slug: string;
  tenantIds: string[];
  email: string;
}

export interface Operation {
  field: string;
  query: string;
  variables: Record<string, unknown>;
}

/** Root fields the sweep leaves out, and why. */
export const SKIPPED: Record<string, string> = {
  // Ends the caller's own session; takes no argument that could name another tenant.
  logOut: 'no target argument; would end the sweeping credential',
};

const MAX_DEPTH = 3;

export function operationsFor(schema: GraphQLSchema, target: Target): Operation[] {
  return operationsOf([['query', schema.getQueryType()], ['mutation', schema.getMutationType()]], target, () => true);
}

/**
 * Subscriptions that name what they follow by id (a job, a dataset), aimed at the target's ids.
 * The others name nothing of another tenant: `auditEvents` and `heartbeat` follow the caller's
 * own tenant, `endpointQuery` is a consumer's door (test/identity/consumer-sweep.test.ts).
 */
export function subscriptionOperationsFor(schema: GraphQLSchema, target: Target): Operation[] {
  return operationsOf([['subscription', schema.getSubscriptionType()]], target, (field) => field.args.some((arg) => getNamedType(arg.type).name === 'ID'));
}

function operationsOf(
  roots: readonly (readonly [string, ReturnType<GraphQLSchema['getQueryType']>])[],
  target: Target,
  swept: (field: GraphQLField<unknown, unknown>) => boolean,
): Operation[] {
  const operations: Operation[] = [];
  for (const [kind, root] of roots) {
    if (!root) continue;
    for (const field of Object.values(root.getFields())) {
      if (SKIPPED[field.name] || !swept(field)) continue;
      const header = field.args.length ? `(${field.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ')})` : '';
      const call = field.args.length ? `(${field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ')})` : '';
      // Two selections: everything to MAX_DEPTH, and scalars only. In the deep one, a refused
      // non-null sub-field nulls its whole parent, which would hide a leak in the parent.
      for (const depth of [MAX_DEPTH, 1]) {
        const selection = selectionFor(field.type, 1, depth);
        const query = `${kind}${header} { ${field.name}${call}${selection ? ` ${selection}` : ''} }`;
        for (const variables of variantsFor(field, target)) operations.push({ field: `${kind}.${field.name}`, query, variables });
      }
    }
  }
  return operations;
}

/** One variable set per targeted candidate value: each argument varied alone, the others at their first. */
function variantsFor(field: GraphQLField<unknown, unknown>, target: Target): Record<string, unknown>[] {
  const candidates = field.args.map((arg) => ({ arg, values: candidatesFor(arg, target) }));
  const base = Object.fromEntries(candidates.map(({ arg, values }) => [arg.name, values[0]]));
  const variants = [base];
  for (const { arg, values } of candidates) for (const value of values.slice(1)) variants.push({ ...base, [arg.name]: value });
  return variants;
}

function candidatesFor(arg: GraphQLArgument, target: Target): unknown[] {
  const named = getNamedType(arg.type);
  const wrap = (value: unknown) => wrapLists(arg.type, value);
  if (named.name === 'ID') return target.ids.map(wrap);
  if (named.name === 'String' && /tenant/i.test(arg.name)) return [target.slug, ...target.tenantIds].map(wrap);
  if (named.name === 'String' && /email/i.test(arg.name)) return [wrap(target.email)];
  return [valueFor(arg.type, arg.name, target)];
}

function wrapLists(type: GraphQLInputType, value: unknown): unknown {
  const inner = isNonNullType(type) ? type.ofType : type;
  return isListType(inner) ? [wrapLists(inner.ofType, value)] : value;
}

function valueFor(type: GraphQLInputType, name: string, target: Target): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, name, target);
  if (isListType(type)) return [valueFor(type.ofType, name, target)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((field) => isNonNullType(field.type) || getNamedType(field.type).name === 'ID');
    return Object.fromEntries(fields.map((field) => [field.name, valueFor(field.type, field.name, target)]));
  }
  switch (type.name) {
    case 'ID':
      return target.ids[0];
    case 'Int':
      return 1;
    case 'Float':
      return 1.5;
    case 'Boolean':
      return true;
    case 'DateTime':
      return new Date(Date.now() + 86_400_000).toISOString();
    case 'JSONObject':
      return {};
    default:
      return /email/i.test(name) ? target.email : /tenant/i.test(name) ? target.slug : 'sweep-value';
  }
}

/** Everything selectable without arguments, down to `maxDepth` object levels. */
function selectionFor(type: GraphQLOutputType, depth: number, maxDepth: number): string {
  const named = getNamedType(type);
  if (isScalarType(named) || isEnumType(named)) return '';
  if (depth > maxDepth) return '';
  if (isInterfaceType(named) || isUnionType(named)) {
    const members = isUnionType(named) ? named.getTypes() : [];
    const own = isInterfaceType(named) ? fieldsSelection(named.getFields(), depth, maxDepth) : '';
    const fragments = members.map((member) => `... on ${member.name} ${selectionFor(member, depth, maxDepth)}`).join(' ');
    return `{ __typename ${own} ${fragments} }`;
  }
  if (isObjectType(named)) return `{ __typename ${fieldsSelection(named.getFields(), depth, maxDepth, named.name)} }`;
  return '';
}

/** Field names that stand for different types on different object types (e.g. `documents`). */
let currentConflicts = new Set<string>();

/** Remembers the schema's conflicting field names (see fieldsSelection). */
export function noteConflicts(types: readonly GraphQLOutputType[]): void {
  const byName = new Map<string, Set<string>>();
  for (const type of types) {
    if (!isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      byName.set(field.name, (byName.get(field.name) ?? new Set()).add(String(field.type)));
    }
  }
  currentConflicts = new Set([...byName].filter(([, kinds]) => kinds.size > 1).map(([name]) => name));
}

/**
 * A field whose name stands for different types on different object types is aliased by its
 * type (`Dataset_documents: documents`): sibling fragments (`... on Dataset`, `... on
 * IngestionJob`) cannot merge such fields under one response key. Only those: aliases count
 * against the operation limits.
 */
function fieldsSelection(fields: Record<string, GraphQLField<unknown, unknown>>, depth: number, maxDepth: number, owner?: string): string {
  const conflicts = currentConflicts;
  const named = (field: GraphQLField<unknown, unknown>) => (owner && conflicts.has(field.name) ? `${owner}_${field.name}: ${field.name}` : field.name);
  return Object.values(fields)
    .filter((field) => field.args.every((arg) => !isNonNullType(arg.type) || arg.defaultValue !== undefined))
    .flatMap((field) => {
      const leaf = isScalarType(getNamedType(field.type)) || isEnumType(getNamedType(field.type));
      if (leaf) return [named(field)];
      const sub = selectionFor(field.type, depth + 1, maxDepth);
      return sub ? [`${named(field)} ${sub}`] : [];
    })
    .join(' ');
}

/** `node` and `nodes` get a fragment per Node type, as deep as the operation's own selection. */
export function withNodeFragments(schema: GraphQLSchema, operations: Operation[]): Operation[] {
  const nodeTypes = schema.getPossibleTypes(schema.getType('Node') as never);
  // Only the node types meet as sibling fragments (`node { ... on A ... on B }`).
  noteConflicts(nodeTypes);
  const fragments = (maxDepth: number) => nodeTypes.map((type) => `... on ${type.name} ${selectionFor(type, 1, maxDepth)}`).join(' ');
  const seen = new Map<string, number>();
  return operations.map((operation) => {
    if (!/^query\.nodes?$/.test(operation.field)) return operation;
    // operationsFor emits the deep selection first, then the shallow one, per variable set.
    const key = `${operation.field}:${JSON.stringify(operation.variables)}`;
    const index = seen.get(key) ?? 0;
    seen.set(key, index + 1);
    const depth = index === 0 ? MAX_DEPTH : 1;
    return { ...operation, query: operation.query.replace(/\{ __typename id\s*\}/, `{ __typename id ${fragments(depth)} }`) };
  });
}
