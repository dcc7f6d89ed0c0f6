/**
 * An operation refused only by limits (every error RATE_LIMITED) goes to the refusal flood limit
 * (plugins/audit.ts), where past the limit it is only counted. That is right for an operation
 * that did nothing, and wrong for a mutation one of whose fields succeeded: each root field runs
 * in a savepoint of its own and stays, and the operation's event may be the only record of it (a
 * deleteDataset beside an ingestDocuments refused QUEUED_JOBS). `everyRootFieldRefused` decides.
 */
import { GraphQLError, parse, type OperationDefinitionNode } from 'graphql';
import { expect, it } from 'vitest';
import { everyRootFieldRefused } from '../../src/plugins/audit.js';

const refused = (path?: (string | number)[]) => new GraphQLError('Too many jobs queued', { path, extensions: { code: 'RATE_LIMITED' } });

function judge(source: string, errors: GraphQLError[]) {
  const document = parse(source);
  const operation = document.definitions.find((definition): definition is OperationDefinitionNode => definition.kind === 'OperationDefinition');
  return everyRootFieldRefused(document, operation, errors);
}

it('counts an operation refused before it ran (an error without a path) as refused whole', () => {
  expect(judge('mutation { createApiKey(input: {}) { secret } }', [refused()])).toBe(true);
});

it('counts it refused when every root field refused itself, aliases and fragments included', () => {
  const source = 'mutation { a: ingestDocuments(datasetId: "1") { id } ...More } fragment More on Mutation { reembedDataset(id: "1") { id } }';
  expect(judge(source, [refused(['a']), refused(['reembedDataset'])])).toBe(true);
});

it('writes in full a mutation one of whose fields succeeded, or whose field failed only below its root', () => {
  expect(judge('mutation { deleteDataset(id: "1") ingestDocuments(datasetId: "2") { id } }', [refused(['ingestDocuments'])])).toBe(false);
  expect(judge('mutation { ingestDocuments(datasetId: "2") { id dataset { name } } }', [refused(['ingestDocuments', 'dataset'])])).toBe(false);
});
