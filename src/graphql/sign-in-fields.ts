/**
 * The mutations that are sign-in attempts: each checks a password, or is counted as a sign-in
 * by the attempt limits (plugins/attempt-limits.ts). An operation of nothing but these that is
 * refused as a sign-in is (a wrong password, an attempt over the limits) is recorded under
 * the refused sign-ins' flood limit (plugins/audit.ts), as the REST login's refusals are:
 * recorded each, one address hammering `logIn` wrote a row per attempt.
 */
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import { rootFieldsOf } from './root-fields.js';

export const SIGN_IN_FIELDS: ReadonlySet<string> = new Set(['logIn', 'signUp', 'acceptInvitation', 'deleteMyAccount']);

/** Whether the operation is a mutation whose every root field is a sign-in attempt. */
export function onlySignIns(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'mutation') return false;
  const fields = rootFieldsOf(document, operation);
  return fields.length > 0 && fields.every((field) => SIGN_IN_FIELDS.has(field.name.value));
}
