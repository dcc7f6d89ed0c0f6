/**
 * Type test (compiled by `tsc --noEmit` and by test/sdk/docs.test.ts, never run): an
 * operation's required variables are required by the client's types. Each `@ts-expect-error`
 * fails the compile if its line stops being an error.
 */
import { createClient, CreateDatasetDocument, DatasetsDocument, HeartbeatDocument, IngestionProgressDocument, ViewerDocument } from '../../../src/sdk/index.js';

const sluice = createClient({ url: 'http://localhost:4000/graphql', apiKey: 'sk_example' });

export async function refused() {
  // @ts-expect-error CreateDataset's $input is required
  await sluice.mutate(CreateDatasetDocument);
  // @ts-expect-error an input without its required name
  await sluice.mutate(CreateDatasetDocument, { input: { slug: 'handbook' } });
  // @ts-expect-error a variable the operation does not declare
  await sluice.query(ViewerDocument, { nope: 1 });
  // @ts-expect-error IngestionProgress's $jobId is required
  sluice.subscribe(IngestionProgressDocument);
  // @ts-expect-error one credential at a time
  createClient({ url: 'http://localhost:4000/graphql', apiKey: 'sk_example', token: 'eyJ…' });
}

export async function accepted() {
  await sluice.mutate(CreateDatasetDocument, { input: { name: 'Handbook', slug: 'handbook' } });
  // No variables, or only optional ones: the argument may be left out.
  await sluice.query(ViewerDocument);
  await sluice.query(DatasetsDocument);
  await sluice.query(DatasetsDocument, { first: 5 });
  sluice.subscribe(HeartbeatDocument);
}
