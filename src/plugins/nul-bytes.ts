/**
 * Refuses NUL (U+0000) in an operation's arguments before anything runs (see
 * platform/input/nul-bytes.ts for why it is refused everywhere): string literals in the
 * document through a validation rule (which Yoga caches with the document: it depends on
 * nothing else), and the variables, uploaded files' names included, before execution or
 * subscription starts, on HTTP, SSE and graphql-ws alike. The refusal is BAD_USER_INPUT,
 * HTTP 400 for `application/graphql-response+json` and 200 for legacy `application/json`
 * (like any request error), with `extensions.issues` naming the argument or variable.
 */
import { GraphQLError, Kind, type ASTNode, type ExecutionResult, type ValidationContext, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { httpStatusOf } from '../platform/errors/index.js';
import { describePath, nulBytePath, nulByteMessage, type InputPath } from '../platform/input/nul-bytes.js';

export function useNulByteRefusal(): Plugin {
  const refuseVariables = (variables: unknown, stop: (result: ExecutionResult) => void) => {
    const found = nulBytePath(variables ?? {});
    if (!found) return;
    const [name, ...rest] = found;
    const path = [`$${String(name)}`, ...rest];
    stop({ errors: [nulByteError(`Variable "${describePath(path)}"`, path)] });
  };
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoNulInArgumentLiterals);
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
const NoNulInArgumentLiterals: ValidationRule = function NoNulInArgumentLiterals(context: ValidationContext) {
  return {
    StringValue(node, _key, parent, _path, ancestors) {
      if (!node.value.includes('\u0000')) return;
      const path = literalPath(parent ? [...ancestors, parent] : ancestors);
      context.reportError(nulByteError(`Argument "${describePath(path)}"`, path, node));
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

export function nulByteError(what: string, path: InputPath, node?: ASTNode): GraphQLError {
  const message = nulByteMessage(what);
  return new GraphQLError(message, {
    nodes: node,
    extensions: { code: 'BAD_USER_INPUT', issues: [{ path, message: 'must not contain NUL (U+0000)' }], http: { spec: true, status: httpStatusOf('BAD_USER_INPUT') } },
  });
}
