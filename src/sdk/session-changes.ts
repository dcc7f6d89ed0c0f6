/**
 * The mutations whose answer continues the caller's own session, and how a client that keeps
 * a session (credentials, or a kept session) takes their tokens. The server moves the session
 * (a signed-in acceptInvitation, switchTenant) or renews it (refreshSession given the client's
 * own refresh token), and the tokens the client held are then refused, or spent: presenting a
 * spent refresh token is what a stolen copy does, and the server ends the session for it. So the
 * client adopts the answer's tokens whatever the document selects: the fields are added to the
 * document it sends, under aliases of their own, and taken out of the data it returns.
 * logIn and signUp are not here: they open another session and leave the caller's as it was
 * (test/sdk/session-changes.test.ts holds this list against the schema).
 */
import type { DocumentNode, FieldNode, OperationDefinitionNode } from 'graphql';
import { Kind } from 'graphql/language/kinds.js';

type TokenField = 'accessToken' | 'refreshToken' | 'expiresAt';

interface SessionChange {
  /** The tokens its type carries: switchTenant's has no refresh token (the session keeps the one it holds). */
  tokens: readonly TokenField[];
  /** Continues the caller's session only when this argument is the client's refresh token. */
  presents?: 'refreshToken';
}

export const SESSION_CHANGES: Readonly<Record<string, SessionChange>> = {
  acceptInvitation: { tokens: ['accessToken', 'refreshToken', 'expiresAt'] },
  switchTenant: { tokens: ['accessToken', 'expiresAt'] },
  refreshSession: { tokens: ['accessToken', 'refreshToken', 'expiresAt'], presents: 'refreshToken' },
};

/** What an answer hands over: the tokens a session change returned (no refresh token: keep the one held). */
export interface HandedTokens {
  accessToken: string;
  refreshToken?: string;
  expiresAt: string;
}

/** A root field of a document that changes the session: where its answer is, and what it carries. */
interface ChangingField {
  responseKey: string;
  change: SessionChange;
  node: FieldNode;
}

export interface SessionDocument {
  /** The document as sent: each changing field also selects its tokens, aliased. */
  document: DocumentNode;
  /**
   * Takes the tokens out of an answer's data (in the fields' order: the last change is the
   * session's), and returns them; `own` says whether a refresh token an argument presents is
   * the client's. Every answer is read, one with errors too: a field that ran moved the session.
   */
  handed(data: unknown, variables: Record<string, unknown> | undefined, own: (refreshToken: unknown) => boolean): HandedTokens | undefined;
  /**
   * Whether its session changes present the client's own refresh token (refreshSession): `all`
   * of them (the document is then sent with no bearer and no renewal first, which would spend
   * that very token and make the document's use of it reuse: the server ends the session for
   * it), `none`, or `mixed` (beside another session change, which needs the bearer: refused).
   */
  presenting(variables: Record<string, unknown> | undefined, own: (refreshToken: unknown) => boolean): 'all' | 'none' | 'mixed';
}

const alias = (token: TokenField) => `_sluiceSession_${token}`;
const documents = new WeakMap<DocumentNode, SessionDocument | null>();

/** The document's session-changing version, or null when it changes no session (worked out once per document). */
export function sessionDocumentOf(document: DocumentNode): SessionDocument | null {
  let known = documents.get(document);
  if (known === undefined) documents.set(document, (known = rewritten(document)));
  return known;
}

function rewritten(document: DocumentNode): SessionDocument | null {
  // Only root fields of the operation are read (a fragment spread on Mutation is not).
  const operations = document.definitions.filter((node): node is OperationDefinitionNode => node.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0]!.operation !== 'mutation') return null;
  const operation = operations[0]!;
  const changing: ChangingField[] = [];
  const selections = operation.selectionSet.selections.map((selection) => {
    const change = selection.kind === Kind.FIELD ? SESSION_CHANGES[selection.name.value] : undefined;
    if (selection.kind !== Kind.FIELD || !change || !selection.selectionSet) return selection;
    const added = change.tokens.map((token): FieldNode => ({ kind: Kind.FIELD, alias: { kind: Kind.NAME, value: alias(token) }, name: { kind: Kind.NAME, value: token } }));
    changing.push({ responseKey: selection.alias?.value ?? selection.name.value, change, node: selection });
    return { ...selection, selectionSet: { ...selection.selectionSet, selections: [...selection.selectionSet.selections, ...added] } };
  });
  if (changing.length === 0) return null;
  const sent: DocumentNode = {
    ...document,
    definitions: document.definitions.map((node) => (node === operation ? { ...operation, selectionSet: { ...operation.selectionSet, selections } } : node)),
  };
  return {
    document: sent,
    presenting(variables, own) {
      const owned = changing.filter(({ change, node }) => change.presents !== undefined && own(argumentOf(node, change.presents, variables))).length;
      return owned === 0 ? 'none' : owned === changing.length ? 'all' : 'mixed';
    },
    handed(data, variables, own) {
      let tokens: HandedTokens | undefined;
      for (const { responseKey, change, node } of changing) {
        const answer = (data as Record<string, Record<string, unknown> | null> | null | undefined)?.[responseKey];
        if (!answer) continue;
        const values = Object.fromEntries(change.tokens.map((token) => [token, answer[alias(token)]]));
        for (const token of change.tokens) delete answer[alias(token)];
        if (change.presents && !own(argumentOf(node, change.presents, variables))) continue;
        if (typeof values.accessToken === 'string' && typeof values.expiresAt === 'string') tokens = values as unknown as HandedTokens;
      }
      return tokens;
    },
  };
}

/** The value a field's argument was given: a literal, or a variable's value. */
function argumentOf(field: FieldNode, name: string, variables: Record<string, unknown> | undefined): unknown {
  const value = field.arguments?.find((argument) => argument.name.value === name)?.value;
  if (value?.kind === Kind.VARIABLE) return variables?.[value.name.value];
  return value?.kind === Kind.STRING ? value.value : undefined;
}
