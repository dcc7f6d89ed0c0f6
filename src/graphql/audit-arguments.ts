/**
 * What an audit event keeps of an operation's arguments: for each root field, its arguments
 * as the schema defines them, coerced (literals and variables alike, so a client's variable
 * names change nothing), each value kept as its argument's or input field's audit mark says
 * (domains/audit/marks.ts). Input objects and lists are walked field by field.
 */
import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isEnumType,
  isInputObjectType,
  isListType,
  Kind,
  type ExecutionArgs,
  type GraphQLInputType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type FieldNode,
} from 'graphql';
import { bounded, isAuditMark, isMemberMarks, KeptValues, type AuditMark, type MemberMarks } from '../domains/audit/marks.js';

export interface KeptField {
  field: string;
  alias?: string;
  arguments: Record<string, unknown>;
}

/** Root fields of one operation (after fragments), at most this many recorded. */
const MAX_FIELDS = 50;

export function keptArguments(args: ExecutionArgs, operation: OperationDefinitionNode, kept: KeptValues): KeptField[] | { unreadable: string } {
  const root = args.schema.getRootType(operation.operation);
  if (!root) return [];
  const variables = getVariableValues(args.schema, operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>, { maxErrors: 1 });
  // Variables that do not coerce fail the operation before any resolver runs: nothing to keep.
  if (variables.errors) return { unreadable: 'variables' };
  const fields: KeptField[] = [];
  for (const node of rootFields(args, operation.selectionSet, 0).slice(0, MAX_FIELDS)) {
    const definition = root.getFields()[node.name.value];
    // An alias is the caller's own word, kept like an unmarked argument (redacted, cut).
    const entry: KeptField = { field: node.name.value, ...(node.alias ? { alias: bounded(node.alias.value, 0) as string } : {}), arguments: {} };
    fields.push(entry);
    if (!definition) continue;
    let values: Record<string, unknown>;
    try {
      values = getArgumentValues(definition, node, variables.coerced);
    } catch {
      continue; // an invalid literal: the operation failed validation, nothing ran
    }
    for (const argument of definition.args) {
      if (argument.name in values) entry.arguments[argument.name] = keepInput(argument.type, markOf(argument.extensions), values[argument.name], kept, 0);
    }
  }
  return fields;
}

function keepInput(type: GraphQLInputType, mark: AuditMark | MemberMarks | undefined, value: unknown, kept: KeptValues, depth: number): unknown {
  if (value == null) return null;
  // A JSON field whose members are marked (`...audited.members(...)`): a model's system prompt.
  if (typeof mark === 'object') return kept.keepMembers(mark, value);
  if (mark && mark !== 'plain') return kept.keep(mark, value);
  const nullable = getNullableType(type);
  if (isListType(nullable) && Array.isArray(value)) return value.slice(0, 50).map((item) => keepInput(nullable.ofType, undefined, item, kept, depth + 1));
  const named = getNamedType(type);
  if (isInputObjectType(named) && typeof value === 'object' && depth < 6) {
    const fields = named.getFields();
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([name, item]) => [name, fields[name] ? keepInput(fields[name].type, markOf(fields[name].extensions), item, kept, depth + 1) : null]),
    );
  }
  // Enums as the client wrote them (READ), not their internal values (read).
  if (isEnumType(named)) {
    try {
      return named.serialize(value);
    } catch {
      return bounded(value, depth);
    }
  }
  return bounded(value, depth);
}

function markOf(extensions: Readonly<Record<string, unknown>> | null | undefined): AuditMark | MemberMarks | undefined {
  const mark = extensions?.audit;
  if (isAuditMark(mark)) return mark;
  return isMemberMarks(extensions?.auditMembers) ? extensions.auditMembers : undefined;
}

/** The root fields, through inline fragments and fragment spreads. */
function rootFields(args: ExecutionArgs, selectionSet: SelectionSetNode, depth: number): FieldNode[] {
  if (depth > 10) return [];
  return selectionSet.selections.flatMap((selection) => {
    if (selection.kind === Kind.FIELD) return [selection];
    if (selection.kind === Kind.INLINE_FRAGMENT) return rootFields(args, selection.selectionSet, depth + 1);
    const fragment = args.document.definitions.find((definition) => definition.kind === Kind.FRAGMENT_DEFINITION && definition.name.value === selection.name.value);
    return fragment?.kind === Kind.FRAGMENT_DEFINITION ? rootFields(args, fragment.selectionSet, depth + 1) : [];
  });
}
