/**
 * Refuses NUL (U+0000) and half surrogate pairs in an operation's arguments before anything
 * runs (see platform/input/unstorable-text.ts for why they are refused everywhere): string literals in the
 * document through a validation rule (which Yoga caches with the document: it depends on
 * nothing else), and the variables, uploaded files' names included, before execution or
 * subscription starts, on HTTP, SSE and graphql-ws alike. The refusal is BAD_USER_INPUT,
 * HTTP 400 for `application/graphql-response+json` and 200 for legacy `application/json`
 * (like any request error), with `extensions.issues` naming the argument or variable.
 */
import { GraphQLError, Kind, type ASTNode, type ExecutionResult, type ValidationContext, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf } from '../platform/errors/index.js';
import { describePath, isUnstorableText, unstorableTextPath, unstorableTextMessage, type InputPath } from '../platform/input/unstorable-text.js';

export function useUnstorableTextRefusal(): Plugin {
  const refuseVariables = (variables: unknown, stop: (result: ExecutionResult) => void) => {
    const found = unstorableTextPath(variables ?? {});
    if (!found) return;
    const [name, ...rest] = found;
    const path = [`$${String(name)}`, ...rest];
    stop({ errors: [unstorableTextError(`Variable "${describePath(path)}"`, path)] });
  };
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoUnstorableTextInLiterals);
    },
    onExecute({ args, setResultAndStopExecution }) {
      refuseVariables(args.variableValues, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      refuseVariables(args.variableValues, setResultAndStopExecution);
    },
  };
}

/** A string literal with NUL anywhere in the document: in an argument, a default value, a directive. */
const NoUnstorableTextInLiterals: ValidationRule = function NoUnstorableTextInLiterals(context: ValidationContext) {
  return {
    StringValue(node, _key, parent, _path, ancestors) {
      if (!isUnstorableText(node.value)) return;
      const path = literalPath(parent ? [...ancestors, parent] : ancestors);
      context.reportError(unstorableTextError(`Argument "${describePath(path)}"`, path, node));
    },
  };
};

/** `createDataset.input.name` from the AST nodes above a literal. */
function literalPath(ancestors: readonly (ASTNode | readonly ASTNode[])[]): InputPath {
  const path: InputPath = [];
  for (const ancestor of ancestors) {
    if (Array.isArray(ancestor) || !('kind' in ancestor)) continue;
    const node = ancestor as ASTNode;
    if (node.kind === Kind.FIELD) path.push(node.alias?.value ?? node.name.value);
    else if (node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD) path.push(node.name.value);
    else if (node.kind === Kind.DIRECTIVE) path.push(`@${node.name.value}`);
    else if (node.kind === Kind.VARIABLE_DEFINITION) path.push(`$${node.variable.name.value}`);
  }
  return path;
}

export function unstorableTextError(what: string, path: InputPath, node?: ASTNode): GraphQLError {
  const message = unstorableTextMessage(what);
  return new GraphQLError(message, {
    nodes: node,
    extensions: { code: 'BAD_USER_INPUT', issues: [{ path, message: 'must not contain NUL (U+0000) or half a surrogate pair' }], http: { spec: true, status: httpStatusOf('BAD_USER_INPUT') } },
  });
}
